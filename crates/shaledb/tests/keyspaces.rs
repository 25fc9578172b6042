//! Keyspaces: isolation, atomic cross-keyspace batches, per-keyspace log numbers across
//! flushes and crashes, WAL reclamation, drop under a live iterator, per-keyspace
//! options, transactions and checkpoints spanning keyspaces.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use shaledb::{
    Db, Error, Int64Add, KeyspaceOptions, ManualClock, MemFs, Options, StringAppend, WriteBatch,
    WriteOptions,
};

fn wal_count(fs: &MemFs) -> usize {
    common::files_ending(fs, ".log").len()
}

fn table_count(fs: &MemFs) -> usize {
    common::files_ending(fs, ".sst").len()
}

#[test]
fn create_list_drop_recreate_and_bad_names() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    assert_eq!(db.list_keyspaces(), ["default"]);
    let a = db.keyspace("alpha").unwrap();
    let b = db.keyspace("beta").unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(db.keyspace("alpha").unwrap().id(), a.id(), "opening again");
    assert_eq!(db.list_keyspaces(), ["alpha", "beta", "default"]);
    assert_eq!(db.keyspace("default").unwrap().id(), 0);

    for bad in ["", "has space", "slash/", &"x".repeat(256)] {
        assert!(
            matches!(db.keyspace(bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        db.drop_keyspace("default"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(db.drop_keyspace("nope"), Err(Error::NotFound(_))));

    a.put("k", "in alpha").unwrap();
    db.drop_keyspace("alpha").unwrap();
    assert_eq!(db.list_keyspaces(), ["beta", "default"]);
    assert!(matches!(a.put("k", "v"), Err(Error::InvalidArgument(_))));
    assert!(a.get("k").is_err(), "a dropped keyspace's handle fails");
    let mut batch = WriteBatch::new();
    batch.put_in(a.id(), "k", "v");
    assert!(matches!(
        db.write(batch, &WriteOptions::default()),
        Err(Error::InvalidArgument(_))
    ));

    let again = db.keyspace("alpha").unwrap();
    assert_ne!(again.id(), a.id(), "ids are never reused");
    assert_eq!(
        again.get("k").unwrap(),
        None,
        "a re-created keyspace is empty"
    );
    drop((a, again, b));
    drop(db);

    let db = common::open_tiny(&fs);
    assert_eq!(db.list_keyspaces(), ["alpha", "beta", "default"]);
    assert_eq!(db.keyspace("alpha").unwrap().get("k").unwrap(), None);
}

#[test]
fn keyspaces_are_isolated_and_batches_span_them_atomically() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let users = db.keyspace("users").unwrap();
    let sessions = db.keyspace("sessions").unwrap();
    db.put("k", "default").unwrap();
    users.put("k", "users").unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"default"[..]));
    assert_eq!(users.get("k").unwrap().as_deref(), Some(&b"users"[..]));
    assert_eq!(sessions.get("k").unwrap(), None);
    assert_eq!(sessions.iter().count(), 0);

    // A batch across three keyspaces, then a power loss after it was synced, and
    // one after it was only written: all or nothing each time.
    let mut batch = WriteBatch::new();
    batch
        .put_in(users.id(), "alice", "1")
        .put_in(sessions.id(), "s1", "alice")
        .delete("k");
    db.write(batch, &WriteOptions::synced()).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put_in(users.id(), "bob", "2")
        .put_in(sessions.id(), "s2", "bob");
    db.write(batch, &WriteOptions::default()).unwrap();
    drop((users, sessions));
    drop(db);
    fs.crash();

    let db = common::open_tiny(&fs);
    let users = db.keyspace("users").unwrap();
    let sessions = db.keyspace("sessions").unwrap();
    assert_eq!(users.get("alice").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(sessions.get("s1").unwrap().as_deref(), Some(&b"alice"[..]));
    assert_eq!(db.get("k").unwrap(), None);
    let bob = users.get("bob").unwrap();
    let s2 = sessions.get("s2").unwrap();
    assert_eq!(
        bob.is_some(),
        s2.is_some(),
        "the unsynced batch is all or nothing"
    );
}

/// One keyspace flushes over and over while another holds a single unflushed write:
/// after a crash the lone write must still be replayed, and once that keyspace is
/// flushed too, old WALs go away.
#[test]
fn flushing_one_keyspace_never_loses_another_ones_writes() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let busy = db.keyspace("busy").unwrap();
    let quiet = db.keyspace("quiet").unwrap();
    quiet
        .put_opt("lonely", "write", &WriteOptions::synced())
        .unwrap();
    for i in 0..3_000u64 {
        let (k, v) = common::kv(i, 1);
        busy.put(k, v).unwrap();
    }
    busy.flush().unwrap();
    db.sync_wal().unwrap();
    drop((busy, quiet));
    drop(db);
    fs.crash();

    let db = common::open_tiny(&fs);
    let quiet = db.keyspace("quiet").unwrap();
    let busy = db.keyspace("busy").unwrap();
    assert_eq!(quiet.get("lonely").unwrap().as_deref(), Some(&b"write"[..]));
    for i in (0..3_000u64).step_by(97) {
        let (k, v) = common::kv(i, 1);
        assert_eq!(busy.get(&k).unwrap().as_deref(), Some(v.as_slice()));
    }
    db.flush().unwrap();
    assert_eq!(
        wal_count(&fs),
        1,
        "only the current WAL is left after flushing all"
    );
    drop((busy, quiet));
    drop(db);
    let db = common::open_tiny(&fs);
    assert_eq!(
        db.keyspace("quiet")
            .unwrap()
            .get("lonely")
            .unwrap()
            .as_deref(),
        Some(&b"write"[..])
    );
}

