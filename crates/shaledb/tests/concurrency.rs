//! Concurrent writers, readers, snapshots and iterators, with a final consistency check.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests inspect real directories directly

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod common;

use shaledb::{Db, MemFs, Options, WriteBatch, WriteOptions};

const WRITERS: usize = 4;
const PER_WRITER: u64 = 1500;

fn counter_key(t: usize) -> String {
    format!("counter-{t}")
}

fn item_key(t: usize, i: u64) -> String {
    format!("item-{t}-{i:06}")
}

fn parse(v: &[u8]) -> u64 {
    std::str::from_utf8(v).unwrap().parse().unwrap()
}

#[test]
fn readers_see_consistent_prefixes_of_each_writer() {
    readers_see_consistent_prefixes(false);
}

/// The same with tiny memtables and files: flushes and compactions run constantly
/// under the readers, snapshots and iterators.
#[test]
fn readers_see_consistent_prefixes_while_compactions_run() {
    readers_see_consistent_prefixes(true);
}

fn readers_see_consistent_prefixes(tiny: bool) {
    let fs = MemFs::new();
    let opts = if tiny {
        common::tiny_lsm_options(&fs)
    } else {
        Options::with_fs(Arc::new(fs.clone()))
    };
    let db = Db::open("/db", opts.clone()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));

    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let db = db.clone();
            s.spawn(move || {
                for i in 1..=PER_WRITER {
                    // Each writer's item i is written before its counter says i; the
                    // counter and a tombstone for item i-100 share one atomic batch.
                    db.put(item_key(t, i), i.to_string()).unwrap();
                    let mut b = WriteBatch::new();
                    b.put(counter_key(t), i.to_string());
                    if i > 100 {
                        b.delete(item_key(t, i - 100));
                    }
                    db.write(b, &WriteOptions { sync: i % 50 == 0 }).unwrap();
                }
            });
        }
        for r in 0..2 {
            let db = db.clone();
            let stop = Arc::clone(&stop);
            s.spawn(move || {
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) || rounds < 3 {
                    rounds += 1;
                    let snap = db.snapshot();
                    for t in 0..WRITERS {
                        let Some(c) = snap.get(counter_key(t)).unwrap() else {
                            continue;
                        };
                        let n = parse(&c);
                        // Everything the writer did before the counter is visible ...
                        for i in n.saturating_sub(99).max(1)..=n {
                            let v = snap.get(item_key(t, i)).unwrap();
                            assert_eq!(
                                v.map(|v| parse(&v)),
                                Some(i),
                                "reader {r}: t{t} item {i} at counter {n}"
                            );
                        }
                        // ... and the batch that moved the counter also deleted its item.
                        if n > 100 {
                            assert_eq!(snap.get(item_key(t, n - 100)).unwrap(), None);
                        }
                        // A scan of the snapshot agrees with its point reads.
                        let prefix = format!("item-{t}-");
                        let mut prev: Option<bytes::Bytes> = None;
                        let mut count = 0u64;
                        for item in snap.prefix(&prefix) {
                            let (k, v) = item.unwrap();
                            assert!(prev.as_ref().is_none_or(|p| p < &k), "ascending");
                            assert_eq!(snap.get(&k).unwrap().as_ref(), Some(&v));
                            prev = Some(k);
                            count += 1;
                        }
                        // Items above the counter may be visible (written before it moved).
                        assert!(count >= n.min(100), "t{t}: {count} items at counter {n}");
                    }
                }
            });
        }
        // Writers finish; then let readers do their final rounds.
        s.spawn({
            let db = db.clone();
            let stop = Arc::clone(&stop);
            move || {
                while (0..WRITERS)
                    .any(|t| db.get(counter_key(t)).unwrap().map(|v| parse(&v)) != Some(PER_WRITER))
                {
                    std::thread::yield_now();
                }
                stop.store(true, Ordering::Relaxed);
            }
        });
    });

    // Final state: every writer's last 100 items, its counter, nothing else.
    let check = |db: &Db| {
        for t in 0..WRITERS {
            assert_eq!(
                db.get(counter_key(t)).unwrap().map(|v| parse(&v)),
                Some(PER_WRITER)
            );
            let items: Vec<_> = db
                .prefix(format!("item-{t}-"))
                .map(|r| parse(&r.unwrap().1))
                .collect();
            assert_eq!(items, ((PER_WRITER - 99)..=PER_WRITER).collect::<Vec<_>>());
        }
        assert_eq!(db.iter().count(), WRITERS * 101);
    };
    check(&db);
    let stats = db.stats();
    assert_eq!(stats.writes, (WRITERS as u64) * PER_WRITER * 2);
    assert!(stats.write_groups <= stats.writes);
    if tiny {
        assert!(
            stats.flushes > 10 && stats.levels.iter().skip(1).any(|l| l.files > 0),
            "{stats}"
        );
    }
    drop(db);
    check(&Db::open("/db", opts).unwrap());
}

