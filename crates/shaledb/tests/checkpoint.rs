//! Checkpoints: consistent, openable copies of a live database.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // inspects the real directory

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shaledb::{Db, Error, MemFs, Options};

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter()
        .map(|r| r.unwrap())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

fn snap_contents(s: &shaledb::Snapshot) -> BTreeMap<Vec<u8>, Vec<u8>> {
    s.iter()
        .map(|r| r.unwrap())
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

#[test]
fn checkpoint_equals_a_snapshot_taken_at_the_same_moment() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    for i in 0..3000u64 {
        let (k, v) = common::kv(i, 1);
        db.put(k, v).unwrap();
        if i % 7 == 0 {
            db.delete(common::kv(i / 2, 1).0).unwrap();
        }
    }
    // No writer runs between the snapshot and the checkpoint: the same moment.
    let snap = db.snapshot();
    let seq = db.checkpoint("/cp").unwrap();
    assert_eq!(seq, snap.seqno());
    db.put("after", "not in the checkpoint").unwrap();
    let cp = Db::open("/cp", common::tiny_lsm_options(&fs)).unwrap();
    assert_eq!(contents(&cp), snap_contents(&snap));
    assert_eq!(cp.get("after").unwrap(), None);
    // The checkpoint is independent: writes to one do not show in the other.
    cp.put("only-in-checkpoint", "x").unwrap();
    assert_eq!(db.get("only-in-checkpoint").unwrap(), None);
    drop(cp);
    // The source keeps working and its compactions do not disturb the checkpoint.
    db.compact_range::<&[u8], _>(..).unwrap();
    let cp = Db::open("/cp", common::tiny_lsm_options(&fs)).unwrap();
    assert_eq!(
        cp.get("only-in-checkpoint").unwrap().as_deref(),
        Some(&b"x"[..])
    );
}

#[test]
fn checkpoint_under_load_is_a_consistent_prefix() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let stop = Arc::new(AtomicBool::new(false));
    let cps = std::thread::scope(|s| {
        for t in 0..3u64 {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            s.spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) || i < 500 {
                    // Each writer's item i is written before its counter says i.
                    db.put(format!("item-{t}-{i:06}"), i.to_string()).unwrap();
                    db.put(format!("counter-{t}"), i.to_string()).unwrap();
                    i += 1;
                }
            });
        }
        let mut cps = vec![];
        for n in 0..4 {
            while db.stats().flushes < 2 * (n + 1) {
                std::thread::yield_now();
            }
            let dir = format!("/cp{n}");
            db.checkpoint(&dir).unwrap();
            cps.push(dir);
        }
        stop.store(true, Ordering::Relaxed);
        cps
    });
    for dir in cps {
        let cp = Db::open(&dir, common::tiny_lsm_options(&fs)).unwrap();
        for t in 0..3 {
            let Some(c) = cp.get(format!("counter-{t}")).unwrap() else {
                continue;
            };
            let n: u64 = std::str::from_utf8(&c).unwrap().parse().unwrap();
            let items = cp.prefix(format!("item-{t}-")).count() as u64;
            assert!(
                items == n + 1 || items == n + 2,
                "{dir}: writer {t} counter {n} but {items} items"
            );
        }
    }
}

#[test]
fn checkpoint_on_disk_uses_hard_links_and_refuses_a_non_empty_target() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path().join("db"),
        Options {
            write_buffer_size: 16 * 1024,
            ..Options::default()
        },
    )
    .unwrap();
    for i in 0..2000 {
        db.put(format!("k{i:05}"), vec![b'v'; 50]).unwrap();
    }
    db.flush().unwrap();
    let out = dir.path().join("cp");
    db.checkpoint(&out).unwrap();
    let table = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .unwrap();
    use std::os::unix::fs::MetadataExt;
    let linked = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.metadata().unwrap().nlink() > 1);
    assert!(
        linked,
        "tables are hard-linked, not copied ({})",
        table.display()
    );
    assert!(matches!(db.checkpoint(&out), Err(Error::Exists(_))));
    drop(db);
    let cp = Db::open(&out, Options::default()).unwrap();
    assert_eq!(cp.iter().count(), 2000);
}
