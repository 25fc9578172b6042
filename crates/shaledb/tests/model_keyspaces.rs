//! Model-based test of the embedder features together: keyspaces (created, dropped and
//! re-created), range deletes (overlapping, under snapshots, across flushes and
//! compactions), TTL on a manual clock, merges and cross-keyspace batches, with clean
//! reopens and power losses anywhere in the sequence — against a model of maps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use shaledb::{
    Clock, Db, Int64Add, Keyspace, KeyspaceOptions, ManualClock, MemFs, Options, Snapshot,
    WriteBatch, WriteOptions,
};

/// The keyspace slots: 0 is `default`, 1 and 2 may be dropped and re-created.
const NAMES: [&str; 3] = ["default", "a", "b"];
const T0: u64 = 1_800_000_000_000;
const RANGE_DELETES: bool = true;

/// A stored value and its absolute expiry, if any.
type Entry = (Vec<u8>, Option<u64>);
/// One keyspace's contents.
type Map = BTreeMap<Vec<u8>, Entry>;
/// Contents by keyspace *incarnation* (a re-created keyspace is a new one).
type State = BTreeMap<u64, Map>;

#[derive(Debug, Clone)]
enum Op {
    Put(usize, u8, u8, bool),
    PutTtl(usize, u8, u8, u8),
    Delete(usize, u8),
    DeleteRange(usize, u8, u8),
    Merge(u8, i8),
    /// Writes to two keyspaces in one batch.
    Batch(Vec<(usize, u8, Option<u8>)>, bool),
    Get(usize, u8),
    Scan(usize, Option<u8>, Option<u8>, bool),
    Advance(u16),
    TakeSnapshot,
    CheckSnapshot(usize),
    Flush(usize),
    Compact(usize),
    Drop(usize),
    SyncWal,
    Reopen,
    Crash,
}

fn key(k: u8) -> Vec<u8> {
    format!("k{k:02}").into_bytes()
}

