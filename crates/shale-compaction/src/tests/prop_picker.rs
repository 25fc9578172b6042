//! Random versions never yield a compaction that breaks the picker's promises.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use shale_core::ValueKind;
use shale_core::key::make_internal_key;
use shale_manifest::{FileMeta, Version};

use crate::{Compaction, CompactionOptions, LevelTargets, pick_compaction, pick_range_compaction};

fn key(i: u32) -> Vec<u8> {
    format!("k{i:03}").into_bytes()
}

fn meta(number: u64, lo: u32, hi: u32, size: u64, seq: u64) -> Arc<FileMeta> {
    Arc::new(FileMeta {
        number,
        size,
        smallest: make_internal_key(&key(lo), seq, ValueKind::Value),
        largest: make_internal_key(&key(hi), seq, ValueKind::Value),
        smallest_seqno: seq,
        largest_seqno: seq,
        num_entries: 1,
        num_deletions: 0,
    })
}

/// L0: random ranges; deeper levels: disjoint ranges cut from sorted points.
fn arb_version() -> impl Strategy<Value = Version> {
    (3usize..6)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec((0u32..100, 0u32..20, 1u64..400), 0..8),
                proptest::collection::vec(
                    (
                        proptest::collection::btree_set(0u32..100, 0..16),
                        1u64..4000,
                    ),
                    n - 1,
                ),
            )
        })
        .prop_map(|(l0, deeper)| {
            let mut number = 0u64;
            let mut levels = vec![Vec::new()];
            for (i, (lo, len, size)) in l0.into_iter().enumerate() {
                number += 1;
                levels[0].push(meta(number, lo, lo + len, size, 1000 + i as u64));
            }
            let depth = deeper.len();
            for (d, (points, size)) in deeper.into_iter().enumerate() {
                let points: Vec<u32> = points.into_iter().collect();
                let seq = (depth - d) as u64 * 10;
                let mut files = Vec::new();
                for pair in points.chunks_exact(2) {
                    number += 1;
                    files.push(meta(number, pair[0], pair[1], size / 3 + number, seq));
                }
                levels.push(files);
            }
            Version::from_levels(levels)
        })
}

fn range(files: &[&Arc<FileMeta>]) -> (Vec<u8>, Vec<u8>) {
    let lo = files
        .iter()
        .map(|f| f.smallest_user_key())
        .min()
        .unwrap_or(&[]);
    let hi = files
        .iter()
        .map(|f| f.largest_user_key())
        .max()
        .unwrap_or(&[]);
    (lo.to_vec(), hi.to_vec())
}

fn check(
    v: &Version,
    opts: &CompactionOptions,
    c: &Compaction,
    busy: &BTreeSet<u64>,
) -> Result<(), TestCaseError> {
    let n = v.num_levels();
    let targets = LevelTargets::compute(v, opts);
    prop_assert!(!c.inputs.is_empty());
    let level_numbers: BTreeSet<u64> = v.files(c.level).iter().map(|f| f.number).collect();
    for f in &c.inputs {
        prop_assert!(
            level_numbers.contains(&f.number),
            "input {} not in L{}",
            f.number,
            c.level
        );
    }
    let expected_output = if c.level == 0 {
        targets.base_level()
    } else {
        c.level + 1
    };
    prop_assert_eq!(c.output_level, expected_output);
    prop_assert!(c.output_level < n);
    let (lo, hi) = range(&c.inputs.iter().collect::<Vec<_>>());
    let want: Vec<u64> = v
        .overlapping_files(c.output_level, Some(&lo), Some(&hi))
        .iter()
        .map(|f| f.number)
        .collect();
    let got: Vec<u64> = c.output_inputs.iter().map(|f| f.number).collect();
    prop_assert_eq!(got, want, "output_inputs");
    for f in c.input_files() {
        prop_assert!(!busy.contains(&f.number), "busy file {} picked", f.number);
    }
    // L0: no file left behind overlaps an input.
    if c.level == 0 {
        let inputs: BTreeSet<u64> = c.inputs.iter().map(|f| f.number).collect();
        for f in v.files(0).iter().filter(|f| !inputs.contains(&f.number)) {
            for i in &c.inputs {
                prop_assert!(
                    !f.overlaps(Some(i.smallest_user_key()), Some(i.largest_user_key())),
                    "L0 file {} left behind overlaps input {}",
                    f.number,
                    i.number
                );
            }
        }
    }
    // Levels between the input level and the output level are empty.
    for l in c.level + 1..c.output_level {
        prop_assert!(v.files(l).is_empty(), "L{} skipped but holds files", l);
    }
    let (alo, ahi) = range(&c.input_files().collect::<Vec<_>>());
    let bottommost =
        (c.output_level + 1..n).all(|l| v.overlapping_files(l, Some(&alo), Some(&ahi)).is_empty());
    prop_assert_eq!(c.bottommost, bottommost);
    if c.trivial_move {
        prop_assert_eq!(c.inputs.len(), 1);
        prop_assert!(c.output_inputs.is_empty());
    }
    // Applying it keeps the output level non-overlapping.
    let removed: BTreeSet<u64> = c.input_files().map(|f| f.number).collect();
    for f in v
        .files(c.output_level)
        .iter()
        .filter(|f| !removed.contains(&f.number))
    {
        prop_assert!(
            !f.overlaps(Some(&alo), Some(&ahi)),
            "output would overlap file {}",
            f.number
        );
    }
    Ok(())
}

