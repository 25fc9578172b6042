//! The random workload one worker thread runs, and the check of every read it does.
//!
//! Keys come in blocks of [`BLOCK`] consecutive indexes. Block `b` belongs to thread
//! `b % T` — only it writes those keys, one write (a single op, a batch, or a range
//! delete inside one of its blocks) at a time, so each key has at most one write in
//! flight and its expected state is unambiguous — and lives in keyspace
//! `(b / T) % K` ([`keyspace_of`]), so every thread writes every keyspace and batches
//! span keyspaces. Reads may touch any key:
//!
//! * a key the reader owns must read exactly its acknowledged value;
//! * another thread's key must read a value whose generation lies between the one
//!   acknowledged before the read started and the newest one issued after it ended
//!   (or be absent, if that window allows a delete).
//!
//! EXTENSION POINT (merge operators): add a `merge` op kind next to put/delete; the
//! expected state then needs the operand list since the last put (see `values`).
//! EXTENSION POINT (transactions): a transaction is a batch whose reads must also be
//! validated at commit; the thread-owned key slices make the expected outcome exact.
//! EXTENSION POINT (TTL): puts with an expiry; reads must then accept "absent" once the
//! expiry (recorded in the slot's spare bits or a side table) has passed.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{Bytes, Db, Keyspace, WriteBatch, WriteOptions};

use crate::expected_state::{ExpectedState, Slot, generation, is_put, observed_of};
use crate::options::WorkloadArgs;
use crate::values::{key_bytes, parse_key, parse_value};
use crate::{StressError, StressResult};

/// One write a thread issued: the (key, word) pairs of its batch and its durability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOp {
    /// Keys and the words written to them (see `expected_state`).
    pub writes: Vec<(u32, u64)>,
    /// Issued with `sync: true` (or a durability barrier covering it followed).
    pub sync: bool,
}

/// How far a thread got, readable by other threads (the memfs crash driver).
#[derive(Debug, Default)]
pub struct Progress {
    /// Writes issued (logged, then handed to the engine).
    pub issued: AtomicU64,
    /// Writes acknowledged by the engine.
    pub acked: AtomicU64,
    /// Number of writes made durable: every write up to this count was acknowledged
    /// before a synced write or a WAL sync of this thread returned.
    pub synced_through: AtomicU64,
    /// Every issued write, in order, when the driver needs it (memfs mode).
    pub log: Option<Mutex<Vec<LoggedOp>>>,
}

impl Progress {
    /// Progress that also keeps the log of issued writes.
    pub fn with_log() -> Self {
        Progress {
            log: Some(Mutex::new(Vec::new())),
            ..Progress::default()
        }
    }
}

/// What one worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Operations run.
    pub ops: u64,
    /// Writes acknowledged.
    pub writes: u64,
    /// Key reads checked against the expected state (point reads and scanned keys).
    pub reads_verified: u64,
    /// Range and prefix scans.
    pub scans: u64,
    /// Snapshot consistency checks.
    pub snapshot_checks: u64,
}

impl WorkerStats {
    /// Adds `o` to these counters.
    pub fn add(&mut self, o: &WorkerStats) {
        self.ops += o.ops;
        self.writes += o.writes;
        self.reads_verified += o.reads_verified;
        self.scans += o.scans;
        self.snapshot_checks += o.snapshot_checks;
    }
}

/// Consecutive keys that share an owner and a keyspace.
pub const BLOCK: u32 = 100;

/// The thread that owns key `k` among `threads`.
pub fn owner(k: u32, threads: usize) -> usize {
    (k / BLOCK) as usize % threads
}

/// The keyspace (index into [`keyspace_name`]) that holds key `k`.
pub fn keyspace_of(k: u32, threads: usize, keyspaces: u32) -> usize {
    ((k / BLOCK) as usize / threads) % keyspaces.max(1) as usize
}

/// The name of keyspace `i`: `default`, then `ks1`, `ks2`, ...
pub fn keyspace_name(i: usize) -> String {
    if i == 0 {
        "default".into()
    } else {
        format!("ks{i}")
    }
}

