//! Keyspaces (RocksDB's column families, fjall's partitions): named, independent trees
//! — each with its own memtables, levels and [`KeyspaceOptions`] — that share the
//! database's write-ahead log, so a [`WriteBatch`] spanning keyspaces is atomic.
//!
//! Each keyspace records in the manifest the oldest WAL still holding its unflushed
//! writes (its *log number*); recovery replays a WAL record into a keyspace only if
//! the WAL is at or after that keyspace's log number, so flushing one keyspace never
//! loses or duplicates another's data. A WAL is deleted once every keyspace has
//! flushed past it.

use std::ops::RangeBounds;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use shale_core::WriteBatch;
use shale_manifest::{Version, VersionEdit};

use crate::db::Db;
use crate::iter::{DbIterator, KeyRange};
use crate::keyspace_options::{KeyspaceOptions, validate_name};
use crate::options::WriteOptions;
use crate::snapshot::Snapshot;
use crate::super_version::SuperVersion;
use crate::transaction::CasMismatch;
use crate::write_queue::lock;
use crate::{Error, Result};

/// The name of the keyspace every database has, which the plain `Db` methods use.
pub const DEFAULT_KEYSPACE: &str = "default";

/// One keyspace's engine state: shared by its handles, the write path and background
/// jobs.
pub(crate) struct Ks {
    pub(crate) id: u32,
    pub(crate) name: String,
    opts: RwLock<Arc<KeyspaceOptions>>,
    /// What readers read: memtables + table files. Swapped whole.
    pub(crate) sv: RwLock<Arc<SuperVersion>>,
    /// Set once `drop_keyspace` removed it: writes fail, background work skips it.
    dropped: AtomicBool,
}

impl std::fmt::Debug for Ks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Ks {
    pub(crate) fn new(
        id: u32,
        name: String,
        opts: KeyspaceOptions,
        version: Arc<Version>,
        log_number: u64,
    ) -> Self {
        let mem = opts.new_memtable(opts.write_buffer_size);
        Ks {
            id,
            name,
            opts: RwLock::new(Arc::new(opts)),
            sv: RwLock::new(Arc::new(SuperVersion::new(
                Arc::new(mem),
                log_number,
                Vec::new(),
                version,
            ))),
            dropped: AtomicBool::new(false),
        }
    }

    /// The current super version (one `Arc` clone under a read lock).
    pub(crate) fn super_version(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.sv.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The current version of this keyspace's tree.
    pub(crate) fn current_version(&self) -> Arc<Version> {
        Arc::clone(&self.super_version().version)
    }

    /// The keyspace's options.
    pub(crate) fn options(&self) -> Arc<KeyspaceOptions> {
        Arc::clone(&self.opts.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn set_options(&self, opts: KeyspaceOptions) {
        *self.opts.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(opts);
    }

    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Fails if the keyspace was dropped.
    pub(crate) fn check_live(&self) -> Result<()> {
        if self.is_dropped() {
            return Err(Error::invalid(format!(
                "keyspace {:?} was dropped",
                self.name
            )));
        }
        Ok(())
    }
}

/// A handle on one keyspace: the same operations as [`Db`], on that keyspace's keys.
/// Cheap to clone; keeps the database open while it lives.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
/// let sessions = db.keyspace("sessions")?;
/// sessions.put_with_ttl("sid:42", "alice", std::time::Duration::from_secs(3600))?;
/// assert_eq!(sessions.get("sid:42")?.as_deref(), Some(&b"alice"[..]));
/// assert_eq!(db.get("sid:42")?, None); // the default keyspace is another tree
///
/// // One batch, several keyspaces, atomic.
/// let users = db.keyspace("users")?;
/// let mut batch = shaledb::WriteBatch::new();
/// batch.put_in(users.id(), "alice", "{}").delete_in(sessions.id(), "sid:42");
/// db.write(batch, &shaledb::WriteOptions::default())?;
/// assert_eq!(db.list_keyspaces(), ["default", "sessions", "users"]);
/// # Ok::<(), shaledb::Error>(())
/// ```
#[derive(Clone)]
pub struct Keyspace {
    pub(crate) db: Db,
    pub(crate) ks: Arc<Ks>,
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("name", &self.ks.name)
            .field("id", &self.ks.id)
            .finish()
    }
}

/// The operations every keyspace supports, shared by [`Db`] (on the default keyspace)
/// and [`Keyspace`].
pub(crate) struct View<'a> {
    pub(crate) db: &'a Db,
    pub(crate) ks: &'a Arc<Ks>,
}

impl View<'_> {
    /// A one-write batch for this keyspace; `payload` (key + value bytes) sizes it so
    /// that building it is a single allocation.
    fn one(&self, payload: usize, f: impl FnOnce(&mut WriteBatch, u32)) -> WriteBatch {
        let mut b = WriteBatch::with_capacity(payload);
        f(&mut b, self.ks.id);
        b
    }

