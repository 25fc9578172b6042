//! The log-structured merge tree: flushes, compactions, reads across levels, reopen,
//! obsolete files, stalls, iterators pinned across compactions.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{collect, kv, open_tiny, tiny_lsm_options};
use shaledb::{Db, Error, FileSystem, MemFs, Options, WriteBatch, WriteOptions};

fn table_files(fs: &MemFs) -> Vec<String> {
    common::files_ending(fs, ".sst")
}

/// Writes `n` keys (with overwrites and deletes) and returns the model.
fn load(db: &Db, n: u64, version: u64, model: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
    for i in 0..n {
        let (k, v) = kv(i, version);
        if i % 11 == 5 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
}

fn check(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(collect(db.iter()), all, "forward scan");
    let mut rev = all.clone();
    rev.reverse();
    assert_eq!(collect(db.iter().rev()), rev, "reverse scan");
    for i in (0..3000).step_by(7) {
        let (k, _) = kv(i, 0);
        assert_eq!(
            db.get(&k).unwrap().map(|b| b.to_vec()),
            model.get(&k).cloned(),
            "get {k:?}"
        );
    }
    let lo = b"key02".to_vec();
    let hi = b"key05".to_vec();
    let want: Vec<_> = model
        .range(lo.clone()..hi.clone())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(collect(db.range(lo..hi)), want, "range scan");
}

#[test]
fn data_far_larger_than_the_memtable_survives_flush_compaction_and_reopen() {
    let fs = MemFs::new();
    let mut model = BTreeMap::new();
    {
        let db = open_tiny(&fs);
        load(&db, 3000, 1, &mut model);
        load(&db, 1500, 2, &mut model); // overwrites
        check(&db, &model);
        db.flush().unwrap();
        let s = db.stats();
        assert!(s.flushes >= 5, "{s}");
        assert!(
            s.levels.iter().skip(1).any(|l| l.files > 0),
            "compaction moved data down:\n{s}"
        );
        check(&db, &model);
        db.compact_range::<&[u8], _>(..).unwrap();
        let s = db.stats();
        assert_eq!(s.levels[0].files, 0, "{s}");
        check(&db, &model);
        // After a full compaction no tombstones or shadowed versions remain.
        let entries: u64 = s.levels.iter().map(|l| l.files).sum();
        assert!(entries > 0);
    }
    let db = open_tiny(&fs);
    check(&db, &model);
    // Files on disk are exactly the files of the tree (once background work settled).
    db.wait_for_compactions().unwrap();
    let s = db.stats();
    let in_tree: u64 = s.levels.iter().map(|l| l.files).sum();
    assert_eq!(table_files(&fs).len() as u64, in_tree);
}

#[test]
fn iterators_and_snapshots_survive_compactions_under_them() {
    let fs = MemFs::new();
    let db = open_tiny(&fs);
    let mut model = BTreeMap::new();
    load(&db, 2000, 1, &mut model);
    let frozen = model.clone();
    let snap = db.snapshot();
    let mut it = db.iter();
    let first = it.next().unwrap().unwrap();
    // Rewrite everything and compact: the files the iterator started on are replaced.
    load(&db, 2000, 2, &mut model);
    db.compact_range::<&[u8], _>(..).unwrap();
    let mut rest = vec![(first.0.to_vec(), first.1.to_vec())];
    rest.extend(collect(it));
    let want: Vec<_> = frozen.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(
        rest, want,
        "an iterator keeps reading its own point in time"
    );
    assert_eq!(
        collect(snap.iter()),
        want,
        "a snapshot too, after compaction"
    );
    for (k, v) in frozen.iter().take(50) {
        assert_eq!(snap.get(k).unwrap().as_deref(), Some(v.as_slice()));
    }
    drop(snap);
    check(&db, &model);
}

#[test]
fn obsolete_files_are_deleted_and_orphans_removed_on_open() {
    let fs = MemFs::new();
    {
        let db = open_tiny(&fs);
        let mut model = BTreeMap::new();
        load(&db, 2000, 1, &mut model);
        db.compact_range::<&[u8], _>(..).unwrap();
        db.wait_for_compactions().unwrap();
        let s = db.stats();
        let in_tree: u64 = s.levels.iter().map(|l| l.files).sum();
        assert_eq!(
            table_files(&fs).len() as u64,
            in_tree,
            "compaction inputs deleted"
        );
        let logs = fs
            .list(Path::new("/db"))
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".log"))
            .count();
        assert!(logs <= 3, "flushed WALs deleted, {logs} left");
    }
    // A crash can leave a table that no manifest references: it goes on open.
    let mut w = fs.create(Path::new("/db/999999.sst")).unwrap();
    w.append(b"orphan").unwrap();
    drop(w);
    let db = open_tiny(&fs);
    assert!(!fs.exists(Path::new("/db/999999.sst")));
    assert!(db.iter().count() > 0);
}

