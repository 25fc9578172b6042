#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use shale_core::{FragmentedTombstones, MAX_SEQNO, RangeTombstone, SeqNo};

use proptest::prelude::*;
use shale_core::key::{compare_internal_keys, make_internal_key};
use shale_core::{InternalIterator, LookupKey, ValueKind, VecIterator};

use super::*;

#[test]
fn get_respects_seqno_and_tombstones() {
    let m = MemTable::new();
    m.add(1, ValueKind::Value, b"k", b"v1");
    m.add(3, ValueKind::Delete, b"k", b"");
    m.add(5, ValueKind::Value, b"k", b"v5");
    m.add(2, ValueKind::Value, b"kk", b"other");
    assert_eq!(m.get(&LookupKey::new(b"k", 0)), None);
    assert_eq!(
        m.get(&LookupKey::new(b"k", 2)),
        Some((1, Lookup::Value("v1".into())))
    );
    assert_eq!(m.get(&LookupKey::new(b"k", 4)), Some((3, Lookup::Deleted)));
    assert_eq!(
        m.get(&LookupKey::new(b"k", 99)),
        Some((5, Lookup::Value("v5".into())))
    );
    assert_eq!(m.get(&LookupKey::new(b"", 99)), None);
    assert_eq!(m.get(&LookupKey::new(b"k\0", 99)), None);
    assert_eq!(m.len(), 4);
    assert_eq!(m.max_seqno(), 5);
    assert!(m.approximate_memory_usage() >= 4 * ENTRY_OVERHEAD);
}

#[test]
fn concurrent_readers_see_complete_entries() {
    let m = Arc::new(MemTable::new());
    std::thread::scope(|s| {
        let w = Arc::clone(&m);
        s.spawn(move || {
            for i in 0..5000u64 {
                let k = format!("key{i:05}");
                w.add(i + 1, ValueKind::Value, k.as_bytes(), k.as_bytes());
            }
        });
        for _ in 0..2 {
            let r = Arc::clone(&m);
            s.spawn(move || {
                for _ in 0..20 {
                    let mut it = r.iter();
                    it.seek_to_first();
                    let mut prev: Option<Vec<u8>> = None;
                    while it.valid() {
                        let uk = shale_core::key::user_key(it.key()).to_vec();
                        assert_eq!(uk, it.value(), "value belongs to its key");
                        if let Some(p) = &prev {
                            assert!(p < &uk, "ascending order");
                        }
                        prev = Some(uk);
                        it.next();
                    }
                }
            });
        }
    });
    assert_eq!(m.len(), 5000);
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AA1E),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The memtable iterator behaves exactly like a sorted vector of the same entries.
    #[test]
    fn iterator_matches_sorted_model(
        entries in proptest::collection::btree_map((0u8..16, 0u64..40), any::<u8>(), 0..60),
        ops in proptest::collection::vec((0u8..6, 0u8..17, 0u64..41), 1..50),
    ) {
        let m = Arc::new(MemTable::new());
        let mut model_entries = vec![];
        for (&(k, s), &v) in &entries {
            m.add(s, ValueKind::Value, &[k], &[v]);
            model_entries.push((make_internal_key(&[k], s, ValueKind::Value), vec![v]));
        }
        let mut model = VecIterator::new(model_entries);
        let mut it = m.iter();
        for (op, k, s) in ops {
            let t = LookupKey::new(&[k], s);
            let t = t.internal_key();
            match op {
                0 => { it.seek_to_first(); model.seek_to_first(); }
                1 => { it.seek_to_last(); model.seek_to_last(); }
                2 => { it.seek(t); model.seek(t); }
                3 => { it.seek_for_prev(t); model.seek_for_prev(t); }
                4 if model.valid() => { it.next(); model.next(); }
                5 if model.valid() => { it.prev(); model.prev(); }
                _ => {}
            }
            prop_assert_eq!(it.valid(), model.valid());
            prop_assert_eq!(it.key(), model.key());
            prop_assert_eq!(it.value(), model.value());
        }
    }
}

fn rt(start: &str, end: &str, seq: SeqNo) -> RangeTombstone {
    RangeTombstone::new(start.as_bytes().to_vec(), end.as_bytes().to_vec(), seq)
}

