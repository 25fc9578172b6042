use std::sync::Arc;

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