/// Opens (creating if needed) the workload's `keyspaces` keyspaces, in index order.
pub fn open_keyspaces(db: &Db, keyspaces: u32) -> shaledb::Result<Vec<Keyspace>> {
    (0..keyspaces.max(1) as usize)
        .map(|i| db.keyspace(&keyspace_name(i)))
        .collect()
}

/// The keys of the block holding `k`, clipped to the key space.
pub fn block_of(k: u32, num_keys: u32) -> Range<u32> {
    let start = k / BLOCK * BLOCK;
    start..(start + BLOCK).min(num_keys)
}

/// Whether a read of a key that the reader does not own, returning `observed`, is
/// allowed between `lo` (slot before the read) and `hi` (slot after it).
pub fn allowed_between(lo: Slot, hi: Slot, observed: Option<u64>) -> bool {
    let lo_gen = generation(lo.acked);
    let newer = hi.max_generation() > lo_gen;
    match observed {
        None => !is_put(lo.acked) || newer,
        Some(g) if g == lo_gen => is_put(lo.acked),
        Some(g) => g > lo_gen && g <= hi.max_generation(),
    }
}

/// The generation a read of key `k` saw, or a description of invalid bytes.
pub fn decode_read(k: u32, raw: Option<&[u8]>) -> Result<Option<u64>, String> {
    match raw {
        None => Ok(None),
        Some(v) => parse_value(k, v).map(Some).ok_or_else(|| {
            format!(
                "key {k}: value {:?} was never written for this key",
                String::from_utf8_lossy(&v[..v.len().min(48)])
            )
        }),
    }
}

/// One worker thread's state.
pub struct Worker<'a> {
    db: &'a Db,
    kss: Vec<Keyspace>,
    keyspaces: u32,
    exp: &'a ExpectedState,
    progress: &'a Progress,
    threads: usize,
    thread: usize,
    num_keys: u32,
    sync_ratio: f64,
    rng: StdRng,
    stats: WorkerStats,
    /// The keys and words of the write being issued.
    last_writes: Vec<(u32, u64)>,
}

impl<'a> Worker<'a> {
    /// A worker for thread `thread` of `args.threads`, seeded from `args.seed`.
    pub fn new(
        db: &'a Db,
        exp: &'a ExpectedState,
        args: &WorkloadArgs,
        thread: usize,
        progress: &'a Progress,
    ) -> StressResult<Self> {
        let seed = crate::values::mix(args.seed ^ ((thread as u64 + 1) << 48));
        Ok(Worker {
            kss: open_keyspaces(db, args.keyspaces)?,
            keyspaces: args.keyspaces,
            db,
            exp,
            progress,
            threads: args.threads,
            thread,
            num_keys: exp.num_keys(),
            sync_ratio: args.sync_ratio,
            rng: StdRng::seed_from_u64(seed),
            stats: WorkerStats::default(),
            last_writes: Vec::new(),
        })
    }

    /// The keyspace holding key `k`.
    fn ks(&self, k: u32) -> &Keyspace {
        let i = keyspace_of(k, self.threads, self.keyspaces);
        // `kss` has one handle per keyspace index, so `i` is always in range.
        &self.kss[i.min(self.kss.len() - 1)]
    }

    /// Runs `ops` operations (0: unlimited) or until `stop` is set.
    pub fn run(mut self, ops: u64, stop: &AtomicBool) -> StressResult<WorkerStats> {
        while (ops == 0 || self.stats.ops < ops) && !stop.load(Ordering::Relaxed) {
            self.step()?;
            self.stats.ops += 1;
        }
        Ok(self.stats)
    }

    fn mismatch(&self, what: String) -> StressError {
        StressError::Mismatch(format!("thread {}: {what}", self.thread))
    }

