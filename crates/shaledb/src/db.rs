//! [`Db`]: the database handle, and the state every part of the engine shares.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use shale_compaction::CompactionOptions;
use shale_core::key::parse_internal_key;
use shale_core::range_del::UNBOUNDED_END;
use shale_core::{
    InternalIterator, LookupKey, MAX_KEY_SIZE, MAX_VALUE_SIZE, SeqNo, ValueKind, WriteBatch,
};
use shale_fs::FileLock;
use shale_manifest::{Version, VersionEdit, VersionSet};
use shale_memtable::Lookup;
use shale_sstable::filter::filter_hash;
use smallvec::SmallVec;

use crate::background::{Background, BgGuard, ManualCompaction};
use crate::keyspace::Ks;
use crate::options::{Options, WriteOptions};
use crate::snapshot::{Snapshot, SnapshotList};
use crate::stats::{Stats, StatsCounters};
use crate::super_version::{Immutable, SuperVersion};
use crate::table_cache::TableCache;
use crate::write_queue::{WriteQueue, lock};
use crate::{Error, Result};

/// An open database. Cheap to clone and share between threads (`Send + Sync`). The
/// directory stays locked and the background threads run until the last clone — and
/// the last snapshot or iterator made from it — is dropped.
#[derive(Clone)]
pub struct Db {
    // Field order matters: the guard (which stops and joins the background threads)
    // drops before the last reference to the shared state.
    pub(crate) _guard: Arc<BgGuard>,
    pub(crate) inner: Arc<DbInner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// State shared by the handle, the write path, readers and background threads.
pub(crate) struct DbInner {
    pub(crate) path: PathBuf,
    pub(crate) opts: Options,
    /// The default keyspace (also in `keyspaces`), for the plain `Db` methods.
    pub(crate) default_ks: Arc<Ks>,
    /// Every live keyspace by id.
    pub(crate) keyspaces: RwLock<BTreeMap<u32, Arc<Ks>>>,
    /// The WAL new writes go to (changed only by the group-commit leader).
    pub(crate) wal_number: AtomicU64,
    /// Sizes of the closed WALs that may still be needed, for `max_total_wal_size`.
    pub(crate) wal_sizes: Mutex<BTreeMap<u64, u64>>,
    /// The manifest and the current version (flush, compaction and rotation change it).
    pub(crate) versions: Mutex<VersionSet>,
    pub(crate) tables: Arc<TableCache>,
    /// The newest seqno readers may see: every write at or below it is complete.
    pub(crate) visible_seq: AtomicU64,
    pub(crate) writes: WriteQueue,
    pub(crate) snapshots: SnapshotList,
    pub(crate) stats: StatsCounters,
    pub(crate) bg: Background,
    pub(crate) pending_outputs: Mutex<BTreeSet<u64>>,
    pub(crate) live_versions: Mutex<Vec<Weak<Version>>>,
    pub(crate) gc_lock: Mutex<()>,
    pub(crate) pacer: Mutex<crate::stall::Pacer>,
    pub(crate) recovery_notes: Vec<String>,
    pub(crate) _lock: Box<dyn FileLock>,
}

impl Db {
    /// Opens (or creates, per `opts`) the database in directory `path`: recovers the
    /// manifest, replays the write-ahead logs, and starts the background threads.
    /// Fails with [`Error::Locked`] if another handle holds the directory.
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let inner = crate::open::open(path.as_ref(), opts)?;
        let guard = Arc::new(BgGuard::start(&inner)?);
        inner.schedule_work();
        Ok(Db {
            _guard: guard,
            inner,
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// True while writes are being stopped or slowed down for background work to
    /// catch up (as of the last write group): a hint for callers that must not block
    /// a thread on a write, such as an async server deciding whether to move a write
    /// off its reactor. One relaxed atomic load.
    pub fn write_pressure(&self) -> bool {
        self.inner.stats.pressure()
    }

    /// Why writes are refused, if they are: the [`Error::Poisoned`] every write now
    /// gets after a failed WAL write or sync, or after background work failed, until
    /// the database is reopened. `None` while writes are accepted. For health checks,
    /// which must report a read-only database whichever caller hit the failure.
    pub fn write_refusal(&self) -> Option<Error> {
        if let Some(msg) = self.inner.writes.poison() {
            return Some(Error::Poisoned(msg));
        }
        self.inner
            .background_error()
            .map(crate::stall::refused_after)
    }

    /// The current time of the database's clock ([`Options::clock`]) in ms since the
    /// Unix epoch: the time TTL expiry compares against (front ends that keep their
    /// own expiry fields read it so that a test clock governs them too).
    pub fn now_ms(&self) -> u64 {
        self.inner.opts.clock.now_ms()
    }

    /// The absolute expiry (ms since the epoch) of an entry written now with `ttl`,
    /// for `WriteBatch::put_with_expiry`. A zero or overflowing TTL is rejected.
    pub fn expiry_after(&self, ttl: std::time::Duration) -> Result<u64> {
        expiry_after(self.inner.opts.clock.now_ms(), ttl)
    }

    /// Applies every write of `batch` atomically — across keyspaces too: after a
    /// crash, all or none of it. An empty batch with `sync` is a durability barrier:
    /// every write acknowledged before it becomes durable.
    pub fn write(&self, batch: WriteBatch, wo: &WriteOptions) -> Result<()> {
        let inner = &self.inner;
        let targets = inner.validate_batch(&batch)?;
        let batch = if targets.iter().any(|k| k.options().default_ttl.is_some()) {
            with_default_ttl(&batch, &targets, inner.opts.clock.now_ms())?
        } else {
            batch
        };
        if batch.is_empty() {
            return if wo.sync { self.sync_wal() } else { Ok(()) };
        }
        let ids = targets.iter().map(|k| k.id).collect();
        inner.commit_to(batch, wo.sync, ids).map(|_| ())
    }

    /// A consistent read-only view of every keyspace as of now, kept until the
    /// `Snapshot` is dropped.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.clone())
    }

    /// Makes every acknowledged write durable (one fsync of the WAL).
    pub fn sync_wal(&self) -> Result<()> {
        self.inner.writes.sync_wal()
    }

    /// Freezes every keyspace's memtable and waits until all of them are in table
    /// files.
    pub fn flush(&self) -> Result<()> {
        self.flush_keyspaces(&self.inner.all_keyspaces())
    }

    /// Freezes the memtables of `kss` and waits until they are in table files.
    pub(crate) fn flush_keyspaces(&self, kss: &[Arc<Ks>]) -> Result<()> {
        let inner = &self.inner;
        inner.force_rotation(kss.iter().map(|k| k.id).collect())?;
        loop {
            if kss
                .iter()
                .all(|k| k.is_dropped() || k.super_version().imm.is_empty())
            {
                return Ok(());
            }
            inner.schedule_work();
            inner.wait_for_background(Duration::from_millis(200))?;
        }
    }

    /// `compact_range` on keyspace `ks`.
    pub(crate) fn compact_range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        ks: &Arc<Ks>,
        range: R,
    ) -> Result<()> {
        use std::ops::Bound;
        let key = |b: Bound<&K>| match b {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref().to_vec()),
            Bound::Unbounded => None,
        };
        let (lo, hi) = (key(range.start_bound()), key(range.end_bound()));
        ks.check_live()?;
        self.flush_keyspaces(std::slice::from_ref(ks))?;
        let inner = &self.inner;
        // Every level down to and including the last, which is rewritten in place.
        for level in 0..inner.opts.num_levels {
            let id = inner.stats.next_manual_id();
            {
                let mut st = lock(&inner.bg.state);
                st.manual.push(ManualCompaction {
                    ks: Arc::clone(ks),
                    level,
                    lo: lo.clone(),
                    hi: hi.clone(),
                    id,
                });
            }
            inner.schedule_work();
            // Wait until this level's request was taken and everything settled.
            loop {
                {
                    let st = lock(&inner.bg.state);
                    if let Some(e) = &st.error {
                        return Err(e.clone());
                    }
                    if !st.manual.iter().any(|m| m.id == id) && inner.is_idle(&st) {
                        break;
                    }
                }
                inner.wait_for_background(Duration::from_millis(200))?;
            }
        }
        Ok(())
    }

