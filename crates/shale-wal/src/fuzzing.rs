//! Entry points shared by the cargo-fuzz target `fuzz/fuzz_targets/wal_reader.rs` and
//! the stable-toolchain corpus replay test (`tests/fuzz_corpus.rs`). Not part of the
//! supported API.

// A fuzz harness reports a broken property by panicking, like a test.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;

use shale_fs::{FileSystem, MemFs};

use crate::format::{BLOCK_SIZE, FRAGMENT_HEADER_SIZE, FragmentHeader, FragmentType, mask_crc};
use crate::{LogKind, LogReader, RecoveryMode, dump};

const MODES: [RecoveryMode; 4] = [
    RecoveryMode::TolerateCorruptedTailRecords,
    RecoveryMode::AbsoluteConsistency,
    RecoveryMode::PointInTimeRecovery,
    RecoveryMode::SkipAnyCorruptedRecords,
];

/// What one read of the whole file gave.
#[derive(Debug)]
struct Outcome {
    /// `(offset, payload)` of every record returned before the end or the error.
    records: Vec<(u64, Vec<u8>)>,
    /// `Ok` if the read ended with `Ok(None)`, the error message otherwise.
    end: Result<(), String>,
    dropped: usize,
    stopped_early: bool,
}

/// Treats `data` as a log file (in a [`MemFs`]) and reads it as a WAL and as a
/// manifest in every [`RecoveryMode`], then dumps it. Must never panic, whatever
/// `data` holds. Checks that:
///
/// * every record returned, in any mode, is made of fragments with valid checksums
///   starting at the offset the reader reported (FULL, or FIRST MIDDLE* LAST), and the
///   offsets increase;
/// * errors are sticky;
/// * a file that AbsoluteConsistency reads without error reads the same in every other
///   mode, with nothing dropped;
/// * PointInTimeRecovery returns a prefix of what SkipAnyCorruptedRecords returns;
/// * `dump` succeeds and counts the records SkipAnyCorruptedRecords returns.
///
/// The input is also tried with every fragment checksum it can locate recomputed, so
/// mutations reach the record reassembly and not only the crc checks.
pub fn fuzz_wal(data: &[u8]) {
    run_wal(data);
    let fixed = fix_checksums(data);
    if fixed != data {
        run_wal(&fixed);
    }
}

fn run_wal(data: &[u8]) {
    let fs = MemFs::new();
    let dir = Path::new("/fuzz");
    fs.create_dir_all(dir).expect("mkdir in MemFs");
    let path = dir.join("000007.log");
    let mut f = fs.create(&path).expect("create in MemFs");
    f.append(data).expect("append in MemFs");
    drop(f);

    for kind in [LogKind::Wal, LogKind::Manifest] {
        let mut by_mode = Vec::new();
        for mode in MODES {
            by_mode.push(read_all(&fs, &path, kind, mode, data));
        }
        // by_mode order: Tolerate, Absolute, PointInTime, Skip.
        if let Some(abs) = &by_mode[1]
            && abs.end.is_ok()
        {
            for (mode, other) in MODES.iter().zip(&by_mode) {
                let other = other
                    .as_ref()
                    .expect("absolute opened, so every mode opens");
                assert_eq!(
                    other.end,
                    Ok(()),
                    "{mode:?} fails where AbsoluteConsistency does not"
                );
                assert_eq!(
                    other.records, abs.records,
                    "{mode:?} differs from AbsoluteConsistency"
                );
                assert_eq!(other.dropped, 0, "{mode:?} dropped data in an intact file");
                assert!(
                    !other.stopped_early,
                    "{mode:?} stopped early in an intact file"
                );
            }
        }
        if let (Some(pit), Some(skip)) = (&by_mode[2], &by_mode[3]) {
            assert!(pit.end.is_ok(), "PointInTimeRecovery never fails on damage");
            assert!(
                skip.end.is_ok(),
                "SkipAnyCorruptedRecords never fails on damage"
            );
            assert!(
                skip.records.starts_with(&pit.records),
                "PointInTimeRecovery is not a prefix of SkipAnyCorruptedRecords"
            );
        }

        let mut out = Vec::new();
        let summary = dump(&fs, &path, kind, &mut out).expect("dump fails only on I/O errors");
        if let Some(skip) = &by_mode[3] {
            assert_eq!(
                summary.records,
                skip.records.len() as u64,
                "dump and SkipAnyCorruptedRecords disagree on the record count"
            );
        }
    }
}