fn arb_opts() -> impl Strategy<Value = CompactionOptions> {
    (
        1usize..4,
        2u64..5,
        50u64..3000,
        any::<bool>(),
        100u64..20_000,
    )
        .prop_map(
            |(trigger, m, base, dynamic, max_compaction)| CompactionOptions {
                num_levels: 7,
                l0_compaction_trigger: trigger,
                level_size_multiplier: m,
                max_bytes_for_level_base: base,
                target_file_size: 100,
                max_compaction_bytes: max_compaction,
                dynamic_level_bytes: dynamic,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x91C4E7),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn picks_respect_the_rules(
        v in arb_version(),
        opts in arb_opts(),
        busy_mask in any::<u64>(),
        pointer_keys in proptest::collection::vec(proptest::option::of(0u32..110), 6),
        range in (0u32..110, 0u32..30, any::<bool>()),
    ) {
        v.check_invariants().unwrap();
        let busy: BTreeSet<u64> = (1..64u64).filter(|i| busy_mask & (1 << i) != 0 && busy_mask % 3 == 0).collect();
        let pointers: Vec<Option<Vec<u8>>> = pointer_keys
            .iter()
            .map(|p| p.map(|k| make_internal_key(&key(k), 5, ValueKind::Value)))
            .collect();
        let mut running = busy.clone();
        let mut picked: Vec<Compaction> = Vec::new();
        // Keep picking while marking each pick busy, as the Db does.
        while let Some(c) = pick_compaction(&v, &opts, &pointers, &running) {
            check(&v, &opts, &c, &running)?;
            for f in c.input_files() {
                prop_assert!(running.insert(f.number));
            }
            picked.push(c);
            prop_assert!(picked.len() <= v.num_files());
        }
        prop_assert!(picked.iter().filter(|c| c.level == 0).count() <= 1);
        // Concurrent compactions writing the same level cover disjoint key ranges,
        // and no compaction writes over files another one reads.
        for (i, a) in picked.iter().enumerate() {
            for b in &picked[i + 1..] {
                let hull = |c: &Compaction| (c.smallest_user_key().to_vec(), c.largest_user_key().to_vec());
                let ((alo, ahi), (blo, bhi)) = (hull(a), hull(b));
                if a.output_level == b.output_level {
                    prop_assert!(ahi < blo || bhi < alo, "{:?} and {:?} write one level", a, b);
                }
                for (w, r) in [(a, b), (b, a)] {
                    let (lo, hi) = hull(w);
                    for f in r.input_files() {
                        let at = if r.inputs.iter().any(|x| x.number == f.number) { r.level } else { r.output_level };
                        if at == w.output_level {
                            prop_assert!(!f.overlaps(Some(&lo), Some(&hi)),
                                "{:?} writes over file {} of {:?}", w, f.number, r);
                        }
                    }
                }
            }
        }
        // Range compactions on every level.
        let (lo, len, bounded) = range;
        let (lo_key, hi_key) = (key(lo), key(lo + len));
        for level in 0..v.num_levels() {
            let (l, h) = if bounded { (Some(&lo_key[..]), Some(&hi_key[..])) } else { (None, None) };
            if let Some(c) = pick_range_compaction(&v, &opts, level, l, h, &busy) {
                check(&v, &opts, &c, &busy)?;
                prop_assert_eq!(c.level, level);
                let want: Vec<u64> = v.overlapping_files(level, l, h).iter().map(|f| f.number).collect();
                let got: BTreeSet<u64> = c.inputs.iter().map(|f| f.number).collect();
                for w in want {
                    prop_assert!(got.contains(&w), "range compaction missed file {}", w);
                }
            }
        }
    }
}
