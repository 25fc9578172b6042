//! The memtable: recent writes, in memory, ordered by internal key.
//!
//! A lock-free skiplist (`crossbeam-skiplist`) keyed by [`InternalKey`], so readers
//! never block the single writer (the group-commit leader) and vice versa. Every
//! version of a key is kept; visibility is decided by seqno at read time.
//!
//! Range tombstones (`ValueKind::RangeDelete`) are not point entries: they are kept in
//! a separate list, never in the skiplist, so `get` and the iterator see point entries
//! only. Readers get them as one [`FragmentedTombstones`], built lazily when one was
//! added since the last build and shared (`Arc`) until the next addition; a memtable
//! without range tombstones answers with one atomic load.

mod iter;

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;
use shale_core::key::{parse_internal_key, split_internal_key};
use shale_core::range_del::Fragment;
use shale_core::{FragmentedTombstones, InternalKey, LookupKey, RangeTombstone, SeqNo, ValueKind};

pub use iter::MemTableIterator;

/// Estimated bytes of skiplist node and `Bytes` headers per entry, on top of the key
/// and value bytes: keeps the memory accounting honest for small entries.
pub const ENTRY_OVERHEAD: usize = 96;

/// What a point lookup found in a memtable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The newest visible entry is a value.
    Value(Bytes),
    /// The newest visible entry is a tombstone.
    Deleted,
    /// The newest visible entry is a merge operand; older entries must be consulted.
    Merge(Bytes),
    /// The newest visible entry is a value with an expiry, stored as
    /// [`shale_core::ttl`] lays it out (the reader decides whether it expired).
    Expiring(Bytes),
}

/// An in-memory, sorted write buffer.
#[derive(Debug, Default)]
pub struct MemTable {
    map: SkipMap<InternalKey, Bytes>,
    approx_bytes: AtomicUsize,
    /// Number of range tombstones in `range_dels.list`; readers check it before
    /// touching the lock, so a memtable without any costs one atomic load.
    num_range_dels: AtomicUsize,
    range_dels: Mutex<RangeDels>,
}

/// The range tombstones of a memtable, in insertion order, and the last fragmented
/// view built from them.
#[derive(Debug, Default)]
struct RangeDels {
    list: Vec<RangeTombstone>,
    /// `(n, set)`: `set` fragments `list[..n]`; current when `n == list.len()`.
    cached: Option<(usize, Arc<FragmentedTombstones>)>,
    /// Bytes of the cached set counted in `approx_bytes`.
    cached_bytes: usize,
}

/// Estimated heap bytes of a fragmented set beyond the tombstones' own key bytes
/// (fragment starts and ends share the tombstones' buffers).
fn fragmented_bytes(set: &FragmentedTombstones) -> usize {
    set.fragments()
        .iter()
        .map(|f| std::mem::size_of::<Fragment>() + 8 * f.seqs.len())
        .sum()
}

