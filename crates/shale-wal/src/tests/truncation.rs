//! Torn tails: the file cut at every byte offset, in every mode.

use super::*;
use crate::FILE_HEADER_RECORD_LEN;

/// Reads `w.bytes[..cut]` in every mode and checks what the modes promise.
fn check_cut(w: &Written, cut: usize) {
    let cut64 = cut as u64;
    let bytes = &w.bytes[..cut];
    // Records completely present, and whether bytes of the next one are present.
    let complete = w.ends.iter().take_while(|&&e| e <= cut64).count();
    let torn = if cut == 0 {
        false
    } else if cut < FILE_HEADER_RECORD_LEN {
        true
    } else {
        // Bytes past the last complete record that are not just zero padding.
        w.offsets.get(complete).is_some_and(|&next| cut64 > next)
    };
    let torn_at = if cut < FILE_HEADER_RECORD_LEN {
        0
    } else {
        w.offsets.get(complete).copied().unwrap_or(0)
    };
    let expected = w.expected(complete);
    for mode in ALL_MODES {
        let out = read_bytes(bytes, mode);
        let ctx = format!("cut {cut} of {}, mode {mode:?}", w.bytes.len());
        if !torn {
            assert!(out.error.is_none(), "{ctx}: {:?}", out.error);
            assert_eq!(out.records, expected, "{ctx}");
            assert!(out.dropped.is_empty(), "{ctx}: {:?}", out.dropped);
            assert!(!out.stopped_early, "{ctx}");
            continue;
        }
        // The torn record is never returned, not even partially.
        assert_eq!(out.records, expected, "{ctx}");
        match mode {
            RecoveryMode::AbsoluteConsistency => {
                let (offset, _) = out.corruption();
                assert_eq!(offset, torn_at, "{ctx}");
            }
            RecoveryMode::TolerateCorruptedTailRecords | RecoveryMode::PointInTimeRecovery => {
                assert!(out.error.is_none(), "{ctx}: {:?}", out.error);
                assert_eq!(out.dropped.len(), 1, "{ctx}");
                assert_eq!(out.dropped[0].offset, torn_at, "{ctx}");
                assert_eq!(out.dropped[0].bytes, cut64 - torn_at, "{ctx}");
                assert_eq!(
                    out.stopped_early,
                    mode == RecoveryMode::PointInTimeRecovery,
                    "{ctx}"
                );
            }
            RecoveryMode::SkipAnyCorruptedRecords => {
                assert!(out.error.is_none(), "{ctx}: {:?}", out.error);
                assert!(!out.dropped.is_empty(), "{ctx}");
                assert!(out.dropped.iter().all(|d| d.offset >= torn_at), "{ctx}");
                assert!(!out.stopped_early, "{ctx}");
            }
        }
    }
}

#[test]
fn small_log_cut_at_every_byte() {
    let w = build_log(&[10, 0, 300, 1, 57]);
    for cut in 0..=w.bytes.len() {
        check_cut(&w, cut);
    }
}

#[test]
fn multi_block_last_record_cut_at_every_byte_near_boundaries() {
    // The last record starts in block 0, fills block 1 and ends in block 2.
    let w = build_log(&[100, 20_000, 50_000]);
    let last = *w.offsets.last().unwrap() as usize;
    let len = w.bytes.len();
    let mut cuts: Vec<usize> = (last.saturating_sub(16)..len).step_by(61).collect();
    // Every byte around each block boundary and around the fragment headers.
    for b in (0..=len).step_by(BLOCK_SIZE) {
        cuts.extend(b.saturating_sub(24)..(b + 24).min(len + 1));
    }
    cuts.extend(last..last + 24);
    cuts.extend(len.saturating_sub(24)..=len);
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        check_cut(&w, cut);
    }
}

#[test]
fn cut_inside_block_padding_is_clean() {
    // The first record leaves 3 bytes in block 0, so the second one starts with padding.
    let first = BLOCK_SIZE - FILE_HEADER_RECORD_LEN - FRAGMENT_HEADER_SIZE - 3;
    let w = build_log(&[first, 10]);
    assert_eq!(w.offsets[1], BLOCK_SIZE as u64);
    for cut in BLOCK_SIZE - 4..=w.bytes.len() {
        check_cut(&w, cut);
    }
}