fn value(v: u8) -> Vec<u8> {
    vec![v; usize::from(v) * 7 % 200 + 1]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..24;
    let ks = 0usize..3;
    prop_oneof![
        8 => (ks.clone(), k.clone(), any::<u8>(), prop::bool::weighted(0.1)).prop_map(|(s, k, v, y)| Op::Put(s, k, v, y)),
        2 => (ks.clone(), k.clone(), any::<u8>(), 1u8..20).prop_map(|(s, k, v, t)| Op::PutTtl(s, k, v, t)),
        3 => (ks.clone(), k.clone()).prop_map(|(s, k)| Op::Delete(s, k)),
        2 => (ks.clone(), k.clone(), k.clone()).prop_map(|(s, a, b)| Op::DeleteRange(s, a, b)),
        2 => (0u8..3, any::<i8>()).prop_map(|(c, d)| Op::Merge(c, d)),
        2 => (prop::collection::vec((ks.clone(), k.clone(), prop::option::of(any::<u8>())), 1..5), any::<bool>())
            .prop_map(|(w, s)| Op::Batch(w, s)),
        4 => (ks.clone(), k.clone()).prop_map(|(s, k)| Op::Get(s, k)),
        3 => (ks.clone(), prop::option::of(k.clone()), prop::option::of(k.clone()), any::<bool>())
            .prop_map(|(s, a, b, r)| Op::Scan(s, a, b, r)),
        1 => (1u16..15_000).prop_map(Op::Advance),
        1 => Just(Op::TakeSnapshot),
        2 => (0usize..3).prop_map(Op::CheckSnapshot),
        1 => ks.clone().prop_map(Op::Flush),
        1 => ks.clone().prop_map(Op::Compact),
        1 => (1usize..3).prop_map(Op::Drop),
        1 => Just(Op::SyncWal),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

fn open(fs: &MemFs, clock: &Arc<ManualClock>) -> Db {
    let mut opts = Options {
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
        max_manifest_size: 2048,
        clock: clock.clone(),
        ..Options::with_fs(Arc::new(fs.clone()))
    };
    // Keyspace "a" counts with merges; the others have no operator. Its memtables
    // have no key filter, the others' a crowded one (one 64-byte line).
    opts.keyspace_options.insert(
        "a".into(),
        KeyspaceOptions {
            merge_operator: Some(Arc::new(Int64Add)),
            block_size: 128,
            memtable_bloom_size_ratio: 0.0,
            ..KeyspaceOptions::from(&opts)
        },
    );
    Db::open("/db", opts).unwrap()
}

/// The test's view of the database: handles and the incarnation of each slot.
struct Harness {
    fs: MemFs,
    clock: Arc<ManualClock>,
    db: Option<Db>,
    handles: Vec<Keyspace>,
    /// The incarnation each slot currently has (bumped when it is dropped).
    incarnation: [u64; 3],
    next_incarnation: u64,
}

impl Harness {
    fn reopen(&mut self) {
        self.handles.clear();
        self.db = None;
        self.db = Some(open(&self.fs, &self.clock));
        self.attach();
    }

    fn attach(&mut self) {
        let db = self.db();
        self.handles = NAMES.iter().map(|n| db.keyspace(n).unwrap()).collect();
    }

    fn db(&self) -> Db {
        self.db.clone().unwrap()
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }
}

fn visible(m: &Map, now: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter()
        .filter(|(_, (_, exp))| exp.is_none_or(|e| e > now))
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

fn scan(it: shaledb::DbIterator, rev: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let f = |r: shaledb::Result<(bytes::Bytes, bytes::Bytes)>| {
        let (k, v) = r.unwrap();
        (k.to_vec(), v.to_vec())
    };
    if rev {
        let mut v: Vec<_> = it.rev().map(f).collect();
        v.reverse();
        v
    } else {
        it.map(f).collect()
    }
}

fn run(ops: Vec<Op>) {
    let fs = MemFs::new();
    let clock = Arc::new(ManualClock::new(T0));
    let db = open(&fs, &clock);
    let mut h = Harness {
        fs,
        clock,
        db: Some(db),
        handles: Vec::new(),
        incarnation: [0, 1, 2],
        next_incarnation: 3,
    };
    h.attach();
    let mut state: State = (0..3).map(|i| (i, Map::new())).collect();
    let mut since_sync: Vec<State> = vec![state.clone()];
    let mut snapshots: Vec<(Snapshot, State, [u64; 3], u64)> = Vec::new();

    for op in ops {
        let mut synced = false;
        match op {
            Op::Put(s, k, v, sync) => {
                h.handles[s]
                    .put_opt(key(k), value(v), &WriteOptions { sync })
                    .unwrap();
                state
                    .entry(h.incarnation[s])
                    .or_default()
                    .insert(key(k), (value(v), None));
                synced = sync;
            }
            Op::PutTtl(s, k, v, secs) => {
                h.handles[s]
                    .put_with_ttl(key(k), value(v), Duration::from_secs(secs.into()))
                    .unwrap();
                let exp = h.now() + u64::from(secs) * 1000;
                state
                    .entry(h.incarnation[s])
                    .or_default()
                    .insert(key(k), (value(v), Some(exp)));
            }
            Op::Delete(s, k) => {
                h.handles[s].delete(key(k)).unwrap();
                state.entry(h.incarnation[s]).or_default().remove(&key(k));
            }
            Op::DeleteRange(..) if !RANGE_DELETES => {}
            Op::DeleteRange(s, a, b) => {
                h.handles[s].delete_range(key(a)..key(b)).unwrap();
                let m = state.entry(h.incarnation[s]).or_default();
                m.retain(|k, _| !(key(a) <= *k && *k < key(b)));
            }
            Op::Merge(c, d) => {
                let k = format!("c{c}").into_bytes();
                h.handles[1].merge(&k, d.to_string()).unwrap();
                let now = h.now();
                let m = state.entry(h.incarnation[1]).or_default();
                // Counter keys are written only by merges, so the base is numeric.
                let cur: i64 = m
                    .get(&k)
                    .filter(|(_, e)| e.is_none_or(|e| e > now))
                    .map_or(0, |(v, _)| std::str::from_utf8(v).unwrap().parse().unwrap());
                m.insert(k, ((cur + i64::from(d)).to_string().into_bytes(), None));
            }
            Op::Batch(writes, sync) => {
                let mut b = WriteBatch::new();
                for (s, k, v) in writes {
                    let id = h.handles[s].id();
                    let m = state.entry(h.incarnation[s]).or_default();
                    match v {
                        Some(v) => {
                            b.put_in(id, key(k), value(v));
                            m.insert(key(k), (value(v), None));
                        }
                        None => {
                            b.delete_in(id, key(k));
                            m.remove(&key(k));
                        }
                    }
                }
                h.db().write(b, &WriteOptions { sync }).unwrap();
                synced = sync;
            }
            Op::Get(s, k) => {
                let now = h.now();
                let want = state
                    .get(&h.incarnation[s])
                    .and_then(|m| m.get(&key(k)))
                    .filter(|(_, e)| e.is_none_or(|e| e > now))
                    .map(|(v, _)| v.clone());
                let got = h.handles[s].get(key(k)).unwrap().map(|b| b.to_vec());
                assert_eq!(got, want, "get {} in {}", k, NAMES[s]);
            }
            Op::Scan(s, a, b, rev) => {
                let (lo, hi) = (a.map(key), b.map(key));
                let now = h.now();
                let want: Vec<_> = visible(&state[&h.incarnation[s]], now)
                    .into_iter()
                    .filter(|(k, _)| lo.as_ref().is_none_or(|lo| k >= lo))
                    .filter(|(k, _)| hi.as_ref().is_none_or(|hi| k < hi))
                    .collect();
                let it = match (lo, hi) {
                    (Some(lo), Some(hi)) if lo <= hi => h.handles[s].range(lo..hi),
                    (Some(_), Some(_)) => continue,
                    (Some(lo), None) => h.handles[s].range(lo..),
                    (None, Some(hi)) => h.handles[s].range(..hi),
                    (None, None) => h.handles[s].iter(),
                };
                assert_eq!(scan(it, rev), want, "scan of {}", NAMES[s]);
            }
            Op::Advance(ms) => h.clock.advance(Duration::from_millis(ms.into())),
            Op::TakeSnapshot => {
                snapshots.push((h.db().snapshot(), state.clone(), h.incarnation, h.now()));
                if snapshots.len() > 3 {
                    snapshots.remove(0);
                }
            }
            Op::CheckSnapshot(i) => {
                if let Some((snap, frozen, inc, _)) = snapshots.get(i % snapshots.len().max(1)) {
                    // TTL is judged at the current time, also for snapshots.
                    let now = h.now();
                    for s in 0..3 {
                        if inc[s] != h.incarnation[s] {
                            continue; // dropped since: its handle is gone
                        }
                        let want = visible(&frozen[&inc[s]], now);
                        assert_eq!(
                            scan(snap.iter_in(&h.handles[s]), false),
                            want,
                            "snapshot of {}",
                            NAMES[s]
                        );
                    }
                }
            }
            Op::Flush(s) => h.handles[s].flush().unwrap(),
            Op::Compact(s) => h.handles[s].compact_range::<&[u8], _>(..).unwrap(),
            Op::Drop(s) => {
                h.db().drop_keyspace(NAMES[s]).unwrap();
                state.remove(&h.incarnation[s]);
                h.incarnation[s] = h.next_incarnation;
                h.next_incarnation += 1;
                state.insert(h.incarnation[s], Map::new());
                h.handles[s] = h.db().keyspace(NAMES[s]).unwrap();
            }
            Op::SyncWal => {
                h.db().sync_wal().unwrap();
                synced = true;
            }
            Op::Reopen => {
                snapshots.clear();
                h.reopen();
                let now = h.now();
                for s in 0..3 {
                    assert_eq!(
                        scan(h.handles[s].iter(), false),
                        visible(&state[&h.incarnation[s]], now),
                        "{} after a clean reopen",
                        NAMES[s]
                    );
                }
            }
            Op::Crash => {
                snapshots.clear();
                h.handles.clear();
                h.fs.crash();
                h.reopen();
                // Every candidate, seen through the incarnations that exist now (a
                // keyspace dropped or created is durably so).
                let live: BTreeSet<u64> = h.incarnation.iter().copied().collect();
                let project = |st: &State| -> State {
                    live.iter()
                        .map(|i| (*i, st.get(i).cloned().unwrap_or_default()))
                        .collect()
                };
                let now = h.now();
                let got: Vec<Vec<(Vec<u8>, Vec<u8>)>> =
                    (0..3).map(|s| scan(h.handles[s].iter(), false)).collect();
                let found = since_sync
                    .iter()
                    .map(project)
                    .find(|cand| (0..3).all(|s| visible(&cand[&h.incarnation[s]], now) == got[s]));
                let Some(found) = found else {
                    panic!(
                        "after power loss the store holds no state at or after the last sync: {got:?}"
                    );
                };
                state = found;
                since_sync.clear();
            }
        }
        if synced {
            since_sync.clear();
        }
        since_sync.push(state.clone());
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6B5),
        ..ProptestConfig::default()
    })]

    #[test]
    fn features_together_match_the_model(ops in prop::collection::vec(op(), 1..100)) {
        run(ops);
    }
}