/// A rarely written keyspace would pin every WAL since its one write:
/// `max_total_wal_size` flushes it so the WALs can go.
#[test]
fn a_quiet_keyspace_does_not_pin_wals_forever() {
    let fs = MemFs::new();
    let opts = Options {
        max_total_wal_size: 64 * 1024,
        ..common::tiny_lsm_options(&fs)
    };
    let db = Db::open("/db", opts.clone()).unwrap();
    let quiet = db.keyspace("quiet").unwrap();
    let busy = db.keyspace("busy").unwrap();
    quiet.put("pinned", "once").unwrap();
    let mut most = 0;
    for i in 0..20_000u64 {
        let (k, v) = common::kv(i, 2);
        busy.put(k, v).unwrap();
        if i % 500 == 0 {
            db.wait_for_compactions().unwrap();
            most = most.max(wal_count(&fs));
        }
    }
    assert!(
        most <= 16,
        "{most} WALs alive at once: the quiet keyspace pins them"
    );
    drop((quiet, busy));
    drop(db);
    fs.crash();
    let db = Db::open("/db", opts).unwrap();
    assert_eq!(
        db.keyspace("quiet")
            .unwrap()
            .get("pinned")
            .unwrap()
            .as_deref(),
        Some(&b"once"[..])
    );
}

#[test]
fn dropping_a_keyspace_under_a_live_iterator_is_safe() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let doomed = db.keyspace("doomed").unwrap();
    let mut want = Vec::new();
    for i in 0..2_000u64 {
        let (k, v) = common::kv(i, 3);
        doomed.put(&k, &v).unwrap();
        want.push((k, v));
    }
    want.sort();
    want.dedup_by(|a, b| a.0 == b.0);
    doomed.flush().unwrap();
    db.wait_for_compactions().unwrap();
    let tables_before = table_count(&fs);
    assert!(tables_before > 0);

    let mut it = doomed.iter();
    let first = it.next().unwrap().unwrap();
    db.drop_keyspace("doomed").unwrap();
    // Other keyspaces' background work goes on meanwhile.
    for i in 0..2_000u64 {
        let (k, v) = common::kv(i, 4);
        db.put(k, v).unwrap();
    }
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
    let mut got = vec![(first.0.to_vec(), first.1.to_vec())];
    got.extend(common::collect(&mut it));
    assert_eq!(
        got, want,
        "the iterator still reads every key of the dropped keyspace"
    );
    drop(it);
    drop(doomed);
    // With the last reader gone, its tables are deleted.
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
    let default_tables = db.stats().levels.iter().map(|l| l.files).sum::<u64>() as usize;
    assert_eq!(
        table_count(&fs),
        default_tables,
        "no table of the dropped keyspace is left"
    );
}

