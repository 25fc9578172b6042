use std::collections::BTreeSet;

use shale_core::ValueKind;
use shale_core::key::make_internal_key;

use super::{file, numbers, version};
use crate::{
    CompactionOptions, CompactionReason, level_scores, pick_bottommost_rewrite, pick_compaction,
    pick_range_compaction,
};

/// Static targets: L1 1000 bytes, L2 10 000, L3 100 000; target files of 100 bytes.
fn small_opts() -> CompactionOptions {
    CompactionOptions {
        num_levels: 4,
        l0_compaction_trigger: 4,
        level_size_multiplier: 10,
        max_bytes_for_level_base: 1000,
        target_file_size: 100,
        max_compaction_bytes: 1_000_000,
        dynamic_level_bytes: false,
    }
}

fn none() -> BTreeSet<u64> {
    BTreeSet::new()
}

#[test]
fn l0_trigger() {
    let opts = CompactionOptions::default();
    let mut files: Vec<_> = (1..=3).map(|i| (0, file(i, "a", "z", 1000, i))).collect();
    let v = version(7, files.clone());
    assert!(pick_compaction(&v, &opts, &[], &none()).is_none());
    files.push((0, file(4, "b", "c", 1000, 4)));
    let v = version(7, files);
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!(c.level, 0);
    assert_eq!(c.output_level, 6, "empty tree: L0 goes to the last level");
    assert_eq!(c.reason, CompactionReason::L0FileCount);
    assert_eq!(c.score, 1.0);
    assert_eq!(numbers(&c.inputs), vec![4, 3, 2, 1]);
    assert!(c.bottommost);
    assert!(!c.trivial_move);
}

