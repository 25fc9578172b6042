//! The `db_model` fuzz target's runner, shared (`#[path]` include) by
//! `fuzz_targets/db_model.rs` and the stable corpus replay test
//! `crates/shaledb/tests/fuzz_model.rs`, and by the proptest model test
//! `crates/shaledb/tests/model.rs`, which generates `Op` sequences directly. Uses only `shaledb`'s public API (plus
//! `shale_fs::CrashPolicy`, which `shaledb` does not re-export).
//!
//! The input bytes are decoded into at most [`MAX_OPS`] operations by [`decode`] (a
//! small hand-written decoder rather than `#[derive(Arbitrary)]`: the replay test in
//! the normal suite must decode the corpus exactly like the fuzzer without adding the
//! `arbitrary` crate to `shaledb`'s dev-dependencies, and a hand-written format does
//! not change meaning when `arbitrary` changes version). Each op is run against a
//! `Db` on a `MemFs` and against a `BTreeMap` model, with the crash semantics of
//! `crates/shaledb/tests/model.rs`: after a power loss the database must hold one of
//! the states since the last sync point (a synced write, `sync_wal`, `flush`,
//! `compact_range`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use shale_fs::CrashPolicy;
use shaledb::{Db, DbIterator, MemFs, Options, Snapshot, WriteBatch, WriteOptions};

/// Most operations one input runs (keeps one run well under 100 ms).
pub const MAX_OPS: usize = 48;

/// Most clean reopens and crashes one input runs (each costs an open).
pub const MAX_REOPENS: usize = 6;

/// Number of distinct keys.
const KEYS: u8 = 30;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Put key → value, synced or not.
    Put(u8, u8, bool),
    /// Delete key, synced or not.
    Delete(u8, bool),
    /// An atomic batch of puts (`Some(value)`) and deletes (`None`), synced or not.
    Batch(Vec<(u8, Option<u8>)>, bool),
    /// Point read, checked against the model.
    Get(u8),
    /// Range scan `[lo, hi)` (unbounded where `None`), forward or reverse.
    Scan(Option<u8>, Option<u8>, bool),
    /// Prefix scan of `k<digit>`, forward or reverse.
    Prefix(u8, bool),
    /// Takes a snapshot (at most 4 are kept).
    TakeSnapshot,
    /// Checks a kept snapshot against the model state it was taken at.
    CheckSnapshot(u8),
    /// `sync_wal`: a sync point.
    SyncWal,
    /// `flush`: a sync point.
    Flush,
    /// `compact_range` over `[lo, hi]`: a sync point.
    CompactRange(Option<u8>, Option<u8>),
    /// Clean close and reopen: every write survives.
    Reopen,
    /// Power loss with a crash policy (0..3) and seed, then reopen.
    Crash(u8, u64),
    /// `Int64Add` merge of a delta into counter key `c<n>` (n in 0..4).
    Merge(u8, i8),
    /// Plain put of a number to counter key `c<n>` (a base for later merges).
    PutCounter(u8, i16),
}

/// Reads bytes from the input; `None` once it is used up.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    /// A byte, 0 once the input is used up (so a cut-off op still decodes).
    fn b(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    fn key(&mut self) -> u8 {
        self.b() % KEYS
    }

    fn flag(&mut self) -> bool {
        self.b() & 1 == 1
    }

    fn opt_key(&mut self) -> Option<u8> {
        let b = self.b();
        (b < 0xc0).then_some(b % KEYS)
    }
}

/// Decodes up to [`MAX_OPS`] operations: one tag byte each, then its arguments.
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut input = Input { data };
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS {
        let Some(tag) = input.byte() else { break };
        let i = &mut input;
        let op = match tag % 22 {
            0..=4 => Op::Put(i.key(), i.b(), i.b() < 0x30),
            5 | 6 => Op::Delete(i.key(), i.b() < 0x30),
            7 => {
                let n = i.b() % 6;
                let writes = (0..n)
                    .map(|_| {
                        let k = i.key();
                        let v = i.b();
                        (k, (v < 0xd0).then_some(v))
                    })
                    .collect();
                Op::Batch(writes, i.b() < 0x30)
            }
            8 | 9 => Op::Get(i.key()),
            10 | 11 => Op::Scan(i.opt_key(), i.opt_key(), i.flag()),
            12 => Op::Prefix(1 + i.b() % 3, i.flag()),
            13 => Op::TakeSnapshot,
            14 => Op::CheckSnapshot(i.b()),
            15 => Op::SyncWal,
            16 => Op::Flush,
            17 => Op::CompactRange(i.opt_key(), i.opt_key()),
            18 => Op::Reopen,
            19 => {
                let policy = i.b() % 3;
                let seed = u64::from_le_bytes([i.b(), i.b(), 0, 0, 0, 0, 0, 0]);
                Op::Crash(policy, seed)
            }
            20 => Op::Merge(i.b() % 4, i.b() as i8),
            _ => Op::PutCounter(i.b() % 4, i16::from_le_bytes([i.b(), i.b()])),
        };
        ops.push(op);
    }
    ops
}

