//! [`CompactionFilter`]: application-level cleanup during flush and compaction.

/// What a [`CompactionFilter`] decides for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterDecision {
    /// Keep the entry as it is.
    Keep,
    /// Remove the entry: it is written as a tombstone (so no older version shows
    /// through) and disappears at the bottom level.
    Remove,
    /// Replace the value (an expiring value keeps its expiry).
    ChangeValue(Vec<u8>),
}

/// Decides, as flush and compaction rewrite data, whether a value stays, goes, or
/// changes — for application-level expiry and cleanup (RocksDB's compaction filter).
///
/// It sees only the newest version of a key, and only while no live snapshot can see
/// that version, so readers of snapshots are never affected. It is not called for
/// tombstones, merge operands or expired values. A panic counts as `Keep`.
pub trait CompactionFilter: Send + Sync + std::fmt::Debug {
    /// A stable name, for logs.
    fn name(&self) -> &str;
    /// The decision for `key` holding `value`.
    fn filter(&self, key: &[u8], value: &[u8]) -> FilterDecision;
}
