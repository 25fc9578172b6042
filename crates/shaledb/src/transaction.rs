//! Optimistic transactions and compare-and-swap.
//!
//! A [`Transaction`] reads at a snapshot, buffers its writes (and reads its own
//! writes), and remembers every key and range it read or wrote. `commit` hands the
//! writes to the group-commit queue with a check that the leader runs alone, right
//! before writing: if any remembered key — or any key in a remembered range — has a
//! version newer than the snapshot, the commit fails with [`Error::Conflict`] and
//! nothing is written. Because the check and the write happen as one step of the
//! write queue, committed transactions are serializable in commit order. No lock is
//! held while a transaction runs; conflicts cost a retry.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use shale_core::WriteBatch;

use crate::db::{Db, check_entry_sizes};
use crate::iter::KeyRange;
use crate::keyspace::{Keyspace, Ks};
use crate::options::WriteOptions;
use crate::snapshot::Snapshot;
use crate::{Error, Result};

/// A range a transaction read in one keyspace, as owned bounds.
type TrackedRange = (u32, Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A key in one keyspace.
type TxKey = (u32, Vec<u8>);

/// An optimistic, serializable transaction: see the module docs. The plain methods
/// act on the default keyspace, the `_in` ones on any keyspace; one transaction may
/// span several.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
/// db.put("balance:alice", "100")?;
/// let mut tx = db.transaction();
/// let alice: u64 = std::str::from_utf8(&tx.get_for_update("balance:alice")?.unwrap()).unwrap().parse().unwrap();
/// tx.put("balance:alice", (alice - 30).to_string())?;
/// tx.put("balance:bob", "30")?;
/// match tx.commit() {
///     Ok(()) => {}
///     Err(shaledb::Error::Conflict(_)) => { /* someone changed alice's balance: retry */ }
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), shaledb::Error>(())
/// ```
pub struct Transaction {
    db: Db,
    snapshot: Snapshot,
    /// Own writes, last one per key wins (`None`: deleted).
    writes: BTreeMap<TxKey, Option<Bytes>>,
    batch: WriteBatch,
    keys: BTreeSet<TxKey>,
    ranges: Vec<TrackedRange>,
    /// The keyspaces touched, to resolve ids at commit.
    keyspaces: BTreeMap<u32, Arc<Ks>>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("snapshot", &self.snapshot.seqno())
            .field("writes", &self.batch.count())
            .finish_non_exhaustive()
    }
}

impl Transaction {
    pub(crate) fn new(db: Db) -> Self {
        Transaction {
            snapshot: db.snapshot(),
            db,
            writes: BTreeMap::new(),
            batch: WriteBatch::new(),
            keys: BTreeSet::new(),
            ranges: Vec::new(),
            keyspaces: BTreeMap::new(),
        }
    }

    /// The seqno this transaction reads at.
    pub fn snapshot_seqno(&self) -> u64 {
        self.snapshot.seqno()
    }

    fn default_ks(&self) -> Arc<Ks> {
        Arc::clone(&self.db.inner.default_ks)
    }

    fn touch(&mut self, ks: &Arc<Ks>) -> Result<u32> {
        ks.check_live()?;
        self.keyspaces
            .entry(ks.id)
            .or_insert_with(|| Arc::clone(ks));
        Ok(ks.id)
    }

