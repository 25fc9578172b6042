//! [`TableOptions`]: how tables are built and read.

use crate::format::Compression;

/// Options for building and reading tables. Builders use every field except
/// `fill_cache`; readers use only `fill_cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    /// Target uncompressed size of a data block; a block is cut once it reaches this
    /// (default 4 KiB; clamped to 1 B ..= 1 GiB).
    pub block_size: usize,
    /// Entries between restart points in data blocks (default 16, at least 1).
    pub block_restart_interval: usize,
    /// Compression for data and index blocks (default LZ4).
    pub compression: Compression,
    /// Bloom filter bits per user key; 0 builds no filter (default 10).
    pub bloom_bits_per_key: u32,
    /// Creation time recorded in the properties, seconds since the Unix epoch. The
    /// caller passes it in so builds are deterministic (default 0).
    pub creation_time: u64,
    /// Whether blocks read by `get` and iterators are inserted into the block cache
    /// (default true; compactions may turn it off).
    pub fill_cache: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            block_restart_interval: 16,
            compression: Compression::Lz4,
            bloom_bits_per_key: 10,
            creation_time: 0,
            fill_cache: true,
        }
    }
}

impl TableOptions {
    /// The options with every field clamped to its valid range.
    pub(crate) fn sanitized(mut self) -> Self {
        self.block_size = self.block_size.clamp(1, 1 << 30);
        self.block_restart_interval = self.block_restart_interval.max(1);
        self.bloom_bits_per_key = self.bloom_bits_per_key.min(1000);
        self
    }
}
