//! Behaviour of the public API on a real directory and on MemFs.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests inspect real directories directly

use std::path::Path;
use std::sync::Arc;

use shaledb::{Db, Error, FileSystem, MAX_KEY_SIZE, MemFs, Options, WriteBatch, WriteOptions};

fn mem_db() -> (MemFs, Db) {
    let fs = MemFs::new();
    let db = Db::open("/db", Options::with_fs(Arc::new(fs.clone()))).unwrap();
    (fs, db)
}

fn keys(it: impl Iterator<Item = shaledb::Result<(bytes::Bytes, bytes::Bytes)>>) -> Vec<String> {
    it.map(|r| String::from_utf8(r.unwrap().0.to_vec()).unwrap())
        .collect()
}

#[test]
fn put_get_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.put("a", "1").unwrap();
        db.put("b", "2").unwrap();
        db.put("", "empty key").unwrap();
        db.delete("a").unwrap();
        db.put("c", "").unwrap();
        assert_eq!(db.get("a").unwrap(), None);
        assert_eq!(db.get("b").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(db.get("").unwrap().as_deref(), Some(&b"empty key"[..]));
        assert_eq!(db.get("c").unwrap().as_deref(), Some(&b""[..]));
    }
    for round in 0..2 {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(db.get("a").unwrap(), None);
        assert_eq!(db.get("b").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(db.get("c").unwrap().as_deref(), Some(&b""[..]));
        let mut want = vec!["", "b", "c"];
        if round == 1 {
            want.push("d");
        }
        assert_eq!(keys(db.iter()), want);
        db.put("d", "4").unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(keys(db.iter()), vec!["", "b", "c", "d"]);
    // Reopening flushes the recovered data to a table and starts one fresh log.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".log")).count(),
        1,
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.ends_with(".sst")), "{names:?}");
    assert!(names.iter().any(|n| n == "CURRENT"), "{names:?}");
}

