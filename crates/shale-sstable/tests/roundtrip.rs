//! Model-based tests: tables built from arbitrary sorted entries behave exactly like a
//! `VecIterator` over the same entries, for scans, seeks, direction switches and gets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use proptest::prelude::*;
use shale_core::key::make_internal_key;
use shale_core::{InternalIterator, LookupKey, ValueKind, VecIterator};
use shale_fs::MemFs;
use shale_sstable::{Compression, TableOptions};

fn user_key_strategy() -> impl Strategy<Value = Vec<u8>> {
    let long_prefix = vec![b'p'; 300];
    prop_oneof![
        // Short keys over a tiny alphabet: many shared prefixes and duplicates.
        8 => proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(0u8), Just(0xffu8)], 0..6),
        // Long shared prefixes.
        3 => proptest::collection::vec(any::<u8>(), 0..4).prop_map(move |s| {
            let mut k = long_prefix.clone();
            k.extend(s);
            k
        }),
        // The largest user keys the engine accepts.
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| {
            let mut k = vec![b'z'; 64 * 1024 - 1];
            k[100] = a;
            k.push(b);
            k
        }),
    ]
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        5 => proptest::collection::vec(any::<u8>(), 0..40),
        3 => (any::<u8>(), 0usize..600).prop_map(|(b, n)| vec![b; n]),
        1 => proptest::collection::vec(any::<u8>(), 2000..6000),
    ]
}

fn kind_strategy() -> impl Strategy<Value = ValueKind> {
    prop_oneof![
        6 => Just(ValueKind::Value),
        2 => Just(ValueKind::Delete),
        1 => Just(ValueKind::Merge),
    ]
}

fn entries_strategy() -> impl Strategy<Value = Entries> {
    proptest::collection::vec(
        (
            user_key_strategy(),
            0u64..6,
            kind_strategy(),
            value_strategy(),
        ),
        0..120,
    )
    .prop_map(|v| {
        sorted(
            v.into_iter()
                .map(|(k, s, kind, val)| (make_internal_key(&k, s, kind), val))
                .collect(),
        )
    })
}

fn options_strategy() -> impl Strategy<Value = TableOptions> {
    (
        prop_oneof![Just(64usize), Just(512), Just(4096)],
        prop_oneof![Just(1usize), Just(3), Just(16)],
        prop_oneof![Just(Compression::None), Just(Compression::Lz4)],
        prop_oneof![Just(0u32), Just(10)],
    )
        .prop_map(
            |(block_size, block_restart_interval, compression, bloom_bits_per_key)| TableOptions {
                block_size,
                block_restart_interval,
                compression,
                bloom_bits_per_key,
                ..TableOptions::default()
            },
        )
}

#[derive(Debug, Clone)]
enum Op {
    First,
    Last,
    Seek(Vec<u8>, u64),
    SeekForPrev(Vec<u8>, u64),
    Next,
    Prev,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::First),
        1 => Just(Op::Last),
        2 => (user_key_strategy(), 0u64..7).prop_map(|(k, s)| Op::Seek(k, s)),
        2 => (user_key_strategy(), 0u64..7).prop_map(|(k, s)| Op::SeekForPrev(k, s)),
        4 => Just(Op::Next),
        4 => Just(Op::Prev),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_model(
        entries in entries_strategy(),
        opts in options_strategy(),
        ops in proptest::collection::vec(op_strategy(), 1..60),
        gets in proptest::collection::vec((user_key_strategy(), 0u64..8), 0..30),
    ) {
        let fs = MemFs::new();
        let (path, meta) = write_table(&fs, "000001.sst", &entries, opts);
        prop_assert_eq!(meta.num_entries, entries.len() as u64);
        prop_assert_eq!(&meta.smallest_key, &entries.first().map(|e| e.0.clone()).unwrap_or_default());
        prop_assert_eq!(&meta.largest_key, &entries.last().map(|e| e.0.clone()).unwrap_or_default());
        let table = open(&fs, &path, None).unwrap();
        prop_assert_eq!(table.properties(), &meta.properties);
        prop_assert!(table.verify().is_empty());

        // Full scans both ways.
        prop_assert_eq!(&scan(&table).unwrap(), &entries);
        prop_assert_eq!(&scan_rev(&table).unwrap(), &entries);

        // Random walks with direction switches.
        let mut it = table.iter();
        let mut model = VecIterator::new(entries.clone());
        for op in ops {
            match op {
                Op::First => { it.seek_to_first(); model.seek_to_first(); }
                Op::Last => { it.seek_to_last(); model.seek_to_last(); }
                Op::Seek(k, s) => {
                    let t = make_internal_key(&k, s, ValueKind::Value);
                    it.seek(&t); model.seek(&t);
                }
                Op::SeekForPrev(k, s) => {
                    let t = make_internal_key(&k, s, ValueKind::Delete);
                    it.seek_for_prev(&t); model.seek_for_prev(&t);
                }
                Op::Next => if model.valid() { it.next(); model.next(); },
                Op::Prev => if model.valid() { it.prev(); model.prev(); },
            }
            prop_assert_eq!(it.valid(), model.valid());
            prop_assert_eq!(it.key(), model.key());
            prop_assert_eq!(it.value(), model.value());
            prop_assert!(it.status().is_ok());
        }

        // Gets at assorted snapshots, for absent keys and for every stored key.
        let stored = entries.iter().map(|e| (shale_core::key::user_key(&e.0).to_vec(), 3u64));
        for (k, snap) in gets.into_iter().chain(stored) {
            for seq in [snap, 0, shale_core::MAX_SEQNO] {
                let lk = LookupKey::new(&k, seq);
                let got = table.get(lk.internal_key()).unwrap().map(|(k, v)| (k, v.to_vec()));
                prop_assert_eq!(got, model_get(&entries, lk.internal_key()));
            }
        }
    }
}