    /// Waits until no flush or compaction is running or due in any keyspace (like
    /// RocksDB's `WaitForCompact`): for benchmarks and tests that measure a settled
    /// tree. Returns the background error if background work failed.
    pub fn wait_for_compactions(&self) -> Result<()> {
        let inner = &self.inner;
        loop {
            {
                let st = lock(&inner.bg.state);
                if let Some(e) = &st.error {
                    return Err(e.clone());
                }
                let due = inner.all_keyspaces().iter().any(|ks| {
                    shale_compaction::pick_compaction(
                        &ks.current_version(),
                        &inner.compaction_options(),
                        &inner.compact_pointers(ks),
                        &st.busy,
                    )
                    .is_some()
                });
                if inner.is_idle(&st) && !due {
                    return Ok(());
                }
            }
            inner.schedule_work();
            inner.wait_for_background(Duration::from_millis(200))?;
        }
    }

    /// Counters and sizes, for monitoring (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        self.inner.stats_snapshot()
    }

    /// What recovery dropped when this handle was opened (torn WAL tails, ...).
    pub fn recovery_notes(&self) -> &[String] {
        &self.inner.recovery_notes
    }
}

/// One stored version of a key, as a point lookup found it.
pub(crate) struct FoundVersion {
    pub seq: SeqNo,
    pub kind: ValueKind,
    pub value: Bytes,
    /// Where it was found, for error reports.
    pub source: VersionSource,
}

