//! Range deletes: visibility for gets, scans and snapshots; survival across flushes,
//! compactions, reopens and power loss; physical removal; merges and transactions.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use shaledb::{Db, Error, Int64Add, MemFs, Options, WriteBatch, WriteOptions};

fn keys(it: impl Iterator<Item = shaledb::Result<(bytes::Bytes, bytes::Bytes)>>) -> Vec<String> {
    it.map(|r| String::from_utf8(r.unwrap().0.to_vec()).unwrap())
        .collect()
}

fn key(i: u64) -> String {
    format!("k{i:05}")
}

fn fill(db: &Db, range: std::ops::Range<u64>, tag: &str) {
    for i in range {
        db.put(key(i), format!("{tag}{i}")).unwrap();
    }
}

#[test]
fn hides_exactly_the_range_for_every_reader() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    for k in ["a", "b", "ba", "c", "d"] {
        db.put(k, k).unwrap();
    }
    let before = db.snapshot();
    db.delete_range("b".."d").unwrap();
    assert_eq!(keys(db.iter()), ["a", "d"]);
    assert_eq!(keys(db.iter().rev()), ["d", "a"]);
    assert_eq!(keys(db.prefix("b")), Vec::<String>::new());
    for (k, present) in [
        ("a", true),
        ("b", false),
        ("ba", false),
        ("c", false),
        ("d", true),
    ] {
        assert_eq!(db.get(k).unwrap().is_some(), present, "{k}");
        assert!(
            before.get(k).unwrap().is_some(),
            "the snapshot still sees {k}"
        );
    }
    assert_eq!(keys(before.iter()), ["a", "b", "ba", "c", "d"]);

    // Writes after the tombstone are visible again.
    db.put("bb", "new").unwrap();
    assert_eq!(keys(db.iter()), ["a", "bb", "d"]);
    // Inclusive and unbounded ranges.
    db.delete_range("a"..="bb").unwrap();
    assert_eq!(keys(db.iter()), ["d"]);
    db.put("z", "z").unwrap();
    db.delete_range::<&str, _>(..).unwrap();
    assert_eq!(keys(db.iter()), Vec::<String>::new());
    db.put("after", "x").unwrap();
    assert_eq!(keys(db.iter()), ["after"]);
    db.delete_prefix("af").unwrap();
    assert_eq!(db.get("after").unwrap(), None);
}