#[test]
fn seek_lands_in_next_block_after_separator_gap() {
    // Keys whose shortened separators leave gaps between blocks.
    let entries = sorted(
        (0..200u32)
            .map(|i| {
                let k = format!("k{:03}-{}", i * 5, "pad".repeat(5));
                (
                    make_internal_key(k.as_bytes(), 1, ValueKind::Value),
                    vec![i as u8; 30],
                )
            })
            .collect(),
    );
    let fs = MemFs::new();
    let opts = TableOptions {
        block_size: 256,
        ..TableOptions::default()
    };
    let (path, meta) = write_table(&fs, "1.sst", &entries, opts);
    assert!(meta.properties.num_data_blocks > 10);
    let table = open(&fs, &path, None).unwrap();
    let mut it = table.iter();
    let mut model = VecIterator::new(entries.clone());
    for i in 0..1000u32 {
        let t = make_internal_key(format!("k{i:03}-zzz").as_bytes(), 0, ValueKind::Value);
        it.seek(&t);
        model.seek(&t);
        assert_eq!(it.key(), model.key());
        it.seek_for_prev(&t);
        model.seek_for_prev(&t);
        assert_eq!(it.key(), model.key());
        if model.valid() {
            it.prev();
            model.prev();
            assert_eq!(it.key(), model.key());
        }
    }
}

#[test]
fn snapshots_see_the_right_version() {
    let entries = sorted(vec![
        (make_internal_key(b"k", 9, ValueKind::Value), b"v9".to_vec()),
        (make_internal_key(b"k", 7, ValueKind::Delete), vec![]),
        (make_internal_key(b"k", 3, ValueKind::Value), b"v3".to_vec()),
        (make_internal_key(b"l", 5, ValueKind::Value), b"l5".to_vec()),
    ]);
    let fs = MemFs::new();
    let (path, _) = write_table(&fs, "1.sst", &entries, TableOptions::default());
    let table = open(&fs, &path, None).unwrap();
    let get = |k: &[u8], s| {
        table
            .get(LookupKey::new(k, s).internal_key())
            .unwrap()
            .map(|(k, v)| {
                (
                    shale_core::key::parse_internal_key(&k).unwrap().seq,
                    v.to_vec(),
                )
            })
    };
    assert_eq!(get(b"k", 100), Some((9, b"v9".to_vec())));
    assert_eq!(get(b"k", 8), Some((7, vec![])));
    assert_eq!(get(b"k", 5), Some((3, b"v3".to_vec())));
    assert_eq!(get(b"k", 2), None);
    assert_eq!(get(b"l", 5), Some((5, b"l5".to_vec())));
    assert_eq!(get(b"l", 4), None);
    assert_eq!(get(b"m", 100), None);
    assert_eq!(get(b"", 100), None);
}