    pub(crate) fn put_opt(&self, key: &[u8], value: &[u8], wo: &WriteOptions) -> Result<()> {
        self.db.write(
            self.one(key.len() + value.len(), |b, id| {
                b.put_in(id, key, value);
            }),
            wo,
        )
    }

    pub(crate) fn put_with_ttl(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<()> {
        let expiry = self.db.expiry_after(ttl)?;
        self.db.write(
            self.one(key.len() + value.len() + 8, |b, id| {
                b.put_with_expiry_in(id, key, value, expiry);
            }),
            &WriteOptions::default(),
        )
    }

    pub(crate) fn merge(&self, key: &[u8], operand: &[u8]) -> Result<()> {
        self.db.write(
            self.one(key.len() + operand.len(), |b, id| {
                b.merge_in(id, key, operand);
            }),
            &WriteOptions::default(),
        )
    }

    pub(crate) fn delete_opt(&self, key: &[u8], wo: &WriteOptions) -> Result<()> {
        self.db.write(
            self.one(key.len(), |b, id| {
                b.delete_in(id, key);
            }),
            wo,
        )
    }

    pub(crate) fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
        wo: &WriteOptions,
    ) -> Result<()> {
        let Some((start, end)) = crate::db::range_to_half_open(range) else {
            return Ok(()); // an empty range deletes nothing
        };
        self.db.write(
            self.one(start.len() + end.len(), |b, id| {
                b.delete_range_in(id, &start, &end);
            }),
            wo,
        )
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let inner = &self.db.inner;
        inner.get_at(self.ks, key, inner.visible_seq())
    }

    pub(crate) fn range(&self, range: KeyRange) -> DbIterator {
        DbIterator::new(self.db.snapshot(), Arc::clone(self.ks), range)
    }

