//! Server-wide state: the logical databases, their lock tables and WATCH registries.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{
    Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use bytes::Bytes;
use shale_server::{Context, Metrics, StatsMark};
use shaledb::{Keyspace, WriteBatch};

use crate::RedisConfig;
use crate::layout::{self, Kind, Record};
use crate::resp::Reply;

/// A watcher's "a watched key changed" flag.
pub type DirtyFlag = Arc<AtomicBool>;

/// One logical Redis database.
pub struct DbSlot {
    /// Its index (`SELECT n`).
    pub index: usize,
    /// The engine keyspace, once opened: read without a lock by every command
    /// (a lock here was a cache line both workers wrote on every request).
    ks: OnceLock<Keyspace>,
    /// Held while the keyspace is opened and its layout checked, so that happens
    /// once.
    opening: Mutex<()>,
    /// Shared by every command, exclusive for FLUSHDB/FLUSHALL.
    gate: RwLock<()>,
    stripes: Box<[Mutex<()>]>,
    watchers: Mutex<HashMap<Bytes, Vec<(u64, DirtyFlag)>>>,
    watched: AtomicUsize,
    /// False while the database certainly holds no hash (no hash marker existed
    /// when its keyspace was opened and none was written since), so a plain SET
    /// need not look for one ([`Server::may_hold_hashes`]). Never goes back to
    /// false in this process: a stale true costs one filtered lookup per SET.
    hashes: AtomicBool,
}

/// A test callback that gets a command's name.
#[doc(hidden)]
pub type CommandHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Callbacks tests use to observe the server from inside (a command about to run).
/// Not an API: empty in production, where each costs one branch.
#[doc(hidden)]
#[derive(Clone, Default)]
pub struct TestHooks {
    /// Called with the command's name just before its handler runs, on the thread
    /// that runs it (inside EXEC, for each queued command).
    pub before_command: Option<CommandHook>,
}

impl std::fmt::Debug for TestHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHooks").finish_non_exhaustive()
    }
}