#[test]
fn writes_stall_and_recover_without_deadlock() {
    let fs = MemFs::new();
    let opts = Options {
        l0_compaction_trigger: 2,
        l0_slowdown_writes_trigger: 2,
        l0_stop_writes_trigger: 3,
        ..tiny_lsm_options(&fs)
    };
    let db = Db::open("/db", opts).unwrap();
    assert!(!db.write_pressure(), "no pressure before any write");
    let mut model = BTreeMap::new();
    let saw_pressure = std::sync::atomic::AtomicBool::new(false);
    let writers_done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        // An observer polls the hint while the writers run.
        s.spawn(|| {
            while writers_done.load(std::sync::atomic::Ordering::Acquire) < 4 {
                if db.write_pressure() {
                    saw_pressure.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::yield_now();
            }
        });
        for t in 0..4u64 {
            let db = db.clone();
            let writers_done = &writers_done;
            s.spawn(move || {
                for i in 0..800 {
                    let mut b = WriteBatch::new();
                    b.put(format!("t{t}-{i:05}"), vec![b'v'; 100]);
                    db.write(b, &WriteOptions::default()).unwrap();
                }
                writers_done.fetch_add(1, std::sync::atomic::Ordering::Release);
            });
        }
    });
    for t in 0..4 {
        for i in 0..800 {
            model.insert(format!("t{t}-{i:05}").into_bytes(), vec![b'v'; 100]);
        }
    }
    db.flush().unwrap();
    let s = db.stats();
    assert!(
        s.write_slowdowns + s.write_stops > 0,
        "backpressure engaged:\n{s}"
    );
    assert!(s.levels[0].files <= 3 + 1, "{s}");
    assert!(
        saw_pressure.load(std::sync::atomic::Ordering::Relaxed),
        "writers saw Db::write_pressure while writes were paced or stopped"
    );

    assert_eq!(collect(db.iter()).len(), model.len());
    // Once background work has caught up, the next write group clears the hint
    // (unless L0 is still at the slowdown trigger).
    db.wait_for_compactions().unwrap();
    db.put("after", "calm").unwrap();
    let s = db.stats();
    assert!(
        !db.write_pressure() || s.levels[0].files >= 2,
        "pressure clears once background work caught up:\n{s}"
    );
}

