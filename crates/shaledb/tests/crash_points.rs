//! Power loss at every sync point of a write + flush + compaction + manifest workload.
//!
//! A `FileSystem` wrapper around `MemFs` takes a `crash_clone()` — what a power loss at
//! that instant would leave — just before and just after every `sync_data`,
//! `sync_dir` and `rename` (the points where durability changes). Afterwards each
//! clone is opened and checked: it must open without error, hold every write that was
//! acknowledged as synced before the clone was taken, and hold nothing that was never
//! written.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::tiny_lsm_options;
use shale_fs::{FileLock, RandomAccessFile, WritableFile};
use shaledb::{Db, FileSystem, MemFs, Options, Result, WriteOptions};

#[derive(Debug, Clone)]
struct SyncPointFs {
    inner: MemFs,
    /// Number of writes acknowledged as durable so far.
    durable: Arc<AtomicU64>,
    clones: Arc<Mutex<Vec<(String, MemFs, u64)>>>,
}

impl SyncPointFs {
    fn point(&self, what: String) {
        let durable = self.durable.load(Ordering::SeqCst);
        let clone = self.inner.crash_clone();
        self.clones.lock().unwrap().push((what, clone, durable));
    }
}

struct SyncPointFile {
    fs: SyncPointFs,
    inner: Box<dyn WritableFile>,
    name: String,
}

impl WritableFile for SyncPointFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.inner.append(data)
    }
    fn sync_data(&mut self) -> Result<()> {
        self.fs.point(format!("before sync {}", self.name));
        let r = self.inner.sync_data();
        self.fs.point(format!("after sync {}", self.name));
        r
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl FileSystem for SyncPointFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(SyncPointFile {
            fs: self.clone(),
            inner: self.inner.create(path)?,
            name: path.display().to_string(),
        }))
    }
    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        self.inner.open_append(path)
    }
    fn open_read(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        self.inner.open_read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.point(format!("before rename {}", to.display()));
        let r = self.inner.rename(from, to);
        self.point(format!("after rename {}", to.display()));
        r
    }
    fn remove_file(&self, path: &Path) -> Result<()> {
        self.inner.remove_file(path)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> Result<()> {
        self.inner.hard_link(original, link)
    }
    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn file_size(&self, path: &Path) -> Result<u64> {
        self.inner.file_size(path)
    }
    fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.point("before sync_dir".into());
        let r = self.inner.sync_dir(dir);
        self.point("after sync_dir".into());
        r
    }
    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}

/// One write of a key: its index in the workload and the value (`None`: a delete).
type Write = (u64, Option<Vec<u8>>);

/// Write `i`: key and value. Keys repeat so that compactions drop shadowed versions;
/// every 9th write deletes.
fn write(i: u64) -> (Vec<u8>, Option<Vec<u8>>) {
    let key = format!("k{:04}", (i * 37) % 400).into_bytes();
    if i % 9 == 4 {
        (key, None)
    } else {
        (
            key,
            Some(format!("value-{i}-{}", "p".repeat((i % 7) as usize * 20)).into_bytes()),
        )
    }
}

#[test]
fn power_loss_at_every_sync_point_loses_nothing_synced() {
    const WRITES: u64 = 1200;
    let mem = MemFs::new();
    let fs = SyncPointFs {
        inner: mem.clone(),
        durable: Arc::new(AtomicU64::new(0)),
        clones: Arc::new(Mutex::new(Vec::new())),
    };
    {
        let opts = Options {
            fs: Arc::new(fs.clone()),
            ..tiny_lsm_options(&mem)
        };
        let db = Db::open("/db", opts).unwrap();
        for i in 0..WRITES {
            let (k, v) = write(i);
            let sync = i % 10 == 9;
            let wo = WriteOptions { sync };
            match v {
                Some(v) => db.put_opt(&k, &v, &wo).unwrap(),
                None => db.delete_opt(&k, &wo).unwrap(),
            }
            if sync {
                fs.durable.store(i + 1, Ordering::SeqCst);
            }
        }
        db.compact_range::<&[u8], _>(..).unwrap();
        let s = db.stats();
        assert!(
            s.flushes > 5 && s.levels.iter().skip(1).any(|l| l.files > 0),
            "{s}"
        );
    }

    // For each key: every (write index, value) in order.
    let mut history: BTreeMap<Vec<u8>, Vec<Write>> = BTreeMap::new();
    for i in 0..WRITES {
        let (k, v) = write(i);
        history.entry(k).or_default().push((i, v));
    }
    let clones = std::mem::take(&mut *fs.clones.lock().unwrap());
    assert!(clones.len() > 100, "only {} sync points", clones.len());
    let renames = clones
        .iter()
        .filter(|(w, _, _)| w.contains("rename"))
        .count();
    assert!(
        renames >= 4,
        "manifest roll-overs (CURRENT renames) exercised: {renames}"
    );
    let mut kinds = BTreeMap::new();
    for (what, clone, durable) in &clones {
        let file_kind = ["CURRENT", ".sst", ".log", "MANIFEST"]
            .into_iter()
            .find(|k| what.contains(k))
            .unwrap_or("dir");
        let op = what
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        *kinds.entry(format!("{op} {file_kind}")).or_insert(0) += 1;
        let db = Db::open("/db", tiny_lsm_options(clone))
            .unwrap_or_else(|e| panic!("crash at '{what}' left a store that does not open: {e}"));
        let mut seen = 0;
        for (key, writes) in &history {
            let got = db.get(key).unwrap().map(|b| b.to_vec());
            // Latest write at or before the durable point, and every later one, are
            // acceptable; anything else is loss or invention.
            let floor = writes.iter().rposition(|(i, _)| *i < *durable);
            let allowed: Vec<Option<Vec<u8>>> = match floor {
                Some(f) => writes[f..].iter().map(|(_, v)| v.clone()).collect(),
                None => std::iter::once(None)
                    .chain(writes.iter().map(|(_, v)| v.clone()))
                    .collect(),
            };
            assert!(
                allowed.contains(&got),
                "crash at '{what}' (durable={durable}): key {:?} = {:?}",
                String::from_utf8_lossy(key),
                got.map(|g| String::from_utf8_lossy(&g).into_owned())
            );
            seen += usize::from(got.is_some());
        }
        assert_eq!(
            db.iter().count(),
            seen,
            "scan and gets agree after crash at '{what}'"
        );
    }
    eprintln!("crash points checked: {} ({kinds:?})", clones.len());
}
