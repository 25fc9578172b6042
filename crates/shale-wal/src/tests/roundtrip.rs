//! Records come back exactly as written, at the offsets the format predicts.

use proptest::prelude::*;
use shale_fs::{FileSystem, StdFs};

use super::*;
use crate::format::{FragmentHeader, encode_file_header, mask_crc};
use crate::writer::frame_record;
use crate::{FILE_HEADER_RECORD_LEN, FragmentType, MAX_FRAGMENT_PAYLOAD};

fn assert_roundtrip(sizes: &[usize]) -> Written {
    let w = build_log(sizes);
    for mode in ALL_MODES {
        let out = read_bytes(&w.bytes, mode);
        assert!(out.error.is_none(), "{mode:?}: {:?}", out.error);
        assert_eq!(out.records, w.expected(sizes.len()), "{mode:?}");
        assert!(out.dropped.is_empty(), "{mode:?}: {:?}", out.dropped);
        assert!(!out.stopped_early);
        assert_eq!(out.file_number, FILE_NUMBER);
    }
    w
}

/// The fragment types of the file, in order, walking headers by their lengths.
fn fragment_types(bytes: &[u8]) -> Vec<(usize, u8, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let space = BLOCK_SIZE - pos % BLOCK_SIZE;
        if space < FRAGMENT_HEADER_SIZE {
            assert!(
                bytes[pos..pos + space].iter().all(|&b| b == 0),
                "padding is zero"
            );
            pos += space;
            continue;
        }
        let h = FragmentHeader::decode(&bytes[pos..]).unwrap();
        out.push((pos, h.kind, h.len));
        pos += FRAGMENT_HEADER_SIZE + h.len;
    }
    out
}

#[test]
fn file_header_record_bytes() {
    let w = build_log(&[]);
    let payload = encode_file_header(LogKind::Wal, FILE_NUMBER);
    let mut expected = Vec::new();
    let crc = mask_crc(crc32c::crc32c_append(crc32c::crc32c(&[1]), &payload));
    expected.extend_from_slice(&crc.to_le_bytes());
    expected.extend_from_slice(&[20, 0, 1]);
    expected.extend_from_slice(b"SHALEWAL");
    expected.extend_from_slice(&[1, 0, 0, 0]);
    expected.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(w.bytes, expected);
    assert_eq!(w.bytes.len(), FILE_HEADER_RECORD_LEN);
}

#[test]
fn small_records() {
    let w = assert_roundtrip(&[0, 1, 2, 100, 0, 1000]);
    // Each is one FULL fragment right after the previous one.
    assert_eq!(w.offsets[0], FILE_HEADER_RECORD_LEN as u64);
    assert_eq!(w.offsets[1], w.offsets[0] + 7);
    assert_eq!(w.offsets[2], w.offsets[1] + 8);
    let types: Vec<u8> = fragment_types(&w.bytes).iter().map(|f| f.1).collect();
    assert_eq!(types, vec![1; 7]);
}

#[test]
fn record_exactly_filling_the_block() {
    let fill = BLOCK_SIZE - FILE_HEADER_RECORD_LEN - FRAGMENT_HEADER_SIZE;
    let w = assert_roundtrip(&[fill, 5]);
    assert_eq!(w.ends[0], BLOCK_SIZE as u64);
    assert_eq!(w.offsets[1], BLOCK_SIZE as u64);
    let frags = fragment_types(&w.bytes);
    assert_eq!(frags.iter().map(|f| f.1).collect::<Vec<_>>(), vec![1, 1, 1]);
}

#[test]
fn block_tails_of_every_small_size() {
    // Leave 0..=8 bytes in the first block, then write records of several sizes.
    for left in 0..=8usize {
        let first = BLOCK_SIZE - FILE_HEADER_RECORD_LEN - FRAGMENT_HEADER_SIZE - left;
        for next in [0, 1, 50, BLOCK_SIZE] {
            let w = assert_roundtrip(&[first, next, 3]);
            let frags = fragment_types(&w.bytes);
            if left < FRAGMENT_HEADER_SIZE {
                // Zero padding, then the next record starts the second block.
                assert_eq!(w.offsets[1], BLOCK_SIZE as u64, "left {left}");
            } else {
                assert_eq!(w.offsets[1], (BLOCK_SIZE - left) as u64, "left {left}");
                if left == FRAGMENT_HEADER_SIZE && next > 0 {
                    // An empty FIRST fragment exactly fills the block.
                    assert!(frags.contains(&((BLOCK_SIZE - 7), FragmentType::First as u8, 0)));
                }
            }
        }
    }
}

