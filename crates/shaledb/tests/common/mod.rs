//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use shaledb::{Compression, Db, MemFs, Options};

/// Options that make a small workload flush and compact constantly.
pub fn tiny_lsm_options(fs: &MemFs) -> Options {
    Options {
        write_buffer_size: 8 * 1024,
        max_write_buffer_number: 3,
        l0_compaction_trigger: 2,
        l0_slowdown_writes_trigger: 8,
        l0_stop_writes_trigger: 12,
        target_file_size: 4 * 1024,
        max_bytes_for_level_base: 16 * 1024,
        level_size_multiplier: 4,
        num_levels: 5,
        block_size: 512,
        background_threads: 2,
        compression: Compression::Lz4,
        max_manifest_size: 1024, // roll the manifest over often
        ..Options::with_fs(Arc::new(fs.clone()))
    }
}

pub fn open_tiny(fs: &MemFs) -> Db {
    Db::open("/db", tiny_lsm_options(fs)).unwrap()
}

/// The names of the files in `/db` ending in `suffix` (e.g. `.sst`, `.log`).
pub fn files_ending(fs: &MemFs, suffix: &str) -> Vec<String> {
    use shaledb::FileSystem;
    fs.list(std::path::Path::new("/db"))
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .collect()
}

/// Every `(key, value)` of a scan, as owned vectors.
pub fn collect(
    it: impl Iterator<Item = shaledb::Result<(bytes::Bytes, bytes::Bytes)>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.map(|r| {
        let (k, v) = r.unwrap();
        (k.to_vec(), v.to_vec())
    })
    .collect()
}

/// A deterministic key/value for index `i` (values of varying size, some compressible).
pub fn kv(i: u64, version: u64) -> (Vec<u8>, Vec<u8>) {
    let key = format!("key{:06}", (i * 7919) % 100_000).into_bytes();
    let len = (i % 13) as usize * 17 + 5;
    let value = format!("v{version}-{i}-{}", "x".repeat(len)).into_bytes();
    (key, value)
}