#[test]
fn l0_takes_the_overlap_closure_of_the_oldest_file() {
    let opts = small_opts();
    // 1 [a,c] (oldest) overlaps 3 [c,e], which overlaps 4 [e,g]; 2 [x,z] is apart.
    let v = version(
        4,
        vec![
            (0, file(1, "a", "c", 10, 1)),
            (0, file(2, "x", "z", 10, 2)),
            (0, file(3, "c", "e", 10, 3)),
            (0, file(4, "e", "g", 10, 4)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!(c.output_level, 1);
    assert_eq!(numbers(&c.inputs), vec![4, 3, 1]);
}

#[test]
fn l0_single_disjoint_file_is_a_trivial_move() {
    let opts = small_opts();
    let v = version(
        4,
        (1..=4)
            .map(|i| {
                let k = format!("k{i}");
                (0, file(i, &k, &k, 10, i))
            })
            .collect(),
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!(numbers(&c.inputs), vec![1]);
    assert!(c.trivial_move);
}

#[test]
fn l0_busy_means_no_second_l0_compaction() {
    let opts = small_opts();
    let v = version(
        4,
        (1..=8)
            .map(|i| {
                let k = format!("k{i}");
                (0, file(i, &k, &k, 10, i))
            })
            .collect(),
    );
    let busy: BTreeSet<u64> = [1].into();
    assert!(pick_compaction(&v, &opts, &[], &busy).is_none());
}

#[test]
fn highest_score_wins() {
    let opts = small_opts();
    // L1: 3000 bytes / 1000 = 3.0; L2: 25 000 / 10 000 = 2.5.
    let v = version(
        4,
        vec![
            (1, file(1, "a", "b", 1500, 1)),
            (1, file(2, "c", "d", 1500, 1)),
            (2, file(3, "m", "n", 25_000, 1)),
        ],
    );
    let scores = level_scores(&v, &opts, &none());
    assert_eq!(scores, vec![(0, 0.0), (1, 3.0), (2, 2.5)]);
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!((c.level, c.output_level), (1, 2));
    assert_eq!(c.reason, CompactionReason::LevelSize);
    // With L1 busy, its bytes no longer count: L2 is next.
    let busy: BTreeSet<u64> = [1, 2].into();
    let c = pick_compaction(&v, &opts, &[], &busy).unwrap();
    assert_eq!((c.level, c.output_level), (2, 3));
    assert_eq!(numbers(&c.inputs), vec![3]);
}

#[test]
fn round_robin_pointer() {
    let opts = small_opts();
    let v = version(
        4,
        vec![
            (1, file(1, "a", "b", 1000, 1)),
            (1, file(2, "c", "d", 1000, 1)),
            (1, file(3, "e", "f", 1000, 1)),
        ],
    );
    let pick = |p: Option<&str>| {
        let pointers = vec![
            None,
            p.map(|k| make_internal_key(k.as_bytes(), 1, ValueKind::Value)),
        ];
        numbers(
            &pick_compaction(&v, &opts, &pointers, &none())
                .unwrap()
                .inputs,
        )
    };
    assert_eq!(pick(None), vec![1]);
    assert_eq!(pick(Some("b")), vec![2]);
    assert_eq!(pick(Some("d")), vec![3]);
    assert_eq!(pick(Some("f")), vec![1], "wraps around");
    assert_eq!(pick(Some("c")), vec![2], "pointer inside a file: that file");
}

#[test]
fn busy_files_are_skipped_and_concurrent_picks_are_disjoint() {
    let opts = small_opts();
    // L1 is 4× over target; each L1 file overlaps its own L2 file.
    let mut files = Vec::new();
    for (i, (lo, hi)) in [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")]
        .iter()
        .enumerate()
    {
        let i = i as u64;
        files.push((1, file(10 + i, lo, hi, 1000, 2)));
        files.push((2, file(20 + i, lo, hi, 100, 1)));
    }
    let v = version(4, files);
    let mut busy = BTreeSet::new();
    let mut picked = Vec::new();
    while let Some(c) = pick_compaction(&v, &opts, &[], &busy) {
        for f in c.input_files() {
            assert!(busy.insert(f.number), "file {} picked twice", f.number);
        }
        picked.push(c);
    }
    assert_eq!(picked.len(), 4, "four disjoint compactions");
    for (i, a) in picked.iter().enumerate() {
        for b in &picked[i + 1..] {
            assert!(
                a.largest_user_key() < b.smallest_user_key()
                    || b.largest_user_key() < a.smallest_user_key()
            );
        }
    }
}

#[test]
fn busy_output_level_file_blocks_a_candidate() {
    let opts = small_opts();
    let v = version(
        4,
        vec![
            (1, file(1, "a", "b", 1000, 2)),
            (1, file(2, "c", "d", 1000, 2)),
            (2, file(3, "a", "b", 100, 1)),
        ],
    );
    let busy: BTreeSet<u64> = [3].into();
    let c = pick_compaction(&v, &opts, &[], &busy).unwrap();
    assert_eq!(numbers(&c.inputs), vec![2]);
    let busy: BTreeSet<u64> = [2, 3].into();
    assert!(pick_compaction(&v, &opts, &[], &busy).is_none());
}

#[test]
fn trivial_move_needs_small_grandparent_overlap() {
    let opts = small_opts();
    let v = version(
        4,
        vec![
            (1, file(1, "a", "m", 2000, 2)),
            (3, file(2, "a", "z", 1000, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert!(c.trivial_move, "1000 bytes of grandparents = 10 × target");
    assert!(!c.bottommost);
    assert_eq!(numbers(&c.grandparents), vec![2]);
    let v = version(
        4,
        vec![
            (1, file(1, "a", "m", 2000, 2)),
            (3, file(2, "a", "z", 1001, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert!(!c.trivial_move);
    // Overlap in the output level: never trivial.
    let v = version(
        4,
        vec![
            (1, file(1, "a", "m", 2000, 2)),
            (2, file(2, "m", "z", 10, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!(numbers(&c.output_inputs), vec![2]);
    assert!(!c.trivial_move);
    assert_eq!(c.smallest_user_key(), b"a");
    assert_eq!(c.largest_user_key(), b"z");
    assert_eq!(c.input_bytes(), 2010);
}

#[test]
fn bottommost_flag() {
    let opts = small_opts();
    let v = version(
        4,
        vec![
            (1, file(1, "a", "c", 2000, 3)),
            (2, file(2, "b", "c", 10, 2)),
            (3, file(3, "x", "z", 10, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert!(c.is_bottommost(), "L3 holds nothing in [a, c]");
    let v = version(
        4,
        vec![
            (1, file(1, "a", "c", 2000, 3)),
            (2, file(2, "b", "c", 10, 2)),
            (3, file(3, "c", "z", 10, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert!(!c.is_bottommost());
}

#[test]
fn expansion_rule() {
    let opts = small_opts();
    // L1 [b,c] [d,d] [e,f] are inside L2 [a,f]: picking [b,c] takes all three.
    let v = version(
        4,
        vec![
            (1, file(1, "b", "c", 500, 2)),
            (1, file(2, "d", "d", 500, 2)),
            (1, file(3, "e", "f", 500, 2)),
            (2, file(4, "a", "f", 100, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!(numbers(&c.inputs), vec![1, 2, 3]);
    assert_eq!(numbers(&c.output_inputs), vec![4]);
    // Same shape, but expansion would exceed max_compaction_bytes.
    let tight = CompactionOptions {
        max_compaction_bytes: 1000,
        ..small_opts()
    };
    let c = pick_compaction(&v, &tight, &[], &none()).unwrap();
    assert_eq!(numbers(&c.inputs), vec![1]);
    // Expanding to [d,g] would pull in L2 [f,h]: refused.
    let v = version(
        4,
        vec![
            (1, file(1, "b", "c", 1000, 2)),
            (1, file(2, "d", "g", 1000, 2)),
            (2, file(3, "a", "e", 100, 1)),
            (2, file(4, "f", "h", 100, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!(numbers(&c.inputs), vec![1]);
    assert_eq!(numbers(&c.output_inputs), vec![3]);
    // A busy file in the expansion: not expanded.
    let v = version(
        4,
        vec![
            (1, file(1, "b", "c", 1000, 2)),
            (1, file(2, "d", "d", 1000, 2)),
            (2, file(3, "a", "f", 100, 1)),
        ],
    );
    let busy: BTreeSet<u64> = [2].into();
    assert!(
        pick_compaction(&v, &opts, &[], &busy).is_none(),
        "file 1's range touches busy file 2's output-level file"
    );
}

#[test]
fn unnecessary_level_drains_first() {
    let opts = CompactionOptions::default();
    let v = version(
        7,
        vec![
            (2, file(1, "a", "c", 1000, 2)),
            (6, file(2, "a", "z", 10 * super::GIB, 1)),
        ],
    );
    let c = pick_compaction(&v, &opts, &[], &none()).unwrap();
    assert_eq!((c.level, c.output_level), (2, 3));
    assert!(c.trivial_move);
}

#[test]
fn range_compaction() {
    let opts = small_opts();
    let v = version(
        4,
        vec![
            (0, file(1, "a", "c", 10, 5)),
            (0, file(2, "c", "f", 10, 6)),
            (0, file(3, "x", "z", 10, 7)),
            (1, file(4, "a", "b", 10, 2)),
            (1, file(5, "d", "e", 10, 2)),
            (1, file(6, "m", "n", 10, 2)),
            (2, file(7, "a", "z", 10, 1)),
        ],
    );
    // L0 [a,a]: file 1 plus file 2 (connected by overlap) into L1.
    let c = pick_range_compaction(&v, &opts, 0, Some(b"a"), Some(b"a"), &none()).unwrap();
    assert_eq!(c.reason, CompactionReason::Manual);
    assert_eq!((c.level, c.output_level), (0, 1));
    assert_eq!(numbers(&c.inputs), vec![2, 1]);
    assert_eq!(numbers(&c.output_inputs), vec![4, 5]);
    // L1, whole range: every file, not limited by max_compaction_bytes.
    let c = pick_range_compaction(&v, &opts, 1, None, None, &none()).unwrap();
    assert_eq!(numbers(&c.inputs), vec![4, 5, 6]);
    assert_eq!(numbers(&c.output_inputs), vec![7]);
    // Nothing there, last level, or busy: None.
    assert!(pick_range_compaction(&v, &opts, 1, Some(b"p"), Some(b"q"), &none()).is_none());
    assert!(pick_range_compaction(&v, &opts, 3, None, None, &none()).is_none());
    let busy: BTreeSet<u64> = [7].into();
    assert!(pick_range_compaction(&v, &opts, 1, None, None, &busy).is_none());
    let busy: BTreeSet<u64> = [3].into();
    assert!(pick_range_compaction(&v, &opts, 0, Some(b"a"), Some(b"a"), &busy).is_none());
}

#[test]
fn range_compaction_rewrites_tombstones_at_the_bottom() {
    let opts = small_opts();
    let mut f = (*file(1, "a", "c", 10, 5)).clone();
    f.num_deletions = 1;
    let v = version(4, vec![(2, std::sync::Arc::new(f))]);
    let c = pick_range_compaction(&v, &opts, 2, None, None, &none()).unwrap();
    assert!(c.bottommost);
    assert!(!c.trivial_move);
    // Without tombstones a move is fine.
    let v = version(4, vec![(2, file(1, "a", "c", 10, 5))]);
    let c = pick_range_compaction(&v, &opts, 2, None, None, &none()).unwrap();
    assert!(c.trivial_move);
}

#[test]
fn splitter_from_compaction_cuts_at_input_gaps() {
    let opts = small_opts();
    let v = version(
        4,
        vec![(1, file(1, "a", "b", 10, 2)), (1, file(2, "x", "y", 10, 2))],
    );
    let c = pick_range_compaction(&v, &opts, 1, None, None, &none()).unwrap();
    let mut s = c.output_splitter();
    let k = |u: &str| make_internal_key(u.as_bytes(), 1, ValueKind::Value);
    assert!(!s.should_start_new_file(&k("a"), 0));
    assert!(!s.should_start_new_file(&k("b"), 5));
    assert!(s.should_start_new_file(&k("x"), 10), "gap between b and x");
    assert!(!s.should_start_new_file(&k("y"), 5));
}

#[test]
fn bottommost_rewrite_stays_in_the_last_level() {
    let opts = small_opts();
    let v = version(
        4,
        vec![
            (2, file(7, "a", "z", 10, 1)),
            (3, file(8, "a", "f", 5, 30)),
            (3, file(9, "g", "m", 5, 30)),
            (3, file(10, "n", "z", 5, 30)),
        ],
    );
    let c = pick_bottommost_rewrite(&v, &opts, Some(b"h"), Some(b"o"), &none()).unwrap();
    assert_eq!(
        (c.level, c.output_level, c.reason),
        (3, 3, CompactionReason::Manual)
    );
    assert_eq!(numbers(&c.inputs), vec![9, 10]);
    assert!(c.output_inputs.is_empty() && c.bottommost && !c.trivial_move);
    assert_eq!(
        numbers(
            &pick_bottommost_rewrite(&v, &opts, None, None, &none())
                .unwrap()
                .inputs
        ),
        vec![8, 9, 10]
    );
    let busy: BTreeSet<u64> = [9].into();
    assert!(pick_bottommost_rewrite(&v, &opts, Some(b"h"), Some(b"o"), &busy).is_none());
    let empty = version(4, vec![(2, file(7, "a", "z", 10, 1))]);
    assert!(pick_bottommost_rewrite(&empty, &opts, None, None, &none()).is_none());
}
