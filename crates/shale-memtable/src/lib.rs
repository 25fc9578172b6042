//! The memtable: recent writes, in memory, ordered by internal key.
//!
//! A lock-free skiplist (`crossbeam-skiplist`) keyed by [`InternalKey`], so readers
//! never block the single writer (the group-commit leader) and vice versa. Every
//! version of a key is kept; visibility is decided by seqno at read time.

mod iter;

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;
use shale_core::key::{parse_internal_key, split_internal_key};
use shale_core::{InternalKey, LookupKey, SeqNo, ValueKind};

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
}

impl MemTable {
    /// An empty memtable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts one entry. Seqnos are unique, so an entry never replaces another.
    pub fn add(&self, seq: SeqNo, kind: ValueKind, user_key: &[u8], value: &[u8]) {
        let key = InternalKey::new(user_key, seq, kind as u8);
        let bytes = key.0.len() + value.len() + ENTRY_OVERHEAD;
        self.map.insert(key, Bytes::copy_from_slice(value));
        self.approx_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The newest entry of `lookup`'s user key at or below its seqno, if any.
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

    /// An iterator over every entry (all versions), positioned nowhere.
    pub fn iter(self: &Arc<Self>) -> MemTableIterator {
        MemTableIterator::new(Arc::clone(self))
    }

    /// Approximate bytes held (keys, values and per-entry overhead).
    pub fn approximate_memory_usage(&self) -> usize {
        self.approx_bytes.load(Ordering::Relaxed)
    }

    /// Number of entries (all versions).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The largest seqno in the memtable (0 when empty); a linear scan, for tests and
    /// recovery checks only.
    pub fn max_seqno(&self) -> SeqNo {
        self.map
            .iter()
            .map(|e| split_internal_key(e.key().as_bytes()).1 >> 8)
            .max()
            .unwrap_or(0)
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