#[test]
fn oversized_input_is_rejected_and_changes_nothing() {
    let (_fs, db) = mem_db();
    db.put("keep", "v").unwrap();
    let big_key = vec![b'k'; MAX_KEY_SIZE + 1];
    assert!(matches!(
        db.put(&big_key, "v"),
        Err(Error::InvalidArgument(_))
    ));
    let mut batch = WriteBatch::new();
    batch.put("x", "1").put(&big_key, "2").delete("keep");
    assert!(matches!(
        db.write(batch, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        db.get("x").unwrap(),
        None,
        "no part of a rejected batch is applied"
    );
    assert_eq!(db.get("keep").unwrap().as_deref(), Some(&b"v"[..]));
    // The limit itself is fine.
    db.put(vec![b'k'; MAX_KEY_SIZE], "ok").unwrap();
    // Writes to keyspaces that do not exist are rejected too.
    let mut batch = WriteBatch::new();
    batch.push(shale_core::ValueKind::Value, 9, b"k", Some(b"v"));
    assert!(matches!(
        db.write(batch, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(db.stats().writes, 2);
}

#[test]
fn batches_are_atomic_and_ordered() {
    let (_fs, db) = mem_db();
    let mut b = WriteBatch::new();
    b.put("k", "1").put("k", "2").delete("j").put("j", "x");
    db.write(b, &WriteOptions::synced()).unwrap();
    assert_eq!(
        db.get("k").unwrap().as_deref(),
        Some(&b"2"[..]),
        "later write in a batch wins"
    );
    assert_eq!(db.get("j").unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(db.stats().last_seqno, 4);
    db.write(WriteBatch::new(), &WriteOptions::default())
        .unwrap();
    assert_eq!(db.stats().last_seqno, 4, "an empty batch writes nothing");
}

#[test]
fn scans_honour_bounds_prefixes_and_direction() {
    let (_fs, db) = mem_db();
    for k in ["a", "ab", "abc", "b", "ba", "c", "\u{ff}"] {
        db.put(k, k.to_uppercase()).unwrap();
    }
    db.delete("ba").unwrap();
    assert_eq!(keys(db.iter()), vec!["a", "ab", "abc", "b", "c", "\u{ff}"]);
    assert_eq!(
        keys(db.iter().rev()),
        vec!["\u{ff}", "c", "b", "abc", "ab", "a"]
    );
    assert_eq!(keys(db.range("ab".."b")), vec!["ab", "abc"]);
    assert_eq!(keys(db.range("ab"..="b")), vec!["ab", "abc", "b"]);
    assert_eq!(keys(db.range("ab"..="b").rev()), vec!["b", "abc", "ab"]);
    assert_eq!(keys(db.range(.."ab").rev()), vec!["a"]);
    assert_eq!(keys(db.range("bb"..)), vec!["c", "\u{ff}"]);
    assert_eq!(keys(db.prefix("ab")), vec!["ab", "abc"]);
    assert_eq!(keys(db.prefix("ab").rev()), vec!["abc", "ab"]);
    assert_eq!(keys(db.prefix("b")), vec!["b"]);
    assert_eq!(keys(db.prefix("")), keys(db.iter()));
    assert!(keys(db.prefix("zz")).is_empty());
    // Both ends of one iterator meet without repeating.
    let mut it = db.iter();
    let front = it.next().unwrap().unwrap().0;
    let back = it.next_back().unwrap().unwrap().0;
    let rest = keys(it);
    assert_eq!((&front[..], &back[..]), (&b"a"[..], "\u{ff}".as_bytes()));
    assert_eq!(rest, vec!["ab", "abc", "b", "c"]);
    // Values come with their keys.
    let (k, v) = db.range("c"..="c").next().unwrap().unwrap();
    assert_eq!((&k[..], &v[..]), (&b"c"[..], &b"C"[..]));
}

#[test]
fn snapshots_are_frozen() {
    let (_fs, db) = mem_db();
    db.put("a", "1").unwrap();
    db.put("b", "1").unwrap();
    let snap = db.snapshot();
    let it = db.iter(); // an iterator is its own snapshot
    db.put("a", "2").unwrap();
    db.delete("b").unwrap();
    db.put("c", "2").unwrap();
    assert_eq!(snap.get("a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snap.get("b").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snap.get("c").unwrap(), None);
    assert_eq!(keys(snap.iter()), vec!["a", "b"]);
    assert_eq!(keys(snap.iter().rev()), vec!["b", "a"]);
    assert_eq!(keys(it), vec!["a", "b"]);
    assert_eq!(keys(db.iter()), vec!["a", "c"]);
    assert_eq!(db.stats().live_snapshots, 1);
    drop(snap);
    assert_eq!(db.stats().live_snapshots, 0);
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path().join("LOCK")),
        other => panic!("expected Locked, got {other:?}"),
    }
    let msg = Db::open(dir.path(), Options::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("locked"), "{msg}");
    drop(db);
    Db::open(dir.path(), Options::default()).unwrap();
}

#[test]
fn open_options_are_checked() {
    let fs = Arc::new(MemFs::new());
    let missing = Options {
        create_if_missing: false,
        ..Options::with_fs(fs.clone())
    };
    assert!(matches!(
        Db::open("/nope", missing),
        Err(Error::NotFound(_))
    ));
    let bad = Options {
        max_write_group_bytes: 0,
        ..Options::with_fs(fs.clone())
    };
    assert!(matches!(
        Db::open("/db", bad),
        Err(Error::InvalidArgument(_))
    ));
    assert!(
        !fs.exists(Path::new("/db")),
        "a rejected open touches nothing"
    );
    let db = Db::open("/db", Options::with_fs(fs.clone())).unwrap();
    db.put("k", "v").unwrap();
    drop(db);
    let strict = Options {
        error_if_exists: true,
        ..Options::with_fs(fs.clone())
    };
    assert!(matches!(Db::open("/db", strict), Err(Error::Exists(_))));
}

#[test]
fn unsynced_writes_are_lost_on_power_loss_synced_ones_are_not() {
    let (fs, db) = mem_db();
    db.put("synced", "1").unwrap();
    db.sync_wal().unwrap();
    db.put("unsynced", "2").unwrap();
    db.put_opt("synced2", "3", &WriteOptions::synced()).unwrap(); // syncs "unsynced" too
    db.put("lost", "4").unwrap();
    fs.crash();
    drop(db);
    let db = Db::open("/db", Options::with_fs(Arc::new(fs.clone()))).unwrap();
    assert_eq!(keys(db.iter()), vec!["synced", "synced2", "unsynced"]);
}

/// The one WAL of a freshly opened database on `fs`.
fn only_log(fs: &MemFs) -> std::path::PathBuf {
    let logs: Vec<_> = fs
        .list(Path::new("/db"))
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    Path::new("/db").join(&logs[0])
}

#[test]
fn torn_wal_tail_is_dropped_and_reported() {
    let (fs, db) = mem_db();
    db.put_opt("a", "1", &WriteOptions::synced()).unwrap();
    db.put_opt("b", "2", &WriteOptions::synced()).unwrap();
    drop(db);
    let log = only_log(&fs);
    let full = fs.file_size(&log).unwrap() as usize;
    // Cut the log at every byte of the last record: "a" survives, "b" never half.
    let record = 7 + 12 + 1 + 1 + 1 + 1 + 1 + 1; // header + batch header + one put
    for mode in [
        shaledb::RecoveryMode::PointInTimeRecovery,
        shaledb::RecoveryMode::TolerateCorruptedTailRecords,
    ] {
        for cut in (full - record)..full {
            let fs2 = fs.crash_clone();
            fs2.truncate(&log, cut).unwrap();
            let opts = Options {
                wal_recovery_mode: mode,
                ..Options::with_fs(Arc::new(fs2))
            };
            let db = Db::open("/db", opts).unwrap();
            assert_eq!(
                db.get("a").unwrap().as_deref(),
                Some(&b"1"[..]),
                "cut at {cut}"
            );
            assert_eq!(db.get("b").unwrap(), None, "cut at {cut}");
            assert!(!db.recovery_notes().is_empty() || cut == full - record);
        }
    }
}

#[test]
fn corrupt_wal_middle_is_reported_never_a_wrong_value() {
    let (fs, db) = mem_db();
    for i in 0..20 {
        db.put_opt(
            format!("key{i:02}"),
            format!("value{i:02}"),
            &WriteOptions::synced(),
        )
        .unwrap();
    }
    drop(db);
    let log = only_log(&fs);
    let damaged = |mode| {
        let fs2 = fs.crash_clone();
        fs2.corrupt(&log, 120, &[0xAA]).unwrap();
        let opts = Options {
            wal_recovery_mode: mode,
            ..Options::with_fs(Arc::new(fs2.clone()))
        };
        (fs2, Db::open("/db", opts))
    };
    // Strict modes refuse to open, naming the file and the damaged record.
    for mode in [
        shaledb::RecoveryMode::TolerateCorruptedTailRecords,
        shaledb::RecoveryMode::AbsoluteConsistency,
    ] {
        match damaged(mode).1 {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, log);
                assert!(offset <= 120, "offset {offset} names the damaged record");
            }
            other => panic!("{mode:?}: expected corruption, got {other:?}"),
        }
    }
    // The default (point in time) keeps what precedes the damage, reports it, and
    // keeps the damaged log for inspection.
    let (fs2, db) = damaged(shaledb::RecoveryMode::PointInTimeRecovery);
    let db = db.unwrap();
    let n = db.iter().count();
    assert!(
        (2..20).contains(&n),
        "records before the damage survive, got {n}"
    );
    for (i, item) in db.iter().enumerate() {
        let (k, v) = item.unwrap();
        assert_eq!(k, format!("key{i:02}").as_bytes(), "a prefix of the writes");
        assert_eq!(&k[3..], &v[5..], "never a wrong value");
    }
    assert!(
        !db.recovery_notes().is_empty(),
        "dropped damage is reported"
    );
    let mut kept = log.clone().into_os_string();
    kept.push(".damaged");
    assert!(
        fs2.exists(Path::new(&kept)),
        "damaged log kept for inspection"
    );
    // Skipping damaged records is an explicit choice: like LevelDB and RocksDB, a bad
    // checksum drops the rest of its 32 KiB block, records before it are kept.
    let db = damaged(shaledb::RecoveryMode::SkipAnyCorruptedRecords)
        .1
        .unwrap();
    assert!(db.get("key00").unwrap().is_some() && db.get("key01").unwrap().is_some());
    for item in db.iter() {
        let (k, v) = item.unwrap();
        assert_eq!(&k[3..], &v[5..], "never a wrong value");
    }
}
