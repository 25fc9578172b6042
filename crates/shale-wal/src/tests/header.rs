//! The file header record, files that are not logs, zero-filled regions, and fragment
//! sequencing errors.

use super::*;
use crate::FragmentType;
use crate::format::{encode_file_header, put_fragment};

/// A file header record with any magic, version and number.
fn header_bytes(magic: &[u8; 8], version: u32, number: u64) -> Vec<u8> {
    let mut payload = magic.to_vec();
    payload.extend_from_slice(&version.to_le_bytes());
    payload.extend_from_slice(&number.to_le_bytes());
    let mut out = Vec::new();
    put_fragment(&mut out, FragmentType::Full, &payload);
    out
}

/// A valid WAL header followed by the given fragments.
fn log_of(fragments: &[(FragmentType, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    put_fragment(
        &mut out,
        FragmentType::Full,
        &encode_file_header(LogKind::Wal, 1),
    );
    for (kind, payload) in fragments {
        put_fragment(&mut out, *kind, payload);
    }
    out
}

fn assert_not_ours(bytes: &[u8], needle: &str) {
    for mode in ALL_MODES {
        let out = read_bytes(bytes, mode);
        assert!(out.open_failed, "{mode:?}");
        let (offset, detail) = out.corruption();
        assert_eq!(offset, 0);
        assert!(detail.contains(needle), "{mode:?}: {detail}");
    }
}

#[test]
fn empty_file_is_an_empty_log_in_every_mode() {
    for mode in ALL_MODES {
        let out = read_bytes(&[], mode);
        assert!(out.error.is_none(), "{mode:?}");
        assert!(out.records.is_empty() && out.dropped.is_empty() && !out.stopped_early);
        assert_eq!(out.file_number, 0);
    }
}

#[test]
fn header_only_file() {
    let bytes = header_bytes(b"SHALEWAL", 1, 123_456);
    for mode in ALL_MODES {
        let out = read_bytes(&bytes, mode);
        assert!(out.error.is_none() && out.records.is_empty() && out.dropped.is_empty());
        assert_eq!(out.file_number, 123_456);
    }
}

#[test]
fn garbage_is_not_a_log() {
    let text = b"this is a text file, certainly not a write-ahead log\n".repeat(10);
    assert_not_ours(&text, "not a ShaleDB WAL file");
    let noise: Vec<u8> = (0..5_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_not_ours(&noise, "not a ShaleDB WAL file");
}

#[test]
fn wrong_magic_is_not_a_log() {
    assert_not_ours(&header_bytes(b"LEVELDB!", 1, 1), "bad magic");
    // A record of the right size but not FULL.
    let mut bytes = Vec::new();
    put_fragment(
        &mut bytes,
        FragmentType::First,
        &encode_file_header(LogKind::Wal, 1),
    );
    assert_not_ours(&bytes, "not a file header");
}

#[test]
fn manifest_and_wal_are_not_confused() {
    let fs = mem_fs();
    let (wal, man) = (db_path("000001.log"), db_path("MANIFEST-000002"));
    LogWriter::create(&fs, &wal, LogKind::Wal, 1).unwrap();
    LogWriter::create(&fs, &man, LogKind::Manifest, 2).unwrap();
    for mode in ALL_MODES {
        let out = read_log(&fs, &man, LogKind::Wal, mode);
        assert!(
            out.corruption()
                .1
                .contains("not a ShaleDB WAL file: it is a ShaleDB manifest")
        );
        let out = read_log(&fs, &wal, LogKind::Manifest, mode);
        assert!(
            out.corruption()
                .1
                .contains("not a ShaleDB manifest file: it is a ShaleDB WAL")
        );
    }
}

#[test]
fn unknown_version_is_named() {
    assert_not_ours(&header_bytes(b"SHALEWAL", 2, 1), "version 2");
    assert_not_ours(
        &header_bytes(b"SHALEWAL", 0xffff_ffff, 1),
        "version 4294967295",
    );
}

#[test]
fn zero_filled_file_is_a_torn_header() {
    // Created and extended (preallocated) but never written.
    for len in [1usize, 6, 7, 27, 4_096, 40_000] {
        let zeros = vec![0u8; len];
        for mode in ALL_MODES {
            let out = read_bytes(&zeros, mode);
            let ctx = format!("{len} zeros, {mode:?}");
            assert!(out.records.is_empty(), "{ctx}");
            match mode {
                RecoveryMode::AbsoluteConsistency => assert_eq!(out.corruption().0, 0, "{ctx}"),
                _ => {
                    assert!(out.error.is_none(), "{ctx}: {:?}", out.error);
                    assert_eq!(out.dropped[0].offset, 0, "{ctx}");
                    assert_eq!(out.stopped_early, mode == RecoveryMode::PointInTimeRecovery);
                }
            }
        }
    }
}

#[test]
fn zero_filled_tail_is_a_torn_tail() {
    let w = build_log(&[10, 40_000, 5]);
    for zeros in [1usize, 7, 100, 70_000] {
        let mut bytes = w.bytes.clone();
        bytes.resize(bytes.len() + zeros, 0);
        for mode in ALL_MODES {
            let out = read_bytes(&bytes, mode);
            let ctx = format!("{zeros} zeros, {mode:?}");
            assert_eq!(out.records, w.expected(3), "{ctx}");
            match mode {
                RecoveryMode::AbsoluteConsistency => {
                    assert_eq!(out.corruption().0, w.bytes.len() as u64, "{ctx}");
                }
                RecoveryMode::SkipAnyCorruptedRecords => {
                    assert!(out.error.is_none() && !out.dropped.is_empty(), "{ctx}");
                }
                _ => {
                    assert!(out.error.is_none(), "{ctx}");
                    assert_eq!(out.dropped.len(), 1, "{ctx}");
                    assert_eq!(out.dropped[0].offset, w.bytes.len() as u64, "{ctx}");
                    assert_eq!(out.dropped[0].bytes, zeros as u64, "{ctx}");
                }
            }
        }
    }
}

#[test]
fn zero_filled_hole_followed_by_records_is_corruption() {
    // Block 1 zeroed (lost pages); records in block 2 survive.
    let w = build_log(&[100, 30_000, 30_000, 30_000, 10]);
    let mut bytes = w.bytes.clone();
    bytes[BLOCK_SIZE..2 * BLOCK_SIZE].fill(0);
    let out = read_bytes(&bytes, RecoveryMode::TolerateCorruptedTailRecords);
    assert!(out.corruption().1.contains("not a torn tail"));
    let out = read_bytes(&bytes, RecoveryMode::SkipAnyCorruptedRecords);
    assert!(is_faithful(&out.records, &w));
    assert!(
        out.records.iter().any(|r| r.0 == w.offsets[4]),
        "record after the hole is kept"
    );
    assert!(out.dropped.iter().any(|d| d.reason.contains("zero-filled")));
}

#[test]
fn damaged_header_with_valid_records_after_it() {
    let w = build_log(&[10, 20]);
    let mut bytes = w.bytes.clone();
    bytes[20] ^= 0x01; // inside the file number: checksum mismatch
    let out = read_bytes(&bytes, RecoveryMode::SkipAnyCorruptedRecords);
    assert_eq!(
        out.records,
        w.expected(2),
        "records after a damaged header are salvaged"
    );
    assert_eq!(out.file_number, 0);
    assert_eq!((out.dropped[0].offset, out.dropped[0].bytes), (0, 27));
    assert!(read_bytes(&bytes, RecoveryMode::TolerateCorruptedTailRecords).open_failed);
    let pit = read_bytes(&bytes, RecoveryMode::PointInTimeRecovery);
    assert!(pit.records.is_empty() && pit.stopped_early);
}

#[test]
fn fragment_sequencing_errors() {
    // FIRST then FULL: the first record never ended.
    let bytes = log_of(&[(FragmentType::First, b"aa"), (FragmentType::Full, b"b")]);
    let out = read_bytes(&bytes, RecoveryMode::SkipAnyCorruptedRecords);
    assert_eq!(out.records, vec![(36, b"b".to_vec())]);
    assert_eq!(out.dropped[0].offset, 27);
    assert!(out.dropped[0].reason.contains("no LAST fragment"));
    assert!(
        read_bytes(&bytes, RecoveryMode::TolerateCorruptedTailRecords)
            .error
            .is_some()
    );
    assert!(
        read_bytes(&bytes, RecoveryMode::AbsoluteConsistency)
            .error
            .is_some()
    );
    let pit = read_bytes(&bytes, RecoveryMode::PointInTimeRecovery);
    assert!(pit.records.is_empty() && pit.stopped_early);

    // FIRST inside FIRST.
    let bytes = log_of(&[
        (FragmentType::First, b"x"),
        (FragmentType::First, b"y"),
        (FragmentType::Last, b"z"),
    ]);
    let out = read_bytes(&bytes, RecoveryMode::SkipAnyCorruptedRecords);
    assert_eq!(out.records, vec![(35, b"yz".to_vec())]);
    assert_eq!(out.dropped.len(), 1);

    // MIDDLE and LAST without FIRST.
    for orphan in [FragmentType::Middle, FragmentType::Last] {
        let bytes = log_of(&[
            (FragmentType::Full, b"a"),
            (orphan, b"zz"),
            (FragmentType::Full, b"b"),
        ]);
        let out = read_bytes(&bytes, RecoveryMode::SkipAnyCorruptedRecords);
        let payloads: Vec<_> = out.records.iter().map(|r| r.1.clone()).collect();
        assert_eq!(payloads, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(out.dropped[0].reason.contains("without a preceding FIRST"));
        assert!(
            read_bytes(&bytes, RecoveryMode::TolerateCorruptedTailRecords)
                .error
                .is_some()
        );
        assert!(
            read_bytes(&bytes, RecoveryMode::AbsoluteConsistency)
                .error
                .is_some()
        );
        // At the very end of the file it is tolerated like any damaged tail.
        let tail = log_of(&[(FragmentType::Full, b"a"), (orphan, b"zz")]);
        let out = read_bytes(&tail, RecoveryMode::TolerateCorruptedTailRecords);
        assert!(out.error.is_none());
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.dropped.len(), 1);
    }
}

#[test]
fn nonzero_block_padding_is_damage() {
    let first = BLOCK_SIZE - crate::FILE_HEADER_RECORD_LEN - FRAGMENT_HEADER_SIZE - 4;
    let w = build_log(&[first, 10]);
    let mut bytes = w.bytes.clone();
    bytes[BLOCK_SIZE - 2] = 0x55;
    assert!(
        read_bytes(&bytes, RecoveryMode::AbsoluteConsistency)
            .error
            .is_some()
    );
    let out = read_bytes(&bytes, RecoveryMode::SkipAnyCorruptedRecords);
    assert_eq!(
        out.records,
        w.expected(2),
        "no record is lost to damaged padding"
    );
    assert_eq!(out.dropped[0].offset, (BLOCK_SIZE - 4) as u64);
}

#[test]
fn length_past_block_end_is_corruption_not_allocation() {
    // A FULL fragment whose length points past its block.
    let mut bytes = log_of(&[(FragmentType::Full, b"ok")]);
    let mut bad = Vec::new();
    put_fragment(&mut bad, FragmentType::Full, b"x");
    bad[4] = 0xff;
    bad[5] = 0xff;
    bytes.extend_from_slice(&bad);
    bytes.extend_from_slice(&log_of(&[])[..]); // something valid after it
    let out = read_bytes(&bytes, RecoveryMode::AbsoluteConsistency);
    let (offset, detail) = out.corruption();
    assert_eq!(offset, 36);
    assert!(
        detail.contains("bad FULL fragment length 65535"),
        "{detail}"
    );
}