impl MemTable {
    /// An empty memtable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts one entry. Seqnos are unique, so an entry never replaces another.
    ///
    /// A `RangeDelete` (key = start, value = exclusive end) goes to the range
    /// tombstones, not to the point entries; an empty range (`start >= end`) deletes
    /// nothing and is not stored.
    pub fn add(&self, seq: SeqNo, kind: ValueKind, user_key: &[u8], value: &[u8]) {
        if kind == ValueKind::RangeDelete {
            self.add_range_tombstone(RangeTombstone::new(
                Bytes::copy_from_slice(user_key),
                Bytes::copy_from_slice(value),
                seq,
            ));
            return;
        }
        let key = InternalKey::new(user_key, seq, kind as u8);
        let bytes = key.0.len() + value.len() + ENTRY_OVERHEAD;
        self.map.insert(key, Bytes::copy_from_slice(value));
        self.approx_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn lock_range_dels(&self) -> MutexGuard<'_, RangeDels> {
        // The lock guards plain data that every holder leaves consistent.
        self.range_dels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add_range_tombstone(&self, t: RangeTombstone) {
        if t.is_empty() {
            return;
        }
        let bytes = t.start.len() + t.end.len() + ENTRY_OVERHEAD;
        let mut r = self.lock_range_dels();
        r.list.push(t);
        self.approx_bytes.fetch_add(bytes, Ordering::Relaxed);
        // Published after the push, so a reader that sees the count sees the entry.
        self.num_range_dels.store(r.list.len(), Ordering::Release);
    }

    /// Every range tombstone, fragmented, or `None` when there is none. Cheap when
    /// nothing was added since the last call (an `Arc` clone); the common case of a
    /// memtable without range tombstones is one atomic load.
    pub fn range_tombstones(&self) -> Option<Arc<FragmentedTombstones>> {
        if self.num_range_dels.load(Ordering::Acquire) == 0 {
            return None;
        }
        let snapshot = {
            let r = self.lock_range_dels();
            match &r.cached {
                Some((n, set)) if *n == r.list.len() => return Some(Arc::clone(set)),
                _ => r.list.clone(),
            }
        };
        // Fragment outside the lock: the writer adding the next tombstone must not
        // wait for it.
        let n = snapshot.len();
        let set = Arc::new(FragmentedTombstones::new(snapshot));
        let mut r = self.lock_range_dels();
        // Keep the newer of ours and one another reader may have stored meanwhile.
        if r.cached.as_ref().is_none_or(|(m, _)| *m < n) {
            let new_bytes = fragmented_bytes(&set);
            let old_bytes = std::mem::replace(&mut r.cached_bytes, new_bytes);
            self.approx_bytes.fetch_add(new_bytes, Ordering::Relaxed);
            self.approx_bytes.fetch_sub(old_bytes, Ordering::Relaxed);
            r.cached = Some((n, Arc::clone(&set)));
        }
        Some(set)
    }

    /// Every range tombstone as added (insertion order, unfragmented), for flushing.
    pub fn range_tombstone_list(&self) -> Vec<RangeTombstone> {
        if self.num_range_dels.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        self.lock_range_dels().list.clone()
    }

    /// Number of range tombstones added.
    pub fn num_range_tombstones(&self) -> usize {
        self.num_range_dels.load(Ordering::Acquire)
    }

    /// The newest point entry of `lookup`'s user key at or below its seqno, if any.
    /// Range tombstones are not consulted: see [`MemTable::range_tombstones`].
    pub fn get(&self, lookup: &LookupKey) -> Option<(SeqNo, Lookup)> {
        let target = InternalKey(Bytes::copy_from_slice(lookup.internal_key()));
        let entry = self.map.lower_bound(Bound::Included(&target))?;
        let parsed = parse_internal_key(entry.key().as_bytes())?;
        if parsed.user_key != lookup.user_key() {
            return None;
        }
        let found = match parsed.kind {
            ValueKind::Value => Lookup::Value(entry.value().clone()),
            ValueKind::Merge => Lookup::Merge(entry.value().clone()),
            ValueKind::ValueWithExpiry => Lookup::Expiring(entry.value().clone()),
            ValueKind::Delete | ValueKind::RangeDelete => Lookup::Deleted,
        };
        Some((parsed.seq, found))
    }

    /// An iterator over every point entry (all versions; range tombstones are not
    /// included), positioned nowhere.
    pub fn iter(self: &Arc<Self>) -> MemTableIterator {
        MemTableIterator::new(Arc::clone(self))
    }

    /// Approximate bytes held (keys, values and per-entry overhead, range tombstones
    /// and their fragmented view included).
    pub fn approximate_memory_usage(&self) -> usize {
        self.approx_bytes.load(Ordering::Relaxed)
    }

    /// Number of entries: point entries (all versions) plus range tombstones.
    pub fn len(&self) -> usize {
        self.map.len() + self.num_range_tombstones()
    }

    /// True if nothing was inserted (no point entry and no range tombstone).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty() && self.num_range_tombstones() == 0
    }

    /// The largest seqno in the memtable, range tombstones included (0 when empty); a
    /// linear scan, for tests and recovery checks only.
    pub fn max_seqno(&self) -> SeqNo {
        let points = self
            .map
            .iter()
            .map(|e| split_internal_key(e.key().as_bytes()).1 >> 8)
            .max()
            .unwrap_or(0);
        let ranges = self
            .range_tombstone_list()
            .iter()
            .map(|t| t.seq)
            .max()
            .unwrap_or(0);
        points.max(ranges)
    }

    fn lower_bound(&self, bound: Bound<&InternalKey>) -> Option<(InternalKey, Bytes)> {
        self.map
            .lower_bound(bound)
            .map(|e| (e.key().clone(), e.value().clone()))
    }

    fn upper_bound(&self, bound: Bound<&InternalKey>) -> Option<(InternalKey, Bytes)> {
        self.map
            .upper_bound(bound)
            .map(|e| (e.key().clone(), e.value().clone()))
    }
}

#[cfg(test)]
mod tests;