    /// One random operation.
    fn step(&mut self) -> StressResult<()> {
        match self.rng.random_range(0..1000u32) {
            0..350 => self.write_op(1, 0.85),
            350..430 => self.write_op(1, 0.0),
            430..450 => self.range_delete(),
            450..550 => {
                let n = self.rng.random_range(2..=8);
                self.write_op(n, 0.75)
            }
            550..750 => self.point_read(),
            750..900 => self.scan(),
            900..990 => self.snapshot_check(),
            990..997 => {
                self.db.sync_wal()?;
                let acked = self.progress.acked.load(Ordering::SeqCst);
                self.progress.synced_through.store(acked, Ordering::SeqCst);
                Ok(())
            }
            997..999 => Ok(self.db.flush()?),
            _ => {
                let a = self.rng.random_range(0..self.num_keys);
                let b = (a + 500).min(self.num_keys);
                Ok(self.ks(a).compact_range(key_bytes(a)..key_bytes(b))?)
            }
        }
    }

    /// A random block of this thread's (its first key).
    fn random_own_block(&mut self) -> u32 {
        let (t, threads) = (self.thread as u32, self.threads as u32);
        // `validate` guarantees every thread at least one block.
        let blocks = self.num_keys.div_ceil(BLOCK);
        let own = blocks.saturating_sub(t).div_ceil(threads).max(1);
        (t + self.rng.random_range(0..own) * threads) * BLOCK
    }

    fn random_own_key(&mut self) -> u32 {
        let block = block_of(self.random_own_block(), self.num_keys);
        self.rng.random_range(block)
    }

