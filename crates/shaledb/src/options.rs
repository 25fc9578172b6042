//! Options for opening a database, writing and reading.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use crate::clock::{Clock, SystemClock};
use crate::keyspace_options::KeyspaceOptions;

use shale_fs::{FileSystem, StdFs};
use shale_sstable::Compression;
use shale_wal::RecoveryMode;

use crate::{Error, Result};

const MIB: u64 = 1 << 20;

/// How a database is opened and run. Every field has a sensible default; settings that
/// cannot work are rejected by [`Db::open`](crate::Db::open) with `InvalidArgument`
/// before anything is touched on disk.
#[derive(Debug, Clone)]
pub struct Options {
    /// The file system all I/O goes through (the real one by default; `MemFs` in tests).
    pub fs: Arc<dyn FileSystem>,
    /// Create the directory and an empty database if none exists (default true).
    pub create_if_missing: bool,
    /// Fail if a database already exists in the directory (default false).
    pub error_if_exists: bool,
    /// What recovery does with damaged WAL records. Default: `PointInTimeRecovery` —
    /// replay up to the first damage and drop the rest. After a power loss the kernel
    /// may have written unsynced WAL pages back in any order, so damage followed by
    /// intact records is expected there, not a sign of media corruption; only
    /// unsynced writes can be behind it. (RocksDB made the same choice.) A log whose
    /// replay dropped anything is kept as `NNNNNN.log.damaged` for inspection.
    pub wal_recovery_mode: RecoveryMode,
    /// Upper bound on the bytes of write batches that one group commit combines into a
    /// single WAL record (default 1 MiB).
    pub max_write_group_bytes: usize,

    /// Memtable size at which it is frozen and flushed to a level-0 table (64 MiB).
    pub write_buffer_size: usize,
    /// Memtables (active + immutable) that may exist at once; writes stop while this
    /// many are waiting to be flushed (default 4).
    pub max_write_buffer_number: usize,
    /// Level-0 files that trigger a compaction into the next level (default 4).
    pub l0_compaction_trigger: usize,
    /// Level-0 files at which writes start being paced (default 20).
    pub l0_slowdown_writes_trigger: usize,
    /// Level-0 files at which writes stop until compaction catches up (default 36).
    pub l0_stop_writes_trigger: usize,
    /// Bytes awaiting compaction at which writes start being paced (default 64 GiB).
    pub soft_pending_compaction_bytes_limit: u64,
    /// Bytes awaiting compaction at which writes stop (default 256 GiB).
    pub hard_pending_compaction_bytes_limit: u64,
    /// Number of levels of the tree (default 7).
    pub num_levels: usize,
    /// Size ratio between adjacent levels (default 10).
    pub level_size_multiplier: u64,
    /// Minimum target size of the first non-empty level below L0 (default 256 MiB).
    pub max_bytes_for_level_base: u64,
    /// Target size of a table written by compaction (default 64 MiB).
    pub target_file_size: u64,
    /// Threads for flushes and compactions (default: one per core, 2 to 8).
    pub background_threads: usize,

    /// Uncompressed size of a table data block (default 4 KiB).
    pub block_size: usize,
    /// Data-block entries between restart points, where a key is stored whole and a
    /// lookup's binary search lands (default 16): smaller finds a key in fewer steps
    /// and makes blocks larger (see `docs/benchmarks.md`).
    pub block_restart_interval: usize,
    /// Bloom filter bits per key; 0 disables filters (default 10, ≈1% false positives).
    pub bloom_bits_per_key: u32,
    /// Block compression (default LZ4).
    pub compression: Compression,
    /// Bytes of decompressed data blocks kept in the shared block cache (default 64 MiB).
    pub block_cache_size: u64,
    /// If set, one bound on memtables + block cache + table index/filter blocks
    /// together: the memtables (all `max_write_buffer_number` of them) get at most half
    /// of it; the block cache gets the rest minus the index and filter blocks pinned by
    /// open tables, recomputed as tables open and close (see `docs/architecture.md`).
    pub memory_budget: Option<u64>,

    /// Size at which the manifest is rewritten into a fresh file (default 64 MiB).
    pub max_manifest_size: u64,
    /// Verify every table's checksums when the database is opened (default false).
    pub paranoid_checks: bool,