#[test]
fn range_deletes_stay_out_of_the_point_entries() {
    let m = Arc::new(MemTable::new());
    assert!(m.range_tombstones().is_none());
    assert!(m.range_tombstone_list().is_empty());
    assert_eq!(m.num_range_tombstones(), 0);
    m.add(1, ValueKind::Value, b"b", b"v");
    m.add(2, ValueKind::RangeDelete, b"a", b"c");
    m.add(3, ValueKind::RangeDelete, b"b", b"d");
    // Point reads and scans see only the point entry.
    assert_eq!(
        m.get(&LookupKey::new(b"b", 99)),
        Some((1, Lookup::Value("v".into())))
    );
    assert_eq!(m.get(&LookupKey::new(b"a", 99)), None);
    let mut it = m.iter();
    it.seek_to_first();
    assert!(it.valid());
    assert_eq!(it.key(), make_internal_key(b"b", 1, ValueKind::Value));
    it.next();
    assert!(!it.valid());

    assert_eq!(m.num_range_tombstones(), 2);
    assert_eq!(m.len(), 3);
    assert_eq!(m.max_seqno(), 3);
    assert_eq!(
        m.range_tombstone_list(),
        vec![rt("a", "c", 2), rt("b", "d", 3)]
    );
    let f = m.range_tombstones().unwrap();
    assert_eq!(f.max_covering_seq(b"b", 99), Some(3));
    assert_eq!(f.max_covering_seq(b"b", 2), Some(2));
    assert!(f.covers(b"b", 1, 99));
    assert!(!f.covers(b"d", 1, 99));
    assert_eq!(
        *f,
        FragmentedTombstones::new([rt("a", "c", 2), rt("b", "d", 3)])
    );
}

#[test]
fn fragmented_view_is_cached_until_the_next_tombstone() {
    let m = MemTable::new();
    m.add(5, ValueKind::RangeDelete, b"k", b"m");
    let a = m.range_tombstones().unwrap();
    let b = m.range_tombstones().unwrap();
    assert!(Arc::ptr_eq(&a, &b), "no tombstone added: the same set");
    // Point writes do not invalidate it.
    m.add(6, ValueKind::Value, b"x", b"y");
    assert!(Arc::ptr_eq(&a, &m.range_tombstones().unwrap()));
    m.add(7, ValueKind::RangeDelete, b"a", b"b");
    let c = m.range_tombstones().unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(c.max_covering_seq(b"a", 99), Some(7));
    // The old set is unchanged for whoever still holds it.
    assert_eq!(a.max_covering_seq(b"a", 99), None);
    assert!(Arc::ptr_eq(&c, &m.range_tombstones().unwrap()));
}

#[test]
fn only_range_tombstones_is_not_empty_and_is_accounted() {
    let m = MemTable::new();
    assert!(m.is_empty());
    let before = m.approximate_memory_usage();
    m.add(1, ValueKind::RangeDelete, b"begin", b"end-key-zzz");
    assert!(
        !m.is_empty(),
        "a memtable with only a range delete must be flushed"
    );
    assert_eq!(m.len(), 1);
    let after_add = m.approximate_memory_usage();
    assert!(after_add >= before + 5 + 11 + ENTRY_OVERHEAD);
    // Building the fragmented view is counted too.
    let _ = m.range_tombstones();
    assert!(m.approximate_memory_usage() > after_add);
    let settled = m.approximate_memory_usage();
    let _ = m.range_tombstones();
    assert_eq!(
        m.approximate_memory_usage(),
        settled,
        "a cache hit costs nothing"
    );
}

#[test]
fn empty_ranges_are_not_stored() {
    let m = MemTable::new();
    m.add(1, ValueKind::RangeDelete, b"b", b"b");
    m.add(2, ValueKind::RangeDelete, b"c", b"a");
    assert!(m.is_empty());
    assert!(m.range_tombstones().is_none());
    assert_eq!(m.approximate_memory_usage(), 0);
}