#[test]
fn concurrent_synced_writers_all_survive_power_loss() {
    let fs = MemFs::new();
    let db = Db::open("/db", Options::with_fs(Arc::new(fs.clone()))).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..200 {
                    db.put_opt(format!("{t}/{i}"), "v", &WriteOptions::synced())
                        .unwrap();
                }
            });
        }
    });
    let stats = db.stats();
    assert_eq!(stats.writes, 1600);
    assert!(stats.wal_syncs >= 1 && stats.wal_syncs <= stats.write_groups);
    fs.crash();
    drop(db);
    let db = Db::open("/db", Options::with_fs(Arc::new(fs))).unwrap();
    assert_eq!(
        db.iter().count(),
        1600,
        "every acknowledged synced write survives"
    );
}

/// Commit groups of several writers insert their batches in parallel: every batch
/// (two keys in the default keyspace and one in another, one value) is seen whole
/// or not at all by snapshots taken meanwhile, and everything is there at the end.
/// Writers keep going, round after round, until the stats show that groups of
/// several writers were formed, so the parallel path is known to have run.
#[test]
fn parallel_memtable_inserts_keep_batches_atomic() {
    const THREADS: u64 = 6;
    const PER_ROUND: u64 = 400;
    let fs = MemFs::new();
    let opts = common::tiny_lsm_options(&fs);
    let db = Db::open("/db", opts.clone()).unwrap();
    let other = db.keyspace("other").unwrap();
    let mut rounds = 0u64;
    while rounds < 50 {
        rounds += 1;
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (db, other, round) = (db.clone(), other.clone(), rounds);
                s.spawn(move || {
                    for i in 0..PER_ROUND {
                        let v = format!("{round}:{i}");
                        let mut b = WriteBatch::new();
                        b.put(format!("a{t}"), &v).put(format!("b{t}"), &v);
                        b.put_in(other.id(), format!("c{t}"), &v);
                        db.write(b, &WriteOptions::default()).unwrap();
                    }
                });
            }
            let (reader, other, done) = (db.clone(), other.clone(), &done);
            s.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    // A transaction reads at its snapshot, in every keyspace.
                    let mut snap = reader.transaction();
                    for t in 0..THREADS {
                        let a = snap.get(format!("a{t}")).unwrap();
                        let b = snap.get(format!("b{t}")).unwrap();
                        let c = snap.get_in(&other, format!("c{t}")).unwrap();
                        assert_eq!(a, b, "t{t}: a and b of one batch");
                        assert_eq!(a, c, "t{t}: a and c (other keyspace) of one batch");
                    }
                }
            });
            // The reader stops once the writers are done.
            while (0..THREADS).any(|t| {
                db.get(format!("a{t}")).unwrap().as_deref()
                    != Some(format!("{rounds}:{}", PER_ROUND - 1).as_bytes())
            }) {
                std::thread::yield_now();
            }
            done.store(true, Ordering::Release);
        });
        let stats = db.stats();
        if stats.write_groups < stats.writes {
            break;
        }
    }
    let stats = db.stats();
    assert!(
        stats.write_groups < stats.writes,
        "no group of several writers in {rounds} rounds: {stats}"
    );
    assert_eq!(stats.writes, rounds * THREADS * PER_ROUND);
    let last = format!("{rounds}:{}", PER_ROUND - 1);
    let check = |db: &Db| {
        let other = db.keyspace("other").unwrap();
        for t in 0..THREADS {
            for k in [format!("a{t}"), format!("b{t}")] {
                assert_eq!(db.get(&k).unwrap().as_deref(), Some(last.as_bytes()));
            }
            let c = other.get(format!("c{t}")).unwrap();
            assert_eq!(c.as_deref(), Some(last.as_bytes()));
        }
    };
    check(&db);
    drop(other);
    drop(db);
    check(&Db::open("/db", opts).unwrap());
}