/// Reads every record of `path`; `None` if `open` failed.
fn read_all(
    fs: &MemFs,
    path: &Path,
    kind: LogKind,
    mode: RecoveryMode,
    data: &[u8],
) -> Option<Outcome> {
    let mut r = LogReader::open(fs, path, kind, mode).ok()?;
    let mut records: Vec<(u64, Vec<u8>)> = Vec::new();
    // Each record holds at least one fragment header, so this bounds a correct reader.
    let limit = data.len() / FRAGMENT_HEADER_SIZE + 2;
    let end = loop {
        assert!(
            records.len() <= limit,
            "{mode:?}: more records than the file can hold"
        );
        match r.next_record() {
            Ok(Some((offset, payload))) => {
                assert!(
                    verify_record(data, offset, &payload),
                    "{mode:?}: record at offset {offset} ({} bytes) is not made of valid fragments there",
                    payload.len()
                );
                if let Some((prev, _)) = records.last() {
                    assert!(offset > *prev, "{mode:?}: record offsets go backwards");
                }
                records.push((offset, payload));
            }
            Ok(None) => {
                assert!(
                    matches!(r.next_record(), Ok(None)),
                    "{mode:?}: the end is not sticky"
                );
                break Ok(());
            }
            Err(e) => {
                assert_ne!(
                    mode,
                    RecoveryMode::PointInTimeRecovery,
                    "PointInTimeRecovery returned an error: {e}"
                );
                assert_ne!(
                    mode,
                    RecoveryMode::SkipAnyCorruptedRecords,
                    "SkipAnyCorruptedRecords returned an error: {e}"
                );
                let again = r.next_record();
                assert!(
                    matches!(&again, Err(e2) if e2.to_string() == e.to_string()),
                    "{mode:?}: errors are not sticky: {e} then {again:?}"
                );
                break Err(e.to_string());
            }
        }
    };
    Some(Outcome {
        records,
        end,
        dropped: r.dropped().len(),
        stopped_early: r.stopped_early(),
    })
}

/// True if `payload` is what the fragments starting at file offset `offset` hold: a
/// FULL fragment, or FIRST, MIDDLE*, LAST, each with a valid checksum, skipping only the
/// block tails too short for a header.
pub fn verify_record(data: &[u8], offset: u64, payload: &[u8]) -> bool {
    let Ok(mut pos) = usize::try_from(offset) else {
        return false;
    };
    let mut got: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        let space = BLOCK_SIZE - pos % BLOCK_SIZE;
        if space < FRAGMENT_HEADER_SIZE {
            if first {
                return false;
            }
            pos += space;
            continue;
        }
        let Some(h) = data.get(pos..).and_then(FragmentHeader::decode) else {
            return false;
        };
        if FRAGMENT_HEADER_SIZE + h.len > space {
            return false;
        }
        let start = pos + FRAGMENT_HEADER_SIZE;
        let Some(frag) = data.get(start..start + h.len) else {
            return false;
        };
        if !h.crc_matches(frag) {
            return false;
        }
        got.extend_from_slice(frag);
        pos = start + h.len;
        match (first, FragmentType::from_u8(h.kind)) {
            (true, Some(FragmentType::Full)) | (false, Some(FragmentType::Last)) => {
                return got == payload;
            }
            (true, Some(FragmentType::First)) | (false, Some(FragmentType::Middle)) => {}
            _ => return false,
        }
        first = false;
    }
}

/// `data` with the checksum of every fragment header it can walk recomputed: block by
/// block, a header whose length fits in its block gets a valid crc, and the walk goes
/// on after its payload; anything else ends the walk in that block.
pub fn fix_checksums(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut block = 0;
    while block < out.len() {
        let block_end = (block + BLOCK_SIZE).min(out.len());
        let mut pos = block;
        while pos + FRAGMENT_HEADER_SIZE <= block_end {
            let Some(h) = FragmentHeader::decode(&out[pos..]) else {
                break;
            };
            let start = pos + FRAGMENT_HEADER_SIZE;
            if start + h.len > block_end || (h.kind == 0 && h.len == 0) {
                break;
            }
            let crc = mask_crc(crate::format::fragment_crc(
                h.kind,
                &out[start..start + h.len],
            ));
            out[pos..pos + 4].copy_from_slice(&crc.to_le_bytes());
            pos = start + h.len;
        }
        block += BLOCK_SIZE;
    }
    out
}