#[test]
fn concurrent_range_tombstone_readers_and_writer() {
    let m = Arc::new(MemTable::new());
    std::thread::scope(|s| {
        let w = Arc::clone(&m);
        s.spawn(move || {
            for i in 0..300u64 {
                let (a, b) = (format!("k{:04}", i * 2), format!("k{:04}", i * 2 + 1));
                w.add(i + 1, ValueKind::RangeDelete, a.as_bytes(), b.as_bytes());
            }
        });
        for _ in 0..2 {
            let r = Arc::clone(&m);
            s.spawn(move || {
                let mut last = 0;
                for _ in 0..200 {
                    let n = r.num_range_tombstones();
                    let Some(f) = r.range_tombstones() else {
                        assert_eq!(n, 0);
                        continue;
                    };
                    // Every tombstone counted before the call is in the set, and the
                    // sets only grow.
                    let have = f.fragments().len();
                    assert!(have >= n && have >= last, "{have} < {n} or {last}");
                    last = have;
                }
            });
        }
    });
    let f = m.range_tombstones().unwrap();
    assert_eq!(f.fragments().len(), 300);
    assert_eq!(m.range_tombstone_list().len(), 300);
}

/// Timings for the record (not a pass/fail test): run with
/// `cargo test -p shale-memtable --release -- --ignored --nocapture timing`.
#[test]
#[ignore]
fn timing_500k() {
    use std::time::Instant;
    const N: u64 = 500_000;
    let value = [b'v'; 100];
    let key = |i: u64| {
        let mut k = [b'0'; 16];
        k[..8].copy_from_slice(&i.to_be_bytes());
        k
    };
    let best = |f: &mut dyn FnMut() -> u64| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    // Sequential fill (like fillseq), into a fresh memtable each round.
    let add = best(&mut || {
        let m = MemTable::new();
        for i in 0..N {
            m.add(i + 1, ValueKind::Value, &key(i), &value);
        }
        m.len() as u64
    });
    let m = Arc::new(MemTable::new());
    for i in 0..N {
        m.add(i + 1, ValueKind::Value, &key(i), &value);
    }
    let forward = best(&mut || {
        let mut it = m.iter();
        it.seek_to_first();
        let mut n = 0u64;
        while it.valid() {
            n += it.key().len() as u64 + it.value().len() as u64;
            it.next();
        }
        n
    });
    let backward = best(&mut || {
        let mut it = m.iter();
        it.seek_to_last();
        let mut n = 0u64;
        while it.valid() {
            n += it.key().len() as u64 + it.value().len() as u64;
            it.prev();
        }
        n
    });
    let lookups: Vec<LookupKey> = (0..N)
        .map(|i| LookupKey::new(&key((i * 7919) % (2 * N)), u64::MAX >> 8))
        .collect();
    let get = best(&mut || lookups.iter().filter(|l| m.get(l).is_some()).count() as u64);
    let per = |d: std::time::Duration| d.as_nanos() as f64 / N as f64;
    println!(
        "500k x (16 B key, 100 B value): add {:.0} ns/entry ({:?}), forward scan {:.1} ns/entry ({:?}), \
         backward scan {:.1} ns/entry ({:?}), get (half hits) {:.0} ns ({:?}), memory {} B",
        per(add),
        add,
        per(forward),
        forward,
        per(backward),
        backward,
        per(get),
        get,
        m.approximate_memory_usage()
    );
}

/// Refill sizes to test with: the defaults, and tiny ones that cross a buffer
/// boundary every step or two.
const BATCHES: [(usize, usize, usize); 5] = [
    (iter::FIRST_BATCH, iter::MAX_BATCH, iter::BACKWARD_BATCH),
    (1, 1, 1),
    (1, 2, 3),
    (2, 5, 2),
    (3, 7, 4),
];

/// A small deterministic PRNG for test workloads.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A memtable of `n` user keys with 1..=3 versions each (some tombstones), and the
/// same entries as a sorted model.
/// Entries as (internal key, value) pairs.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn versioned_memtable(n: u64) -> (Arc<MemTable>, Entries) {
    let m = Arc::new(MemTable::new());
    let mut model = Vec::new();
    let mut seq = 0;
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for i in 0..n {
        let uk = format!("key{i:06}");
        for _ in 0..=rng.below(3) {
            seq += 1;
            let (kind, v) = if rng.below(5) == 0 {
                (ValueKind::Delete, Vec::new())
            } else {
                (
                    ValueKind::Value,
                    format!("v{seq}-{}", "x".repeat(rng.below(40) as usize)).into_bytes(),
                )
            };
            m.add(seq, kind, uk.as_bytes(), &v);
            model.push((make_internal_key(uk.as_bytes(), seq, kind), v));
        }
    }
    (m, model)
}

