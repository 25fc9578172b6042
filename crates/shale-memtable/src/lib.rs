//! The memtable: recent writes, in memory, ordered by internal key.
//!
//! A lock-free skiplist (`crossbeam-skiplist`) in internal key order
//! ([`shale_core::key::compare_internal_keys`]), so readers never block writers and
//! vice versa, and several writers may add at once (the members of a commit group
//! insert their own batches in parallel). Every version of a key is kept; visibility
//! is decided by seqno at read time.
//!
//! Each entry's internal key and value are copied, back to back, into an append-only
//! arena of shared chunks (`arena.rs`), and the skiplist key (`entry::Entry`) is a
//! zero-copy slice of its chunk: an `add` allocates its skiplist node and, once in a
//! while, a new chunk (a memtable's first few entries and big ones get allocations of
//! their own). Iterators read the skiplist in short runs (`iter.rs`).
//!
//! Range tombstones (`ValueKind::RangeDelete`) are not point entries: they are kept in
//! a separate list, never in the skiplist, so `get` and the iterator see point entries
//! only. Readers get them as one [`FragmentedTombstones`], built lazily when one was
//! added since the last build and shared (`Arc`) until the next addition; a memtable
//! without range tombstones answers with one atomic load.
//!
//! A memtable made with [`MemTable::with_key_filter`] also keeps a bloom filter of its
//! user keys (`bloom.rs`), so a lookup of a key it does not hold usually skips the
//! skiplist search.

mod arena;
mod bloom;
mod entry;
mod iter;

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;
use shale_core::key::{parse_internal_key, split_internal_key};
use shale_core::range_del::Fragment;
use shale_core::{FragmentedTombstones, LookupKey, RangeTombstone, SeqNo, ValueKind};

use arena::Arena;
use bloom::KeyFilter;
use entry::{Entry, KeyView, Probe};
pub use iter::MemTableIterator;

/// Estimated bytes per point entry beyond its share of the arena: its skiplist node
/// (a 56-byte `Entry`, 8 bytes of refcount and height, and on average two 8-byte
/// tower links), rounded up for the allocator's header and size classes. Range
/// tombstones, which live outside the arena, count their key bytes plus this.
pub const ENTRY_OVERHEAD: usize = 88;

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
    /// Point entries, ordered by internal key; the map's value is unused.
    map: SkipMap<Entry, ()>,
    /// Where the entries' bytes live. Locked by `add` only, for the copy alone, so
    /// contended only while a commit group inserts in parallel.
    arena: Mutex<Arena>,
    /// Arena bytes allocated, plus [`ENTRY_OVERHEAD`] per point entry, plus range
    /// tombstones and their fragmented view.
    approx_bytes: AtomicUsize,
    /// Number of range tombstones in `range_dels.list`; readers check it before
    /// touching the lock, so a memtable without any costs one atomic load.
    num_range_dels: AtomicUsize,
    range_dels: Mutex<RangeDels>,
    /// The user keys of the point entries, if this memtable filters lookups.
    filter: Option<KeyFilter>,
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
    /// An empty memtable without a key filter (every lookup searches the skiplist).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty memtable with a bloom filter of about `filter_bytes` bytes over its
    /// user keys, so lookups of keys it does not hold are cheap (no filter below 64
    /// bytes). The filter's memory counts in [`approximate_memory_usage`].
    ///
    /// [`approximate_memory_usage`]: MemTable::approximate_memory_usage
    pub fn with_key_filter(filter_bytes: usize) -> Self {
        let filter = KeyFilter::with_bytes(filter_bytes);
        MemTable {
            approx_bytes: AtomicUsize::new(filter.as_ref().map_or(0, KeyFilter::size_bytes)),
            filter,
            ..Self::default()
        }
    }

    /// Bytes of the key filter (0 without one).
    pub fn key_filter_bytes(&self) -> usize {
        self.filter.as_ref().map_or(0, KeyFilter::size_bytes)
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
        // Into the filter first: a reader that finds the entry must pass the filter.
        if let Some(f) = &self.filter {
            f.insert(user_key);
        }
        let (entry, allocated) = self.lock_arena().store(user_key, seq, kind as u8, value);
        self.map.insert(entry, ());
        self.approx_bytes
            .fetch_add(allocated + ENTRY_OVERHEAD, Ordering::Relaxed);
    }

    fn lock_arena(&self) -> MutexGuard<'_, Arena> {
        // The arena is left consistent by every holder (a chunk is replaced whole).
        self.arena
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    ///
    /// A returned value never shares an arena chunk (small values are copied out), so
    /// a caller that keeps it does not keep the chunk's other entries alive.
    pub fn get(&self, lookup: &LookupKey) -> Option<(SeqNo, Lookup)> {
        if self
            .filter
            .as_ref()
            .is_some_and(|f| !f.may_contain(lookup.user_key()))
        {
            return None;
        }
        let target = Probe::new(lookup.internal_key());
        let found = self
            .map
            .lower_bound(Bound::Included(&target as &dyn KeyView))?;
        let entry = found.key();
        let parsed = parse_internal_key(entry.internal_key())?;
        if parsed.user_key != lookup.user_key() {
            return None;
        }
        let found = match parsed.kind {
            ValueKind::Value => Lookup::Value(entry.detached_value()),
            ValueKind::Merge => Lookup::Merge(entry.detached_value()),
            ValueKind::ValueWithExpiry => Lookup::Expiring(entry.detached_value()),
            ValueKind::Delete | ValueKind::RangeDelete => Lookup::Deleted,
        };
        Some((parsed.seq, found))
    }

    /// An iterator over every point entry (all versions; range tombstones are not
    /// included), positioned nowhere.
    pub fn iter(self: &Arc<Self>) -> MemTableIterator {
        MemTableIterator::new(Arc::clone(self))
    }

    /// Approximate bytes held: the arena chunks allocated for keys and values (in
    /// full, unused tails included), [`ENTRY_OVERHEAD`] per point entry, and the range
    /// tombstones and their fragmented view, and the key filter.
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
            .map(|e| split_internal_key(e.key().internal_key()).1 >> 8)
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

    /// Arena bytes allocated so far (tests check the accounting against it).
    #[cfg(test)]
    fn arena_allocated(&self) -> usize {
        self.lock_arena().allocated()
    }
}

#[cfg(test)]
mod tests;
