//! The expected-state file survives reopening, and every slot update is a single
//! aligned 16-byte write.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // the test inspects the file directly

use shale_stress::expected_state::{
    ExpectedState, HEADER_LEN, IN_FLIGHT, SLOT_LEN, Slot, generation, make_word,
};

#[test]
fn survives_reopen_with_in_flight_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expected");
    {
        let exp = ExpectedState::open_file(&path, 100).unwrap();
        assert_eq!(exp.slot(7), Slot::default());
        let w = exp.next_word(7, true);
        assert_eq!(generation(w), 1);
        exp.begin(7, w).unwrap();
        exp.commit(7).unwrap();
        let w2 = exp.next_word(7, false);
        exp.begin(7, w2).unwrap();
        // "Killed" here: the delete is in flight, never acknowledged.
        let w3 = exp.next_word(99, true);
        exp.begin(99, w3).unwrap();
        exp.commit(99).unwrap();
    }
    let exp = ExpectedState::open_file(&path, 100).unwrap();
    let s = exp.slot(7);
    assert_eq!(s.acked, make_word(1, true));
    assert_eq!(s.pending, make_word(2, false) | IN_FLIGHT);
    assert!(s.in_flight() && s.allows(Some(1)) && s.allows(None) && !s.allows(Some(2)));
    assert_eq!(exp.slot(99).acked, make_word(1, true));
    assert!(!exp.slot(99).in_flight());
    assert_eq!(exp.next_word(7, true), make_word(3, true));
    // A file for another key count is refused, not misread.
    assert!(ExpectedState::open_file(&path, 101).is_err());
}

#[test]
fn slots_are_aligned_and_independent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expected");
    let n = 1000u32;
    let exp = ExpectedState::open_file(&path, n).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        HEADER_LEN + SLOT_LEN * u64::from(n)
    );
    // Slot k lives at HEADER_LEN + 16 k: 16-aligned, so a 16-byte pwrite never crosses
    // a page (4096 % 16 == 0) and a killed process cannot leave a torn slot.
    assert_eq!(HEADER_LEN % SLOT_LEN, 0);
    assert_eq!(4096 % SLOT_LEN, 0);
    for k in 0..n {
        exp.store(
            k,
            Slot {
                acked: make_word(u64::from(k) + 1, true),
                pending: make_word(u64::from(k) + 2, false),
            },
        )
        .unwrap();
    }
    drop(exp);
    let bytes = std::fs::read(&path).unwrap();
    for k in [0u32, 255, 256, 999] {
        let off = (HEADER_LEN + SLOT_LEN * u64::from(k)) as usize;
        let acked = u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
        let pending = u64::from_le_bytes(bytes[off + 8..off + 16].try_into().unwrap());
        assert_eq!(acked, make_word(u64::from(k) + 1, true));
        assert_eq!(pending, make_word(u64::from(k) + 2, false));
    }
    let exp = ExpectedState::open_file(&path, n).unwrap();
    assert_eq!(exp.slot(500).acked, make_word(501, true));
}