fn assert_same(it: &MemTableIterator, model: &VecIterator, what: &str) {
    assert_eq!(it.valid(), model.valid(), "{what}: valid");
    assert_eq!(it.key(), model.key(), "{what}: key");
    assert_eq!(it.value(), model.value(), "{what}: value");
}

#[test]
fn full_scans_cross_many_buffers_both_ways() {
    let (m, entries) = versioned_memtable(700);
    let total = entries.len();
    let mut model = VecIterator::new(entries);
    for (first, max, back) in BATCHES {
        let mut it = MemTableIterator::with_batches(Arc::clone(&m), first, max, back);
        it.seek_to_first();
        model.seek_to_first();
        let mut n = 0;
        while model.valid() {
            assert_same(&it, &model, "forward");
            it.next();
            model.next();
            n += 1;
        }
        assert_same(&it, &model, "forward end");
        assert_eq!(n, total);
        it.seek_to_last();
        model.seek_to_last();
        let mut n = 0;
        while model.valid() {
            assert_same(&it, &model, "backward");
            it.prev();
            model.prev();
            n += 1;
        }
        assert_same(&it, &model, "backward end");
        assert_eq!(n, total);
    }
}

#[test]
fn direction_switches_at_every_buffer_position() {
    let (m, entries) = versioned_memtable(120);
    let total = entries.len();
    let mut model = VecIterator::new(entries);
    for (first, max, back) in BATCHES {
        let mut it = MemTableIterator::with_batches(Arc::clone(&m), first, max, back);
        // Walk k steps forward from the start (crossing refills), then zig-zag.
        for k in 0..total.min(150) {
            it.seek_to_first();
            model.seek_to_first();
            for _ in 0..k {
                it.next();
                model.next();
            }
            for step in [-1i8, 1, 1, -1, -1, -1, 1, 1, 1, 1, -1] {
                if !model.valid() {
                    break;
                }
                if step < 0 {
                    it.prev();
                    model.prev();
                } else {
                    it.next();
                    model.next();
                }
                assert_same(&it, &model, &format!("k={k} batches={first},{max},{back}"));
            }
        }
        // The same from the end, walking backward first.
        for k in 0..total.min(150) {
            it.seek_to_last();
            model.seek_to_last();
            for _ in 0..k {
                it.prev();
                model.prev();
            }
            for step in [1i8, -1, -1, 1, 1, 1, -1, -1, -1, -1, 1] {
                if !model.valid() {
                    break;
                }
                if step < 0 {
                    it.prev();
                    model.prev();
                } else {
                    it.next();
                    model.next();
                }
                assert_same(&it, &model, &format!("from end k={k}"));
            }
        }
    }
}

#[test]
fn seeks_into_the_middle_then_walk() {
    let (m, entries) = versioned_memtable(400);
    let mut model = VecIterator::new(entries);
    let mut rng = XorShift(7);
    for (first, max, back) in BATCHES {
        let mut it = MemTableIterator::with_batches(Arc::clone(&m), first, max, back);
        for round in 0..300 {
            // Targets between, at and around existing keys, at several snapshots.
            let uk = format!("key{:06}", rng.below(420));
            let uk = if rng.below(4) == 0 {
                format!("{uk}!")
            } else {
                uk
            };
            let target = LookupKey::new(uk.as_bytes(), rng.below(1200));
            let target = target.internal_key();
            if rng.below(2) == 0 {
                it.seek(target);
                model.seek(target);
            } else {
                it.seek_for_prev(target);
                model.seek_for_prev(target);
            }
            assert_same(&it, &model, &format!("seek round {round}"));
            for _ in 0..rng.below(90) {
                if !model.valid() {
                    break;
                }
                if rng.below(3) == 0 {
                    it.prev();
                    model.prev();
                } else {
                    it.next();
                    model.next();
                }
                assert_same(&it, &model, &format!("walk round {round}"));
            }
        }
    }
}

