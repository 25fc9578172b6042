//! [`Snapshot`]: a consistent, read-only view of the database at one seqno.

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use shale_core::SeqNo;

use crate::Result;
use crate::db::Db;
use crate::iter::{DbIterator, KeyRange};
use crate::write_queue::lock;

/// The seqnos of live snapshots, so that compaction keeps what they can still see.
#[derive(Debug, Default)]
pub(crate) struct SnapshotList {
    live: Mutex<BTreeMap<SeqNo, usize>>,
}

impl SnapshotList {
    fn acquire(&self, seq: SeqNo) {
        *lock(&self.live).entry(seq).or_insert(0) += 1;
    }

    fn release(&self, seq: SeqNo) {
        let mut live = lock(&self.live);
        if let Some(n) = live.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                live.remove(&seq);
            }
        }
    }

    /// Number of live snapshots.
    pub(crate) fn count(&self) -> usize {
        lock(&self.live).values().sum()
    }

    /// Every live snapshot's seqno, ascending (what compaction must keep visible).
    pub(crate) fn all(&self) -> Vec<SeqNo> {
        lock(&self.live).keys().copied().collect()
    }
}

/// A read-only view of the database as of the moment it was taken: later writes are
/// invisible to it. Cheap; holds the data it can see alive until dropped.
pub struct Snapshot {
    pub(crate) db: Db,
    seq: SeqNo,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("seq", &self.seq).finish()
    }
}

impl Snapshot {
    pub(crate) fn new(db: Db) -> Snapshot {
        // Read the seqno under the list's lock, so that a compaction reading the list
        // either sees this snapshot or ran before its seqno was chosen.
        let seq = {
            let mut live = lock(&db.inner.snapshots.live);
            let seq = db.inner.visible_seq();
            *live.entry(seq).or_insert(0) += 1;
            seq
        };
        Snapshot { db, seq }
    }

    /// The seqno this snapshot reads at.
    pub fn seqno(&self) -> SeqNo {
        self.seq
    }

    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.db
            .inner
            .get_at(&self.db.inner.default_ks, key.as_ref(), self.seq)
    }

    /// All keys as of the snapshot, in order.
    pub fn iter(&self) -> DbIterator {
        self.range::<&[u8], _>(..)
    }

    /// The keys in `range` as of the snapshot, in order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIterator {
        DbIterator::new(
            self.clone(),
            Arc::clone(&self.db.inner.default_ks),
            KeyRange::from_bounds(range),
        )
    }

    /// The keys starting with `prefix` as of the snapshot, in order.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> DbIterator {
        DbIterator::new(
            self.clone(),
            Arc::clone(&self.db.inner.default_ks),
            KeyRange::prefix(prefix.as_ref()),
        )
    }
}

impl Clone for Snapshot {
    fn clone(&self) -> Self {
        self.db.inner.snapshots.acquire(self.seq);
        Snapshot {
            db: self.db.clone(),
            seq: self.seq,
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.db.inner.snapshots.release(self.seq);
    }
}