    pub(crate) fn approximate_len(&self) -> u64 {
        let sv = self.ks.super_version();
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

    pub(crate) fn approximate_size(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> u64 {
        let version = self.ks.current_version();
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
}

macro_rules! keyspace_ops {
    ($ty:ty, $view:ident) => {
        impl $ty {
            /// Sets `key` to `value` (acknowledged once it survives a process crash).
            pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
                self.$view()
                    .put_opt(key.as_ref(), value.as_ref(), &WriteOptions::default())
            }

            /// Sets `key` to `value` with explicit durability.
            pub fn put_opt(
                &self,
                key: impl AsRef<[u8]>,
                value: impl AsRef<[u8]>,
                wo: &WriteOptions,
            ) -> Result<()> {
                self.$view().put_opt(key.as_ref(), value.as_ref(), wo)
            }

            /// Sets `key` to `value` for `ttl`: after that it reads as absent, and
            /// compaction removes it. The expiry is stored as an absolute time, so it
            /// survives restarts. A zero or overflowing TTL is `InvalidArgument`.
            pub fn put_with_ttl(
                &self,
                key: impl AsRef<[u8]>,
                value: impl AsRef<[u8]>,
                ttl: Duration,
            ) -> Result<()> {
                self.$view().put_with_ttl(key.as_ref(), value.as_ref(), ttl)
            }

            /// Adds a merge operand for `key`, combined by the keyspace's merge
            /// operator with what is there when the key is read (and folded into one
            /// value by compaction). Without an operator: `InvalidArgument`.
            pub fn merge(&self, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) -> Result<()> {
                self.$view().merge(key.as_ref(), operand.as_ref())
            }

            /// Deletes `key` (a no-op if absent, but still a logged write).
            pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
                self.$view()
                    .delete_opt(key.as_ref(), &WriteOptions::default())
            }

            /// Deletes `key` with explicit durability.
            pub fn delete_opt(&self, key: impl AsRef<[u8]>, wo: &WriteOptions) -> Result<()> {
                self.$view().delete_opt(key.as_ref(), wo)
            }

            /// Deletes every key in `range` with one range tombstone: cheap to write
            /// whatever the range holds, immediately invisible to reads, iterators and
            /// later snapshots, and physically removed by compaction. An empty range
            /// deletes nothing.
            pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
                self.$view().delete_range(range, &WriteOptions::default())
            }

            /// [`delete_range`](Self::delete_range) with explicit durability.
            pub fn delete_range_opt<K: AsRef<[u8]>, R: RangeBounds<K>>(
                &self,
                range: R,
                wo: &WriteOptions,
            ) -> Result<()> {
                self.$view().delete_range(range, wo)
            }

            /// Deletes every key starting with `prefix` (one range tombstone).
            pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
                self.delete_prefix_opt(prefix, &WriteOptions::default())
            }

            /// [`delete_prefix`](Self::delete_prefix) with explicit durability.
            pub fn delete_prefix_opt(
                &self,
                prefix: impl AsRef<[u8]>,
                wo: &WriteOptions,
            ) -> Result<()> {
                let start = prefix.as_ref().to_vec();
                let end = shale_core::range_del::prefix_end(&start);
                self.$view()
                    .delete_range(start.as_slice()..end.as_ref(), wo)
            }

            /// The current value of `key`, if any.
            pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
                self.$view().get(key.as_ref())
            }

            /// All keys in order; `.rev()` for descending.
            pub fn iter(&self) -> DbIterator {
                self.$view().range(KeyRange::from_bounds::<&[u8], _>(..))
            }

            /// The keys in `range`, in order; `.rev()` for descending.
            pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIterator {
                self.$view().range(KeyRange::from_bounds(range))
            }

            /// The keys that start with `prefix`, in order; `.rev()` for descending.
            pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> DbIterator {
                self.$view().range(KeyRange::prefix(prefix.as_ref()))
            }

            /// The keys in `range`, in order, without their values.
            pub fn keys<K: AsRef<[u8]>, R: RangeBounds<K>>(
                &self,
                range: R,
            ) -> impl DoubleEndedIterator<Item = Result<Bytes>> + use<K, R> {
                self.range(range).map(|r| r.map(|(k, _)| k))
            }

