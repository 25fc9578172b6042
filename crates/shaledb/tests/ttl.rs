//! TTL: expiry on reads at the clock's time, physical removal by compaction, no
//! resurrection of older versions, persistence of the absolute expiry.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use shaledb::{Db, Error, ManualClock, MemFs, Options, WriteBatch, WriteOptions};

const T0: u64 = 1_800_000_000_000; // ms since the epoch

fn open(fs: &MemFs, clock: &Arc<ManualClock>) -> Db {
    let opts = Options {
        clock: clock.clone(),
        ..common::tiny_lsm_options(fs)
    };
    Db::open("/db", opts).unwrap()
}

fn keys(db: &Db, rev: bool) -> Vec<Bytes> {
    let it = db.iter();
    let v: Vec<_> = if rev {
        it.rev().map(|r| r.unwrap().0).collect()
    } else {
        it.map(|r| r.unwrap().0).collect()
    };
    v
}

#[test]
fn expired_entries_vanish_from_every_read_at_expiry() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(&fs, &clock);
    assert_eq!(db.now_ms(), T0, "now_ms reads the database's clock");
    db.put("keep", "forever").unwrap();
    db.put_with_ttl("session", "abc", Duration::from_secs(10))
        .unwrap();
    let snap = db.snapshot();
    assert_eq!(db.get("session").unwrap().as_deref(), Some(&b"abc"[..]));
    assert_eq!(keys(&db, false), vec!["keep", "session"]);
    clock.advance(Duration::from_millis(9_999));
    assert!(
        db.get("session").unwrap().is_some(),
        "one millisecond before expiry"
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(db.get("session").unwrap(), None, "at expiry");
    assert_eq!(keys(&db, false), vec!["keep"]);
    assert_eq!(keys(&db, true), vec!["keep"]);
    assert_eq!(db.prefix("sess").count(), 0);
    assert_eq!(
        snap.get("session").unwrap(),
        None,
        "expiry is wall-clock, snapshots too"
    );
    let mut tx = db.transaction();
    assert_eq!(tx.get("session").unwrap(), None);
    assert_eq!(
        db.compare_and_swap("session", None, Some(b"new")).unwrap(),
        Ok(())
    );
    assert_eq!(db.get("session").unwrap().as_deref(), Some(&b"new"[..]));
}

#[test]
fn expiry_never_resurrects_an_older_version() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(&fs, &clock);
    db.put("k", "old, no ttl").unwrap();
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap(); // the old version sits at the bottom
    db.put_with_ttl("k", "new", Duration::from_secs(1)).unwrap();
    db.flush().unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(db.get("k").unwrap(), None);
    // Compacting the expired version above the old one must keep hiding it...
    let s = db.stats();
    let levels_with_data: Vec<_> = s
        .levels
        .iter()
        .filter(|l| l.files > 0)
        .map(|l| l.level)
        .collect();
    assert!(!levels_with_data.is_empty());
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(
        db.get("k").unwrap(),
        None,
        "the older version stays hidden after compaction"
    );
    assert_eq!(db.iter().count(), 0);
}

#[test]
fn compaction_removes_expired_entries_physically() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(&fs, &clock);
    for i in 0..3000 {
        db.put_with_ttl(
            format!("tmp{i:05}"),
            vec![b'x'; 100],
            Duration::from_secs(60),
        )
        .unwrap();
    }
    for i in 0..100 {
        db.put(format!("perm{i:03}"), "v").unwrap();
    }
    db.compact_range::<&[u8], _>(..).unwrap();
    let before = db.stats().table_bytes();
    clock.advance(Duration::from_secs(61));
    db.compact_range::<&[u8], _>(..).unwrap();
    db.wait_for_compactions().unwrap();
    let after = db.stats().table_bytes();
    assert!(
        after * 10 < before,
        "expired data removed: {before} -> {after} bytes"
    );
    assert_eq!(db.iter().count(), 100);
}

#[test]
fn the_absolute_expiry_survives_restarts() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(T0));
    {
        let db = open(&fs, &clock);
        db.put_with_ttl("a", "1", Duration::from_secs(100)).unwrap();
        let mut b = WriteBatch::new();
        b.put_with_expiry("b", "2", db.expiry_after(Duration::from_secs(200)).unwrap());
        db.write(b, &WriteOptions::synced()).unwrap();
    }
    clock.advance(Duration::from_secs(150));
    let db = open(&fs, &clock);
    assert_eq!(db.get("a").unwrap(), None);
    assert_eq!(db.get("b").unwrap().as_deref(), Some(&b"2"[..]));
    clock.advance(Duration::from_secs(50));
    assert_eq!(db.get("b").unwrap(), None);
}

#[test]
fn default_ttl_applies_to_plain_puts() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(T0));
    let opts = Options {
        clock: clock.clone(),
        default_ttl: Some(Duration::from_secs(30)),
        ..Options::with_fs(Arc::new(fs.clone()))
    };
    let db = Db::open("/db", opts).unwrap();
    db.put("cache:1", "v").unwrap();
    db.put_with_ttl("cache:2", "v", Duration::from_secs(300))
        .unwrap();
    clock.advance(Duration::from_secs(31));
    assert_eq!(db.get("cache:1").unwrap(), None);
    assert!(db.get("cache:2").unwrap().is_some(), "an explicit TTL wins");
}

#[test]
fn bad_ttls_are_rejected_and_change_nothing() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(&fs, &clock);
    assert!(matches!(
        db.put_with_ttl("k", "v", Duration::ZERO),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        db.put_with_ttl("k", "v", Duration::MAX),
        Err(Error::InvalidArgument(_))
    ));
    clock.set(u64::MAX - 5);
    assert!(matches!(
        db.put_with_ttl("k", "v", Duration::from_millis(10)),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(db.get("k").unwrap(), None);
    let bad = Options {
        default_ttl: Some(Duration::ZERO),
        ..Options::with_fs(Arc::new(MemFs::new()))
    };
    assert!(matches!(
        Db::open("/db", bad),
        Err(Error::InvalidArgument(_))
    ));
    // A hand-made expiring value without its expiry prefix is refused.
    let mut b = WriteBatch::new();
    b.push(
        shale_core::ValueKind::ValueWithExpiry,
        0,
        b"k",
        Some(b"short"),
    );
    assert!(matches!(
        db.write(b, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
}