    /// Where TTL expiry reads the time (default: the system clock).
    pub clock: Arc<dyn Clock>,
    /// A TTL applied to every plain `put` (entries written with an explicit TTL keep
    /// theirs). `None` (default): plain puts never expire.
    pub default_ttl: Option<Duration>,
    /// Combines merge operands (`Db::merge`); `None` (default) rejects merges. Use the
    /// same operator every time the database is opened.
    pub merge_operator: Option<Arc<dyn shale_core::MergeOperator>>,
    /// Application-level cleanup applied as flush and compaction rewrite data
    /// (`None` by default).
    pub compaction_filter: Option<Arc<dyn crate::CompactionFilter>>,

    /// Options of named keyspaces (see [`KeyspaceOptions`]), applied when the database
    /// is opened and when such a keyspace is created. A keyspace not listed here
    /// (and the default keyspace) uses the database-wide settings above.
    pub keyspace_options: BTreeMap<String, KeyspaceOptions>,
    /// Live WAL bytes above which the keyspaces holding the oldest WAL are flushed so
    /// it can be deleted — with several keyspaces, a rarely written one would
    /// otherwise keep every WAL alive. 0 (default): four times the memtable memory
    /// (`write_buffer_size * max_write_buffer_number * 4`).
    pub max_total_wal_size: u64,
    /// Range tombstones in one memtable beyond which it is frozen and flushed, like a
    /// full one (RocksDB's `memtable_max_range_deletions`): a read fragments the
    /// active memtable's tombstones again after each new one, so an unbounded number
    /// would make reads between range deletes ever slower. 0: no limit.
    pub memtable_max_range_deletions: usize,
    /// Share of `write_buffer_size` spent on a bloom filter of each memtable's keys
    /// (RocksDB's `memtable_prefix_bloom_size_ratio` with whole-key filtering), so a
    /// point read of a key a memtable does not hold skips searching it: reads, and
    /// read-modify-writes such as a Redis SET, ask every memtable before the tables.
    /// Default 0.02 (1.3 MiB for a 64 MiB memtable, 20–40 bits per typical key);
    /// 0 disables it; at most 0.25.
    pub memtable_bloom_size_ratio: f64,
}

impl Default for Options {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Options {
            fs: Arc::new(StdFs::new()),
            create_if_missing: true,
            error_if_exists: false,
            wal_recovery_mode: RecoveryMode::PointInTimeRecovery,
            max_write_group_bytes: 1 << 20,
            write_buffer_size: (64 * MIB) as usize,
            max_write_buffer_number: 4,
            l0_compaction_trigger: 4,
            l0_slowdown_writes_trigger: 20,
            l0_stop_writes_trigger: 36,
            soft_pending_compaction_bytes_limit: 64 << 30,
            hard_pending_compaction_bytes_limit: 256 << 30,
            num_levels: 7,
            level_size_multiplier: 10,
            max_bytes_for_level_base: 256 * MIB,
            target_file_size: 64 * MIB,
            background_threads: cores.clamp(2, 8),
            block_size: 4096,
            block_restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: Compression::Lz4,
            block_cache_size: 64 * MIB,
            memory_budget: None,
            max_manifest_size: 64 * MIB,
            memtable_max_range_deletions: 1000,
            memtable_bloom_size_ratio: 0.02,
            paranoid_checks: false,
            clock: Arc::new(SystemClock),
            default_ttl: None,
            merge_operator: None,
            compaction_filter: None,
            keyspace_options: BTreeMap::new(),
            max_total_wal_size: 0,
        }
    }
}

impl Options {
    /// Options that put the database on `fs` (e.g. a `MemFs` for tests).
    pub fn with_fs(fs: Arc<dyn FileSystem>) -> Self {
        Options {
            fs,
            ..Options::default()
        }
    }

