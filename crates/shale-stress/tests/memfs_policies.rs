//! Short simulated power-loss runs with each crash policy.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use shale_stress::memfs_mode::{MemfsConfig, MemfsTotals, PolicyChoice, memfs_command};
use shale_stress::options::{TuningArgs, WorkloadArgs};

fn run(policy: PolicyChoice, seed: u64) -> MemfsTotals {
    let cfg = MemfsConfig {
        workload: WorkloadArgs {
            threads: 3,
            ops: None,
            seed,
            sync_ratio: 0.05,
            keyspaces: 3,
            keys: 2000,
        },
        tuning: TuningArgs::default(),
        cycles: 12,
        policy,
        max_writes_per_cycle: 800,
    };
    let (summary, totals) = memfs_command(&cfg).unwrap();
    assert_eq!(summary.cycles, 12);
    assert!(summary.is_clean(), "{policy:?}: {summary}");
    assert_eq!(summary.verified_keys, 12 * 2000);
    assert!(totals.acked_writes > 0, "{totals:?}");
    totals
}

#[test]
fn drop_all_unsynced() {
    run(PolicyChoice::Drop, 11);
}

#[test]
fn keep_random_prefix() {
    run(PolicyChoice::Prefix, 12);
}

#[test]
fn random_pages() {
    run(PolicyChoice::Pages, 13);
}

#[test]
fn all_policies_rotate() {
    let totals = run(PolicyChoice::All, 14);
    // About half of the cycles crash at a kill point of background work (flush,
    // compaction, manifest, WAL switch); the rest at a random instant.
    assert!((1..12).contains(&totals.kill_point_crashes), "{totals:?}");
}
