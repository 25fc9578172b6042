//! The merge operator: counters and appends resolved on read and collapsed by
//! compaction; operator failures surface as Error::Merge and change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use shaledb::{Db, Error, Int64Add, ManualClock, MemFs, MergeOperator, Options, StringAppend};

fn open_with(fs: &MemFs, op: Arc<dyn MergeOperator>) -> Db {
    Db::open(
        "/db",
        Options {
            merge_operator: Some(op),
            ..common::tiny_lsm_options(fs)
        },
    )
    .unwrap()
}

fn num(db: &Db, key: &str) -> Option<i64> {
    db.get(key)
        .unwrap()
        .map(|v| std::str::from_utf8(&v).unwrap().parse().unwrap())
}

#[test]
fn counters_across_memtables_tables_and_compaction() {
    let fs = MemFs::new();
    let db = open_with(&fs, Arc::new(Int64Add));
    db.put("c", "10").unwrap();
    let mut expected = 10i64;
    let mut snap_at = None;
    for i in 0..3000i64 {
        let delta = if i % 3 == 0 { -1 } else { 2 };
        db.merge("c", delta.to_string()).unwrap();
        expected += delta;
        // Other traffic so that flushes and compactions move operands around.
        db.put(format!("filler{i:05}"), vec![b'f'; 40]).unwrap();
        if i == 1500 {
            snap_at = Some((db.snapshot(), expected));
        }
    }
    assert_eq!(num(&db, "c"), Some(expected));
    let (snap, then) = snap_at.unwrap();
    let at = |s: &shaledb::Snapshot| -> i64 {
        std::str::from_utf8(&s.get("c").unwrap().unwrap())
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(at(&snap), then);
    // Scans resolve merges in both directions.
    let fwd = db.range("c".."d").next().unwrap().unwrap();
    assert_eq!(fwd.1, expected.to_string().as_bytes());
    let rev = db.range("c"..="c").next_back().unwrap().unwrap();
    assert_eq!(rev.1, expected.to_string().as_bytes());
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(num(&db, "c"), Some(expected));
    assert_eq!(at(&snap), then, "the snapshot's view survives collapsing");
    drop(snap);
    db.compact_range::<&[u8], _>(..).unwrap();
    // Collapsed: the tree holds about one entry per key, not one per operand.
    let len = db.approximate_len();
    assert!(len < 3000 + 200, "operands were folded: {len} entries");
    drop(db);
    let db = open_with(&fs, Arc::new(Int64Add));
    assert_eq!(num(&db, "c"), Some(expected), "after reopen");
}

#[test]
fn deletes_and_expiry_reset_the_base() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let opts = Options {
        merge_operator: Some(Arc::new(Int64Add)),
        clock: clock.clone(),
        ..common::tiny_lsm_options(&fs)
    };
    let db = Db::open("/db", opts).unwrap();
    db.merge("n", "5").unwrap();
    db.delete("n").unwrap();
    db.merge("n", "1").unwrap();
    assert_eq!(num(&db, "n"), Some(1));
    db.put_with_ttl("t", "100", Duration::from_secs(10))
        .unwrap();
    db.merge("t", "1").unwrap();
    assert_eq!(num(&db, "t"), Some(101));
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(num(&db, "t"), Some(101), "compaction changes no read");
    clock.advance(Duration::from_secs(11));
    // Operands do not inherit the base's expiry: once it expires they apply to
    // nothing — the same before and after any compaction.
    assert_eq!(num(&db, "t"), Some(1));
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(num(&db, "t"), Some(1), "collapsed over the expired base");
    db.merge("t", "1").unwrap();
    assert_eq!(num(&db, "t"), Some(2));
}

#[test]
fn string_append_in_order() {
    let fs = MemFs::new();
    let db = open_with(
        &fs,
        Arc::new(StringAppend {
            separator: b",".to_vec(),
        }),
    );
    for i in 0..50 {
        db.merge("log", format!("e{i}")).unwrap();
        if i % 10 == 9 {
            db.flush().unwrap();
        }
    }
    let want: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
    assert_eq!(db.get("log").unwrap().unwrap(), want.join(",").as_bytes());
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(db.get("log").unwrap().unwrap(), want.join(",").as_bytes());
}

#[derive(Debug)]
struct Panics;

impl MergeOperator for Panics {
    fn name(&self) -> &str {
        "test.panics"
    }
    fn full_merge(&self, key: &[u8], _: Option<&[u8]>, _: &[&[u8]]) -> Result<Vec<u8>, String> {
        // An operator with a bug: the engine must survive it.
        #[allow(clippy::panic)]
        if key == b"boom" {
            panic!("operator bug");
        }
        Ok(b"ok".to_vec())
    }
}

#[test]
fn failing_operators_surface_errors_and_corrupt_nothing() {
    let fs = MemFs::new();
    let db = open_with(&fs, Arc::new(Int64Add));
    db.put("text", "not a number").unwrap();
    db.merge("text", "1").unwrap();
    match db.get("text") {
        Err(Error::Merge { key, detail }) => assert!(
            key == "text" && detail.contains("not an integer"),
            "{detail}"
        ),
        other => panic!("expected a merge error, got {other:?}"),
    }
    assert!(db.iter().any(|r| matches!(r, Err(Error::Merge { .. }))));
    // Compaction keeps the operands (resolving fails), never fails itself.
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(db.stats().background_errors, 0);
    // Overwriting repairs the key.
    db.put("text", "7").unwrap();
    assert_eq!(num(&db, "text"), Some(7));
    drop(db);

    let fs = MemFs::new();
    let db = open_with(&fs, Arc::new(Panics));
    db.merge("boom", "x").unwrap();
    db.merge("fine", "x").unwrap();
    assert!(matches!(db.get("boom"), Err(Error::Merge { .. })));
    assert_eq!(db.get("fine").unwrap().as_deref(), Some(&b"ok"[..]));
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(db.stats().background_errors, 0);
    db.put("after", "still writable").unwrap();
}

#[test]
fn merges_need_an_operator() {
    let fs = MemFs::new();
    let db = Db::open("/db", Options::with_fs(Arc::new(fs))).unwrap();
    assert!(matches!(db.merge("k", "1"), Err(Error::InvalidArgument(_))));
    assert_eq!(db.get("k").unwrap(), None);
}
