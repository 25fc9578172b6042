//! Counters for monitoring.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters, updated with relaxed atomics on the hot paths.
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    pub writes: AtomicU64,
    pub write_groups: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub gets: AtomicU64,
}

/// A point-in-time copy of the database's counters and sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Write calls acknowledged (each `put`, `delete` or `write` counts once).
    pub writes: u64,
    /// Group commits performed; `writes / write_groups` is the average group size.
    pub write_groups: u64,
    /// WAL fsyncs performed for synced writes.
    pub wal_syncs: u64,
    /// Point lookups served.
    pub gets: u64,
    /// Approximate bytes held by the memtable.
    pub memtable_bytes: u64,
    /// Entries (all versions) in the memtable.
    pub memtable_entries: u64,
    /// The newest visible sequence number.
    pub last_seqno: u64,
    /// Snapshots (including those pinned by iterators) currently alive.
    pub live_snapshots: u64,
}

impl crate::db::DbInner {
    pub(crate) fn stats_snapshot(&self) -> Stats {
        let c = &self.stats;
        Stats {
            writes: c.writes.load(Ordering::Relaxed),
            write_groups: c.write_groups.load(Ordering::Relaxed),
            wal_syncs: c.wal_syncs.load(Ordering::Relaxed),
            gets: c.gets.load(Ordering::Relaxed),
            memtable_bytes: self.mem.approximate_memory_usage() as u64,
            memtable_entries: self.mem.len() as u64,
            last_seqno: self.visible_seq(),
            live_snapshots: self.snapshots.count() as u64,
        }
    }
}