#[test]
fn invalid_and_empty_ranges() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    db.put("m", "1").unwrap();
    // An empty or inverted range through the API deletes nothing.
    db.delete_range("m".."m").unwrap();
    #[allow(clippy::reversed_empty_ranges)]
    db.delete_range("z".."a").unwrap();
    assert!(db.get("m").unwrap().is_some());
    // In a batch, an inverted range is refused and nothing of the batch is applied.
    let mut b = WriteBatch::new();
    b.put("x", "1").delete_range("z", "a");
    assert!(matches!(
        db.write(b, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(db.get("x").unwrap(), None);
    let mut b = WriteBatch::new();
    b.delete_range(vec![1u8; shaledb::MAX_KEY_SIZE + 1], vec![2u8; 1]);
    assert!(matches!(
        db.write(b, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
}

/// Data in every level under tombstones in every level, with snapshots pinning some
/// of it; then compaction to the bottom removes what nobody can see.
#[test]
fn survives_flushes_compactions_reopens_and_is_removed_by_compaction() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    fill(&db, 0..3_000, "a");
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    // Deep data, a tombstone over [500, 2500) spanning many tables, then newer data
    // inside the range. A snapshot from before the tombstone pins the old data.
    let early = db.snapshot();
    db.delete_range(key(500)..key(2_500)).unwrap();
    let snap = db.snapshot();
    fill(&db, 1_000..1_100, "b");
    db.delete_range(key(1_050)..key(1_060)).unwrap();
    let expect = |db: &Db| {
        for i in (0..3_000).step_by(7) {
            let got = db.get(key(i)).unwrap();
            let want = if (1_000..1_100).contains(&i) && !(1_050..1_060).contains(&i) {
                Some(format!("b{i}"))
            } else if (500..2_500).contains(&i) {
                None
            } else {
                Some(format!("a{i}"))
            };
            assert_eq!(
                got.map(|v| String::from_utf8(v.to_vec()).unwrap()),
                want,
                "{i}"
            );
        }
        assert_eq!(db.iter().count(), 500 + 500 + 90);
        assert_eq!(db.iter().rev().count(), 500 + 500 + 90);
    };
    expect(&db);
    db.flush().unwrap();
    expect(&db);
    db.compact_range::<&[u8], _>(..).unwrap();
    expect(&db);
    // The snapshot from before the newer writes still sees the tombstone's effect
    // and nothing newer.
    assert_eq!(snap.iter().count(), 1_000);
    assert_eq!(snap.get(key(100)).unwrap().unwrap(), "a100");
    assert_eq!(snap.get(key(600)).unwrap(), None);
    assert_eq!(
        early.iter().count(),
        3_000,
        "compaction kept what the early snapshot sees"
    );
    assert_eq!(early.get(key(600)).unwrap().unwrap(), "a600");
    drop((snap, early));
    drop(db);
    let db = common::open_tiny(&fs);
    expect(&db);

    // With no snapshot left, compacting to the bottom drops the deleted entries and
    // the tombstones themselves.
    db.compact_range::<&[u8], _>(..).unwrap();
    expect(&db);
    assert_eq!(db.approximate_len(), 1_090, "only live entries remain");
}

#[test]
fn unsynced_and_synced_range_deletes_across_power_loss() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    fill(&db, 0..200, "v");
    db.flush().unwrap();
    let mut b = WriteBatch::new();
    b.delete_range(key(10), key(20)).put("marker", "1");
    db.write(b, &WriteOptions::synced()).unwrap();
    db.delete_range(key(100)..key(150)).unwrap(); // unsynced: may be lost
    drop(db);
    fs.crash();
    let db = common::open_tiny(&fs);
    assert_eq!(db.get("marker").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(
        db.range(key(10)..key(20)).count(),
        0,
        "synced range delete kept"
    );
    assert_eq!(db.range(key(0)..key(10)).count(), 10);
    let n = db.range(key(100)..key(150)).count();
    assert!(
        n == 0 || n == 50,
        "the unsynced range delete is all or nothing: {n}"
    );
}

#[test]
fn synced_range_and_prefix_deletes_survive_power_loss() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let ks = db.keyspace("other").unwrap();
    fill(&db, 0..50, "v");
    for i in 0..50 {
        ks.put(key(i), "w").unwrap();
    }
    db.sync_wal().unwrap();
    db.delete_range_opt(key(5)..key(15), &WriteOptions::synced())
        .unwrap();
    ks.delete_prefix_opt("k0002", &WriteOptions::synced())
        .unwrap();
    drop((db, ks));
    fs.crash();
    let db = common::open_tiny(&fs);
    let ks = db.keyspace("other").unwrap();
    assert_eq!(db.range(key(5)..key(15)).count(), 0);
    assert_eq!(db.iter().count(), 40);
    assert_eq!(ks.prefix("k0002").count(), 0);
    assert_eq!(ks.iter().count(), 40);
}

#[test]
fn merges_under_a_range_delete_start_over() {
    let fs = MemFs::new();
    let opts = Options {
        merge_operator: Some(Arc::new(Int64Add)),
        ..common::tiny_lsm_options(&fs)
    };
    let db = Db::open("/db", opts).unwrap();
    db.merge("c:1", "5").unwrap();
    db.merge("c:2", "7").unwrap();
    db.flush().unwrap();
    db.delete_range("c:".."c;").unwrap();
    db.merge("c:1", "1").unwrap();
    assert_eq!(db.get("c:1").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("c:2").unwrap(), None);
    assert_eq!(keys(db.iter()), ["c:1"]);
    assert_eq!(keys(db.iter().rev()), ["c:1"]);
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(db.get("c:1").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.iter().count(), 1);
}

#[test]
fn a_range_delete_conflicts_with_transactions_that_read_under_it() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    db.put("acct:1", "10").unwrap();
    let mut tx = db.transaction();
    tx.get("acct:1").unwrap();
    tx.put("log", "x").unwrap();
    db.delete_range("acct:".."acct;").unwrap();
    assert!(matches!(tx.commit(), Err(Error::Conflict(_))));

    let mut tx = db.transaction();
    tx.prefix("user:").unwrap();
    tx.put("log", "y").unwrap();
    db.delete_prefix("user:").unwrap();
    assert!(
        matches!(tx.commit(), Err(Error::Conflict(_))),
        "a range delete over a scanned range is a write to it"
    );
    let mut tx = db.transaction();
    tx.get("other").unwrap();
    tx.put("log", "z").unwrap();
    db.delete_range("a".."b").unwrap();
    tx.commit().unwrap();
}

#[test]
fn range_deletes_in_keyspaces_and_checkpoints() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let ks = db.keyspace("items").unwrap();
    for i in 0..1_000u64 {
        ks.put(key(i), "v").unwrap();
        db.put(key(i), "d").unwrap();
    }
    ks.flush().unwrap();
    ks.delete_range(key(0)..key(900)).unwrap();
    assert_eq!(ks.iter().count(), 100);
    assert_eq!(db.iter().count(), 1_000, "other keyspaces are untouched");
    db.checkpoint("/cp").unwrap();
    let cp = Db::open("/cp", common::tiny_lsm_options(&fs)).unwrap();
    assert_eq!(cp.keyspace("items").unwrap().iter().count(), 100);
    assert_eq!(cp.iter().count(), 1_000);
}

#[test]
fn many_range_deletes_rotate_the_memtable() {
    let fs = MemFs::new();
    let opts = Options {
        write_buffer_size: 64 << 20, // never full by size here
        memtable_max_range_deletions: 10,
        ..Options::with_fs(Arc::new(fs.clone()))
    };
    let db = Db::open("/db", opts.clone()).unwrap();
    fill(&db, 0..100, "v");
    for i in 0..35 {
        db.delete_range(key(i)..key(i + 1)).unwrap();
        assert_eq!(db.get(key(i)).unwrap(), None);
        assert!(db.get(key(i + 1)).unwrap().is_some());
    }
    db.wait_for_compactions().unwrap();
    let s = db.stats();
    assert!(
        s.flushes >= 3,
        "every 10 range deletes freeze the memtable: {s}"
    );
    assert_eq!(db.iter().count(), 65);
    drop(db);
    let db = Db::open("/db", opts).unwrap();
    assert_eq!(db.iter().count(), 65);
    assert_eq!(db.range(key(0)..key(35)).count(), 0);
}

/// Reads between range deletes: `SHALE_RANGE_DEL_TIMING=1` prints how long N
/// alternating (range delete, get) pairs take for growing N — a long form, not a
/// timed assertion; the short form checks the results.
#[test]
fn reads_between_many_range_deletes() {
    let rounds: &[u64] = if std::env::var("SHALE_RANGE_DEL_TIMING").is_ok_and(|v| v == "1") {
        &[2_000, 8_000, 32_000]
    } else {
        &[300]
    };
    for &n in rounds {
        let fs = MemFs::new();
        let db = Db::open("/db", Options::with_fs(Arc::new(fs.clone()))).unwrap();
        db.put("live", "1").unwrap();
        let start = std::time::Instant::now();
        for i in 0..n {
            let lo = format!("h{i:08}:");
            let hi = format!("h{i:08};");
            db.delete_range(lo.as_bytes()..hi.as_bytes()).unwrap();
            assert_eq!(db.get("live").unwrap().as_deref(), Some(&b"1"[..]));
        }
        eprintln!(
            "{n} x (range delete + get): {:?} ({} flushes)",
            start.elapsed(),
            db.stats().flushes
        );
        assert_eq!(db.iter().count(), 1);
    }
}
