//! Power loss at every sync point of a write + flush + compaction + manifest workload.
//!
//! A `KillPointFs` observer takes a `crash_clone()` — what a power loss at that instant
//! would leave — just before and just after every `sync_data`, `sync_dir` and `rename`
//! (the points where durability changes; `tests/kill_points.rs` covers every named
//! site). Afterwards each clone is opened and checked: it must open without error, hold
//! every write that was acknowledged as synced before the clone was taken, and hold
//! nothing that was never written.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::tiny_lsm_options;
use shale_fs::{CrashPolicy, FileOp, KillPointFs};
use shaledb::{Db, MemFs, Options, WriteOptions};

/// A power-loss image taken at a kill point: where, and how many writes had been
/// acknowledged as durable when it was taken.
type Image = (String, MemFs, u64);

/// Takes a `DropAllUnsynced` image just before and just after every `sync`,
/// `sync_dir` and `rename` of any file (the points where durability changes), once per
/// operation (a directory sync can hit several sites).
fn observe_sync_points(fs: &KillPointFs, durable: &Arc<AtomicU64>) -> Arc<Mutex<Vec<Image>>> {
    let images = Arc::new(Mutex::new(Vec::new()));
    let (out, durable) = (images.clone(), durable.clone());
    let seen = Mutex::new(BTreeSet::new());
    fs.set_observer(move |p| {
        if !matches!(p.site.op, FileOp::Sync | FileOp::SyncDir | FileOp::Rename) {
            return;
        }
        if !seen.lock().unwrap().insert((p.op_seq, p.moment)) {
            return;
        }
        let durable = durable.load(Ordering::SeqCst);
        let image = p.crash_image(CrashPolicy::DropAllUnsynced, 0);
        let what = format!("{:?} {} #{} {}", p.moment, p.site, p.hit, p.path.display());
        out.lock().unwrap().push((what, image, durable));
    });
    images
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
    let fs = KillPointFs::new(mem.clone());
    let durable = Arc::new(AtomicU64::new(0));
    let images = observe_sync_points(&fs, &durable);
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
                durable.store(i + 1, Ordering::SeqCst);
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
    fs.clear_observer();
    let clones = std::mem::take(&mut *images.lock().unwrap());
    assert!(clones.len() > 100, "only {} sync points", clones.len());
    let renames = clones
        .iter()
        .filter(|(w, _, _)| w.contains("current.rename"))
        .count();
    assert!(
        renames >= 4,
        "manifest roll-overs (CURRENT renames) exercised: {renames}"
    );
    let mut kinds = BTreeMap::new();
    for (what, clone, durable) in &clones {
        let site = what
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        *kinds.entry(site).or_insert(0) += 1;
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