/// Readers scan (both directions, switching now and then) while the writer inserts
/// new keys between the existing ones: never a repeated or out-of-order entry, and
/// every entry that existed before the scan started is seen exactly once.
#[test]
fn scans_during_inserts_see_every_old_entry_once() {
    const OLD: u64 = 3000;
    let m = Arc::new(MemTable::new());
    let key = |i: u64| format!("k{i:07}");
    for i in 0..OLD {
        m.add(
            i + 1,
            ValueKind::Value,
            key(2 * i).as_bytes(),
            key(2 * i).as_bytes(),
        );
    }
    std::thread::scope(|s| {
        let w = Arc::clone(&m);
        s.spawn(move || {
            // New keys land between old ones, and new versions of old keys.
            let mut rng = XorShift(11);
            for seq in OLD + 1..OLD + 1 + 20_000 {
                let i = rng.below(2 * OLD + 2);
                w.add(seq, ValueKind::Value, key(i).as_bytes(), key(i).as_bytes());
            }
        });
        for (t, &(first, max, back)) in BATCHES.iter().enumerate().take(3) {
            let r = Arc::clone(&m);
            s.spawn(move || {
                let mut rng = XorShift(100 + t as u64);
                for round in 0..30 {
                    let mut it = MemTableIterator::with_batches(Arc::clone(&r), first, max, back);
                    let forward = round % 2 == 0;
                    if forward {
                        it.seek_to_first();
                    } else {
                        it.seek_to_last();
                    }
                    let mut seen_old = 0;
                    let mut last: Option<Vec<u8>> = None;
                    while it.valid() {
                        let k = it.key().to_vec();
                        let uk = shale_core::key::user_key(&k);
                        assert_eq!(uk, it.value(), "value belongs to its key");
                        if let Some(p) = &last {
                            let ord = compare_internal_keys(p, &k);
                            let want = if forward {
                                std::cmp::Ordering::Less
                            } else {
                                std::cmp::Ordering::Greater
                            };
                            assert_eq!(ord, want, "strictly monotonic, no repeats");
                        }
                        if shale_core::key::seqno_of(&k) <= OLD {
                            seen_old += 1;
                        }
                        // Now and then step back and forth. This iterator keeps the
                        // current entry across refills, so it comes back to exactly `k`
                        // even if an entry was inserted right before it meanwhile.
                        if rng.below(16) == 0 {
                            if forward {
                                it.prev()
                            } else {
                                it.next()
                            }
                            if it.valid() {
                                let back = it.key().to_vec();
                                let want = if forward {
                                    std::cmp::Ordering::Less
                                } else {
                                    std::cmp::Ordering::Greater
                                };
                                assert_eq!(compare_internal_keys(&back, &k), want);
                                if forward { it.next() } else { it.prev() }
                            } else {
                                // Ran off the end we came from: re-seek to `k`.
                                if forward {
                                    it.seek(&k)
                                } else {
                                    it.seek_for_prev(&k)
                                }
                            }
                            assert_eq!(it.key(), &k[..], "back where we were");
                        }
                        last = Some(k);
                        if forward { it.next() } else { it.prev() }
                    }
                    assert_eq!(seen_old, OLD, "every pre-existing entry once");
                }
            });
        }
    });
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        key: Vec<u8>,
        kind: ValueKind,
        value: Vec<u8>,
    },
    Get {
        key: Vec<u8>,
        snapshot: SeqNo,
    },
    Scan {
        /// `None`: from the first (forward) or last (backward) entry.
        from: Option<(Vec<u8>, SeqNo)>,
        forward: bool,
        /// Each step: `true` to go on in the scan's direction, `false` to step back.
        steps: Vec<bool>,
        batches: usize,
    },
}

