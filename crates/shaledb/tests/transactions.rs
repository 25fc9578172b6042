//! Optimistic transactions and compare-and-swap.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use shaledb::{Db, Error, MemFs, Options, WriteOptions};

fn mem_db() -> (MemFs, Db) {
    let fs = MemFs::new();
    let db = Db::open("/db", Options::with_fs(Arc::new(fs.clone()))).unwrap();
    (fs, db)
}

fn b(s: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn reads_its_own_writes_and_commits_atomically() {
    let (_fs, db) = mem_db();
    db.put("a", "1").unwrap();
    db.put("c", "3").unwrap();
    let mut tx = db.transaction();
    assert_eq!(tx.get("a").unwrap(), b("1"));
    tx.put("a", "10").unwrap();
    tx.put("b", "20").unwrap();
    tx.delete("c").unwrap();
    assert_eq!(tx.get("a").unwrap(), b("10"));
    assert_eq!(tx.get("c").unwrap(), None);
    let seen: Vec<_> = tx.range::<&str, _>(..).unwrap().into_iter().collect();
    assert_eq!(
        seen,
        vec![
            (Bytes::from("a"), Bytes::from("10")),
            (Bytes::from("b"), Bytes::from("20"))
        ]
    );
    // Nothing is visible outside before commit.
    assert_eq!(db.get("a").unwrap(), b("1"));
    assert_eq!(db.get("b").unwrap(), None);
    tx.commit().unwrap();
    assert_eq!(db.get("a").unwrap(), b("10"));
    assert_eq!(db.get("b").unwrap(), b("20"));
    assert_eq!(db.get("c").unwrap(), None);
}

#[test]
fn a_changed_read_is_a_conflict_and_writes_nothing() {
    let (_fs, db) = mem_db();
    db.put("k", "1").unwrap();
    let mut tx = db.transaction();
    assert_eq!(tx.get_for_update("k").unwrap(), b("1"));
    tx.put("other", "x").unwrap();
    db.put("k", "2").unwrap(); // someone else
    match tx.commit() {
        Err(Error::Conflict(msg)) => assert!(msg.contains("\"k\""), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        db.get("other").unwrap(),
        None,
        "a conflicting transaction writes nothing"
    );
    assert_eq!(db.get("k").unwrap(), b("2"));
    // Conflicts do not poison the database.
    db.put("after", "ok").unwrap();
}

#[test]
fn blind_write_conflicts_too_unrelated_writes_do_not() {
    let (_fs, db) = mem_db();
    let mut tx = db.transaction();
    tx.put("k", "mine").unwrap();
    db.put("k", "theirs").unwrap();
    assert!(matches!(tx.commit(), Err(Error::Conflict(_))));

    let mut tx = db.transaction();
    assert_eq!(tx.get("k").unwrap(), b("theirs"));
    tx.put("k", "mine").unwrap();
    db.put("unrelated", "x").unwrap();
    tx.commit().unwrap();
    assert_eq!(db.get("k").unwrap(), b("mine"));
}

#[test]
fn range_reads_see_phantoms_as_conflicts() {
    let (_fs, db) = mem_db();
    db.put("user:1", "a").unwrap();
    let mut tx = db.transaction();
    assert_eq!(tx.prefix("user:").unwrap().len(), 1);
    tx.put("count", "1").unwrap();
    db.put("user:2", "b").unwrap(); // a phantom in the range read
    assert!(matches!(tx.commit(), Err(Error::Conflict(_))));
    // A write outside the range is fine.
    let mut tx = db.transaction();
    assert_eq!(tx.prefix("user:").unwrap().len(), 2);
    tx.put("count", "2").unwrap();
    db.put("zzz", "c").unwrap();
    tx.commit().unwrap();
}

#[test]
fn read_only_and_rolled_back_transactions_change_nothing() {
    let (_fs, db) = mem_db();
    db.put("k", "1").unwrap();
    let mut tx = db.transaction();
    tx.get("k").unwrap();
    db.put("k", "2").unwrap();
    tx.commit().unwrap(); // read one consistent snapshot: always serializable
    let mut tx = db.transaction();
    tx.put("k", "3").unwrap();
    tx.rollback();
    assert_eq!(db.get("k").unwrap(), b("2"));
    let mut tx = db.transaction();
    assert!(matches!(
        tx.put(vec![0u8; shaledb::MAX_KEY_SIZE + 1], "v"),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn compare_and_swap_semantics() {
    let (_fs, db) = mem_db();
    assert_eq!(db.compare_and_swap("k", None, Some(b"1")).unwrap(), Ok(()));
    let miss = db
        .compare_and_swap("k", None, Some(b"2"))
        .unwrap()
        .unwrap_err();
    assert_eq!(miss.current, b("1"));
    assert_eq!(
        db.compare_and_swap("k", Some(b"1"), Some(b"2")).unwrap(),
        Ok(())
    );
    assert_eq!(db.get("k").unwrap(), b("2"));
    let miss = db
        .compare_and_swap("k", Some(b"1"), None)
        .unwrap()
        .unwrap_err();
    assert_eq!(miss.current, b("2"));
    assert_eq!(db.compare_and_swap("k", Some(b"2"), None).unwrap(), Ok(()));
    assert_eq!(db.get("k").unwrap(), None);
    let miss = db
        .compare_and_swap("k", Some(b"2"), None)
        .unwrap()
        .unwrap_err();
    assert_eq!(miss.current, None);
}

#[test]
fn compare_and_swap_is_atomic_under_contention() {
    let (_fs, db) = mem_db();
    db.put("counter", "0").unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let db = db.clone();
            s.spawn(move || {
                let mut done = 0;
                while done < 200 {
                    let cur = db.get("counter").unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&cur).unwrap().parse().unwrap();
                    let next = (n + 1).to_string();
                    if db
                        .compare_and_swap("counter", Some(&cur), Some(next.as_bytes()))
                        .unwrap()
                        .is_ok()
                    {
                        done += 1;
                    }
                }
            });
        }
    });
    assert_eq!(db.get("counter").unwrap(), b("800"), "no lost increments");
}

/// One committed transaction, as observed by the thread that ran it.
#[derive(Debug, Clone)]
struct Committed {
    /// Its position in commit order (the counter value it read).
    order: u64,
    reads: Vec<(String, Option<String>)>,
    writes: Vec<(String, Option<String>)>,
}

/// Serializability: threads run read-modify-write transactions over a few hot keys
/// with retries. Every transaction also increments a counter, so committed
/// transactions are totally ordered by the value they read; replaying them in that
/// order, each one's reads must equal the state at its position.
#[test]
fn committed_transactions_are_serializable() {
    let fs = MemFs::new();
    let db = Db::open("/db", common::tiny_lsm_options(&fs)).unwrap();
    let log: Arc<Mutex<Vec<Committed>>> = Arc::new(Mutex::new(vec![]));
    let conflicts = Arc::new(Mutex::new(0u64));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (db, log, conflicts) = (db.clone(), Arc::clone(&log), Arc::clone(&conflicts));
            s.spawn(move || {
                let mut x = t.wrapping_mul(0x9E37_79B9) | 1;
                let mut rnd = move |n: u64| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % n
                };
                let mut committed = 0;
                while committed < 60 {
                    let mut tx = db.transaction();
                    let order = tx
                        .get_for_update("counter")
                        .unwrap()
                        .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap());
                    let mut reads = vec![];
                    let mut writes = vec![];
                    for _ in 0..2 {
                        let k = format!("hot{}", rnd(5));
                        let v = tx
                            .get(&k)
                            .unwrap()
                            .map(|v| String::from_utf8(v.to_vec()).unwrap());
                        reads.push((k.clone(), v));
                        let new = if rnd(4) == 0 {
                            None
                        } else {
                            Some(format!("t{t}-{committed}-{}", rnd(1000)))
                        };
                        match &new {
                            Some(v) => tx.put(&k, v).unwrap(),
                            None => tx.delete(&k).unwrap(),
                        }
                        writes.push((k, new));
                    }
                    tx.put("counter", (order + 1).to_string()).unwrap();
                    match tx.commit() {
                        Ok(()) => {
                            committed += 1;
                            log.lock().unwrap().push(Committed {
                                order,
                                reads,
                                writes,
                            });
                        }
                        Err(Error::Conflict(_)) => *conflicts.lock().unwrap() += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
    });
    let mut log = log.lock().unwrap().clone();
    log.sort_by_key(|c| c.order);
    assert_eq!(log.len(), 240);
    let mut state: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (i, c) in log.iter().enumerate() {
        assert_eq!(
            c.order, i as u64,
            "commit order is a total order without gaps"
        );
        let mut local = state.clone();
        for ((k, read), (wk, write)) in c.reads.iter().zip(&c.writes) {
            // A transaction reads its own earlier writes, the committed state otherwise.
            assert_eq!(
                &local.get(k).cloned().flatten(),
                read,
                "transaction {i} read {k}"
            );
            local.insert(wk.clone(), write.clone());
        }
        state = local;
    }
    for (k, v) in &state {
        assert_eq!(
            db.get(k)
                .unwrap()
                .map(|b| String::from_utf8(b.to_vec()).unwrap()),
            *v
        );
    }
    assert!(
        *conflicts.lock().unwrap() > 0,
        "contention produced conflicts that were retried"
    );
}

#[test]
fn committed_synced_transactions_survive_power_loss() {
    let (fs, db) = mem_db();
    let mut tx = db.transaction();
    tx.put("a", "1").unwrap();
    tx.put("b", "2").unwrap();
    tx.commit_opt(&WriteOptions::synced()).unwrap();
    fs.crash();
    drop(db);
    let db = Db::open("/db", Options::with_fs(Arc::new(fs))).unwrap();
    assert_eq!(
        (db.get("a").unwrap(), db.get("b").unwrap()),
        (b("1"), b("2"))
    );
}

#[test]
fn expiring_puts_in_a_transaction_expire_after_commit() {
    let (_fs, db) = mem_db();
    let ks = db.keyspace("sessions").unwrap();
    let mut tx = db.transaction();
    let future = db
        .expiry_after(std::time::Duration::from_secs(3600))
        .unwrap();
    tx.put_with_expiry_in(&ks, "live", "1", future).unwrap();
    tx.put_with_expiry_in(&ks, "gone", "2", 1).unwrap();
    assert_eq!(
        tx.get_in(&ks, "gone").unwrap(),
        b("2"),
        "own writes read unexpired"
    );
    tx.commit().unwrap();
    assert_eq!(ks.get("live").unwrap(), b("1"));
    assert_eq!(ks.get("gone").unwrap(), None, "expired at commit");
}