    /// Reads `key`: the transaction's own write if it made one, else the snapshot's
    /// value. The key is validated at commit (ShaleDB validates every read, so plain
    /// `get` is as safe as [`get_for_update`](Self::get_for_update)).
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let ks = self.default_ks();
        self.get_ks(&ks, key.as_ref())
    }

    /// [`get`](Self::get) in keyspace `ks`.
    pub fn get_in(&mut self, ks: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.get_ks(&ks.ks, key.as_ref())
    }

    fn get_ks(&mut self, ks: &Arc<Ks>, key: &[u8]) -> Result<Option<Bytes>> {
        let id = self.touch(ks)?;
        let k = (id, key.to_vec());
        let own = self.writes.get(&k).cloned();
        self.keys.insert(k);
        match own {
            Some(own) => Ok(own),
            None => self.db.inner.get_at(ks, key, self.snapshot.seqno()),
        }
    }

    /// Reads `key` announcing the intent to write it (same validation as `get`).
    pub fn get_for_update(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.get(key)
    }

    /// [`get_for_update`](Self::get_for_update) in keyspace `ks`.
    pub fn get_for_update_in(
        &mut self,
        ks: &Keyspace,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<Bytes>> {
        self.get_in(ks, key)
    }

    /// Buffers `key = value` (applied at commit).
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let ks = self.default_ks();
        self.write_ks(&ks, key.as_ref(), Some(value.as_ref()))
    }

    /// [`put`](Self::put) in keyspace `ks`.
    pub fn put_in(
        &mut self,
        ks: &Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<()> {
        self.write_ks(&ks.ks, key.as_ref(), Some(value.as_ref()))
    }

    /// Buffers `key = value` that expires at `expiry_ms` (ms since the Unix epoch, as
    /// from [`Db::expiry_after`]); reads in this transaction see it unexpired.
    pub fn put_with_expiry_in(
        &mut self,
        ks: &Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expiry_ms: u64,
    ) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_entry_sizes(key, value)?;
        let id = self.touch(&ks.ks)?;
        self.batch.put_with_expiry_in(id, key, value, expiry_ms);
        self.keys.insert((id, key.to_vec()));
        self.writes
            .insert((id, key.to_vec()), Some(Bytes::copy_from_slice(value)));
        Ok(())
    }

    /// Buffers a delete of `key` (applied at commit).
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        let ks = self.default_ks();
        self.write_ks(&ks, key.as_ref(), None)
    }

    /// [`delete`](Self::delete) in keyspace `ks`.
    pub fn delete_in(&mut self, ks: &Keyspace, key: impl AsRef<[u8]>) -> Result<()> {
        self.write_ks(&ks.ks, key.as_ref(), None)
    }

    fn write_ks(&mut self, ks: &Arc<Ks>, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        check_entry_sizes(key, value.unwrap_or(&[]))?;
        let id = self.touch(ks)?;
        match value {
            Some(v) => self.batch.put_in(id, key, v),
            None => self.batch.delete_in(id, key),
        };
        self.keys.insert((id, key.to_vec()));
        self.writes
            .insert((id, key.to_vec()), value.map(Bytes::copy_from_slice));
        Ok(())
    }

    /// The `(key, value)` pairs in `range` as this transaction sees them (snapshot plus
    /// own writes), in order. The whole range is validated at commit: a key inserted
    /// into it by someone else is a conflict (no phantoms).
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        range: R,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        let ks = self.default_ks();
        self.read_range(&ks, KeyRange::from_bounds(range))
    }

    /// [`range`](Self::range) in keyspace `ks`.
    pub fn range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        ks: &Keyspace,
        range: R,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        self.read_range(&ks.ks, KeyRange::from_bounds(range))
    }

    /// The pairs whose key starts with `prefix` (see [`range`](Self::range)).
    pub fn prefix(&mut self, prefix: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        let ks = self.default_ks();
        self.read_range(&ks, KeyRange::prefix(prefix.as_ref()))
    }

    /// [`prefix`](Self::prefix) in keyspace `ks`.
    pub fn prefix_in(
        &mut self,
        ks: &Keyspace,
        prefix: impl AsRef<[u8]>,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        self.read_range(&ks.ks, KeyRange::prefix(prefix.as_ref()))
    }

    fn read_range(&mut self, ks: &Arc<Ks>, kr: KeyRange) -> Result<Vec<(Bytes, Bytes)>> {
        let id = self.touch(ks)?;
        let (lo, hi) = kr.bounds();
        self.ranges.push((id, lo.clone(), hi.clone()));
        let mut merged: BTreeMap<Bytes, Bytes> = BTreeMap::new();
        for item in crate::iter::DbIterator::new(self.snapshot.clone(), Arc::clone(ks), kr) {
            let (k, v) = item?;
            merged.insert(k, v);
        }
        let from = |b: &Bound<Vec<u8>>| match b {
            Bound::Included(k) => Bound::Included((id, k.clone())),
            Bound::Excluded(k) => Bound::Excluded((id, k.clone())),
            Bound::Unbounded => Bound::Included((id, Vec::new())),
        };
        let to = match &hi {
            Bound::Included(k) => Bound::Included((id, k.clone())),
            Bound::Excluded(k) => Bound::Excluded((id, k.clone())),
            Bound::Unbounded => match id.checked_add(1) {
                Some(next) => Bound::Excluded((next, Vec::new())),
                None => Bound::Unbounded,
            },
        };
        for ((_, k), v) in self.writes.range((from(&lo), to)) {
            let k = Bytes::copy_from_slice(k);
            match v {
                Some(v) => {
                    merged.insert(k, v.clone());
                }
                None => {
                    merged.remove(&k);
                }
            }
        }
        Ok(merged.into_iter().collect())
    }

    /// Applies every buffered write atomically if nothing this transaction read or
    /// wrote changed since its snapshot; otherwise [`Error::Conflict`] and nothing is
    /// written.
    pub fn commit(self) -> Result<()> {
        self.commit_opt(&WriteOptions::default())
    }

    /// [`commit`](Self::commit) with explicit durability.
    pub fn commit_opt(self, wo: &WriteOptions) -> Result<()> {
        if self.batch.is_empty() {
            // A read-only transaction read one consistent snapshot: nothing to check.
            return Ok(());
        }
        let snap = self.snapshot.seqno();
        let keys = self.keys;
        let ranges = self.ranges;
        let keyspaces = self.keyspaces;
        self.db.inner.validate_batch(&self.batch)?;
        self.db.inner.commit_validated(
            self.batch,
            wo.sync,
            Box::new(move |db| {
                let ks_of = |id: u32| {
                    keyspaces
                        .get(&id)
                        .filter(|k| !k.is_dropped())
                        .ok_or_else(|| Error::Conflict(format!("keyspace id {id} was dropped")))
                };
                for (id, key) in &keys {
                    if db.newest_seqno(ks_of(*id)?, key)?.is_some_and(|s| s > snap) {
                        return Err(Error::Conflict(format!(
                            "key {} was written after this transaction's snapshot",
                            show(key)
                        )));
                    }
                }
                for (id, lo, hi) in &ranges {
                    if let Some(k) =
                        db.first_write_after(ks_of(*id)?, as_ref(lo), as_ref(hi), snap)?
                    {
                        return Err(Error::Conflict(format!(
                            "key {} in a range this transaction read was written after its snapshot",
                            show(&k)
                        )));
                    }
                }
                Ok(())
            }),
        )?;
        Ok(())
    }

    /// Drops every buffered write.
    pub fn rollback(self) {}
}