/// Where a point lookup found a version: named only when an error report needs it,
/// so a lookup builds no path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VersionSource {
    /// A memtable, active or frozen.
    Memtable,
    /// The table file with this number.
    Table(u64),
}

impl VersionSource {
    /// The path an error report names (`<memtable>` for a memtable).
    pub(crate) fn path(self, db_dir: &Path) -> PathBuf {
        match self {
            VersionSource::Memtable => PathBuf::from("<memtable>"),
            VersionSource::Table(number) => crate::filenames::table_path(db_dir, number),
        }
    }
}

/// `now + ttl` in milliseconds, rejecting a zero or overflowing TTL.
pub(crate) fn expiry_after(now_ms: u64, ttl: std::time::Duration) -> Result<u64> {
    if ttl.is_zero() {
        return Err(Error::invalid("a TTL must be positive"));
    }
    u64::try_from(ttl.as_millis())
        .ok()
        .and_then(|ms| now_ms.checked_add(ms))
        .ok_or_else(|| Error::invalid(format!("TTL of {ttl:?} overflows the expiry time")))
}

/// `batch` with every plain put into a keyspace with a default TTL turned into one
/// expiring after that TTL from `now_ms`.
fn with_default_ttl(batch: &WriteBatch, targets: &[Arc<Ks>], now_ms: u64) -> Result<WriteBatch> {
    let mut expiries: Vec<(u32, Option<u64>)> = Vec::with_capacity(targets.len());
    for ks in targets {
        let e = match ks.options().default_ttl {
            Some(ttl) => Some(expiry_after(now_ms, ttl)?),
            None => None,
        };
        expiries.push((ks.id, e));
    }
    let expiry_of = |id: u32| {
        expiries
            .iter()
            .find(|(k, _)| *k == id)
            .and_then(|(_, e)| *e)
    };
    let mut out = WriteBatch::new();
    for op in batch.iter() {
        match expiry_of(op.keyspace) {
            Some(expiry) if op.kind == ValueKind::Value => {
                let stored = shale_core::ttl::encode(expiry, op.value);
                out.push(
                    ValueKind::ValueWithExpiry,
                    op.keyspace,
                    op.key,
                    Some(&stored),
                );
            }
            _ => {
                out.push(op.kind, op.keyspace, op.key, Some(op.value));
            }
        }
    }
    Ok(out)
}