            /// The smallest key and its value, if any.
            pub fn first_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
                self.iter().next().transpose()
            }

            /// The largest key and its value, if any.
            pub fn last_key_value(&self) -> Result<Option<(Bytes, Bytes)>> {
                self.iter().next_back().transpose()
            }

            /// An estimate of the number of entries (all versions, tombstones
            /// included) from memtable sizes and table properties: no data is read.
            pub fn approximate_len(&self) -> u64 {
                self.$view().approximate_len()
            }

            /// An estimate of the bytes on disk of the keys in `[lo, hi]` (None =
            /// unbounded) from table key ranges: tables inside the range count whole,
            /// tables straddling a bound count half. No data is read.
            pub fn approximate_size(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> u64 {
                self.$view().approximate_size(lo, hi)
            }

            /// Compacts every table overlapping `range` down to the bottom of the tree
            /// (after flushing), rewriting the bottom level in place: afterwards the
            /// range holds no shadowed versions, tombstones or expired values that no
            /// snapshot needs. Waits until done.
            pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
                let v = self.$view();
                v.db.compact_range_in(v.ks, range)
            }

            /// Atomically replaces `key`'s value with `new` (`None`: delete) if it
            /// currently is `expected` (`None`: absent). `Ok(Err(mismatch))` carries the
            /// value found when it was not. Comparison and write are one step of the
            /// write queue.
            pub fn compare_and_swap(
                &self,
                key: impl AsRef<[u8]>,
                expected: Option<&[u8]>,
                new: Option<&[u8]>,
            ) -> Result<std::result::Result<(), CasMismatch>> {
                let v = self.$view();
                v.db.compare_and_swap_in(v.ks, key.as_ref(), expected, new)
            }
        }
    };
}

keyspace_ops!(Db, view);
keyspace_ops!(Keyspace, view);