#[test]
fn records_spanning_blocks() {
    let w = assert_roundtrip(&[40_000, 100_000, 7, 1_000_000, 3 * MAX_FRAGMENT_PAYLOAD]);
    let frags = fragment_types(&w.bytes);
    let types: Vec<u8> = frags.iter().map(|f| f.1).collect();
    // header, FIRST LAST, FIRST MIDDLE.. LAST, ...
    assert_eq!(&types[..3], &[1, 2, 4]);
    assert_eq!(&types[3..5], &[2, 3]);
    assert!(types.iter().filter(|&&t| t == 3).count() > 30);
    // Fragments never cross a block boundary.
    for (pos, _, len) in frags {
        assert_eq!(
            pos / BLOCK_SIZE,
            (pos + FRAGMENT_HEADER_SIZE + len - 1) / BLOCK_SIZE
        );
    }
}

#[test]
fn framing_matches_writer_for_any_block_offset() {
    for offset in [
        0,
        1,
        100,
        BLOCK_SIZE - 8,
        BLOCK_SIZE - 7,
        BLOCK_SIZE - 6,
        BLOCK_SIZE - 1,
    ] {
        let mut buf = Vec::new();
        let n = frame_record(&mut buf, offset, &payload(1, 70_000));
        assert_eq!(n, buf.len());
        // Fragment count: enough blocks for the payload plus the headers.
        assert!(n > 70_000 + 2 * FRAGMENT_HEADER_SIZE);
    }
}

#[test]
fn manifest_roundtrip() {
    let fs = mem_fs();
    let path = db_path("MANIFEST-000003");
    let mut w = LogWriter::create(&fs, &path, LogKind::Manifest, 3).unwrap();
    w.add_record(b"edit one").unwrap();
    w.add_record(b"edit two").unwrap();
    assert_eq!(
        (w.kind(), w.file_number(), w.path()),
        (LogKind::Manifest, 3, path.as_path())
    );
    let out = read_log(
        &fs,
        &path,
        LogKind::Manifest,
        RecoveryMode::AbsoluteConsistency,
    );
    assert!(out.error.is_none());
    assert_eq!(out.file_number, 3);
    let payloads: Vec<_> = out.records.into_iter().map(|r| r.1).collect();
    assert_eq!(payloads, vec![b"edit one".to_vec(), b"edit two".to_vec()]);
}

#[test]
fn std_fs_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000009.log");
    let fs = StdFs::new();
    let sizes = [0, 10, 40_000, 5];
    let w = write_log(&fs, &path, &sizes);
    assert_eq!(fs.file_size(&path).unwrap(), *w.ends.last().unwrap());
    let mut writer = LogWriter::create(&fs, &path, LogKind::Wal, 9).unwrap();
    for r in &w.records {
        writer.add_record(r).unwrap();
    }
    writer.sync().unwrap();
    drop(writer);
    let out = read_log(&fs, &path, LogKind::Wal, RecoveryMode::AbsoluteConsistency);
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.file_number, 9);
    assert_eq!(out.records, w.expected(sizes.len()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_sizes_roundtrip(sizes in proptest::collection::vec(
        prop_oneof![0usize..64, 0usize..2_000, 30_000usize..100_000], 0..24)
    ) {
        let w = build_log(&sizes);
        for mode in ALL_MODES {
            let out = read_bytes(&w.bytes, mode);
            prop_assert!(out.error.is_none());
            prop_assert!(out.dropped.is_empty());
            prop_assert_eq!(&out.records, &w.expected(sizes.len()));
        }
    }
}
