//! Single-bit flips and random damage: never wrong content, never a panic, and each
//! mode does what it promises.

use proptest::prelude::*;

use super::*;
use crate::FILE_HEADER_RECORD_LEN;

/// Which record a byte belongs to: `None` for the file header, `Some(i)` for record i.
fn owner(w: &Written, byte: usize) -> Option<usize> {
    if byte < FILE_HEADER_RECORD_LEN {
        return None;
    }
    w.ends.iter().position(|&e| (byte as u64) < e)
}

#[test]
fn every_single_bit_flip_in_a_small_log() {
    let w = build_log(&[20, 5, 0, 60, 33]);
    let n = w.records.len();
    assert!(
        w.bytes.len() < BLOCK_SIZE,
        "one block: a flip loses the rest of it"
    );
    for byte in 0..w.bytes.len() {
        for bit in 0..8 {
            let mut bytes = w.bytes.clone();
            bytes[byte] ^= 1 << bit;
            let hit = owner(&w, byte);
            for mode in ALL_MODES {
                let out = read_bytes(&bytes, mode);
                let ctx = format!("byte {byte} bit {bit} (record {hit:?}), mode {mode:?}");
                assert!(
                    is_faithful(&out.records, &w),
                    "{ctx}: wrong content returned"
                );
                let Some(k) = hit else {
                    // The header is damaged: nothing can be trusted to be this file's.
                    match mode {
                        RecoveryMode::AbsoluteConsistency
                        | RecoveryMode::TolerateCorruptedTailRecords => {
                            out.corruption();
                        }
                        RecoveryMode::PointInTimeRecovery => {
                            assert!(out.records.is_empty(), "{ctx}");
                            assert!(out.error.is_some() || out.stopped_early, "{ctx}");
                        }
                        RecoveryMode::SkipAnyCorruptedRecords => {
                            assert!(out.error.is_some() || !out.dropped.is_empty(), "{ctx}");
                        }
                    }
                    continue;
                };
                // Every record before the damaged one comes back; the damaged one never.
                assert_eq!(
                    &out.records[..k.min(out.records.len())],
                    &w.expected(k)[..],
                    "{ctx}"
                );
                assert!(out.records.iter().all(|r| r.0 != w.offsets[k]), "{ctx}");
                match mode {
                    RecoveryMode::AbsoluteConsistency => {
                        assert_eq!(out.records, w.expected(k), "{ctx}");
                        assert_eq!(out.corruption().0, w.offsets[k], "{ctx}");
                    }
                    RecoveryMode::TolerateCorruptedTailRecords if k == n - 1 => {
                        assert!(out.error.is_none(), "{ctx}: {:?}", out.error);
                        assert_eq!(out.records, w.expected(k), "{ctx}");
                        assert_eq!(out.dropped.len(), 1, "{ctx}");
                        assert_eq!(out.dropped[0].offset, w.offsets[k], "{ctx}");
                    }
                    RecoveryMode::TolerateCorruptedTailRecords => {
                        // Valid records follow the damage: not a torn tail.
                        assert_eq!(out.records, w.expected(k), "{ctx}");
                        let (offset, detail) = out.corruption();
                        assert_eq!(offset, w.offsets[k], "{ctx}");
                        assert!(detail.contains("not a torn tail"), "{ctx}: {detail}");
                    }
                    RecoveryMode::PointInTimeRecovery => {
                        assert!(out.error.is_none(), "{ctx}: {:?}", out.error);
                        assert_eq!(out.records, w.expected(k), "{ctx}");
                        assert!(out.stopped_early, "{ctx}");
                        assert_eq!(out.dropped.len(), 1, "{ctx}");
                        assert_eq!(out.dropped[0].offset, w.offsets[k], "{ctx}");
                        assert_eq!(out.dropped[0].bytes, w.bytes.len() as u64 - w.offsets[k]);
                    }
                    RecoveryMode::SkipAnyCorruptedRecords => {
                        // One block: the rest of it is skipped with the damaged record.
                        assert!(out.error.is_none(), "{ctx}: {:?}", out.error);
                        assert_eq!(out.records, w.expected(k), "{ctx}");
                        assert_eq!(out.dropped[0].offset, w.offsets[k], "{ctx}");
                    }
                }
            }
        }
    }
}

#[test]
fn skip_any_resumes_at_the_next_block() {
    // Records in blocks 0, 1 and 2; damage one in block 1.
    let w = build_log(&[30_000, 100, 5_000, 200, 31_000, 10]);
    let victim = 3; // the 200-byte record, inside block 1
    assert_eq!(w.offsets[victim] as usize / BLOCK_SIZE, 1);
    let mut bytes = w.bytes.clone();
    bytes[w.offsets[victim] as usize + 50] ^= 0x40;
    let out = read_bytes(&bytes, RecoveryMode::SkipAnyCorruptedRecords);
    assert!(out.error.is_none());
    assert!(is_faithful(&out.records, &w));
    let offsets: Vec<u64> = out.records.iter().map(|r| r.0).collect();
    // Records 0..=2 before the damage; record 4 spans into block 2 from block 1, so
    // its LAST fragment is an orphan; record 5 in block 2 is back.
    assert_eq!(
        offsets,
        vec![w.offsets[0], w.offsets[1], w.offsets[2], w.offsets[5]]
    );
    assert!(out.dropped.len() >= 2, "{:?}", out.dropped);
    assert_eq!(out.dropped[0].offset, w.offsets[victim]);

    let tolerate = read_bytes(&bytes, RecoveryMode::TolerateCorruptedTailRecords);
    assert_eq!(tolerate.corruption().0, w.offsets[victim]);
    let pit = read_bytes(&bytes, RecoveryMode::PointInTimeRecovery);
    assert_eq!(pit.records, w.expected(victim));
    assert!(pit.stopped_early);
}

#[test]
fn damage_in_the_middle_of_a_multi_block_record() {
    let w = build_log(&[10, 100_000, 10]);
    for (at, mode) in [
        (40_000usize, RecoveryMode::SkipAnyCorruptedRecords),
        (70_000, RecoveryMode::PointInTimeRecovery),
    ] {
        let mut bytes = w.bytes.clone();
        bytes[at] ^= 1;
        let out = read_bytes(&bytes, mode);
        assert!(out.error.is_none());
        assert!(is_faithful(&out.records, &w));
        assert!(out.records.iter().all(|r| r.0 != w.offsets[1]));
        assert_eq!(
            out.dropped[0].offset, w.offsets[1],
            "damage reported at the record's start"
        );
        let tolerate = read_bytes(&bytes, RecoveryMode::TolerateCorruptedTailRecords);
        assert_eq!(tolerate.corruption().0, w.offsets[1]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_damage_never_returns_wrong_content(
        sizes in proptest::collection::vec(0usize..40_000, 1..8),
        hits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut: bool,
    ) {
        let w = build_log(&sizes);
        let mut bytes = w.bytes.clone();
        for (at, value) in &hits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        for mode in ALL_MODES {
            let out = read_bytes(&bytes, mode);
            prop_assert!(is_faithful(&out.records, &w), "{:?}", mode);
        }
    }

    #[test]
    fn garbage_never_panics(garbage in proptest::collection::vec(any::<u8>(), 0..3_000), keep_header: bool) {
        let mut bytes = if keep_header { build_log(&[]).bytes } else { Vec::new() };
        bytes.extend_from_slice(&garbage);
        for mode in ALL_MODES {
            let out = read_bytes(&bytes, mode);
            if let Some(e) = &out.error {
                prop_assert!(e.is_corruption(), "{:?}", e);
            }
        }
    }
}