/// Everything the connections of one Redis front end share.
pub struct Server {
    /// The server context (Db, limits, metrics, clients, shutdown).
    pub ctx: Context,
    /// The configuration it started with.
    pub config: RedisConfig,
    /// The current `requirepass` (CONFIG SET changes it).
    pub requirepass: RwLock<Option<String>>,
    /// The logical databases.
    pub dbs: Vec<DbSlot>,
    /// Counters only the Redis front end keeps (`INFO stats`).
    pub stats: RedisStats,
    /// Test callbacks (none in production).
    #[doc(hidden)]
    pub hooks: TestHooks,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Server {
    /// State for `config` over `ctx`.
    pub fn new(ctx: Context, config: RedisConfig) -> Server {
        let n = usize::try_from(config.databases).unwrap_or(16);
        let stripes = config.lock_stripes.max(1);
        let dbs = (0..n)
            .map(|index| DbSlot {
                index,
                ks: OnceLock::new(),
                opening: Mutex::new(()),
                gate: RwLock::new(()),
                stripes: (0..stripes).map(|_| Mutex::new(())).collect(),
                watchers: Mutex::new(HashMap::new()),
                watched: AtomicUsize::new(0),
                // Until the keyspace is opened and looked at, assume hashes.
                hashes: AtomicBool::new(true),
            })
            .collect();
        Server {
            requirepass: RwLock::new(config.requirepass.clone()),
            ctx,
            config,
            dbs,
            stats: RedisStats::default(),
            hooks: TestHooks::default(),
        }
    }

    /// Calls the `before_command` test hook, if set.
    pub fn before_command(&self, name: &str) {
        if let Some(h) = &self.hooks.before_command {
            h(name);
        }
    }

    /// The current password, if any.
    pub fn password(&self) -> Option<String> {
        self.requirepass
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The stripe of `key`.
    pub fn stripe_of(&self, key: &[u8]) -> usize {
        // Fx, not SipHash: a key picks only which lock it shares with others, and
        // a client that wants contention can send one key over and over anyway.
        let h = rustc_hash::FxBuildHasher.hash_one(key);
        let n = self.config.lock_stripes.max(1) as u64;
        usize::try_from(h % n).unwrap_or(0)
    }

    /// The engine keyspace of database `db` (created on first use).
    pub fn keyspace(&self, db: usize) -> shaledb::Result<&Keyspace> {
        let slot = self
            .dbs
            .get(db)
            .ok_or_else(|| shaledb::Error::invalid("DB index is out of range"))?;
        if let Some(ks) = slot.ks.get() {
            return Ok(ks);
        }
        let _opening = lock(&slot.opening);
        if let Some(ks) = slot.ks.get() {
            return Ok(ks);
        }
        let ks = self.ctx.db.keyspace(&format!("redis.{db}"))?;
        match self.ensure_layout(&ks) {
            Ok(()) => {
                // Before any command can use the keyspace: does it hold a hash marker?
                let markers = [layout::MARKER_PREFIX];
                let none = [layout::MARKER_PREFIX + 1];
                let any = ks.range(markers.as_slice()..none.as_slice()).next();
                if let Some(Err(e)) = &any {
                    return Err(e.clone());
                }
                slot.hashes.store(any.is_some(), Ordering::Release);
            }
            // The engine refuses writes until reopened (so SET cannot go wrong
            // without markers either): serve reads. Kept as it is — a retry would
            // meet the same poison — with `hashes` left at its cautious true.
            Err(shaledb::Error::Poisoned(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(slot.ks.get_or_init(|| ks))
    }

    /// False if database `db` certainly holds no hash. Read under the key's lock
    /// stripe: a hash written by another command on the same key was noted
    /// ([`note_hash`](Self::note_hash)) before that command released the stripe.
    pub fn may_hold_hashes(&self, db: usize) -> bool {
        self.dbs
            .get(db)
            .is_none_or(|slot| slot.hashes.load(Ordering::Acquire))
    }

    /// Notes that database `db` is getting a hash, before the write that creates it
    /// commits.
    pub fn note_hash(&self, db: usize) {
        if let Some(slot) = self.dbs.get(db) {
            slot.hashes.store(true, Ordering::Release);
        }
    }

    /// Brings a database's keyspace to the current layout on its first use in
    /// this process (commands on it wait; see `docs/format/resp.md`): a keyspace
    /// written by layout 1 has hashes without markers, so one pass over its key
    /// records writes them, then the layout key, last, so an interrupted pass is
    /// simply run again. A layout newer than this build's is refused.
    fn ensure_layout(&self, ks: &Keyspace) -> shaledb::Result<()> {
        const MARKERS_PER_BATCH: usize = 10_000;
        match ks.get(layout::LAYOUT_KEY)? {
            Some(v) if v.as_ref() == [layout::LAYOUT_VERSION] => return Ok(()),
            Some(v) => {
                return Err(shaledb::Error::invalid(format!(
                    "keyspace {} has Redis layout {:?}; this build reads layout {}",
                    ks.name(),
                    v.as_ref(),
                    layout::LAYOUT_VERSION
                )));
            }
            None => {}
        }
        let id = ks.id();
        let mut batch = WriteBatch::new();
        let mut markers = 0u64;
        let start = [layout::KEY_PREFIX];
        let end = [layout::KEY_PREFIX + 1];
        for item in ks.range(start.as_slice()..end.as_slice()) {
            let (k, v) = item?;
            let is_hash = Record::decode(&v).is_some_and(|r| r.kind == Kind::Hash);
            if let (true, Some(user_key)) = (is_hash, k.get(1..)) {
                batch.put_in(id, layout::marker_key(user_key), []);
                markers += 1;
                if batch.count() as usize >= MARKERS_PER_BATCH {
                    self.ctx.write(std::mem::take(&mut batch))?;
                }
            }
        }
        batch.put_in(id, layout::LAYOUT_KEY, [layout::LAYOUT_VERSION]);
        self.ctx.write(batch)?;
        if markers > 0 {
            tracing::info!(
                keyspace = ks.name(),
                markers,
                "Redis layout 1 -> 2: hash markers written"
            );
        }
        Ok(())
    }

    /// Keyspace of `db` only if it already exists in the engine (no creation).
    pub fn existing_keyspace(&self, db: usize) -> shaledb::Result<Option<Keyspace>> {
        let name = format!("redis.{db}");
        if self.ctx.db.list_keyspaces().contains(&name) {
            self.keyspace(db).map(|ks| Some(ks.clone()))
        } else {
            Ok(None)
        }
    }

    /// Registers a watcher of `key` in `db`.
    pub fn watch(&self, db: usize, key: Bytes, client: u64, flag: &DirtyFlag) {
        if let Some(slot) = self.dbs.get(db) {
            let mut w = lock(&slot.watchers);
            let list = w.entry(key).or_default();
            if !list.iter().any(|(c, _)| *c == client) {
                list.push((client, Arc::clone(flag)));
                slot.watched.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Removes a client's watches.
    pub fn unwatch(&self, keys: &[(usize, Bytes)], client: u64) {
        for (db, key) in keys {
            let Some(slot) = self.dbs.get(*db) else {
                continue;
            };
            let mut w = lock(&slot.watchers);
            if let Some(list) = w.get_mut(key) {
                let before = list.len();
                list.retain(|(c, _)| *c != client);
                slot.watched
                    .fetch_sub(before - list.len(), Ordering::SeqCst);
                if list.is_empty() {
                    w.remove(key);
                }
            }
        }
    }

    /// Marks the watchers of modified keys dirty.
    pub fn touch<'k>(&self, db: usize, keys: impl IntoIterator<Item = &'k [u8]>) {
        let Some(slot) = self.dbs.get(db) else {
            return;
        };
        if slot.watched.load(Ordering::SeqCst) == 0 {
            return;
        }
        let w = lock(&slot.watchers);
        for k in keys {
            if let Some(list) = w.get(k) {
                for (_, f) in list {
                    f.store(true, Ordering::SeqCst);
                }
            }
        }
    }

    /// True if some client watches a key of `db` now.
    pub fn watching(&self, db: usize) -> bool {
        self.dbs
            .get(db)
            .is_some_and(|slot| slot.watched.load(Ordering::SeqCst) > 0)
    }

    /// The keys watched in `db` right now.
    pub fn watched_keys(&self, db: usize) -> Vec<Bytes> {
        match self.dbs.get(db) {
            Some(slot) if slot.watched.load(Ordering::SeqCst) > 0 => {
                lock(&slot.watchers).keys().cloned().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Counters of the Redis front end that the shared [`shale_server::Metrics`] do
/// not have, and the baseline `CONFIG RESETSTAT` sets. The counters (these and the
/// shared ones) only grow, so `/metrics` stays monotonic; `INFO` reports the
/// figures since the baseline.
#[derive(Default, Debug)]
pub struct RedisStats {
    keyspace_hits: AtomicU64,
    keyspace_misses: AtomicU64,
    error_replies: AtomicU64,
    /// Error replies by prefix (`INFO errorstats`).
    error_prefixes: Mutex<BTreeMap<String, u64>>,
    baseline: Mutex<Option<Arc<StatsBaseline>>>,
}

/// The figures at the last `CONFIG RESETSTAT`.
#[derive(Debug)]
pub struct StatsBaseline {
    /// The shared metrics (with latency histograms).
    pub metrics: StatsMark,
    /// Keyspace hits then.
    pub keyspace_hits: u64,
    /// Keyspace misses then.
    pub keyspace_misses: u64,
    /// Error replies then.
    pub error_replies: u64,
    /// Error replies by prefix then.
    pub error_prefixes: BTreeMap<String, u64>,
}

/// The prefix `INFO errorstats` counts an error reply under, as Redis's
/// `afterErrorReply` finds it: the first word, if it ends within the first 32
/// bytes of the reply line (with its `-`), else `ERR`.
pub fn error_prefix(message: &str) -> &str {
    message
        .char_indices()
        .take_while(|(i, _)| *i < 31)
        .find(|(_, c)| *c == ' ')
        .and_then(|(i, _)| message.get(..i))
        .unwrap_or("ERR")
}

impl RedisStats {
    /// `CONFIG RESETSTAT`: makes `INFO` count from now on.
    pub fn reset(&self, metrics: &Metrics) {
        // The total moves under the prefixes' lock: both are taken at one moment.
        let (error_replies, error_prefixes) = {
            let map = lock(&self.error_prefixes);
            (self.error_replies(), map.clone())
        };
        let b = StatsBaseline {
            metrics: metrics.mark("redis", true),
            keyspace_hits: self.keyspace_hits.load(Ordering::Relaxed),
            keyspace_misses: self.keyspace_misses.load(Ordering::Relaxed),
            error_replies,
            error_prefixes,
        };
        *lock(&self.baseline) = Some(Arc::new(b));
    }

    /// The baseline of the last `CONFIG RESETSTAT`, if any.
    pub fn baseline(&self) -> Option<Arc<StatsBaseline>> {
        lock(&self.baseline).clone()
    }

    /// Adds keyspace hits and misses (see [`crate::exec::Exec::read`]).
    pub fn add_lookups(&self, hits: u64, misses: u64) {
        self.keyspace_hits.fetch_add(hits, Ordering::Relaxed);
        self.keyspace_misses.fetch_add(misses, Ordering::Relaxed);
    }

    /// Keyspace hits since start.
    pub fn keyspace_hits(&self) -> u64 {
        self.keyspace_hits.load(Ordering::Relaxed)
    }

    /// Keyspace misses since start.
    pub fn keyspace_misses(&self) -> u64 {
        self.keyspace_misses.load(Ordering::Relaxed)
    }

    /// Counts one error reply sent to a client (`total_error_replies`, and its
    /// prefix in `INFO errorstats`).
    pub fn count_error(&self, message: &str) {
        let prefix = error_prefix(message);
        let mut map = lock(&self.error_prefixes);
        self.error_replies.fetch_add(1, Ordering::Relaxed);
        match map.get_mut(prefix) {
            Some(n) => *n += 1,
            None => {
                map.insert(prefix.to_string(), 1);
            }
        }
    }

    /// Counts `reply` if it is an error.
    pub fn count_reply(&self, reply: &Reply) {
        if let Reply::Error(e) = reply {
            self.count_error(e);
        }
    }

    /// Error replies since start.
    pub fn error_replies(&self) -> u64 {
        self.error_replies.load(Ordering::Relaxed)
    }

    /// Error replies by prefix since `baseline` (since start without one), in
    /// prefix order, leaving out prefixes with none.
    pub fn error_prefixes_since(&self, baseline: Option<&StatsBaseline>) -> Vec<(String, u64)> {
        let map = lock(&self.error_prefixes);
        map.iter()
            .map(|(prefix, n)| {
                let before = baseline
                    .and_then(|b| b.error_prefixes.get(prefix))
                    .copied()
                    .unwrap_or(0);
                (prefix.clone(), n.saturating_sub(before))
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Locks held by one command (or one EXEC), released on drop.
#[derive(Default)]
pub struct LockSet<'a> {
    _shared: Vec<RwLockReadGuard<'a, ()>>,
    _exclusive: Vec<RwLockWriteGuard<'a, ()>>,
    _stripes: Vec<MutexGuard<'a, ()>>,
}

/// What a command (or EXEC) needs locked.
#[derive(Default, Debug)]
pub struct LockPlan {
    /// (db, stripe) pairs.
    pub stripes: Vec<(usize, usize)>,
    /// Databases needing their gate exclusively.
    pub exclusive: Vec<usize>,
}

impl LockPlan {
    /// An empty plan with room for `keys` stripes.
    pub fn with_capacity(keys: usize) -> Self {
        LockPlan {
            stripes: Vec::with_capacity(keys),
            exclusive: Vec::new(),
        }
    }

    /// Adds the stripe of `key` in `db`.
    pub fn key(&mut self, srv: &Server, db: usize, key: &[u8]) {
        self.stripes.push((db, srv.stripe_of(key)));
    }

    /// Takes the locks in one global order (gates by db, then stripes by
    /// (db, stripe)), so concurrent commands never deadlock.
    pub fn acquire(mut self, srv: &Server) -> LockSet<'_> {
        self.exclusive.sort_unstable();
        self.exclusive.dedup();
        self.stripes.sort_unstable();
        self.stripes.dedup();
        self.stripes
            .retain(|(db, _)| self.exclusive.binary_search(db).is_err());
        let mut dbs: Vec<usize> = self
            .stripes
            .iter()
            .map(|(d, _)| *d)
            .chain(self.exclusive.iter().copied())
            .collect();
        dbs.sort_unstable();
        dbs.dedup();
        let mut set = LockSet {
            _stripes: Vec::with_capacity(self.stripes.len()),
            ..LockSet::default()
        };
        for db in dbs {
            let Some(slot) = srv.dbs.get(db) else {
                continue;
            };
            if self.exclusive.binary_search(&db).is_ok() {
                set._exclusive
                    .push(slot.gate.write().unwrap_or_else(PoisonError::into_inner));
            } else {
                set._shared
                    .push(slot.gate.read().unwrap_or_else(PoisonError::into_inner));
            }
        }
        for (db, s) in self.stripes {
            if let Some(m) = srv.dbs.get(db).and_then(|slot| slot.stripes.get(s)) {
                set._stripes.push(lock(m));
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_prefix_is_the_first_word_within_32_bytes() {
        assert_eq!(error_prefix("ERR syntax error"), "ERR");
        assert_eq!(
            error_prefix("WRONGTYPE Operation against a key"),
            "WRONGTYPE"
        );
        assert_eq!(error_prefix("NOAUTH Authentication required."), "NOAUTH");
        assert_eq!(error_prefix("EXECABORT Transaction discarded"), "EXECABORT");
        assert_eq!(error_prefix("NOSPACE"), "ERR");
        // Redis looks for the space in the first 32 bytes of `-PREFIX ...`.
        let word = "A".repeat(30);
        assert_eq!(error_prefix(&format!("{word} x")), word);
        assert_eq!(error_prefix(&format!("{word}B x")), "ERR");
    }

    #[test]
    fn error_counts_are_reported_since_the_baseline() {
        let stats = RedisStats::default();
        let metrics = Metrics::new();
        stats.count_error("ERR syntax error");
        stats.count_error("WRONGTYPE Operation against a key");
        stats.reset(&metrics);
        stats.count_error("ERR syntax error");
        stats.count_reply(&Reply::Error("NOAUTH Authentication required.".into()));
        stats.count_reply(&Reply::OK);
        let b = stats.baseline();
        assert_eq!(stats.error_replies(), 4);
        assert_eq!(b.as_ref().map(|b| b.error_replies), Some(2));
        assert_eq!(
            stats.error_prefixes_since(b.as_deref()),
            [("ERR".to_string(), 1), ("NOAUTH".to_string(), 1)]
        );
        assert_eq!(stats.error_prefixes_since(None).len(), 3);
    }
}
