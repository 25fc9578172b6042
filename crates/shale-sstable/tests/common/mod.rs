//! Helpers shared by the integration tests.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shale_core::key::{make_internal_key, user_key};
use shale_core::{InternalIterator, RangeTombstone, ValueKind, compare_internal_keys};
use shale_fs::{FileSystem, MemFs};
use shale_sstable::{BlockCache, Table, TableBuilder, TableMeta, TableOptions};

pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

pub fn dir() -> &'static Path {
    Path::new("/db")
}

/// Writes `entries` (sorted) as a table at `/db/<name>` on `fs`.
pub fn write_table(
    fs: &MemFs,
    name: &str,
    entries: &Entries,
    opts: TableOptions,
) -> (PathBuf, TableMeta) {
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join(name);
    let file = fs.create(&path).unwrap();
    let mut b = TableBuilder::new(file, &path, opts);
    for (k, v) in entries {
        b.add(k, v).unwrap();
    }
    let meta = b.finish().unwrap();
    (path, meta)
}

/// Writes `entries` (sorted) and `ranges` (any order, added after every third entry
/// to exercise interleaving) as a table at `/db/<name>` on `fs`.
pub fn write_table_with_ranges(
    fs: &MemFs,
    name: &str,
    entries: &Entries,
    ranges: &[RangeTombstone],
    opts: TableOptions,
) -> (PathBuf, TableMeta) {
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join(name);
    let file = fs.create(&path).unwrap();
    let mut b = TableBuilder::new(file, &path, opts);
    let mut pending = ranges.iter();
    for (i, (k, v)) in entries.iter().enumerate() {
        b.add(k, v).unwrap();
        if i % 3 == 0
            && let Some(t) = pending.next()
        {
            b.add_range_tombstone(t).unwrap();
        }
    }
    for t in pending {
        b.add_range_tombstone(t).unwrap();
    }
    let meta = b.finish().unwrap();
    (path, meta)
}

/// The seed tables of the fuzz corpus: name, point entries, range tombstones and
/// options. The first five are also stored as format version 1 files in
/// `tests/data/v1/` (written before range tombstones existed).
pub fn seed_specs() -> Vec<(&'static str, Entries, Vec<RangeTombstone>, TableOptions)> {
    let small = TableOptions {
        block_size: 128,
        ..TableOptions::default()
    };
    let rt = |s: &str, e: &str, seq| {
        RangeTombstone::new(s.as_bytes().to_vec(), e.as_bytes().to_vec(), seq)
    };
    vec![
        ("empty.sst", Vec::new(), Vec::new(), TableOptions::default()),
        (
            "one_entry.sst",
            sorted(vec![(
                make_internal_key(b"k", 1, ValueKind::Value),
                b"v".to_vec(),
            )]),
            Vec::new(),
            small,
        ),
        ("lz4_blocks.sst", sample_entries(40), Vec::new(), small),
        (
            "raw_blocks_no_filter.sst",
            sample_entries(30),
            Vec::new(),
            TableOptions {
                compression: shale_sstable::Compression::None,
                bloom_bits_per_key: 0,
                block_restart_interval: 2,
                ..small
            },
        ),
        (
            "versions_and_deletes.sst",
            sorted(
                (0..24u64)
                    .map(|i| {
                        let kind = if i % 3 == 0 {
                            ValueKind::Delete
                        } else {
                            ValueKind::Value
                        };
                        (
                            make_internal_key(format!("key{}", i / 4).as_bytes(), i, kind),
                            vec![b'v'; i as usize],
                        )
                    })
                    .collect(),
            ),
            Vec::new(),
            small,
        ),
        (
            "range_dels.sst",
            sample_entries(30),
            vec![
                rt("user000002", "user000005", 40),
                rt("user000001", "user000003", 7),
                rt("a", "user000000\0", 3),
                rt("user000010", "zzz", 50),
                rt("user000010", "user000011", 49),
            ],
            small,
        ),
        (
            "range_dels_only.sst",
            Vec::new(),
            vec![rt("b", "d", 5), rt("a", "c", 9), rt("c", "e", 2)],
            TableOptions::default(),
        ),
    ]
}

pub fn open(
    fs: &MemFs,
    path: &Path,
    cache: Option<Arc<BlockCache>>,
) -> shale_core::Result<Arc<Table>> {
    let file = fs.open_read(path)?;
    Table::open(file, path.to_path_buf(), 7, cache, TableOptions::default())
}

/// Sorted, deduplicated entries.
pub fn sorted(mut v: Entries) -> Entries {
    v.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

/// `n` entries over `n / 2` user keys, two versions each, some of them deletes.
pub fn sample_entries(n: usize) -> Entries {
    let mut v = Vec::new();
    for i in 0..n {
        let user = format!("user{:06}", i / 2);
        let seq = (i % 2) as u64 * 10 + (i as u64);
        let kind = if i % 7 == 3 {
            ValueKind::Delete
        } else {
            ValueKind::Value
        };
        let value = if kind == ValueKind::Delete {
            Vec::new()
        } else {
            format!("value-{i}-{}", "x".repeat(i % 40)).into_bytes()
        };
        v.push((make_internal_key(user.as_bytes(), seq, kind), value));
    }
    sorted(v)
}

/// The model answer of `Table::get`: first entry >= lookup with the same user key.
pub fn model_get(entries: &Entries, lookup: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let i = entries.partition_point(|e| compare_internal_keys(&e.0, lookup) == Ordering::Less);
    entries
        .get(i)
        .filter(|e| user_key(&e.0) == user_key(lookup))
        .cloned()
}

/// Every entry of a full forward scan, or the scan's error.
pub fn scan(table: &Arc<Table>) -> shale_core::Result<Entries> {
    let mut it = table.iter();
    it.seek_to_first();
    let mut out = Vec::new();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    it.status()?;
    Ok(out)
}

/// Every entry of a full reverse scan (returned in forward order), or its error.
pub fn scan_rev(table: &Arc<Table>) -> shale_core::Result<Entries> {
    let mut it = table.iter();
    it.seek_to_last();
    let mut out = Vec::new();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    it.status()?;
    out.reverse();
    Ok(out)
}
