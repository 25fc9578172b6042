//! Counters for monitoring, and the [`Stats`] report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::write_queue::lock;

/// Per-level compaction traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LevelTraffic {
    read: u64,
    written: u64,
    compactions: u64,
    trivial_moves: u64,
}

/// Live counters, updated with relaxed atomics on the hot paths.
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    pub writes: AtomicU64,
    pub write_groups: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub gets: AtomicU64,
    user_bytes: AtomicU64,
    wal_bytes: AtomicU64,
    flushes: AtomicU64,
    flush_bytes: AtomicU64,
    stops: AtomicU64,
    slowdowns: AtomicU64,
    stall_micros: AtomicU64,
    /// The last write group was stopped or paced (see `Db::write_pressure`).
    pressure: AtomicBool,
    bg_errors: AtomicU64,
    manual_ids: AtomicU64,
    levels: Mutex<Vec<LevelTraffic>>,
}

impl StatsCounters {
    pub(crate) fn record_user_write(&self, bytes: u64) {
        self.user_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.wal_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    pub(crate) fn record_flush(&self, bytes: u64) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.flush_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    pub(crate) fn record_compaction(
        &self,
        output_level: usize,
        read: u64,
        written: u64,
        trivial: bool,
    ) {
        let mut levels = lock(&self.levels);
        if levels.len() <= output_level {
            levels.resize(output_level + 1, LevelTraffic::default());
        }
        if let Some(l) = levels.get_mut(output_level) {
            l.read += read;
            l.written += written;
            l.compactions += u64::from(!trivial);
            l.trivial_moves += u64::from(trivial);
        }
    }
    /// Records whether the last write group had to wait for background work.
    pub(crate) fn set_pressure(&self, on: bool) {
        if self.pressure.load(Ordering::Relaxed) != on {
            self.pressure.store(on, Ordering::Relaxed);
        }
    }

    /// See [`set_pressure`](Self::set_pressure).
    pub(crate) fn pressure(&self) -> bool {
        self.pressure.load(Ordering::Relaxed)
    }

    pub(crate) fn record_stop(&self) {
        self.stops.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_slowdown(&self) {
        self.slowdowns.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_stall_time(&self, d: Duration) {
        self.stall_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }
    pub(crate) fn record_bg_error(&self) {
        self.bg_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn next_manual_id(&self) -> u64 {
        self.manual_ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// One level of the tree in a [`Stats`] report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LevelStats {
    /// Level number (0 = newest).
    pub level: usize,
    /// Table files in the level.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// The level's size target (0 for L0 and empty levels above the base level).
    pub target_bytes: u64,
    /// Bytes read by compactions writing into this level.
    pub compaction_read_bytes: u64,
    /// Bytes written by compactions into this level (flushes count for L0).
    pub compaction_write_bytes: u64,
    /// Compactions that wrote into this level.
    pub compactions: u64,
    /// Files moved into this level without rewriting.
    pub trivial_moves: u64,
}

/// A point-in-time copy of the database's counters and sizes.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// Bytes of write batches accepted from users.
    pub user_bytes_written: u64,
    /// Bytes written to the WAL, flushed tables and compaction outputs together.
    pub disk_bytes_written: u64,
    /// `disk_bytes_written / user_bytes_written` (0 before any write).
    pub write_amplification: f64,
    /// Memtable flushes to L0.
    pub flushes: u64,
    /// Per-level files, sizes and compaction traffic.
    pub levels: Vec<LevelStats>,
    /// Estimated bytes compaction still has to rewrite to bring every level to target.
    pub pending_compaction_bytes: u64,
    /// Number of keyspaces (the figures above are summed over all of them).
    pub keyspaces: u64,
    /// Times writes were stopped to let background work catch up.
    pub write_stops: u64,
    /// Write groups that were paced (slowed) because of compaction debt.
    pub write_slowdowns: u64,
    /// Total time writes spent stopped or paced, in microseconds.
    pub stall_micros: u64,
    /// Background errors (a non-zero value means writes are refused until reopen).
    pub background_errors: u64,
    /// Approximate bytes held by all memtables (active and frozen).
    pub memtable_bytes: u64,
    /// Frozen memtables waiting to be flushed.
    pub immutable_memtables: u64,
    /// Entries (all versions) in the active memtable.
    pub memtable_entries: u64,
    /// Bytes of decompressed blocks in the block cache, and its capacity.
    pub block_cache_bytes: u64,
    /// The block cache's capacity in bytes.
    pub block_cache_capacity: u64,
    /// Block cache hits.
    pub block_cache_hits: u64,
    /// Block cache misses.
    pub block_cache_misses: u64,
    /// Bytes of index and filter blocks pinned by open tables.
    pub table_index_filter_bytes: u64,
    /// Memtables + block cache + pinned index/filter blocks: what `memory_budget` bounds.
    pub memory_bytes: u64,
    /// Open table readers.
    pub open_tables: u64,
    /// The newest visible sequence number.
    pub last_seqno: u64,
    /// Snapshots (including those pinned by iterators) currently alive.
    pub live_snapshots: u64,
}

impl Stats {
    /// Block cache hit rate in [0, 1] (0 when the cache was never consulted).
    pub fn block_cache_hit_rate(&self) -> f64 {
        let total = self.block_cache_hits + self.block_cache_misses;
        if total == 0 {
            0.0
        } else {
            self.block_cache_hits as f64 / total as f64
        }
    }

    /// Total bytes of all table files.
    pub fn table_bytes(&self) -> u64 {
        self.levels.iter().map(|l| l.bytes).sum()
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Level  Files        Size      Target   Comp.Read  Comp.Write  Compactions  Moves"
        )?;
        for l in &self.levels {
            writeln!(
                f,
                "L{:<5} {:>5} {:>11} {:>11} {:>11} {:>11} {:>12} {:>6}",
                l.level,
                l.files,
                human(l.bytes),
                human(l.target_bytes),
                human(l.compaction_read_bytes),
                human(l.compaction_write_bytes),
                l.compactions,
                l.trivial_moves
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "writes              {} in {} groups ({} WAL syncs)",
            self.writes, self.write_groups, self.wal_syncs
        )?;
        writeln!(f, "user bytes written  {}", human(self.user_bytes_written))?;
        writeln!(
            f,
            "disk bytes written  {} (write amplification {:.2})",
            human(self.disk_bytes_written),
            self.write_amplification
        )?;
        writeln!(
            f,
            "pending compaction  {}",
            human(self.pending_compaction_bytes)
        )?;
        writeln!(f, "flushes             {}", self.flushes)?;
        writeln!(
            f,
            "write stalls        {} stops, {} paced groups, {:.3} s stalled",
            self.write_stops,
            self.write_slowdowns,
            self.stall_micros as f64 / 1e6
        )?;
        writeln!(
            f,
            "memtables           {} ({} frozen)",
            human(self.memtable_bytes),
            self.immutable_memtables
        )?;
        writeln!(
            f,
            "block cache         {} of {} (hit rate {:.1}%)",
            human(self.block_cache_bytes),
            human(self.block_cache_capacity),
            100.0 * self.block_cache_hit_rate()
        )?;
        writeln!(
            f,
            "index/filter blocks {} in {} open tables",
            human(self.table_index_filter_bytes),
            self.open_tables
        )?;
        writeln!(f, "memory in use       {}", human(self.memory_bytes))?;
        writeln!(f, "gets                {}", self.gets)?;
        writeln!(f, "last seqno          {}", self.last_seqno)?;
        writeln!(f, "live snapshots      {}", self.live_snapshots)?;
        write!(f, "background errors   {}", self.background_errors)
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

impl crate::db::DbInner {
    pub(crate) fn stats_snapshot(&self) -> Stats {
        let c = &self.stats;
        // Levels, memtables and debt summed over every keyspace.
        let svs: Vec<_> = self
            .all_keyspaces()
            .iter()
            .map(|k| k.super_version())
            .collect();
        let copts = self.compaction_options();
        let targets: Vec<_> = svs
            .iter()
            .map(|sv| shale_compaction::LevelTargets::compute(&sv.version, &copts))
            .collect();
        let traffic = lock(&c.levels).clone();
        let flush_bytes = c.flush_bytes.load(Ordering::Relaxed);
        let levels: Vec<LevelStats> = (0..self.opts.num_levels)
            .map(|level| {
                let t = traffic.get(level).copied().unwrap_or_default();
                LevelStats {
                    level,
                    files: svs
                        .iter()
                        .map(|sv| sv.version.files(level).len() as u64)
                        .sum(),
                    bytes: svs.iter().map(|sv| sv.version.level_bytes(level)).sum(),
                    target_bytes: if level == 0 {
                        0
                    } else {
                        targets.iter().map(|t| t.target(level)).sum()
                    },
                    compaction_read_bytes: t.read,
                    compaction_write_bytes: t.written + if level == 0 { flush_bytes } else { 0 },
                    compactions: t.compactions,
                    trivial_moves: t.trivial_moves,
                }
            })
            .collect();
        let user = c.user_bytes.load(Ordering::Relaxed);
        let compaction_written: u64 = traffic.iter().map(|t| t.written).sum();
        let disk = c.wal_bytes.load(Ordering::Relaxed) + flush_bytes + compaction_written;
        let cache = self.tables.block_cache();
        let memtable_bytes: u64 = svs.iter().map(|sv| sv.memtable_bytes()).sum();
        let pinned = self.tables.pinned_bytes();
        Stats {
            writes: c.writes.load(Ordering::Relaxed),
            write_groups: c.write_groups.load(Ordering::Relaxed),
            wal_syncs: c.wal_syncs.load(Ordering::Relaxed),
            gets: c.gets.load(Ordering::Relaxed),
            user_bytes_written: user,
            disk_bytes_written: disk,
            write_amplification: if user == 0 {
                0.0
            } else {
                disk as f64 / user as f64
            },
            flushes: c.flushes.load(Ordering::Relaxed),
            levels,
            pending_compaction_bytes: svs
                .iter()
                .map(|sv| sv.compaction_debt(|v| self.pending_compaction_bytes(v)))
                .sum(),
            keyspaces: svs.len() as u64,
            write_stops: c.stops.load(Ordering::Relaxed),
            write_slowdowns: c.slowdowns.load(Ordering::Relaxed),
            stall_micros: c.stall_micros.load(Ordering::Relaxed),
            background_errors: c.bg_errors.load(Ordering::Relaxed),
            memtable_bytes,
            immutable_memtables: svs.iter().map(|sv| sv.imm.len() as u64).sum(),
            memtable_entries: svs.iter().map(|sv| sv.mem.len() as u64).sum(),
            block_cache_bytes: cache.usage(),
            block_cache_capacity: cache.capacity(),
            block_cache_hits: cache.hits(),
            block_cache_misses: cache.misses(),
            table_index_filter_bytes: pinned,
            memory_bytes: memtable_bytes + cache.usage() + pinned,
            open_tables: self.tables.open_tables() as u64,
            last_seqno: self.visible_seq(),
            live_snapshots: self.snapshots.count() as u64,
        }
    }
}