/// Encodes `ops` so that [`decode`] gives them back (for writing seed inputs).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    let sync = |s: bool| if s { 0 } else { 0xff };
    let opt = |k: Option<u8>| k.unwrap_or(0xff);
    for op in ops {
        match op {
            Op::Put(k, v, s) => out.extend([0, *k, *v, sync(*s)]),
            Op::Delete(k, s) => out.extend([5, *k, sync(*s)]),
            Op::Batch(writes, s) => {
                out.extend([7, writes.len() as u8]);
                for (k, v) in writes {
                    out.extend([*k, v.unwrap_or(0xff)]);
                }
                out.push(sync(*s));
            }
            Op::Get(k) => out.extend([8, *k]),
            Op::Scan(a, b, r) => out.extend([10, opt(*a), opt(*b), u8::from(*r)]),
            Op::Prefix(p, r) => out.extend([12, p - 1, u8::from(*r)]),
            Op::TakeSnapshot => out.push(13),
            Op::CheckSnapshot(i) => out.extend([14, *i]),
            Op::SyncWal => out.push(15),
            Op::Flush => out.push(16),
            Op::CompactRange(a, b) => out.extend([17, opt(*a), opt(*b)]),
            Op::Reopen => out.push(18),
            Op::Crash(p, seed) => {
                let s = seed.to_le_bytes();
                out.extend([19, *p, s[0], s[1]]);
            }
            Op::Merge(c, d) => out.extend([20, *c, *d as u8]),
            Op::PutCounter(c, n) => {
                let n = n.to_le_bytes();
                out.extend([21, *c, n[0], n[1]]);
            }
        }
    }
    out
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

fn open(fs: &MemFs) -> Db {
    // Tiny buffers and files: a few dozen writes flush and compact.
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
        background_threads: 1,
        max_manifest_size: 1024,
        merge_operator: Some(Arc::new(shaledb::Int64Add)),
        ..Options::with_fs(Arc::new(fs.clone()))
    };
    match Db::open("/db", opts) {
        Ok(db) => db,
        Err(e) => panic!("Db::open failed: {e}"),
    }
}

