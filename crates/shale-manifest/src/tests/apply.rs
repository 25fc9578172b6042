//! Version::apply: random valid sequences keep the invariants; invalid edits fail.

use proptest::prelude::*;

use super::file;
use crate::{Version, VersionEdit};

#[derive(Debug, Clone)]
enum Op {
    /// Add an L0 file.
    Flush,
    /// Move the oldest L0 file to a free slot of level `1 + n % 5`.
    Move(u8),
    /// Delete the file at index `n` of all files.
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Flush),
        any::<u8>().prop_map(Op::Move),
        any::<u8>().prop_map(Op::Delete)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xA991),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_edits_keep_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let mut v = Version::new(7);
        let mut next = 1u64;
        for op in ops {
            let mut e = VersionEdit::default();
            match op {
                Op::Flush => {
                    e.add_file(0, file(next, "a", "z", next));
                    next += 1;
                }
                Op::Move(n) => {
                    let Some(f) = v.files(0).last().cloned() else { continue };
                    let level = 1 + usize::from(n) % 5;
                    // Each moved file gets its own key slot, so a level never overlaps.
                    let lo = format!("k{:06}", f.number);
                    let hi = format!("k{:06}~", f.number);
                    e.delete_file(0, f.number);
                    e.add_file(level, file(next, &lo, &hi, 0));
                    next += 1;
                }
                Op::Delete(n) => {
                    let all: Vec<_> = v.levels().iter().enumerate()
                        .flat_map(|(l, fs)| fs.iter().map(move |f| (l, f.number))).collect();
                    if all.is_empty() { continue }
                    let (l, num) = all[usize::from(n) % all.len()];
                    e.delete_file(l, num);
                }
            }
            let before = v.clone();
            v = v.apply(&e).unwrap();
            prop_assert!(v.check_invariants().is_ok());
            // The old version is untouched.
            prop_assert!(before.check_invariants().is_ok());
        }
    }
}

#[test]
fn invalid_edits_rejected() {
    let mut e = VersionEdit::default();
    e.add_file(0, file(1, "a", "c", 5));
    e.add_file(1, file(2, "a", "c", 1));
    let v = Version::new(3).apply(&e).unwrap();

    // Deleting a file that is not there (or not at that level).
    let mut d = VersionEdit::default();
    d.delete_file(0, 2);
    let err = v.apply(&d).unwrap_err();
    assert!(
        err.is_corruption() && err.to_string().contains("deletes file 2"),
        "{err}"
    );
    // Adding an existing number.
    let mut a = VersionEdit::default();
    a.add_file(2, file(1, "x", "y", 1));
    assert!(
        v.apply(&a)
            .unwrap_err()
            .to_string()
            .contains("already live")
    );
    // Level out of range (both directions).
    let mut a = VersionEdit::default();
    a.add_file(3, file(9, "x", "y", 1));
    assert!(
        v.apply(&a)
            .unwrap_err()
            .to_string()
            .contains("only 3 levels")
    );
    let mut d = VersionEdit::default();
    d.delete_file(5, 1);
    assert!(v.apply(&d).unwrap_err().is_corruption());
    // An overlap in L1.
    let mut a = VersionEdit::default();
    a.add_file(1, file(9, "b", "d", 1));
    assert!(v.apply(&a).unwrap_err().to_string().contains("overlap"));
    // Delete then re-add the same number (a move) is fine.
    let mut m = VersionEdit::default();
    m.delete_file(0, 1);
    m.add_file(2, file(1, "a", "c", 5));
    let moved = v.apply(&m).unwrap();
    assert_eq!(moved.files(2).len(), 1);
    assert!(moved.files(0).is_empty());
}