fn user_key_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'b'), Just(0u8), Just(0xff)],
        0..4,
    )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        4 => Just(ValueKind::Value),
        2 => Just(ValueKind::Delete),
        1 => Just(ValueKind::Merge),
        1 => Just(ValueKind::ValueWithExpiry),
        1 => Just(ValueKind::RangeDelete),
    ];
    // Mostly small values, some big enough for their own allocation.
    let value = prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => (3000usize..9000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ];
    prop_oneof![
        4 => (user_key_strategy(), kind, value).prop_map(|(key, kind, value)| Op::Add { key, kind, value }),
        2 => (user_key_strategy(), 0u64..300).prop_map(|(key, snapshot)| Op::Get { key, snapshot }),
        1 => (
            proptest::option::of((user_key_strategy(), 0u64..300)),
            any::<bool>(),
            proptest::collection::vec(proptest::bool::weighted(0.8), 0..80),
            0..BATCHES.len(),
        )
            .prop_map(|(from, forward, steps, batches)| Op::Scan { from, forward, steps, batches }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xD1CE),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// add/get/iterate against a `BTreeMap` model keyed by (user key, newest first),
    /// without a key filter, with a one-line filter (crowded: false positives) and
    /// with a roomy one (lookups of absent keys skip the search).
    #[test]
    fn matches_btreemap_model(
        ops in proptest::collection::vec(op_strategy(), 1..150),
        filter_bytes in prop_oneof![Just(0usize), Just(64), Just(4096)],
    ) {
        use std::cmp::Reverse;
        use std::collections::BTreeMap;
        let m = Arc::new(MemTable::with_key_filter(filter_bytes));
        prop_assert_eq!(m.key_filter_bytes(), filter_bytes);
        type Model = BTreeMap<(Vec<u8>, Reverse<SeqNo>), (ValueKind, Vec<u8>)>;
        let mut model = Model::new();
        let mut seq = 0;
        for op in ops {
            match op {
                Op::Add { key, kind, value } => {
                    seq += 1;
                    m.add(seq, kind, &key, &value);
                    if kind != ValueKind::RangeDelete {
                        model.insert((key, Reverse(seq)), (kind, value));
                    }
                }
                Op::Get { key, snapshot } => {
                    let want = model
                        .range((key.clone(), Reverse(snapshot))..)
                        .next()
                        .filter(|((k, _), _)| *k == key)
                        .map(|((_, Reverse(s)), (kind, v))| {
                            let v = Bytes::copy_from_slice(v);
                            (*s, match kind {
                                ValueKind::Value => Lookup::Value(v),
                                ValueKind::Merge => Lookup::Merge(v),
                                ValueKind::ValueWithExpiry => Lookup::Expiring(v),
                                ValueKind::Delete | ValueKind::RangeDelete => Lookup::Deleted,
                            })
                        });
                    prop_assert_eq!(m.get(&LookupKey::new(&key, snapshot)), want);
                }
                Op::Scan { from, forward, steps, batches } => {
                    let mut want = VecIterator::new(
                        model
                            .iter()
                            .map(|((k, Reverse(s)), (kind, v))| (make_internal_key(k, *s, *kind), v.clone()))
                            .collect(),
                    );
                    let (first, max, back) = BATCHES[batches];
                    let mut it = MemTableIterator::with_batches(Arc::clone(&m), first, max, back);
                    match (&from, forward) {
                        (None, true) => { it.seek_to_first(); want.seek_to_first(); }
                        (None, false) => { it.seek_to_last(); want.seek_to_last(); }
                        (Some((k, s)), true) => {
                            let t = LookupKey::new(k, *s);
                            it.seek(t.internal_key());
                            want.seek(t.internal_key());
                        }
                        (Some((k, s)), false) => {
                            let t = LookupKey::new(k, *s);
                            it.seek_for_prev(t.internal_key());
                            want.seek_for_prev(t.internal_key());
                        }
                    }
                    prop_assert_eq!(it.valid(), want.valid());
                    prop_assert_eq!(it.key(), want.key());
                    for on in steps {
                        if !want.valid() {
                            break;
                        }
                        if on == forward { it.next(); want.next(); } else { it.prev(); want.prev(); }
                        prop_assert_eq!(it.valid(), want.valid());
                        prop_assert_eq!(it.key(), want.key());
                        prop_assert_eq!(it.value(), want.value());
                    }
                }
            }
        }
        prop_assert_eq!(m.len(), model.len() + m.num_range_tombstones());
    }
}

#[test]
fn entry_overhead_covers_a_skiplist_node() {
    // A node holds the entry, a refcount-and-height word and its tower (two links
    // on average); the allocator adds a header. Revisit ENTRY_OVERHEAD if this grows.
    let node = std::mem::size_of::<entry::Entry>() + 8 + 2 * 8;
    assert!(node + 8 <= ENTRY_OVERHEAD, "node {node} B");
    assert!(
        node + 32 >= ENTRY_OVERHEAD,
        "ENTRY_OVERHEAD is not a wild overestimate"
    );
}

#[test]
fn key_filter_memory_is_counted_and_lookups_stay_exact() {
    let m = MemTable::with_key_filter(64 * 1024);
    assert_eq!(m.approximate_memory_usage(), 64 * 1024);
    assert!(m.is_empty());
    for i in 0..1000u32 {
        m.add(u64::from(i) + 1, ValueKind::Value, &i.to_be_bytes(), b"v");
    }
    assert!(m.approximate_memory_usage() > 64 * 1024);
    for i in 0..1000u32 {
        let got = m.get(&LookupKey::new(&i.to_be_bytes(), MAX_SEQNO));
        assert_eq!(got.map(|(s, _)| s), Some(u64::from(i) + 1));
    }
    assert!((1000..2000u32).all(|i| {
        m.get(&LookupKey::new(&i.to_be_bytes(), MAX_SEQNO))
            .is_none()
    }));
}