    /// Rejects settings that cannot work, before anything is touched on disk.
    pub(crate) fn validate(&self) -> Result<()> {
        let checks: [(bool, &str); 12] = [
            (
                self.max_write_group_bytes == 0,
                "max_write_group_bytes must be at least 1",
            ),
            (
                self.error_if_exists && !self.create_if_missing,
                "error_if_exists without create_if_missing can never open a database",
            ),
            (
                self.write_buffer_size < 4096,
                "write_buffer_size must be at least 4096 bytes",
            ),
            (
                self.max_write_buffer_number < 2,
                "max_write_buffer_number must be at least 2",
            ),
            (
                self.l0_compaction_trigger == 0,
                "l0_compaction_trigger must be at least 1",
            ),
            (
                self.l0_slowdown_writes_trigger < self.l0_compaction_trigger
                    || self.l0_stop_writes_trigger < self.l0_slowdown_writes_trigger,
                "need l0_compaction_trigger <= l0_slowdown_writes_trigger <= l0_stop_writes_trigger",
            ),
            (
                self.soft_pending_compaction_bytes_limit > self.hard_pending_compaction_bytes_limit,
                "soft_pending_compaction_bytes_limit exceeds the hard limit",
            ),
            (
                !(2..=64).contains(&self.num_levels),
                "num_levels must be between 2 and 64",
            ),
            (
                self.level_size_multiplier < 2,
                "level_size_multiplier (fan-out) must be at least 2",
            ),
            (
                self.target_file_size < 1024 || self.max_bytes_for_level_base < 1024,
                "target_file_size and max_bytes_for_level_base must be at least 1024 bytes",
            ),
            (
                self.background_threads == 0,
                "background_threads must be at least 1",
            ),
            (
                self.block_size == 0 || self.block_size > 1 << 30,
                "block_size must be 1 B to 1 GiB",
            ),
        ];
        if let Some((_, msg)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(Error::invalid(*msg));
        }
        if self.default_ttl.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid(
                "default_ttl must be positive (None for no expiry)",
            ));
        }
        if self.max_manifest_size < 1024 {
            return Err(Error::invalid(
                "max_manifest_size must be at least 1024 bytes",
            ));
        }
        crate::keyspace_options::check_block_restart_interval(self.block_restart_interval)?;
        crate::keyspace_options::check_memtable_bloom_size_ratio(self.memtable_bloom_size_ratio)?;
        for (name, ks) in &self.keyspace_options {
            crate::keyspace_options::validate_name(name)?;
            ks.validate()
                .map_err(|e| Error::invalid(format!("keyspace_options[{name:?}]: {e}")))?;
        }
        if let Some(budget) = self.memory_budget {
            let min = 4 * (self.max_write_buffer_number as u64) * 4096;
            if budget < min {
                return Err(Error::invalid(format!(
                    "memory_budget of {budget} bytes is below the minimum of {min} bytes for these options"
                )));
            }
        }
        Ok(())
    }

    /// Write buffer size after applying the memory budget.
    pub(crate) fn effective_write_buffer_size(&self) -> usize {
        match self.memory_budget {
            Some(b) => {
                let share = (b / 2 / self.max_write_buffer_number as u64) as usize;
                self.write_buffer_size.min(share.max(4096))
            }
            None => self.write_buffer_size,
        }
    }

    /// A keyspace's memtable size `own`, within the memory budget if one is set.
    pub(crate) fn budgeted_write_buffer_size(&self, own: usize) -> usize {
        match self.memory_budget {
            Some(_) => own.min(self.effective_write_buffer_size()),
            None => own,
        }
    }

    /// The options keyspace `name` gets when opened without explicit ones.
    pub(crate) fn keyspace_options_for(&self, name: &str) -> KeyspaceOptions {
        self.keyspace_options
            .get(name)
            .cloned()
            .unwrap_or_else(|| KeyspaceOptions::from(self))
    }

    /// The live WAL size that triggers flushing the oldest keyspaces.
    pub(crate) fn effective_max_total_wal_size(&self) -> u64 {
        match self.max_total_wal_size {
            0 => (self.write_buffer_size as u64)
                .saturating_mul(self.max_write_buffer_number as u64)
                .saturating_mul(4),
            n => n,
        }
    }

    /// Initial block cache capacity after applying the memory budget.
    pub(crate) fn effective_block_cache_size(&self) -> u64 {
        match self.memory_budget {
            Some(b) => {
                let memtables =
                    self.effective_write_buffer_size() as u64 * self.max_write_buffer_number as u64;
                b.saturating_sub(memtables)
            }
            None => self.block_cache_size,
        }
    }
}

/// Per-write durability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `false` (default): the write survives a process crash once acknowledged.
    /// `true`: it is also on stable storage (fdatasync) before it is acknowledged, so it
    /// survives power loss. Concurrent synced writers share one fsync (group commit).
    pub sync: bool,
}

impl WriteOptions {
    /// Options for a write that must survive power loss.
    pub fn synced() -> Self {
        WriteOptions { sync: true }
    }
}