#[test]
fn each_keyspace_has_its_own_options() {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let mut opts = Options {
        clock: clock.clone(),
        ..common::tiny_lsm_options(&fs)
    };
    opts.keyspace_options.insert(
        "counters".into(),
        KeyspaceOptions {
            merge_operator: Some(Arc::new(Int64Add)),
            ..KeyspaceOptions::from(&opts)
        },
    );
    opts.keyspace_options.insert(
        "sessions".into(),
        KeyspaceOptions {
            default_ttl: Some(Duration::from_secs(30)),
            compression: shaledb::Compression::None,
            bloom_bits_per_key: 0,
            ..KeyspaceOptions::from(&opts)
        },
    );
    let db = Db::open("/db", opts.clone()).unwrap();
    let counters = db.keyspace("counters").unwrap();
    let sessions = db.keyspace("sessions").unwrap();
    counters.merge("hits", "5").unwrap();
    counters.merge("hits", "-2").unwrap();
    assert_eq!(counters.get("hits").unwrap().as_deref(), Some(&b"3"[..]));
    assert!(
        matches!(db.merge("hits", "1"), Err(Error::InvalidArgument(_))),
        "the default keyspace has no merge operator"
    );
    sessions.put("sid", "alice").unwrap();
    db.put("sid", "forever").unwrap();
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        sessions.get("sid").unwrap(),
        None,
        "expired by its default TTL"
    );
    assert_eq!(db.get("sid").unwrap().as_deref(), Some(&b"forever"[..]));

    // Options set when opening a keyspace apply from then on.
    let logs = db
        .keyspace_with_options(
            "logs",
            KeyspaceOptions {
                merge_operator: Some(Arc::new(StringAppend {
                    separator: b"\n".to_vec(),
                })),
                ..KeyspaceOptions::default()
            },
        )
        .unwrap();
    logs.merge("today", "a").unwrap();
    logs.merge("today", "b").unwrap();
    assert_eq!(logs.get("today").unwrap().as_deref(), Some(&b"a\nb"[..]));
    assert!(
        db.keyspace_with_options(
            "bad",
            KeyspaceOptions {
                write_buffer_size: 10,
                ..KeyspaceOptions::default()
            }
        )
        .is_err()
    );
    assert!(!db.list_keyspaces().contains(&"bad".to_string()));

    // After a reopen, the options from Options::keyspace_options apply again.
    drop((counters, sessions, logs));
    drop(db);
    let db = Db::open("/db", opts).unwrap();
    let counters = db.keyspace("counters").unwrap();
    counters.merge("hits", "10").unwrap();
    counters.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(counters.get("hits").unwrap().as_deref(), Some(&b"13"[..]));
}