#[test]
fn options_that_cannot_work_are_rejected() {
    let fs = MemFs::new();
    let bad: Vec<(&str, Options)> = vec![
        (
            "zero buffer",
            Options {
                write_buffer_size: 0,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "fan-out 1",
            Options {
                level_size_multiplier: 1,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "one level",
            Options {
                num_levels: 1,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "no threads",
            Options {
                background_threads: 0,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "triggers",
            Options {
                l0_stop_writes_trigger: 1,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "one memtable",
            Options {
                max_write_buffer_number: 1,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "budget",
            Options {
                memory_budget: Some(10),
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "memtable filter ratio",
            Options {
                memtable_bloom_size_ratio: 0.5,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "negative memtable filter ratio",
            Options {
                memtable_bloom_size_ratio: -0.1,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "no restart points",
            Options {
                block_restart_interval: 0,
                ..tiny_lsm_options(&fs)
            },
        ),
        (
            "NaN memtable filter ratio",
            Options {
                memtable_bloom_size_ratio: f64::NAN,
                ..tiny_lsm_options(&fs)
            },
        ),
    ];
    for (what, opts) in bad {
        match Db::open("/db", opts) {
            Err(Error::InvalidArgument(_)) => {}
            other => panic!("{what}: expected InvalidArgument, got {other:?}"),
        }
    }
    assert!(!fs.exists(Path::new("/db")), "nothing was created");
}

#[test]
fn memory_budget_bounds_memtables_cache_and_pinned_blocks() {
    let fs = MemFs::new();
    let budget: u64 = 256 * 1024;
    let opts = Options {
        memory_budget: Some(budget),
        write_buffer_size: 1 << 20, // capped by the budget
        ..tiny_lsm_options(&fs)
    };
    let db = Db::open("/db", opts).unwrap();
    let mut model = BTreeMap::new();
    load(&db, 4000, 1, &mut model);
    check(&db, &model);
    for round in 0..3 {
        load(&db, 4000, round + 2, &mut model);
        check(&db, &model);
        let s = db.stats();
        assert!(s.table_index_filter_bytes > 0, "tables are open:\n{s}");
        // Memtables may overshoot their cap by one write group; the rest is exact.
        let slack = 16 * 1024;
        assert!(
            s.memory_bytes <= budget + slack,
            "memory {} (memtables {}, cache {}, index/filter {}) over budget {budget}:\n{s}",
            s.memory_bytes,
            s.memtable_bytes,
            s.block_cache_bytes,
            s.table_index_filter_bytes
        );
        // The cache gives way to pinned index/filter blocks.
        let memtable_cap = 3 * (budget / 2 / 3);
        assert!(
            s.block_cache_capacity + s.table_index_filter_bytes <= budget - memtable_cap + 1,
            "{s}"
        );
    }
}

#[test]
fn a_failing_flush_stops_writes_and_loses_nothing() {
    use shale_fs::{ErrorKind, FaultFs, Op, Rule};
    let mem = MemFs::new();
    let faulty = FaultFs::with_mem(&mem);
    let opts = Options {
        fs: std::sync::Arc::new(faulty.clone()),
        ..tiny_lsm_options(&mem)
    };
    let db = Db::open("/db", opts).unwrap();
    assert!(
        db.write_refusal().is_none(),
        "a fresh database accepts writes"
    );
    let mut model = BTreeMap::new();
    load(&db, 500, 1, &mut model);
    db.flush().unwrap();
    // Every table write now fails: the next flush errors in the background.
    faulty.add_rule(Rule::error(Op::Append, ErrorKind::Eio).path(".sst"));
    let mut acknowledged = model.clone();
    let mut refused = None;
    for i in 0..5000u64 {
        let (k, v) = kv(i, 2);
        match db.put(&k, &v) {
            Ok(()) => {
                acknowledged.insert(k, v);
            }
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let err = refused.expect("writes stop once background work failed");
    assert!(matches!(err, Error::Poisoned(_)), "{err}");
    assert!(err.to_string().contains("background"), "{err}");
    assert!(db.stats().background_errors >= 1);
    let why = db
        .write_refusal()
        .expect("write_refusal reports the background error");
    assert!(why.to_string().contains("background"), "{why}");
    // Reads keep working and see every acknowledged write.
    check(&db, &acknowledged);
    assert!(matches!(db.delete("x"), Err(Error::Poisoned(_))));
    drop(db);
    // After the fault is gone, reopening recovers everything acknowledged.
    faulty.clear_rules();
    let db = Db::open(
        "/db",
        Options {
            fs: std::sync::Arc::new(faulty.clone()),
            ..tiny_lsm_options(&mem)
        },
    )
    .unwrap();
    check(&db, &acknowledged);
    db.put("after", "ok").unwrap();
}

#[test]
fn iterator_extras_and_estimates() {
    let fs = MemFs::new();
    let db = open_tiny(&fs);
    assert_eq!(db.first_key_value().unwrap(), None);
    let mut model = BTreeMap::new();
    load(&db, 2000, 1, &mut model);
    let (first, last) = (
        model.iter().next().unwrap(),
        model.iter().next_back().unwrap(),
    );
    let fkv = db.first_key_value().unwrap().unwrap();
    let lkv = db.last_key_value().unwrap().unwrap();
    assert_eq!(
        (&fkv.0[..], &fkv.1[..]),
        (first.0.as_slice(), first.1.as_slice())
    );
    assert_eq!(
        (&lkv.0[..], &lkv.1[..]),
        (last.0.as_slice(), last.1.as_slice())
    );
    let keys: Vec<_> = db
        .keys::<&[u8], _>(..)
        .map(|k| k.unwrap().to_vec())
        .collect();
    assert_eq!(keys, model.keys().cloned().collect::<Vec<_>>());
    let rev: Vec<_> = db
        .keys(&b"key05"[..]..)
        .rev()
        .map(|k| k.unwrap().to_vec())
        .collect();
    assert_eq!(
        rev,
        model
            .range(b"key05".to_vec()..)
            .rev()
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
    );
    db.compact_range::<&[u8], _>(..).unwrap();
    let len = db.approximate_len();
    assert!(
        len >= model.len() as u64 && len <= 2 * 2000,
        "approximate_len {len} for {} keys",
        model.len()
    );
    let all = db.approximate_size(None, None);
    let half = db.approximate_size(None, Some(b"key05"));
    assert_eq!(all, db.stats().table_bytes());
    assert!(half > all / 5 && half < all * 4 / 5, "{half} of {all}");
}