#[test]
fn memory_accounting_counts_arena_chunks_and_nodes() {
    use arena::{MAX_CHUNK, MIN_CHUNK, OWN_ALLOCATION_MIN};
    let m = MemTable::new();
    assert_eq!(m.approximate_memory_usage(), 0);
    let mut rng = XorShift(3);
    let (mut stored, mut last) = (0, 0);
    for i in 0..30_000u64 {
        let k = format!("key{:08}", rng.below(1_000_000));
        let vlen = match i % 64 {
            0 => OWN_ALLOCATION_MIN + 904,
            1 => 0,
            2 => 700,
            _ => 100,
        };
        m.add(i + 1, ValueKind::Value, k.as_bytes(), &vec![b'v'; vlen]);
        stored += k.len() + 8 + vlen;
        let now = m.approximate_memory_usage();
        assert!(now >= last + ENTRY_OVERHEAD, "grows with every entry");
        last = now;
        let arena = m.arena_allocated();
        assert_eq!(
            now,
            arena + (i as usize + 1) * ENTRY_OVERHEAD,
            "the arena in full plus one node per entry, nothing else"
        );
        assert!(arena >= stored, "every stored byte is counted");
        assert!(arena <= 2 * stored + 2 * MIN_CHUNK, "waste is bounded");
    }
    // Past the growth phase the only slack is the current chunk's free tail and the
    // tails of retired chunks (each smaller than the entry that did not fit).
    let arena = m.arena_allocated();
    assert!(
        arena <= stored + MAX_CHUNK + 64 * 1024,
        "{arena} vs {stored}"
    );

    // One big entry is counted at its own size.
    let before = m.arena_allocated();
    m.add(99_999, ValueKind::Value, b"big", &[1u8; 100_000]);
    let grew = m.arena_allocated() - before;
    assert!((100_011..100_011 + 64).contains(&grew), "{grew}");
}

#[test]
fn a_small_memtable_does_not_count_a_big_chunk() {
    // A 4 KiB write buffer (the smallest allowed) must hold more than a few entries.
    let m = MemTable::new();
    m.add(1, ValueKind::Value, b"k", b"v");
    assert_eq!(
        m.approximate_memory_usage(),
        arena::MIN_CHUNK + ENTRY_OVERHEAD,
        "a tiny entry starts the smallest chunk"
    );
    let m = MemTable::new();
    m.add(1, ValueKind::Value, &[b'k'; 16], &[b'v'; 100]);
    assert_eq!(
        m.approximate_memory_usage(),
        16 + 8 + 100 + ENTRY_OVERHEAD,
        "a first db_bench-sized entry gets an exact allocation, not a chunk"
    );
    let mut n = 1;
    while m.approximate_memory_usage() < 4096 {
        n += 1;
        let k = format!("key{n:013}");
        m.add(n, ValueKind::Value, k.as_bytes(), &[b'v'; 100]);
    }
    assert!(n >= 16, "only {n} db_bench-sized entries under 4 KiB");
}

#[test]
fn get_values_do_not_pin_shared_chunks() {
    let m = Arc::new(MemTable::new());
    m.add(1, ValueKind::Value, b"small", b"a small value");
    m.add(2, ValueKind::Merge, b"big", &[7u8; 10_000]);
    let mut it = m.iter();
    let small = LookupKey::new(b"small", 9);
    it.seek(small.internal_key());
    let Some((1, Lookup::Value(v))) = m.get(&small) else {
        panic!("small entry not found")
    };
    assert_eq!(&v[..], it.value());
    assert_ne!(v.as_ptr(), it.value().as_ptr(), "copied out of the chunk");
    let big = LookupKey::new(b"big", 9);
    it.seek(big.internal_key());
    let Some((2, Lookup::Merge(v))) = m.get(&big) else {
        panic!("big entry not found")
    };
    assert_eq!(&v[..], it.value());
    assert_eq!(
        v.as_ptr(),
        it.value().as_ptr(),
        "an entry with its own allocation is shared, not copied"
    );
}