impl Db {
    /// The default keyspace's view.
    pub(crate) fn view(&self) -> View<'_> {
        View {
            db: self,
            ks: &self.inner.default_ks,
        }
    }

    /// Opens the keyspace `name`, creating it (durably, with the options given for it
    /// in [`Options::keyspace_options`](crate::Options::keyspace_options), else the
    /// database-wide ones) if it does not exist. `"default"` is the keyspace the plain
    /// `Db` methods use. Names are 1 to 255 bytes of `A-Z a-z 0-9 _ - . :`.
    pub fn keyspace(&self, name: &str) -> Result<Keyspace> {
        self.open_keyspace(name, None)
    }

    /// Like [`keyspace`](Self::keyspace), and sets its options (replacing the ones it
    /// had in this process). Options are not stored: pass them on every open.
    pub fn keyspace_with_options(&self, name: &str, opts: KeyspaceOptions) -> Result<Keyspace> {
        opts.validate()?;
        self.open_keyspace(name, Some(opts))
    }

    fn open_keyspace(&self, name: &str, opts: Option<KeyspaceOptions>) -> Result<Keyspace> {
        validate_name(name)?;
        let inner = &self.inner;
        if let Some(ks) = inner.keyspace_by_name(name) {
            if let Some(o) = opts {
                ks.set_options(o);
            }
            return Ok(Keyspace {
                db: self.clone(),
                ks,
            });
        }
        let opts = opts.unwrap_or_else(|| inner.opts.keyspace_options_for(name));
        let name = name.to_owned();
        let created: Arc<std::sync::Mutex<Option<Arc<Ks>>>> = Arc::default();
        let slot = Arc::clone(&created);
        // Through the write queue, alone: no write or rotation runs meanwhile, so the
        // new keyspace's first WAL is the current one.
        inner.commit_validated(
            WriteBatch::new(),
            false,
            Box::new(move |db| {
                if let Some(ks) = db.keyspace_by_name(&name) {
                    *lock(&slot) = Some(ks);
                    return Ok(());
                }
                let log_number = db.current_wal();
                let ks = {
                    let mut vs = lock(&db.versions);
                    let id = vs.next_keyspace_id();
                    let mut edit = VersionEdit::for_keyspace(id);
                    edit.add_keyspace = Some((id, name.clone()));
                    edit.log_number = Some(log_number);
                    edit.max_keyspace_id = Some(id);
                    vs.log_and_apply(edit)?;
                    Arc::new(Ks::new(
                        id,
                        name.clone(),
                        opts.clone(),
                        vs.current(id),
                        log_number,
                    ))
                };
                db.track_version(&ks.current_version());
                db.write_keyspaces().insert(ks.id, Arc::clone(&ks));
                tracing::info!(keyspace = %ks.name, id = ks.id, "keyspace created");
                *lock(&slot) = Some(ks);
                Ok(())
            }),
        )?;
        let ks = lock(&created)
            .take()
            .ok_or_else(|| Error::invalid("keyspace creation did not run"))?;
        Ok(Keyspace {
            db: self.clone(),
            ks,
        })
    }

    /// The names of every keyspace, `"default"` included, in name order.
    pub fn list_keyspaces(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .all_keyspaces()
            .iter()
            .map(|k| k.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Drops keyspace `name` and all its data: one manifest record, then its files are
    /// deleted as soon as no iterator or snapshot read still uses them — no per-key
    /// deletes. Handles on it fail afterwards; iterators already made keep working.
    /// `NotFound` if it does not exist; the default keyspace cannot be dropped.
    pub fn drop_keyspace(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        if name == DEFAULT_KEYSPACE {
            return Err(Error::invalid("the default keyspace cannot be dropped"));
        }
        let inner = &self.inner;
        let Some(ks) = inner.keyspace_by_name(name) else {
            return Err(Error::NotFound(format!("keyspace {name:?}").into()));
        };
        let target = Arc::clone(&ks);
        inner.commit_validated(
            WriteBatch::new(),
            false,
            Box::new(move |db| {
                if target.is_dropped() {
                    return Ok(());
                }
                {
                    let mut vs = lock(&db.versions);
                    vs.log_and_apply(VersionEdit {
                        drop_keyspace: Some(target.id),
                        ..VersionEdit::default()
                    })?;
                    target.dropped.store(true, Ordering::Release);
                }
                db.write_keyspaces().remove(&target.id);
                tracing::info!(keyspace = %target.name, id = target.id, "keyspace dropped");
                Ok(())
            }),
        )?;
        // Its files go once nothing references its versions any more.
        inner.delete_obsolete_files();
        inner.schedule_work();
        Ok(())
    }
}

impl Drop for Keyspace {
    fn drop(&mut self) {
        crate::iter::release_keyspace(&self.db.inner, &mut self.ks);
    }
}

impl Keyspace {
    fn view(&self) -> View<'_> {
        View {
            db: &self.db,
            ks: &self.ks,
        }
    }

    /// The keyspace's name.
    pub fn name(&self) -> &str {
        &self.ks.name
    }

    /// The keyspace's id, for [`WriteBatch::put_in`] and friends.
    pub fn id(&self) -> u32 {
        self.ks.id
    }

    /// The database this keyspace belongs to.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Freezes this keyspace's memtable and waits until it is in a table file.
    pub fn flush(&self) -> Result<()> {
        self.ks.check_live()?;
        self.db.flush_keyspaces(&[Arc::clone(&self.ks)])
    }

    /// The keyspace's options as they apply now.
    pub fn options(&self) -> KeyspaceOptions {
        KeyspaceOptions::clone(&self.ks.options())
    }
}

impl Snapshot {
    /// The value of `key` in keyspace `ks` as of the snapshot.
    pub fn get_in(&self, ks: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.db.inner.get_at(&ks.ks, key.as_ref(), self.seqno())
    }

    /// Every key of keyspace `ks` as of the snapshot, in order.
    pub fn iter_in(&self, ks: &Keyspace) -> DbIterator {
        self.range_in::<&[u8], _>(ks, ..)
    }

    /// The keys of keyspace `ks` in `range` as of the snapshot, in order.
    pub fn range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        ks: &Keyspace,
        range: R,
    ) -> DbIterator {
        DbIterator::new(
            self.clone(),
            Arc::clone(&ks.ks),
            KeyRange::from_bounds(range),
        )
    }

    /// The keys of keyspace `ks` starting with `prefix` as of the snapshot, in order.
    pub fn prefix_in(&self, ks: &Keyspace, prefix: impl AsRef<[u8]>) -> DbIterator {
        DbIterator::new(
            self.clone(),
            Arc::clone(&ks.ks),
            KeyRange::prefix(prefix.as_ref()),
        )
    }
}
