//! [`Db`]: the database handle.

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use shale_core::{LookupKey, MAX_KEY_SIZE, MAX_VALUE_SIZE, SeqNo, ValueKind, WriteBatch};
use shale_fs::FileLock;
use shale_memtable::{Lookup, MemTable};

use crate::filenames::{LOCK_FILE, wal_path};
use crate::iter::{DbIterator, KeyRange};
use crate::options::{Options, WriteOptions};
use crate::recovery;
use crate::snapshot::{Snapshot, SnapshotList};
use crate::stats::{Stats, StatsCounters};
use crate::write_queue::WriteQueue;
use crate::{Error, Result};

/// An open database. Cheap to clone and share between threads (`Send + Sync`); the
/// directory stays locked until the last clone is dropped.
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<DbInner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

pub(crate) struct DbInner {
    pub(crate) path: PathBuf,
    pub(crate) opts: Options,
    pub(crate) mem: Arc<MemTable>,
    /// The newest seqno readers may see: every write at or below it is complete.
    pub(crate) visible_seq: AtomicU64,
    pub(crate) writes: WriteQueue,
    pub(crate) snapshots: SnapshotList,
    pub(crate) stats: StatsCounters,
    pub(crate) recovery_notes: Vec<String>,
    _lock: Box<dyn FileLock>,
}

impl Db {
    /// Opens (or creates, per `opts`) the database in directory `path`, replaying its
    /// write-ahead logs. Fails with [`Error::Locked`] if another handle holds it.
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Db> {
        opts.validate()?;
        let path = path.as_ref().to_path_buf();
        let fs = Arc::clone(&opts.fs);
        if !fs.exists(&path) {
            if !opts.create_if_missing {
                return Err(Error::NotFound(path));
            }
            fs.create_dir_all(&path)?;
        }
        let lock = fs.lock(&path.join(LOCK_FILE))?;
        let rec = recovery::replay(fs.as_ref(), &path, opts.wal_recovery_mode)?;
        if opts.error_if_exists && !rec.logs.is_empty() {
            return Err(Error::Exists(format!(
                "a database already exists in {} (error_if_exists is set)",
                path.display()
            )));
        }
        let next_log = rec.logs.last().map_or(1, |n| n + 1);
        let wal = recovery::rewrite_into_new_wal(fs.as_ref(), &path, &rec.mem, next_log)?;
        for &old in &rec.logs {
            fs.remove_file(&wal_path(&path, old))?;
        }
        fs.sync_dir(&path)?;

        let inner = DbInner {
            path,
            mem: rec.mem,
            visible_seq: AtomicU64::new(rec.last_seq),
            writes: WriteQueue::new(wal, rec.last_seq),
            snapshots: SnapshotList::default(),
            stats: StatsCounters::default(),
            recovery_notes: rec.notes,
            opts,
            _lock: lock,
        };
        Ok(Db {
            inner: Arc::new(inner),
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
        validate_batch(&batch)?;
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

    /// A consistent read-only view as of now, kept until the `Snapshot` is dropped.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(Arc::clone(&self.inner))
    }

    /// Makes every acknowledged write durable (one fsync of the WAL).
    pub fn sync_wal(&self) -> Result<()> {
        self.inner.writes.sync_wal()
    }

    /// Counters and sizes, for monitoring.
    pub fn stats(&self) -> Stats {
        self.inner.stats_snapshot()
    }

    /// What recovery dropped when this handle was opened (torn WAL tails, ...).
    pub fn recovery_notes(&self) -> &[String] {
        &self.inner.recovery_notes
    }
}

/// Rejects a batch the engine cannot store, before anything is written.
fn validate_batch(batch: &WriteBatch) -> Result<()> {
    for op in batch.iter() {
        if op.key.len() > MAX_KEY_SIZE {
            return Err(Error::invalid(format!(
                "key of {} bytes exceeds the limit of {MAX_KEY_SIZE} bytes",
                op.key.len()
            )));
        }
        if op.value.len() > MAX_VALUE_SIZE {
            return Err(Error::invalid(format!(
                "value of {} bytes exceeds the limit of {MAX_VALUE_SIZE} bytes",
                op.value.len()
            )));
        }
        if op.keyspace != 0 {
            return Err(Error::invalid(format!(
                "unknown keyspace id {}",
                op.keyspace
            )));
        }
        if !matches!(op.kind, ValueKind::Value | ValueKind::Delete) {
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

    pub(crate) fn get_at(&self, key: &[u8], seq: SeqNo) -> Result<Option<Bytes>> {
        self.stats.gets.fetch_add(1, Ordering::Relaxed);
        match self.mem.get(&LookupKey::new(key, seq)) {
            Some((_, Lookup::Value(v))) => Ok(Some(v)),
            Some((_, Lookup::Deleted)) | None => Ok(None),
            Some((_, Lookup::Merge(_))) => Err(Error::invalid(
                "merge operands are not supported by this version",
            )),
        }
    }

    pub(crate) fn apply_to_memtable(&self, batch: &WriteBatch, first_seq: SeqNo) {
        for (i, op) in batch.iter().enumerate() {
            self.mem
                .add(first_seq + i as u64, op.kind, op.key, op.value);
        }
    }
}