/// Why a [`Db::compare_and_swap`] did not swap: the value found instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasMismatch {
    /// The key's current value (`None`: absent).
    pub current: Option<Bytes>,
}

impl Db {
    /// Starts an optimistic transaction reading at the current state.
    pub fn transaction(&self) -> Transaction {
        Transaction::new(self.clone())
    }

    /// `compare_and_swap` on keyspace `ks`.
    pub(crate) fn compare_and_swap_in(
        &self,
        ks: &Arc<Ks>,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<std::result::Result<(), CasMismatch>> {
        ks.check_live()?;
        let key = key.to_vec();
        check_entry_sizes(&key, new.unwrap_or(&[]))?;
        let mut batch = WriteBatch::new();
        match new {
            Some(v) => batch.put_in(ks.id, &key, v),
            None => batch.delete_in(ks.id, &key),
        };
        let expected: Option<Vec<u8>> = expected.map(<[u8]>::to_vec);
        let found: Arc<Mutex<Option<Option<Bytes>>>> = Arc::new(Mutex::new(None));
        let stash = Arc::clone(&found);
        let target = Arc::clone(ks);
        let result = self.inner.commit_validated(
            batch,
            false,
            Box::new(move |db| {
                let current = db.get_at(&target, &key, db.visible_seq())?;
                if current.as_deref() == expected.as_deref() {
                    Ok(())
                } else {
                    *crate::write_queue::lock(&stash) = Some(current);
                    Err(Error::Conflict("compare-and-swap: value differs".into()))
                }
            }),
        );
        match result {
            Ok(_) => Ok(Ok(())),
            Err(Error::Conflict(_)) => {
                let current = crate::write_queue::lock(&found).take().flatten();
                Ok(Err(CasMismatch { current }))
            }
            Err(e) => Err(e),
        }
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn show(key: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(key))
}
