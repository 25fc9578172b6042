//! Helpers shared by the integration tests.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shale_core::key::{make_internal_key, user_key};
use shale_core::{InternalIterator, ValueKind, compare_internal_keys};
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
