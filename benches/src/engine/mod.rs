//! One adapter per engine behind the [`Engine`] trait.

use std::path::Path;

use crate::flags::{CompressionKind, EngineKind, Flags};

#[cfg(feature = "fjall")]
mod fjall_engine;
#[cfg(feature = "rocksdb")]
mod rocks;
mod shale;

/// Errors from any engine, as text-carrying boxes.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Result with [`BoxError`].
pub type Result<T> = std::result::Result<T, BoxError>;

/// Engine settings shared by all adapters, taken from the flags.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Memtable size in bytes.
    pub write_buffer_size: usize,
    /// Block cache capacity in bytes.
    pub cache_size: u64,
    /// Bloom filter bits per key (0: none).
    pub bloom_bits: u32,
    /// Block compression.
    pub compression: CompressionKind,
    /// Write without a WAL (only RocksDB can).
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    pub disable_wal: bool,
    /// Flush + compaction threads.
    pub background_jobs: usize,
}

impl EngineConfig {
    /// The settings `flags` ask for.
    pub fn from_flags(f: &Flags) -> EngineConfig {
        EngineConfig {
            write_buffer_size: f.write_buffer_size,
            cache_size: f.cache_size,
            bloom_bits: f.bloom_bits,
            compression: f.compression_type,
            disable_wal: f.disable_wal,
            background_jobs: f.max_background_jobs,
        }
    }
}

/// Bytes written, as counted by the engine itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounters {
    /// Bytes of keys and values the user handed in.
    pub user_bytes: u64,
    /// Bytes the engine wrote to disk for them (WAL + flushes + compactions).
    pub disk_bytes: u64,
}

/// What a benchmark needs from a storage engine. Implementations are shared by all
/// benchmark threads.
pub trait Engine: Send + Sync {
    /// Writes `key = value`; `sync` makes it durable before returning.
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()>;
    /// Deletes `key`.
    fn delete(&self, key: &[u8], sync: bool) -> Result<()>;
    /// Looks `key` up; returns the value's length if found.
    fn get(&self, key: &[u8]) -> Result<Option<usize>>;
    /// Visits up to `limit` entries from the first (or, `reverse`, the last) key;
    /// returns how many it visited. `visit` gets the key and value lengths.
    fn scan(&self, reverse: bool, limit: u64, visit: &mut dyn FnMut(usize, usize)) -> Result<u64>;
    /// Seeks to the first key `>= key`, then steps `nexts` more entries; returns whether
    /// the seek landed exactly on `key`, calling `visit` for every entry seen.
    fn seek(&self, key: &[u8], nexts: usize, visit: &mut dyn FnMut(usize, usize)) -> Result<bool>;
    /// Flushes the memtables and waits until background compaction is idle.
    fn settle(&self) -> Result<()>;
    /// The engine's own byte counters, if it keeps them.
    fn write_counters(&self) -> Option<WriteCounters>;
    /// A human-readable statistics dump (the `stats` benchmark).
    fn stats_text(&self) -> String;
    /// One line describing the effective settings.
    fn describe(&self) -> String;
}

/// Opens `kind` in `dir` with `cfg`.
pub fn open(kind: EngineKind, dir: &Path, cfg: &EngineConfig) -> Result<Box<dyn Engine>> {
    match kind {
        EngineKind::Shale => Ok(Box::new(shale::ShaleEngine::open(dir, cfg)?)),
        #[cfg(feature = "rocksdb")]
        EngineKind::Rocksdb => Ok(Box::new(rocks::RocksEngine::open(dir, cfg)?)),
        #[cfg(feature = "fjall")]
        EngineKind::Fjall => Ok(Box::new(fjall_engine::FjallEngine::open(dir, cfg)?)),
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "engine {} is not compiled into this binary; rebuild with \
             `cargo build -p shale-bench --release --features {}`",
            other.name(),
            other.name()
        )
        .into()),
    }
}