#[test]
fn transactions_snapshots_and_cas_span_keyspaces() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let accounts = db.keyspace("accounts").unwrap();
    let audit = db.keyspace("audit").unwrap();
    accounts.put("alice", "100").unwrap();
    accounts.put("k", "accounts").unwrap();
    db.put("k", "default").unwrap();

    let snap = db.snapshot();
    let mut tx = db.transaction();
    assert_eq!(
        tx.get_in(&accounts, "alice").unwrap().as_deref(),
        Some(&b"100"[..])
    );
    tx.put_in(&accounts, "alice", "70").unwrap();
    tx.put_in(&audit, "1", "alice -30").unwrap();
    assert_eq!(
        tx.range_in(&accounts, "a".."b").unwrap(),
        vec![("alice".into(), "70".into())],
        "reads its own writes in that keyspace"
    );
    assert_eq!(tx.get("alice").unwrap(), None, "default keyspace untouched");
    tx.commit().unwrap();
    assert_eq!(accounts.get("alice").unwrap().as_deref(), Some(&b"70"[..]));
    assert_eq!(audit.get("1").unwrap().as_deref(), Some(&b"alice -30"[..]));
    assert_eq!(
        snap.get_in(&accounts, "alice").unwrap().as_deref(),
        Some(&b"100"[..])
    );
    assert_eq!(snap.iter_in(&audit).count(), 0);
    assert_eq!(snap.get("k").unwrap().as_deref(), Some(&b"default"[..]));

    // A write to the same key name in another keyspace is no conflict; in the read
    // keyspace it is.
    let mut tx = db.transaction();
    tx.get_in(&accounts, "k").unwrap();
    tx.put_in(&audit, "2", "x").unwrap();
    db.put("k", "changed").unwrap();
    tx.commit().unwrap();
    let mut tx = db.transaction();
    tx.get_in(&accounts, "k").unwrap();
    tx.put_in(&audit, "3", "x").unwrap();
    accounts.put("k", "changed").unwrap();
    assert!(matches!(tx.commit(), Err(Error::Conflict(_))));
    assert_eq!(audit.get("3").unwrap(), None);

    assert!(
        accounts
            .compare_and_swap("k", Some(b"changed"), Some(b"cas"))
            .unwrap()
            .is_ok()
    );
    let miss = accounts.compare_and_swap("k", None, Some(b"x")).unwrap();
    assert_eq!(miss.unwrap_err().current.as_deref(), Some(&b"cas"[..]));
}

#[test]
fn checkpoints_hold_every_keyspace() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let a = db.keyspace("a").unwrap();
    for i in 0..1_500u64 {
        let (k, v) = common::kv(i, 5);
        a.put(&k, &v).unwrap();
        db.put(&k, b"d").unwrap();
    }
    a.flush().unwrap();
    a.put("in-memtable", "yes").unwrap();
    let snap = db.snapshot();
    db.checkpoint("/cp").unwrap();
    a.put("after", "no").unwrap();

    let cp = Db::open("/cp", common::tiny_lsm_options(&fs)).unwrap();
    assert_eq!(cp.list_keyspaces(), ["a", "default"]);
    let cpa = cp.keyspace("a").unwrap();
    assert_eq!(
        common::collect(cpa.iter()),
        common::collect(snap.iter_in(&a))
    );
    assert_eq!(common::collect(cp.iter()), common::collect(snap.iter()));
    assert_eq!(cpa.get("after").unwrap(), None);
}

/// Writers on several keyspaces race with keyspaces being created and dropped.
#[test]
fn concurrent_writes_creates_and_drops() {
    let fs = MemFs::new();
    let db = common::open_tiny(&fs);
    let stable = db.keyspace("stable").unwrap();
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let stable = stable.clone();
            let db = db.clone();
            s.spawn(move || {
                for i in 0..1_500u64 {
                    let key = format!("t{t}-{i:05}");
                    stable.put(&key, "v").unwrap();
                    db.put(&key, "d").unwrap();
                }
            });
        }
        let db = db.clone();
        s.spawn(move || {
            for round in 0..20 {
                let name = format!("churn{}", round % 3);
                let ks = db.keyspace(&name).unwrap();
                for i in 0..50 {
                    // A concurrent drop may win: then the write is refused cleanly.
                    match ks.put(format!("k{i}"), "x") {
                        Ok(()) | Err(Error::InvalidArgument(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                if round % 2 == 1 {
                    db.drop_keyspace(&name).unwrap();
                }
            }
        });
    });
    assert_eq!(stable.iter().count(), 4_500);
    assert_eq!(db.iter().count(), 4_500);
    drop(stable);
    drop(db);
    let db = common::open_tiny(&fs);
    assert_eq!(db.keyspace("stable").unwrap().iter().count(), 4_500);
}
