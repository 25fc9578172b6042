//! Model-based test: random operation sequences against a `BTreeMap`, with clean
//! reopens and simulated power loss (`MemFs::crash`) in the sequence.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests inspect real directories directly

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use proptest::prelude::*;
use shaledb::{Db, MemFs, Options, Snapshot, WriteBatch, WriteOptions};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u8, bool),
    Delete(u8, bool),
    Batch(Vec<(u8, Option<u8>)>, bool),
    Get(u8),
    Scan(Option<u8>, Option<u8>, bool),
    Prefix(u8, bool),
    TakeSnapshot,
    CheckSnapshot(usize),
    SyncWal,
    Flush,
    CompactRange(Option<u8>, Option<u8>),
    /// Int64Add merge on counter key `c{n}` (only counters see merges).
    Merge(u8, i8),
    PutCounter(u8, i16),
    Reopen,
    Crash,
}

fn key(k: u8) -> Vec<u8> {
    // Small key space so keys are overwritten often; includes the empty key and keys
    // that are prefixes of others.
    match k {
        0 => vec![],
        k if k < 10 => format!("k{k}").into_bytes(),
        k => format!("k{}{}", k / 10, k % 10).into_bytes(),
    }
}

fn value(v: u8) -> Vec<u8> {
    // Sizes from empty to a few hundred bytes.
    vec![v; usize::from(v) * 3 % 301]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..30;
    prop_oneof![
        8 => (k.clone(), any::<u8>(), prop::bool::weighted(0.2)).prop_map(|(k, v, s)| Op::Put(k, v, s)),
        3 => (k.clone(), prop::bool::weighted(0.2)).prop_map(|(k, s)| Op::Delete(k, s)),
        2 => (prop::collection::vec((k.clone(), prop::option::of(any::<u8>())), 0..6), any::<bool>())
            .prop_map(|(ops, s)| Op::Batch(ops, s)),
        4 => k.clone().prop_map(Op::Get),
        3 => (prop::option::of(k.clone()), prop::option::of(k.clone()), any::<bool>())
            .prop_map(|(a, b, r)| Op::Scan(a, b, r)),
        1 => (1u8..4, any::<bool>()).prop_map(|(p, r)| Op::Prefix(p, r)),
        1 => Just(Op::TakeSnapshot),
        2 => (0usize..4).prop_map(Op::CheckSnapshot),
        1 => Just(Op::SyncWal),
        1 => Just(Op::Flush),
        3 => (0u8..4, any::<i8>()).prop_map(|(c, d)| Op::Merge(c, d)),
        1 => (0u8..4, any::<i16>()).prop_map(|(c, n)| Op::PutCounter(c, n)),
        1 => (prop::option::of(k.clone()), prop::option::of(k.clone())).prop_map(|(a, b)| Op::CompactRange(a, b)),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

fn open(fs: &MemFs) -> Db {
    // Tiny buffers and files: sequences of a few dozen writes flush and compact.
    let opts = Options {
        write_buffer_size: 4096,
        max_write_buffer_number: 3,
        l0_compaction_trigger: 2,
        l0_slowdown_writes_trigger: 6,
        l0_stop_writes_trigger: 10,
        target_file_size: 2048,
        max_bytes_for_level_base: 4096,
        level_size_multiplier: 3,
        num_levels: 4,
        block_size: 256,
        background_threads: 2,
        merge_operator: Some(Arc::new(shaledb::Int64Add)),
        ..Options::with_fs(Arc::new(fs.clone()))
    };
    Db::open("/db", opts).unwrap()
}

fn contents(it: shaledb::DbIterator, rev: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let collect = |r: shaledb::Result<(bytes::Bytes, bytes::Bytes)>| {
        let (k, v) = r.unwrap();
        (k.to_vec(), v.to_vec())
    };
    if rev {
        it.rev().map(collect).collect()
    } else {
        it.map(collect).collect()
    }
}

fn model_range(
    m: &Model,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    rev: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    // Filter rather than BTreeMap::range, which panics on inverted bounds.
    let v: Vec<_> = m
        .iter()
        .filter(|(k, _)| (lo.as_ref(), hi.as_ref()).contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if rev {
        v.into_iter().rev().collect()
    } else {
        v
    }
}

fn run(ops: Vec<Op>) {
    let fs = MemFs::new();
    let mut db = open(&fs);
    let mut model = Model::new();
    // Every state since the last point where everything was synced: after a power loss
    // the database must hold one of them (exactly the first, with MemFs's harsh crash).
    let mut since_sync: Vec<Model> = vec![model.clone()];
    let mut snapshots: Vec<(Snapshot, Model)> = vec![];

    for op in ops {
        let synced_write = matches!(
            op,
            Op::Put(_, _, true) | Op::Delete(_, true) | Op::Batch(_, true)
        );
        match op {
            Op::Put(k, v, sync) => {
                db.put_opt(key(k), value(v), &WriteOptions { sync })
                    .unwrap();
                model.insert(key(k), value(v));
            }
            Op::Delete(k, sync) => {
                db.delete_opt(key(k), &WriteOptions { sync }).unwrap();
                model.remove(&key(k));
            }
            Op::Batch(ops, sync) => {
                let mut b = WriteBatch::new();
                for (k, v) in ops {
                    match v {
                        Some(v) => {
                            b.put(key(k), value(v));
                            model.insert(key(k), value(v));
                        }
                        None => {
                            b.delete(key(k));
                            model.remove(&key(k));
                        }
                    }
                }
                db.write(b, &WriteOptions { sync }).unwrap();
            }
            Op::Get(k) => {
                assert_eq!(
                    db.get(key(k)).unwrap().map(|b| b.to_vec()),
                    model.get(&key(k)).cloned()
                );
            }
            Op::Scan(a, b, rev) => {
                let lo = a.map_or(Bound::Unbounded, |a| Bound::Included(key(a)));
                let hi = b.map_or(Bound::Unbounded, |b| Bound::Excluded(key(b)));
                let got = contents(db.range::<Vec<u8>, _>((lo.clone(), hi.clone())), rev);
                assert_eq!(got, model_range(&model, lo, hi, rev));
            }
            Op::Prefix(p, rev) => {
                let p = format!("k{p}").into_bytes();
                let got = contents(db.prefix(&p), rev);
                let mut want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if rev {
                    want.reverse();
                }
                assert_eq!(got, want);
            }
            Op::TakeSnapshot => {
                snapshots.push((db.snapshot(), model.clone()));
                if snapshots.len() > 4 {
                    snapshots.remove(0);
                }
            }
            Op::CheckSnapshot(i) => {
                if let Some((snap, frozen)) = snapshots.get(i % snapshots.len().max(1)) {
                    let all: Vec<_> = frozen.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    assert_eq!(contents(snap.iter(), false), all);
                    for k in 0..30 {
                        assert_eq!(
                            snap.get(key(k)).unwrap().map(|b| b.to_vec()),
                            frozen.get(&key(k)).cloned()
                        );
                    }
                }
            }
            Op::SyncWal => {
                db.sync_wal().unwrap();
                since_sync = vec![];
            }
            Op::Flush => db.flush().unwrap(),
            Op::Merge(c, d) => {
                let k = format!("c{c}").into_bytes();
                db.merge(&k, d.to_string()).unwrap();
                let cur: i64 = model
                    .get(&k)
                    .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                model.insert(k, (cur + i64::from(d)).to_string().into_bytes());
            }
            Op::PutCounter(c, n) => {
                let k = format!("c{c}").into_bytes();
                db.put(&k, n.to_string()).unwrap();
                model.insert(k, n.to_string().into_bytes());
            }
            Op::CompactRange(a, b) => {
                let lo = a.map_or(Bound::Unbounded, |a| Bound::Included(key(a)));
                let hi = b.map_or(Bound::Unbounded, |b| Bound::Included(key(b)));
                db.compact_range::<Vec<u8>, _>((lo, hi)).unwrap();
            }
            Op::Reopen => {
                snapshots.clear();
                drop(db);
                db = open(&fs);
                let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                assert_eq!(
                    contents(db.iter(), false),
                    all,
                    "clean reopen keeps every write"
                );
            }
            Op::Crash => {
                snapshots.clear();
                fs.crash();
                drop(db);
                db = open(&fs);
                let got: Model = contents(db.iter(), false).into_iter().collect();
                assert!(
                    since_sync.contains(&got),
                    "after power loss the store must hold a state at or after the last sync\n got: {got:?}\n candidates: {}",
                    since_sync.len()
                );
                model = got;
                since_sync = vec![];
            }
        }
        if synced_write {
            since_sync = vec![];
        }
        since_sync.push(model.clone());
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        // Deterministic: the same sequences on every run and machine.
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AA1E),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        run(ops);
    }
}
