#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use shale_core::{FragmentedTombstones, RangeTombstone, SeqNo};

use proptest::prelude::*;
use shale_core::key::make_internal_key;
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
