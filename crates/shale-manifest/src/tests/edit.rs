//! VersionEdit encoding: roundtrip, garbage, truncation, unknown tags.

use proptest::prelude::*;
use shale_core::coding::{put_length_prefixed, put_varint32, put_varint64};

use crate::{FileMeta, VersionEdit, tags};

fn config() -> ProptestConfig {
    ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x3A4F),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn ikey() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 8..40)
}

fn file_meta() -> impl Strategy<Value = FileMeta> {
    (
        any::<u64>(),
        any::<u64>(),
        ikey(),
        ikey(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(number, size, smallest, largest, s1, s2, n, d)| FileMeta {
            number,
            size,
            smallest,
            largest,
            smallest_seqno: s1,
            largest_seqno: s2,
            num_entries: n,
            num_deletions: d,
        })
}

fn level() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..8, Just(u32::MAX as usize)]
}

prop_compose! {
    fn edit()(
        keyspace in any::<u32>(),
        log_number in any::<Option<u64>>(),
        next_file_number in any::<Option<u64>>(),
        last_seqno in any::<Option<u64>>(),
        new_files in proptest::collection::vec((level(), file_meta()), 0..4),
        deleted_files in proptest::collection::vec((level(), any::<u64>()), 0..4),
        compact_pointers in proptest::collection::vec((level(), ikey()), 0..3),
        add_keyspace in proptest::option::of((any::<u32>(), "\\PC{0,12}")),
        drop_keyspace in any::<Option<u32>>(),
        max_keyspace_id in any::<Option<u32>>(),
    ) -> VersionEdit {
        VersionEdit {
            keyspace, log_number, next_file_number, last_seqno, new_files, deleted_files,
            compact_pointers, add_keyspace, drop_keyspace, max_keyspace_id,
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn roundtrip(e in edit()) {
        let bytes = e.encode();
        prop_assert_eq!(VersionEdit::decode(&bytes).unwrap(), e);
    }

    #[test]
    fn every_truncation_rejected(e in edit()) {
        let bytes = e.encode();
        for cut in 0..bytes.len() {
            let err = VersionEdit::decode(&bytes[..cut]).unwrap_err();
            prop_assert!(err.is_corruption());
        }
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = VersionEdit::decode(&bytes);
    }

    #[test]
    fn mutated_edit_never_panics(e in edit(), pos in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = e.encode();
        let i = pos % bytes.len();
        bytes[i] = byte;
        let _ = VersionEdit::decode(&bytes);
    }
}

#[test]
fn empty_edit_is_one_byte() {
    let e = VersionEdit::default();
    assert_eq!(e.encode(), vec![0]);
    assert!(e.is_empty());
    assert!(VersionEdit::decode(&[]).unwrap_err().is_corruption());
    assert!(VersionEdit::decode(&[0, 0]).unwrap_err().is_corruption());
}

#[test]
fn safe_to_ignore_tags_are_skipped_others_rejected() {
    let mut e = VersionEdit::for_keyspace(3);
    e.log_number = Some(9);
    let mut bytes = e.encode();
    bytes.pop(); // the end tag
    // An unknown tag with the safe-ignore bit, before and inside a new file entry.
    put_varint32(&mut bytes, 0x40 | 17);
    put_length_prefixed(&mut bytes, b"future stuff");
    put_varint32(&mut bytes, 0x1000 | tags::SAFE_IGNORE_BIT);
    put_length_prefixed(&mut bytes, b"");
    put_varint32(&mut bytes, tags::END);
    assert_eq!(VersionEdit::decode(&bytes).unwrap(), e);

    let mut bad = e.encode();
    bad.pop();
    let at = bad.len() as u64;
    put_varint32(&mut bad, 11);
    put_varint32(&mut bad, tags::END);
    match VersionEdit::decode(&bad).unwrap_err() {
        shale_core::Error::Corruption { offset, detail, .. } => {
            assert_eq!(offset, at);
            assert!(detail.contains("unknown tag 11"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn new_file_extension_fields() {
    let f = super::file(5, "a", "b", 3);
    let mut e = VersionEdit::default();
    e.add_file(2, f.clone());
    let plain = e.encode();
    // Rebuild by hand with an ignorable extension field, then an unknown mandatory one.
    let with_ext = |ext_tag: u32| {
        let mut b = Vec::new();
        put_varint32(&mut b, tags::NEW_FILE);
        put_varint32(&mut b, 2);
        put_varint64(&mut b, f.number);
        put_varint64(&mut b, f.size);
        put_length_prefixed(&mut b, &f.smallest);
        put_length_prefixed(&mut b, &f.largest);
        for v in [
            f.smallest_seqno,
            f.largest_seqno,
            f.num_entries,
            f.num_deletions,
        ] {
            put_varint64(&mut b, v);
        }
        put_varint32(&mut b, ext_tag);
        put_length_prefixed(&mut b, b"xyz");
        put_varint32(&mut b, tags::NEW_FILE_END);
        put_varint32(&mut b, tags::END);
        b
    };
    assert_eq!(VersionEdit::decode(&plain).unwrap(), e);
    assert_eq!(VersionEdit::decode(&with_ext(0x41)).unwrap(), e);
    assert!(
        VersionEdit::decode(&with_ext(3))
            .unwrap_err()
            .is_corruption()
    );
}

#[test]
fn duplicate_singular_field_rejected() {
    let mut b = Vec::new();
    put_varint32(&mut b, tags::LOG_NUMBER);
    put_varint64(&mut b, 1);
    put_varint32(&mut b, tags::LOG_NUMBER);
    put_varint64(&mut b, 2);
    put_varint32(&mut b, tags::END);
    assert!(VersionEdit::decode(&b).unwrap_err().is_corruption());
}

#[test]
fn short_keys_rejected_not_allocated() {
    // A compact pointer claiming a 4 GiB key in a 10-byte record.
    let mut b = Vec::new();
    put_varint32(&mut b, tags::COMPACT_POINTER);
    put_varint32(&mut b, 1);
    put_varint64(&mut b, u64::from(u32::MAX));
    put_varint32(&mut b, tags::END);
    assert!(VersionEdit::decode(&b).unwrap_err().is_corruption());
    // A 3-byte "internal key".
    let mut b = Vec::new();
    put_varint32(&mut b, tags::COMPACT_POINTER);
    put_varint32(&mut b, 1);
    put_length_prefixed(&mut b, b"abc");
    put_varint32(&mut b, tags::END);
    assert!(VersionEdit::decode(&b).unwrap_err().is_corruption());
}

#[test]
fn display_lists_fields() {
    let mut e = VersionEdit::for_keyspace(2);
    e.add_file(1, super::file(7, "a\u{1}", "b", 3));
    e.delete_file(0, 4);
    e.log_number = Some(12);
    let s = e.to_string();
    assert!(s.contains("keyspace: 2"), "{s}");
    assert!(s.contains("add file: L1 #7"), "{s}");
    assert!(s.contains("\\x01"), "{s}");
    assert!(s.contains("delete file: L0 #4"), "{s}");
    assert!(s.contains("log number: 12"), "{s}");
}