fn contents(it: DbIterator, rev: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let collect = |r: shaledb::Result<(shaledb::Bytes, shaledb::Bytes)>| match r {
        Ok((k, v)) => (k.to_vec(), v.to_vec()),
        Err(e) => panic!("iterator error: {e}"),
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

fn ok<T>(r: shaledb::Result<T>, what: &str) -> T {
    match r {
        Ok(t) => t,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

fn get(read: shaledb::Result<Option<shaledb::Bytes>>) -> Option<Vec<u8>> {
    ok(read, "get").map(|b| b.to_vec())
}

/// The number a counter's model value holds (the model only ever stores numbers there).
fn counter(v: &[u8]) -> i64 {
    match std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()) {
        Some(n) => n,
        None => panic!("counter model value {v:?} is not a number"),
    }
}

/// Decodes `data` and runs it; panics on any divergence from the model.
pub fn run_bytes(data: &[u8]) {
    run(&decode(data));
}

/// Runs `ops` against a `Db` on a fresh `MemFs` and a `BTreeMap` model.
pub fn run(ops: &[Op]) {
    let fs = MemFs::new();
    let mut db = open(&fs);
    let mut model = Model::new();
    // Every state since the last sync point: after a power loss the database must hold
    // one of them.
    let mut since_sync: Vec<Model> = vec![model.clone()];
    let mut snapshots: Vec<(Snapshot, Model)> = vec![];
    let mut reopens = 0;

    for op in ops {
        let mut sync_point = matches!(
            op,
            Op::Put(_, _, true)
                | Op::Delete(_, true)
                | Op::Batch(_, true)
                | Op::SyncWal
                | Op::Flush
                | Op::CompactRange(..)
        );
        match op {
            Op::Put(k, v, sync) => {
                ok(
                    db.put_opt(key(*k), value(*v), &WriteOptions { sync: *sync }),
                    "put",
                );
                model.insert(key(*k), value(*v));
            }
            Op::Delete(k, sync) => {
                ok(
                    db.delete_opt(key(*k), &WriteOptions { sync: *sync }),
                    "delete",
                );
                model.remove(&key(*k));
            }
            Op::Batch(writes, sync) => {
                let mut b = WriteBatch::new();
                for (k, v) in writes {
                    match v {
                        Some(v) => {
                            b.put(key(*k), value(*v));
                            model.insert(key(*k), value(*v));
                        }
                        None => {
                            b.delete(key(*k));
                            model.remove(&key(*k));
                        }
                    }
                }
                ok(db.write(b, &WriteOptions { sync: *sync }), "write batch");
            }
            Op::Get(k) => {
                assert_eq!(
                    get(db.get(key(*k))),
                    model.get(&key(*k)).cloned(),
                    "get {k}"
                );
            }
            Op::Scan(a, b, rev) => {
                let lo = a.map_or(Bound::Unbounded, |a| Bound::Included(key(a)));
                let hi = b.map_or(Bound::Unbounded, |b| Bound::Excluded(key(b)));
                let got = contents(db.range::<Vec<u8>, _>((lo.clone(), hi.clone())), *rev);
                assert_eq!(got, model_range(&model, lo, hi, *rev), "{op:?}");
            }
            Op::Prefix(p, rev) => {
                let p = format!("k{p}").into_bytes();
                let got = contents(db.prefix(&p), *rev);
                let mut want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if *rev {
                    want.reverse();
                }
                assert_eq!(got, want, "{op:?}");
            }
            Op::TakeSnapshot => {
                snapshots.push((db.snapshot(), model.clone()));
                if snapshots.len() > 4 {
                    snapshots.remove(0);
                }
            }
            Op::CheckSnapshot(i) => {
                let n = snapshots.len().max(1);
                if let Some((snap, frozen)) = snapshots.get(usize::from(*i) % n) {
                    let all: Vec<_> = frozen.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    assert_eq!(contents(snap.iter(), false), all, "snapshot scan");
                    for k in 0..KEYS {
                        assert_eq!(
                            get(snap.get(key(k))),
                            frozen.get(&key(k)).cloned(),
                            "snapshot get {k}"
                        );
                    }
                }
            }
            Op::SyncWal => ok(db.sync_wal(), "sync_wal"),
            Op::Flush => ok(db.flush(), "flush"),
            Op::CompactRange(a, b) => {
                let lo = a.map_or(Bound::Unbounded, |a| Bound::Included(key(a)));
                let hi = b.map_or(Bound::Unbounded, |b| Bound::Included(key(b)));
                ok(db.compact_range::<Vec<u8>, _>((lo, hi)), "compact_range");
            }
            Op::Reopen => {
                if reopens >= MAX_REOPENS {
                    continue;
                }
                reopens += 1;
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
            Op::Merge(c, d) => {
                let k = format!("c{c}").into_bytes();
                ok(db.merge(&k, d.to_string()), "merge");
                let cur: i64 = model.get(&k).map_or(0, |v| counter(v));
                model.insert(k, (cur + i64::from(*d)).to_string().into_bytes());
            }
            Op::PutCounter(c, n) => {
                let k = format!("c{c}").into_bytes();
                ok(db.put(&k, n.to_string()), "put counter");
                model.insert(k, n.to_string().into_bytes());
            }
            Op::Crash(policy, seed) => {
                if reopens >= MAX_REOPENS {
                    continue;
                }
                reopens += 1;
                snapshots.clear();
                let policy = match policy {
                    0 => CrashPolicy::DropAllUnsynced,
                    1 => CrashPolicy::KeepRandomPrefix,
                    _ => CrashPolicy::RandomPages,
                };
                fs.crash_with(policy, *seed);
                drop(db);
                db = open(&fs);
                let got: Model = contents(db.iter(), false).into_iter().collect();
                assert!(
                    since_sync.contains(&got),
                    "after power loss ({policy:?}, seed {seed}) the store must hold a state at or \
                     after the last sync point\n got: {got:?}\n candidates: {}",
                    since_sync.len()
                );
                model = got;
                sync_point = true;
            }
        }
        if sync_point {
            since_sync.clear();
        }
        since_sync.push(model.clone());
    }
}