/// Range tombstones are accepted only once every read path honours them.
const RANGE_DELETES_ENABLED: bool = true;

/// Rejects a key or value over the engine's limits.
pub(crate) fn check_entry_sizes(key: &[u8], value: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::invalid(format!(
            "key of {} bytes exceeds the limit of {MAX_KEY_SIZE} bytes",
            key.len()
        )));
    }
    if value.len() > MAX_VALUE_SIZE {
        return Err(Error::invalid(format!(
            "value of {} bytes exceeds the limit of {MAX_VALUE_SIZE} bytes",
            value.len()
        )));
    }
    Ok(())
}

/// `range` as a half-open `[start, end)` for a range tombstone, or `None` if it holds
/// no key. An unbounded end becomes [`shale_core::range_del::unbounded_end`].
pub(crate) fn range_to_half_open<K: AsRef<[u8]>, R: RangeBounds<K>>(
    range: R,
) -> Option<(Vec<u8>, Vec<u8>)> {
    use std::ops::Bound;
    let start = match range.start_bound() {
        Bound::Included(k) => k.as_ref().to_vec(),
        // The smallest key after k.
        Bound::Excluded(k) => [k.as_ref(), &[0]].concat(),
        Bound::Unbounded => Vec::new(),
    };
    let end = match range.end_bound() {
        Bound::Included(k) => [k.as_ref(), &[0]].concat(),
        Bound::Excluded(k) => k.as_ref().to_vec(),
        Bound::Unbounded => shale_core::range_del::unbounded_end().to_vec(),
    };
    (start < end).then_some((start, end))
}

impl DbInner {
    /// Rejects a batch the engine cannot store, before anything is written; returns
    /// the keyspaces it writes to.
    pub(crate) fn validate_batch(&self, batch: &WriteBatch) -> Result<SmallVec<[Arc<Ks>; 2]>> {
        let mut targets: SmallVec<[Arc<Ks>; 2]> = SmallVec::new();
        for op in batch.iter() {
            let ks = match targets.iter().find(|k| k.id == op.keyspace) {
                Some(ks) => Arc::clone(ks),
                None => {
                    let ks = self.keyspace_by_id(op.keyspace).ok_or_else(|| {
                        Error::invalid(format!("unknown keyspace id {}", op.keyspace))
                    })?;
                    targets.push(Arc::clone(&ks));
                    ks
                }
            };
            match op.kind {
                ValueKind::RangeDelete if !RANGE_DELETES_ENABLED => {
                    return Err(Error::invalid("range deletes are not supported yet"));
                }
                ValueKind::RangeDelete => {
                    if op.key.len() > MAX_KEY_SIZE || op.value.len() > UNBOUNDED_END {
                        return Err(Error::invalid(format!(
                            "a range delete bound exceeds the key size limit of {MAX_KEY_SIZE} bytes"
                        )));
                    }
                    if op.key >= op.value {
                        return Err(Error::invalid(
                            "a range delete needs start < end (use Db::delete_range for an empty range)",
                        ));
                    }
                }
                _ => check_entry_sizes(op.key, op.value)?,
            }
            if op.kind == ValueKind::ValueWithExpiry && shale_core::ttl::decode(op.value).is_none()
            {
                return Err(Error::invalid(
                    "an expiring value needs its 8-byte expiry prefix",
                ));
            }
            if op.kind == ValueKind::Merge && ks.options().merge_operator.is_none() {
                return Err(Error::invalid(format!(
                    "merge needs a merge operator (none is configured for keyspace {:?})",
                    ks.name
                )));
            }
        }
        Ok(targets)
    }

