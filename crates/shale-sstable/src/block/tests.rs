use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use shale_core::key::make_internal_key;
use shale_core::{InternalIterator, ValueKind, VecIterator};

use super::{Block, BlockBuilder, BlockIter};

fn build(entries: &[(Vec<u8>, Vec<u8>)], interval: usize) -> Block {
    let mut b = BlockBuilder::new(interval);
    for (k, v) in entries {
        b.add(k, v);
    }
    Block::new(Bytes::copy_from_slice(b.finish())).unwrap()
}

fn iter(block: Block) -> BlockIter {
    BlockIter::new(block, Arc::from(Path::new("test.sst")), 0)
}

fn sorted_entries(keys: Vec<(Vec<u8>, u64)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<_> = keys
        .into_iter()
        .map(|(k, s)| {
            let val = format!("{}:{s}", k.len()).into_bytes();
            (make_internal_key(&k, s, ValueKind::Value), val)
        })
        .collect();
    v.sort_by(|a, b| shale_core::compare_internal_keys(&a.0, &b.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

#[test]
fn empty_block() {
    let block = build(&[], 16);
    assert!(block.is_empty());
    let mut it = iter(block);
    it.seek_to_first();
    assert!(!it.valid());
    it.seek_to_last();
    assert!(!it.valid());
    it.seek(b"anything");
    assert!(!it.valid());
    it.seek_for_prev(b"anything");
    assert!(!it.valid());
    assert!(it.status().is_ok());
    assert_eq!(it.key(), b"");
}

#[test]
fn rejects_bad_restart_arrays() {
    assert!(Block::new(Bytes::from_static(b"abc")).is_err());
    // Claims a billion restarts.
    assert!(Block::new(Bytes::from(vec![0, 0, 0, 0x40])).is_err());
    // Entries but zero restarts.
    assert!(Block::new(Bytes::from(vec![1, 2, 3, 0, 0, 0, 0])).is_err());
    // First restart not at 0.
    assert!(Block::new(Bytes::from(vec![1, 2, 3, 1, 0, 0, 0, 1, 0, 0, 0])).is_err());
}

#[test]
fn corrupt_entry_reports_error() {
    let entries = sorted_entries((0..40u8).map(|i| (vec![b'k', i], 1)).collect());
    let block = build(&entries, 4);
    let mut data = block.data().to_vec();
    data[0] = 5; // first entry claims to share 5 bytes with nothing
    let bad = Block::new(Bytes::from(data)).unwrap();
    let mut it = iter(bad);
    it.seek_to_first();
    assert!(!it.valid());
    assert!(it.status().unwrap_err().is_corruption());
    // Errors are sticky.
    it.seek_to_last();
    assert!(!it.valid());
    assert!(it.status().is_err());
}

fn check_ops(entries: Vec<(Vec<u8>, Vec<u8>)>, interval: usize, ops: Vec<(u8, Vec<u8>, u64)>) {
    let block = build(&entries, interval);
    let mut it = iter(block);
    let mut model = VecIterator::new(entries);
    for (op, k, s) in ops {
        let target = make_internal_key(&k, s, ValueKind::Value);
        match op % 6 {
            0 => {
                it.seek_to_first();
                model.seek_to_first();
            }
            1 => {
                it.seek_to_last();
                model.seek_to_last();
            }
            2 => {
                it.seek(&target);
                model.seek(&target);
            }
            3 => {
                it.seek_for_prev(&target);
                model.seek_for_prev(&target);
            }
            4 if model.valid() => {
                it.next();
                model.next();
            }
            5 if model.valid() => {
                it.prev();
                model.prev();
            }
            _ => {}
        }
        assert_eq!(it.valid(), model.valid());
        assert_eq!(it.key(), model.key());
        assert_eq!(it.value(), model.value());
        assert_eq!(&it.value_bytes()[..], model.value());
        assert!(it.status().is_ok());
    }
}

#[test]
fn full_scans_both_ways() {
    let entries = sorted_entries(
        (0..100u32)
            .map(|i| (format!("key{:05}", i / 3).into_bytes(), u64::from(i % 3)))
            .collect(),
    );
    for interval in [1, 2, 16, 1000] {
        let mut it = iter(build(&entries, interval));
        it.seek_to_first();
        let mut fwd = vec![];
        while it.valid() {
            fwd.push((it.key().to_vec(), it.value().to_vec()));
            it.next();
        }
        assert_eq!(fwd, entries);
        it.seek_to_last();
        let mut rev = vec![];
        while it.valid() {
            rev.push((it.key().to_vec(), it.value().to_vec()));
            it.prev();
        }
        rev.reverse();
        assert_eq!(rev, entries);
    }
}

proptest! {
    #[test]
    fn matches_model(
        keys in proptest::collection::vec(
            (proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..12),
             0u64..5),
            0..80),
        interval in 1usize..20,
        ops in proptest::collection::vec(
            (0u8..6, proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..12),
             0u64..6),
            1..80),
    ) {
        check_ops(sorted_entries(keys), interval, ops);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200),
                                   target in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(block) = Block::new(Bytes::from(data)) {
            let mut it = iter(block);
            it.seek_to_first();
            for _ in 0..100 { if !it.valid() { break } it.next(); }
            it.seek_to_last();
            for _ in 0..100 { if !it.valid() { break } it.prev(); }
            it.seek(&target);
            it.seek_for_prev(&target);
            let _ = it.status();
        }
    }
}
