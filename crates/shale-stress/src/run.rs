//! `shale-stress run`: open the database, verify it against the expected-state file
//! (settling writes a killed predecessor left in flight), run the workload, verify
//! again.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use shaledb::{Db, StdFs};

use crate::StressResult;
use crate::expected_state::ExpectedState;
use crate::options::{PathArgs, TuningArgs, WorkloadArgs};
use crate::verify::{require_clean, verify_and_resolve};
use crate::workload::{Progress, WorkerStats, run_workers};

/// Default operations per thread of a standalone `run`.
pub const DEFAULT_RUN_OPS: u64 = 5000;

/// Runs the workload once; any verification failure is an `Err`.
pub fn run_command(
    paths: &PathArgs,
    w: &WorkloadArgs,
    tuning: &TuningArgs,
) -> StressResult<WorkerStats> {
    w.validate()?;
    let exp = ExpectedState::open_file(&paths.expected, w.keys)?;
    let db = Db::open(&paths.db, tuning.options(Arc::new(StdFs::new())))?;
    let before = verify_and_resolve(&db, &exp, w, false)?;
    require_clean(&before, "verification at start")?;
    let progress: Vec<Progress> = (0..w.threads).map(|_| Progress::default()).collect();
    let stop = AtomicBool::new(false);
    let ops = w.ops.unwrap_or(DEFAULT_RUN_OPS);
    let stats = run_workers(&db, &exp, w, ops, &stop, &progress)?;
    let after = verify_and_resolve(&db, &exp, w, false)?;
    require_clean(&after, "verification at end")?;
    Ok(stats)
}