    pub(crate) fn visible_seq(&self) -> SeqNo {
        self.visible_seq.load(Ordering::Acquire)
    }

    /// The keyspace with id `id`, if it exists (and was not dropped).
    pub(crate) fn keyspace_by_id(&self, id: u32) -> Option<Arc<Ks>> {
        if id == self.default_ks.id {
            return Some(Arc::clone(&self.default_ks));
        }
        self.read_keyspaces().get(&id).cloned()
    }

    /// The keyspace named `name`, if it exists.
    pub(crate) fn keyspace_by_name(&self, name: &str) -> Option<Arc<Ks>> {
        self.read_keyspaces()
            .values()
            .find(|k| k.name == name)
            .cloned()
    }

    /// Every live keyspace, the default one first.
    pub(crate) fn all_keyspaces(&self) -> Vec<Arc<Ks>> {
        self.read_keyspaces().values().cloned().collect()
    }

    fn read_keyspaces(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u32, Arc<Ks>>> {
        self.keyspaces.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write_keyspaces(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u32, Arc<Ks>>> {
        self.keyspaces.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The WAL new writes go to.
    pub(crate) fn current_wal(&self) -> u64 {
        self.wal_number.load(Ordering::Acquire)
    }

    /// Replaces `ks`'s super version with `f(current)`.
    pub(crate) fn install_super_version(
        &self,
        ks: &Ks,
        f: impl FnOnce(&SuperVersion) -> SuperVersion,
    ) {
        let mut guard = ks.sv.write().unwrap_or_else(|p| p.into_inner());
        let next = Arc::new(f(&guard));
        self.track_version(&next.version);
        *guard = next;
    }

    pub(crate) fn new_file_number(&self) -> u64 {
        lock(&self.versions).new_file_number()
    }

    /// Records `edit` for keyspace `ks` durably in the manifest, then installs the new
    /// version (dropping the flushed memtable `flushed`, if any) for readers. A
    /// keyspace dropped meanwhile is left alone: the job's output is garbage then.
    pub(crate) fn log_and_apply(
        &self,
        ks: &Ks,
        mut edit: VersionEdit,
        flushed: Option<&Arc<Immutable>>,
    ) -> Result<()> {
        let mut vs = lock(&self.versions);
        if ks.is_dropped() {
            return Ok(());
        }
        edit.keyspace = ks.id;
        edit.last_seqno = Some(self.visible_seq().max(vs.last_seqno()));
        vs.log_and_apply(edit)?;
        let version = vs.current(ks.id);
        if cfg!(debug_assertions) {
            // Test builds check the tree after every flush and compaction.
            self.check_lsm(&version, vs.last_seqno())?;
        }
        self.install_super_version(ks, |sv| {
            SuperVersion::new(
                Arc::clone(&sv.mem),
                sv.log_number,
                sv.imm
                    .iter()
                    .filter(|i| flushed.is_none_or(|f| !Arc::ptr_eq(i, f)))
                    .cloned()
                    .collect(),
                version,
            )
        });
        Ok(())
    }

    /// The LSM invariants of `version`: levels sorted and (below L0) non-overlapping,
    /// key and seqno ranges well-formed and not past `last_seqno`, every file present
    /// on disk. A violation is a `Corruption` naming the manifest.
    pub(crate) fn check_lsm(&self, version: &Version, last_seqno: SeqNo) -> Result<()> {
        version.check_invariants()?;
        for (level, files) in version.levels().iter().enumerate() {
            for f in files {
                let path = crate::filenames::table_path(&self.path, f.number);
                let problem = if f.largest_seqno > last_seqno {
                    Some(format!(
                        "holds seqno {} above the last seqno {last_seqno}",
                        f.largest_seqno
                    ))
                } else if !self.opts.fs.exists(&path) {
                    Some("is referenced but missing".to_owned())
                } else {
                    None
                };
                if let Some(p) = problem {
                    return Err(Error::corruption(
                        "MANIFEST",
                        0,
                        format!("LSM invariant: table {} at L{level} {p}", f.number),
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn compaction_options(&self) -> CompactionOptions {
        let o = &self.opts;
        CompactionOptions {
            num_levels: o.num_levels,
            l0_compaction_trigger: o.l0_compaction_trigger,
            level_size_multiplier: o.level_size_multiplier,
            max_bytes_for_level_base: o.max_bytes_for_level_base,
            target_file_size: o.target_file_size,
            max_compaction_bytes: o.target_file_size.saturating_mul(25),
            dynamic_level_bytes: true,
        }
    }

    /// `ks`'s per-level round-robin compaction cursors.
    pub(crate) fn compact_pointers(&self, ks: &Ks) -> Vec<Option<Vec<u8>>> {
        lock(&self.versions)
            .keyspace(ks.id)
            .map(|k| k.compact_pointers.clone())
            .unwrap_or_default()
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        lock(&self.bg.state).shutting_down
    }

    pub(crate) fn get_at(&self, ks: &Ks, key: &[u8], seq: SeqNo) -> Result<Option<Bytes>> {
        ks.check_live()?;
        self.stats.gets.fetch_add(1, Ordering::Relaxed);
        let sv = ks.super_version();
        let result = self.get_in(ks, &sv, key, seq);
        self.release_super_version(sv);
        result
    }

    fn get_in(&self, ks: &Ks, sv: &SuperVersion, key: &[u8], seq: SeqNo) -> Result<Option<Bytes>> {
        // The newest range tombstone over the key that the reader sees: any older
        // version is deleted by it.
        let covered_below = sv
            .range_tombstones(&self.tables)?
            .and_then(|t| t.max_covering_seq(key, seq))
            .unwrap_or(0);
        let Some(found) = self.newest_version(sv, key, seq)? else {
            return Ok(None);
        };
        if found.seq < covered_below {
            return Ok(None);
        }
        match found.kind {
            ValueKind::Value => Ok(Some(found.value)),
            ValueKind::Delete | ValueKind::RangeDelete => Ok(None),
            ValueKind::ValueWithExpiry => {
                self.unexpired(found.value, || found.source.path(&self.path))
            }
            ValueKind::Merge => self.get_merged(ks, sv, key, seq, covered_below),
        }
    }

    /// The newest version of `key` at or below `seq`, searching in the point-lookup
    /// order: the active memtable, the frozen ones newest first, level-0 tables
    /// newest first, then one table per deeper level. The first hit decides.
    ///
    /// The seek key is built in a buffer the thread keeps, so a lookup allocates
    /// nothing for it (a lookup nested inside another on the same thread finds the
    /// buffer taken and simply allocates).
    pub(crate) fn newest_version(
        &self,
        sv: &SuperVersion,
        key: &[u8],
        seq: SeqNo,
    ) -> Result<Option<FoundVersion>> {
        let lookup = LookupKey::new_in(LOOKUP_BUF.take(), key, seq);
        let found = self.newest_version_of(sv, &lookup);
        LOOKUP_BUF.set(lookup.into_buffer());
        found
    }

    fn newest_version_of(
        &self,
        sv: &SuperVersion,
        lookup: &LookupKey,
    ) -> Result<Option<FoundVersion>> {
        let in_memory = std::iter::once(&sv.mem)
            .chain(sv.imm.iter().map(|i| &i.mem))
            .find_map(|m| m.get(lookup));
        if let Some((seq, found)) = in_memory {
            let (kind, value) = match found {
                Lookup::Value(v) => (ValueKind::Value, v),
                Lookup::Deleted => (ValueKind::Delete, Bytes::new()),
                Lookup::Expiring(v) => (ValueKind::ValueWithExpiry, v),
                Lookup::Merge(v) => (ValueKind::Merge, v),
            };
            return Ok(Some(FoundVersion {
                seq,
                kind,
                value,
                source: VersionSource::Memtable,
            }));
        }
        // Hashed once for every table's filter, and only if a table is probed.
        let mut hash = None;
        for (_, file) in sv.version.files_for_key(lookup.user_key()) {
            let table = self.tables.get(file.number)?;
            let h = *hash.get_or_insert_with(|| filter_hash(lookup.user_key()));
            if let Some((seq, kind, value)) = table.get_hashed(lookup.internal_key(), h)? {
                return Ok(Some(FoundVersion {
                    seq,
                    kind,
                    value,
                    source: VersionSource::Table(file.number),
                }));
            }
        }
        Ok(None)
    }

    /// A key whose newest visible version is a merge operand: walks its versions
    /// across every source, newest first, down to the base (or to a version older
    /// than `covered_below`, deleted by a range tombstone), and combines them.
    fn get_merged(
        &self,
        ks: &Ks,
        sv: &SuperVersion,
        key: &[u8],
        seq: SeqNo,
        covered_below: SeqNo,
    ) -> Result<Option<Bytes>> {
        let now = self.opts.clock.now_ms();
        let mut it = shale_core::MergingIterator::new(sv.iterators(&self.tables)?);
        it.seek(LookupKey::new(key, seq).internal_key());
        let mut operands = Vec::new();
        let mut base = crate::merge::Base::Absent;
        while it.valid() {
            let Some(p) = parse_internal_key(it.key()) else {
                return Err(Error::corruption(
                    "<merged view>",
                    0,
                    "malformed internal key",
                ));
            };
            if p.user_key != key || p.seq < covered_below {
                break;
            }
            let value = Bytes::copy_from_slice(it.value());
            match crate::merge::base_of(p.kind, &value, now)? {
                None => operands.push(value),
                Some(b) => {
                    base = b;
                    break;
                }
            }
            it.next();
        }
        it.status()?;
        if operands.is_empty() {
            return Ok(match base {
                crate::merge::Base::Absent => None,
                crate::merge::Base::Value { value, .. } => Some(value),
            });
        }
        crate::merge::resolve(ks.options().merge_operator.as_ref(), key, &base, &operands).map(Some)
    }

    /// The user value of a stored expiring value, or `None` once it expired.
    fn unexpired(
        &self,
        stored: Bytes,
        file: impl FnOnce() -> std::path::PathBuf,
    ) -> Result<Option<Bytes>> {
        match shale_core::ttl::decode(&stored) {
            Some((expiry, _)) if expiry <= self.opts.clock.now_ms() => Ok(None),
            Some(_) => Ok(Some(stored.slice(shale_core::ttl::EXPIRY_LEN..))),
            None => Err(Error::corruption(
                file(),
                0,
                "expiring value shorter than its expiry",
            )),
        }
    }

    /// Inserts every write of `batch` into the active memtable of its keyspace (`svs`
    /// holds the super version of every keyspace the batch writes to).
    pub(crate) fn apply_to_memtables(
        &self,
        svs: &[(u32, Arc<SuperVersion>)],
        batch: &WriteBatch,
        first_seq: SeqNo,
    ) {
        if let [(_, only)] = svs {
            for (i, op) in batch.iter().enumerate() {
                only.mem
                    .add(first_seq + i as u64, op.kind, op.key, op.value);
            }
            return;
        }
        for (i, op) in batch.iter().enumerate() {
            if let Some((_, sv)) = svs.iter().find(|(id, _)| *id == op.keyspace) {
                sv.mem.add(first_seq + i as u64, op.kind, op.key, op.value);
            }
        }
    }
}

thread_local! {
    /// The seek key buffer of [`DbInner::newest_version`], one per thread.
    static LOOKUP_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}