    /// One write of `n` distinct own keys, each a put with probability `put_ratio`.
    fn write_op(&mut self, n: usize, put_ratio: f64) -> StressResult<()> {
        let mut keys: Vec<u32> = Vec::with_capacity(n);
        while keys.len() < n {
            let k = self.random_own_key();
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let writes: Vec<(u32, u64)> = keys
            .iter()
            .map(|&k| {
                let put = self.rng.random_bool(put_ratio);
                (k, self.exp.next_word(k, put))
            })
            .collect();
        let sync = self.rng.random_bool(self.sync_ratio);
        let mut batch = WriteBatch::new();
        for &(k, w) in &writes {
            let id = self.ks(k).id();
            if is_put(w) {
                batch.put_in(
                    id,
                    key_bytes(k),
                    crate::values::value_bytes(k, generation(w)),
                );
            } else {
                batch.delete_in(id, key_bytes(k));
            }
        }
        self.issue(writes, sync, |me, wo| {
            // Single writes go through put_opt/delete_opt, batches through write.
            match me.last_writes.as_slice() {
                [(k, w)] if is_put(*w) => me.ks(*k).put_opt(
                    key_bytes(*k),
                    crate::values::value_bytes(*k, generation(*w)),
                    wo,
                ),
                [(k, _)] => me.ks(*k).delete_opt(key_bytes(*k), wo),
                _ => me.db.write(batch, wo),
            }
        })
    }

    /// Deletes a random run of up to 20 keys of one of this thread's blocks with one
    /// range tombstone; the expected state records a delete of each key.
    fn range_delete(&mut self) -> StressResult<()> {
        let block = block_of(self.random_own_block(), self.num_keys);
        let a = self.rng.random_range(block.clone());
        let b = (a + self.rng.random_range(1..=20)).min(block.end);
        let writes: Vec<(u32, u64)> = (a..b).map(|k| (k, self.exp.next_word(k, false))).collect();
        let sync = self.rng.random_bool(self.sync_ratio);
        let mut batch = WriteBatch::new();
        batch.delete_range_in(self.ks(a).id(), key_bytes(a), key_bytes(b));
        self.issue(writes, sync, |me, wo| me.db.write(batch, wo))
    }

    /// Logs `writes`, marks them in flight, runs `apply`, then records them as
    /// acknowledged.
    fn issue(
        &mut self,
        writes: Vec<(u32, u64)>,
        sync: bool,
        apply: impl FnOnce(&Self, &WriteOptions) -> shaledb::Result<()>,
    ) -> StressResult<()> {
        if let Some(log) = &self.progress.log {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(LoggedOp {
                    writes: writes.clone(),
                    sync,
                });
        }
        self.progress.issued.fetch_add(1, Ordering::SeqCst);
        for &(k, w) in &writes {
            self.exp.begin(k, w)?;
        }
        self.last_writes = writes;
        apply(self, &WriteOptions { sync })?;
        for &(k, _) in &self.last_writes {
            self.exp.commit(k)?;
        }
        let acked = self.progress.acked.fetch_add(1, Ordering::SeqCst) + 1;
        if sync {
            self.progress.synced_through.store(acked, Ordering::SeqCst);
        }
        self.stats.writes += 1;
        Ok(())
    }

    /// Checks a read of `k` that returned `raw`, given its slot before and after.
    fn check(&mut self, k: u32, lo: Slot, hi: Slot, raw: Option<&[u8]>) -> StressResult<()> {
        let observed = decode_read(k, raw).map_err(|e| self.mismatch(e))?;
        let ok = if owner(k, self.threads) == self.thread {
            observed_of(lo.acked) == observed
        } else {
            allowed_between(lo, hi, observed)
        };
        if !ok {
            return Err(self.mismatch(format!(
                "key {k}: read generation {observed:?}, expected state before {lo:?} after {hi:?}"
            )));
        }
        self.stats.reads_verified += 1;
        Ok(())
    }

    fn point_read(&mut self) -> StressResult<()> {
        let k = self.rng.random_range(0..self.num_keys);
        let lo = self.exp.slot(k);
        let got = self.ks(k).get(key_bytes(k))?;
        let hi = self.exp.slot(k);
        self.check(k, lo, hi, got.as_deref())
    }

    /// A random key range of up to `max` keys inside one block (so in one keyspace).
    fn random_range(&mut self, max: u32) -> Range<u32> {
        let a = self.rng.random_range(0..self.num_keys);
        let width = self.rng.random_range(1..=max);
        a..(a + width).min(block_of(a, self.num_keys).end)
    }

    /// Checks the result of a scan over `range` in the given direction: order, bounds,
    /// every value, and every key of the range that is missing.
    fn check_scan(
        &mut self,
        range: Range<u32>,
        lo: &[Slot],
        hi: &[Slot],
        entries: &[(Bytes, Bytes)],
        reverse: bool,
    ) -> StressResult<()> {
        let mut seen = vec![None; range.len()];
        let mut prev: Option<u32> = None;
        for (key, value) in entries {
            let k = parse_key(key)
                .filter(|k| range.contains(k))
                .ok_or_else(|| self.mismatch(format!("scan of {range:?} returned key {key:?}")))?;
            if let Some(p) = prev
                && ((!reverse && k <= p) || (reverse && k >= p))
            {
                return Err(self.mismatch(format!(
                    "scan of {range:?} (reverse={reverse}) out of order: {p} then {k}"
                )));
            }
            prev = Some(k);
            seen[(k - range.start) as usize] = Some(value.clone());
        }
        for (i, v) in seen.iter().enumerate() {
            let k = range.start + i as u32;
            self.check(k, lo[i], hi[i], v.as_deref())?;
        }
        Ok(())
    }

    fn slots(&self, range: &Range<u32>) -> Vec<Slot> {
        range.clone().map(|k| self.exp.slot(k)).collect()
    }

    fn scan(&mut self) -> StressResult<()> {
        let reverse = self.rng.random_bool(0.4);
        let prefix = self.rng.random_bool(0.25);
        let range = if prefix {
            block_of(self.rng.random_range(0..self.num_keys), self.num_keys)
        } else {
            self.random_range(64)
        };
        let lo = self.slots(&range);
        let ks = self.ks(range.start);
        let it = if prefix {
            // "key000123" + two digits: every key of the block [a, a + 100).
            let full = key_bytes(range.start);
            ks.prefix(&full[..full.len() - 2])
        } else {
            ks.range(key_bytes(range.start)..key_bytes(range.end.max(range.start)))
        };
        let entries: Vec<(Bytes, Bytes)> = if reverse {
            it.rev().collect::<shaledb::Result<_>>()?
        } else {
            it.collect::<shaledb::Result<_>>()?
        };
        let hi = self.slots(&range);
        self.stats.scans += 1;
        self.check_scan(range, &lo, &hi, &entries, reverse)
    }

    /// Takes a snapshot over a small range, writes more, and checks that the snapshot's
    /// point reads and scans (both directions) agree with each other, are stable over
    /// time, and match the expected state at the moment it was taken.
    fn snapshot_check(&mut self) -> StressResult<()> {
        let range = self.random_range(24);
        let lo = self.slots(&range);
        let snap = self.db.snapshot();
        let hi_at_snapshot = self.slots(&range);
        let ks = self.ks(range.start).clone();
        let first: Vec<Option<Bytes>> = range
            .clone()
            .map(|k| snap.get_in(&ks, key_bytes(k)))
            .collect::<shaledb::Result<_>>()?;
        // Own keys may change now; the snapshot must not.
        for _ in 0..self.rng.random_range(1..=4) {
            let n = self.rng.random_range(1..=3);
            self.write_op(n, 0.7)?;
        }
        let entries: Vec<(Bytes, Bytes)> = snap
            .range_in(&ks, key_bytes(range.start)..key_bytes(range.end))
            .collect::<shaledb::Result<_>>()?;
        self.check_scan(range.clone(), &lo, &hi_at_snapshot, &entries, false)?;
        let mut backwards: Vec<(Bytes, Bytes)> = snap
            .range_in(&ks, key_bytes(range.start)..key_bytes(range.end))
            .rev()
            .collect::<shaledb::Result<_>>()?;
        backwards.reverse();
        let from_gets: Vec<(Bytes, Bytes)> = range
            .clone()
            .zip(&first)
            .filter_map(|(k, v)| v.clone().map(|v| (Bytes::from(key_bytes(k)), v)))
            .collect();
        if entries != from_gets || backwards != from_gets {
            return Err(self.mismatch(format!(
                "snapshot at seqno {} over keys {range:?}: gets, forward and reverse scans disagree \
                 ({} / {} / {} entries)",
                snap.seqno(),
                from_gets.len(),
                entries.len(),
                backwards.len()
            )));
        }
        self.stats.snapshot_checks += 1;
        Ok(())
    }
}

/// Runs `args.threads` workers on `db` (scoped threads) until each did `ops` operations
/// (0: until `stop`); the first failure stops the others and is returned.
pub fn run_workers(
    db: &Db,
    exp: &ExpectedState,
    args: &WorkloadArgs,
    ops: u64,
    stop: &AtomicBool,
    progress: &[Progress],
) -> StressResult<WorkerStats> {
    std::thread::scope(|s| {
        let handles: Vec<_> = progress
            .iter()
            .enumerate()
            .take(args.threads)
            .map(|(t, p)| {
                s.spawn(move || {
                    let r = Worker::new(db, exp, args, t, p).and_then(|w| w.run(ops, stop));
                    if r.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    r
                })
            })
            .collect();
        let mut total = WorkerStats::default();
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(s)) => total.add(&s),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(StressError::Mismatch("a worker panicked".into()));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    })
}

/// A value counter shared between threads (total operations for progress reports).
pub fn total_acked(progress: &[Progress]) -> u64 {
    progress
        .iter()
        .map(|p| p.acked.load(Ordering::SeqCst))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expected_state::{IN_FLIGHT, make_word};

    #[test]
    fn reads_of_other_threads_keys() {
        let lo = Slot {
            acked: make_word(3, true),
            pending: make_word(3, true),
        };
        assert!(allowed_between(lo, lo, Some(3)));
        assert!(!allowed_between(lo, lo, None));
        assert!(!allowed_between(lo, lo, Some(2)));
        assert!(!allowed_between(lo, lo, Some(4)));
        let hi = Slot {
            acked: make_word(3, true),
            pending: make_word(4, false) | IN_FLIGHT,
        };
        assert!(allowed_between(lo, hi, None));
        assert!(allowed_between(lo, hi, Some(4)));
        let deleted = Slot {
            acked: make_word(5, false),
            pending: make_word(5, false),
        };
        assert!(allowed_between(deleted, deleted, None));
        assert!(!allowed_between(deleted, deleted, Some(5)));
    }
}
