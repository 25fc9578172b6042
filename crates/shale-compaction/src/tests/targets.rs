use super::{GIB, MIB, file, version};
use crate::{CompactionOptions, LevelTargets};

#[test]
fn dynamic_targets_from_last_level() {
    let v = version(7, vec![(6, file(1, "a", "z", 10 * GIB, 1))]);
    let t = LevelTargets::compute(&v, &CompactionOptions::default());
    assert_eq!(t.base_level(), 4);
    assert_eq!(t.natural_base_level(), 4);
    let targets: Vec<u64> = (0..7).map(|l| t.target(l)).collect();
    // L4's chain target is 102.4 MiB, raised to max_bytes_for_level_base.
    assert_eq!(targets, vec![0, 0, 0, 0, 256 * MIB, GIB, 10 * GIB]);
    assert_eq!(t.target(7), 0);
}

#[test]
fn dynamic_targets_large_tree() {
    // 1 TiB at the bottom: 100 GiB, 10 GiB, 1 GiB, 102.4 MiB (> 25.6 MiB) at L2.
    let v = version(7, vec![(6, file(1, "a", "z", 1024 * GIB, 1))]);
    let t = LevelTargets::compute(&v, &CompactionOptions::default());
    assert_eq!(t.base_level(), 2);
    assert_eq!(t.target(1), 0);
    assert_eq!(t.target(2), 256 * MIB);
    assert_eq!(t.target(3), 1024 * GIB / 1000);
    assert_eq!(t.target(5), 1024 * GIB / 10);
}

#[test]
fn empty_tree_compacts_l0_to_last_level() {
    let v = version(7, vec![(0, file(1, "a", "z", 1000, 1))]);
    let t = LevelTargets::compute(&v, &CompactionOptions::default());
    assert_eq!(t.base_level(), 6);
    assert_eq!(t.target(6), 256 * MIB);
    assert_eq!(t.target(5), 0);
}

#[test]
fn data_above_natural_base_is_the_base_and_drains() {
    // A small tree whose data sits in L2 (e.g. written with static targets).
    let v = version(
        7,
        vec![
            (2, file(1, "a", "c", MIB, 1)),
            (6, file(2, "a", "z", 10 * GIB, 1)),
        ],
    );
    let t = LevelTargets::compute(&v, &CompactionOptions::default());
    assert_eq!(t.natural_base_level(), 4);
    assert_eq!(t.base_level(), 2, "L0 must not skip over L2's data");
    assert_eq!(t.target(2), 0);
    assert_eq!(t.target(3), 0);
    assert_eq!(t.target(4), 256 * MIB);
}

#[test]
fn largest_level_sizes_the_tree() {
    // The last level shrank below L5: L5 sets the scale.
    let v = version(
        7,
        vec![
            (5, file(1, "a", "m", 10 * GIB, 1)),
            (6, file(2, "a", "z", GIB, 1)),
        ],
    );
    let t = LevelTargets::compute(&v, &CompactionOptions::default());
    assert_eq!(t.target(6), 10 * GIB);
    assert_eq!(t.target(5), GIB);
    assert_eq!(t.base_level(), 4);
}

#[test]
fn too_few_levels_keeps_fan_out() {
    let opts = CompactionOptions {
        num_levels: 3,
        ..CompactionOptions::default()
    };
    let v = version(3, vec![(2, file(1, "a", "z", 100 * GIB, 1))]);
    let t = LevelTargets::compute(&v, &opts);
    assert_eq!(t.base_level(), 1);
    assert_eq!(t.target(1), 10 * GIB);
}

#[test]
fn static_targets() {
    let opts = CompactionOptions {
        dynamic_level_bytes: false,
        ..CompactionOptions::default()
    };
    let v = version(4, vec![]);
    let t = LevelTargets::compute(&v, &opts);
    assert_eq!(t.base_level(), 1);
    assert_eq!(
        (0..4).map(|l| t.target(l)).collect::<Vec<_>>(),
        vec![0, 256 * MIB, 2560 * MIB, 25600 * MIB]
    );
}
