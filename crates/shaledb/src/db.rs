//! [`Db`]: the database handle, and the state every part of the engine shares.

use std::collections::BTreeSet;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use shale_compaction::CompactionOptions;
use shale_core::key::parse_internal_key;
use shale_core::{
    InternalIterator, LookupKey, MAX_KEY_SIZE, MAX_VALUE_SIZE, SeqNo, ValueKind, WriteBatch,
};
use shale_fs::FileLock;
use shale_manifest::{Version, VersionEdit, VersionSet};
use shale_memtable::Lookup;
use shale_sstable::TableOptions;

use crate::background::{Background, BgGuard, ManualCompaction};
use crate::iter::{DbIterator, KeyRange};
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
    /// What readers read: memtables + table files. Swapped whole.
    pub(crate) sv: RwLock<Arc<SuperVersion>>,
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

    /// Sets `key` to `value` (acknowledged once it survives a process crash).
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.put_opt(key, value, &WriteOptions::default())
    }

    /// Sets `key` to `value` with explicit durability.
    pub fn put_opt(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        wo: &WriteOptions,
    ) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b, wo)
    }

    /// Sets `key` to `value` for `ttl`: after that it reads as absent, and compaction
    /// removes it. The expiry is stored as an absolute time, so it survives restarts.
    /// A zero or overflowing TTL is `InvalidArgument`.
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> Result<()> {
        let expiry = self.expiry_after(ttl)?;
        let mut b = WriteBatch::new();
        b.put_with_expiry(key, value, expiry);
        self.write(b, &WriteOptions::default())
    }

    /// The absolute expiry (ms since the epoch) of an entry written now with `ttl`,
    /// for `WriteBatch::put_with_expiry`. A zero or overflowing TTL is rejected.
    pub fn expiry_after(&self, ttl: std::time::Duration) -> Result<u64> {
        expiry_after(self.inner.opts.clock.now_ms(), ttl)
    }

    /// Adds a merge operand for `key`: the configured
    /// [`merge_operator`](crate::Options::merge_operator) combines it with what is
    /// there when the key is read, and compaction folds operands into one value as soon
    /// as their base is in reach. Without an operator: `InvalidArgument`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let opts = shaledb::Options {
    ///     merge_operator: Some(std::sync::Arc::new(shaledb::Int64Add)),
    ///     ..Default::default()
    /// };
    /// let db = shaledb::Db::open(dir.path(), opts)?;
    /// db.merge("visits", "1")?;
    /// db.merge("visits", "41")?;
    /// assert_eq!(db.get("visits")?.as_deref(), Some(&b"42"[..]));
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn merge(&self, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.merge(key, operand);
        self.write(b, &WriteOptions::default())
    }

    /// Deletes `key` (a no-op if absent, but still a logged write).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.delete_opt(key, &WriteOptions::default())
    }

    /// Deletes `key` with explicit durability.
    pub fn delete_opt(&self, key: impl AsRef<[u8]>, wo: &WriteOptions) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b, wo)
    }

    /// Applies every write of `batch` atomically: after a crash, all or none of it.
    /// An empty batch with `sync` is a durability barrier: every write acknowledged
    /// before it becomes durable.
    pub fn write(&self, batch: WriteBatch, wo: &WriteOptions) -> Result<()> {
        validate_batch(&batch, self.inner.opts.merge_operator.is_some())?;
        let batch = match self.inner.opts.default_ttl {
            Some(ttl) => {
                with_default_ttl(&batch, expiry_after(self.inner.opts.clock.now_ms(), ttl)?)
            }
            None => batch,
        };
        if batch.is_empty() {
            return if wo.sync { self.sync_wal() } else { Ok(()) };
        }
        self.inner.commit(batch, wo.sync).map(|_| ())
    }

    /// The current value of `key`, if any.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.inner.get_at(key.as_ref(), self.inner.visible_seq())
    }

    /// All keys in order; `.rev()` for descending.
    pub fn iter(&self) -> DbIterator {
        self.range::<&[u8], _>(..)
    }

    /// The keys in `range`, in order; `.rev()` for descending.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIterator {
        DbIterator::new(self.snapshot(), KeyRange::from_bounds(range))
    }

    /// The keys that start with `prefix`, in order; `.rev()` for descending.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> DbIterator {
        DbIterator::new(self.snapshot(), KeyRange::prefix(prefix.as_ref()))
    }

    /// The smallest key and its value, if any.
    pub fn first_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
        self.iter().next().transpose()
    }

    /// The largest key and its value, if any.
    pub fn last_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
        self.iter().next_back().transpose()
    }

    /// The keys in `range`, in order, without their values.
    pub fn keys<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<Bytes>> + use<K, R> {
        self.range(range).map(|r| r.map(|(k, _)| k))
    }

    /// An estimate of the number of entries (all versions, tombstones included) from
    /// memtable sizes and table properties: cheap, no data is read.
    pub fn approximate_len(&self) -> u64 {
        let sv = self.inner.super_version();
        let mem: usize = sv.mem.len() + sv.imm.iter().map(|i| i.mem.len()).sum::<usize>();
        let tables: u64 = sv
            .version
            .levels()
            .iter()
            .flatten()
            .map(|f| f.num_entries)
            .sum();
        mem as u64 + tables
    }

    /// An estimate of the bytes on disk of the keys in `[lo, hi]` (None = unbounded)
    /// from table key ranges: tables inside the range count whole, tables straddling
    /// a bound count half. No data is read.
    pub fn approximate_size(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> u64 {
        let version = self.inner.current_version();
        let mut bytes = 0;
        for level in 0..version.num_levels() {
            for f in version.overlapping_files(level, lo, hi) {
                let inside = lo.is_none_or(|lo| f.smallest_user_key() >= lo)
                    && hi.is_none_or(|hi| f.largest_user_key() <= hi);
                bytes += if inside { f.size } else { f.size / 2 };
            }
        }
        bytes
    }

    /// A consistent read-only view as of now, kept until the `Snapshot` is dropped.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.clone())
    }

    /// Makes every acknowledged write durable (one fsync of the WAL).
    pub fn sync_wal(&self) -> Result<()> {
        self.inner.writes.sync_wal()
    }

    /// Freezes the memtable and waits until every frozen memtable is in a table file.
    pub fn flush(&self) -> Result<()> {
        self.inner.force_rotation()?;
        let inner = &self.inner;
        loop {
            if inner.super_version().imm.is_empty() {
                return Ok(());
            }
            inner.schedule_work();
            inner.wait_for_background(Duration::from_millis(200))?;
        }
    }

    /// Compacts every table overlapping `range` down to the bottom of the tree, after
    /// flushing the memtable, and rewrites the overlapping bottom-level tables in place:
    /// afterwards the range holds no shadowed versions, tombstones or expired values
    /// that no snapshot needs. Waits until done.
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        use std::ops::Bound;
        let key = |b: Bound<&K>| match b {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref().to_vec()),
            Bound::Unbounded => None,
        };
        let (lo, hi) = (key(range.start_bound()), key(range.end_bound()));
        self.flush()?;
        let inner = &self.inner;
        // Every level down to and including the last, which is rewritten in place.
        for level in 0..inner.opts.num_levels {
            let id = inner.stats.next_manual_id();
            {
                let mut st = lock(&inner.bg.state);
                st.manual.push(ManualCompaction {
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

    /// Waits until no flush or compaction is running or due (like RocksDB's
    /// `WaitForCompact`): for benchmarks and tests that measure a settled tree.
    /// Returns the background error if background work failed.
    pub fn wait_for_compactions(&self) -> Result<()> {
        let inner = &self.inner;
        loop {
            {
                let st = lock(&inner.bg.state);
                if let Some(e) = &st.error {
                    return Err(e.clone());
                }
                let version = inner.current_version();
                let due = shale_compaction::pick_compaction(
                    &version,
                    &inner.compaction_options(),
                    &inner.compact_pointers(),
                    &st.busy,
                )
                .is_some();
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
    /// Where it was found (a table path, or `<memtable>`), for error reports.
    pub source: PathBuf,
}

/// How tables are built under `opts`.
pub(crate) fn table_options_for(opts: &Options) -> TableOptions {
    TableOptions {
        block_size: opts.block_size,
        compression: opts.compression,
        bloom_bits_per_key: opts.bloom_bits_per_key,
        creation_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        ..TableOptions::default()
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

/// `batch` with every plain put turned into one expiring at `expiry_ms`.
fn with_default_ttl(batch: &WriteBatch, expiry_ms: u64) -> WriteBatch {
    let mut out = WriteBatch::new();
    for op in batch.iter() {
        if op.kind == ValueKind::Value {
            let stored = shale_core::ttl::encode(expiry_ms, op.value);
            out.push(
                ValueKind::ValueWithExpiry,
                op.keyspace,
                op.key,
                Some(&stored),
            );
        } else {
            out.push(op.kind, op.keyspace, op.key, Some(op.value));
        }
    }
    out
}

/// Rejects a batch the engine cannot store, before anything is written.
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

fn validate_batch(batch: &WriteBatch, merges_allowed: bool) -> Result<()> {
    for op in batch.iter() {
        check_entry_sizes(op.key, op.value)?;
        if op.keyspace != 0 {
            return Err(Error::invalid(format!(
                "unknown keyspace id {}",
                op.keyspace
            )));
        }
        if op.kind == ValueKind::ValueWithExpiry && shale_core::ttl::decode(op.value).is_none() {
            return Err(Error::invalid(
                "an expiring value needs its 8-byte expiry prefix",
            ));
        }
        if op.kind == ValueKind::Merge && !merges_allowed {
            return Err(Error::invalid(
                "merge needs Options::merge_operator (none is configured)",
            ));
        }
        if !matches!(
            op.kind,
            ValueKind::Value | ValueKind::Delete | ValueKind::ValueWithExpiry | ValueKind::Merge
        ) {
            return Err(Error::invalid(format!(
                "write kind {:?} is not supported by this version",
                op.kind
            )));
        }
    }
    Ok(())
}

impl DbInner {
    pub(crate) fn visible_seq(&self) -> SeqNo {
        self.visible_seq.load(Ordering::Acquire)
    }

    /// The current super version (one `Arc` clone under a read lock).
    pub(crate) fn super_version(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.sv.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The current version of the default keyspace.
    pub(crate) fn current_version(&self) -> Arc<Version> {
        Arc::clone(&self.super_version().version)
    }

    /// Replaces the super version with `f(current)`.
    pub(crate) fn install_super_version(&self, f: impl FnOnce(&SuperVersion) -> SuperVersion) {
        let mut guard = self.sv.write().unwrap_or_else(|p| p.into_inner());
        let next = Arc::new(f(&guard));
        self.track_version(&next.version);
        *guard = next;
    }

    pub(crate) fn new_file_number(&self) -> u64 {
        lock(&self.versions).new_file_number()
    }

    /// Records `edit` durably in the manifest, then installs the new version (dropping
    /// the flushed memtable `flushed`, if any) for readers.
    pub(crate) fn log_and_apply(
        &self,
        mut edit: VersionEdit,
        flushed: Option<&Arc<Immutable>>,
    ) -> Result<()> {
        let mut vs = lock(&self.versions);
        edit.last_seqno = Some(self.visible_seq().max(vs.last_seqno()));
        vs.log_and_apply(edit)?;
        let version = vs.current(0);
        self.install_super_version(|sv| SuperVersion {
            mem: Arc::clone(&sv.mem),
            log_number: sv.log_number,
            imm: sv
                .imm
                .iter()
                .filter(|i| flushed.is_none_or(|f| !Arc::ptr_eq(i, f)))
                .cloned()
                .collect(),
            version,
        });
        Ok(())
    }

    pub(crate) fn table_options(&self) -> TableOptions {
        table_options_for(&self.opts)
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

    /// The per-level round-robin compaction cursors.
    pub(crate) fn compact_pointers(&self) -> Vec<Option<Vec<u8>>> {
        lock(&self.versions)
            .keyspace(0)
            .map(|k| k.compact_pointers.clone())
            .unwrap_or_default()
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        lock(&self.bg.state).shutting_down
    }

    pub(crate) fn get_at(&self, key: &[u8], seq: SeqNo) -> Result<Option<Bytes>> {
        self.stats.gets.fetch_add(1, Ordering::Relaxed);
        let sv = self.super_version();
        let result = self.get_in(&sv, key, seq);
        self.release_super_version(sv);
        result
    }

    fn get_in(&self, sv: &SuperVersion, key: &[u8], seq: SeqNo) -> Result<Option<Bytes>> {
        let Some(found) = self.newest_version(sv, &LookupKey::new(key, seq))? else {
            return Ok(None);
        };
        match found.kind {
            ValueKind::Value => Ok(Some(found.value)),
            ValueKind::Delete | ValueKind::RangeDelete => Ok(None),
            ValueKind::ValueWithExpiry => self.unexpired(found.value, || found.source.clone()),
            ValueKind::Merge => self.get_merged(sv, key, seq),
        }
    }

    /// The newest version of `lookup`'s key at or below its seqno, searching in the
    /// point-lookup order: the active memtable, the frozen ones newest first, level-0
    /// tables newest first, then one table per deeper level. The first hit decides.
    pub(crate) fn newest_version(
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
            let source = PathBuf::from("<memtable>");
            return Ok(Some(FoundVersion {
                seq,
                kind,
                value,
                source,
            }));
        }
        for (_, file) in sv.version.files_for_key(lookup.user_key()) {
            let table = self.tables.get(file.number)?;
            if let Some((ikey, value)) = table.get(lookup.internal_key())? {
                let source = crate::filenames::table_path(&self.path, file.number);
                let Some(p) = parse_internal_key(&ikey) else {
                    return Err(Error::corruption(
                        source,
                        0,
                        "table returned a malformed internal key",
                    ));
                };
                return Ok(Some(FoundVersion {
                    seq: p.seq,
                    kind: p.kind,
                    value,
                    source,
                }));
            }
        }
        Ok(None)
    }

    /// A key whose newest visible version is a merge operand: walks its versions
    /// across every source, newest first, down to the base, and combines them.
    fn get_merged(&self, sv: &SuperVersion, key: &[u8], seq: SeqNo) -> Result<Option<Bytes>> {
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
            if p.user_key != key {
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
        crate::merge::resolve(self.opts.merge_operator.as_ref(), key, &base, &operands).map(Some)
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

    pub(crate) fn apply_to_memtable(
        &self,
        mem: &shale_memtable::MemTable,
        batch: &WriteBatch,
        first_seq: SeqNo,
    ) {
        for (i, op) in batch.iter().enumerate() {
            mem.add(first_seq + i as u64, op.kind, op.key, op.value);
        }
    }
}
