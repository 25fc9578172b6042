//! `shale-stress crash`: kill -9 cycles. Each cycle starts `shale-stress run` as a
//! child process, SIGKILLs it after a seeded random delay, reopens the database here
//! (with `paranoid_checks`) and verifies all of it against the expected-state file the
//! child kept, then closes it and checks every file's checksums.

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{Db, StdFs};

use crate::expected_state::ExpectedState;
use crate::options::{PathArgs, TuningArgs, WorkloadArgs};
use crate::values::mix;
use crate::verify::verify_and_resolve;
use crate::{StressError, StressResult, Summary};

/// What the `crash` command needs.
#[derive(Debug, Clone)]
pub struct CrashConfig {
    /// Database directory and expected-state file.
    pub paths: PathArgs,
    /// The children's workload (`seed` seeds the kill times and each child's seed).
    pub workload: WorkloadArgs,
    /// Database tuning (children and the verifying parent).
    pub tuning: TuningArgs,
    /// Number of kill/verify cycles.
    pub cycles: u64,
    /// Each child is killed after a delay drawn from this range (milliseconds).
    pub kill_after_ms: (u64, u64),
    /// The `shale-stress` executable to start (normally the current one).
    pub exe: PathBuf,
}

/// Parses `MIN..MAX` (milliseconds).
pub fn parse_ms_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("expected MIN..MAX, got {s:?}"))?;
    let a: u64 = a.trim().parse().map_err(|e| format!("{a:?}: {e}"))?;
    let b: u64 = b.trim().parse().map_err(|e| format!("{b:?}: {e}"))?;
    if a > b {
        return Err(format!("{s:?}: MIN is greater than MAX"));
    }
    Ok((a, b))
}

/// How a child ended.
enum ChildEnd {
    Killed,
    Exited(ExitStatus),
}

/// Starts a child `run` and kills it after `kill_after` (unless it ends first).
fn run_child(cfg: &CrashConfig, seed: u64, kill_after: Duration) -> StressResult<ChildEnd> {
    let mut cmd = Command::new(&cfg.exe);
    cmd.arg("run")
        .arg("--db")
        .arg(&cfg.paths.db)
        .arg("--expected")
        .arg(&cfg.paths.expected)
        .args(cfg.workload.to_args(seed, cfg.workload.ops.unwrap_or(0)))
        .args(cfg.tuning.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + kill_after;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(ChildEnd::Exited(status));
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
    }
    // SIGKILL; if it exited in between, kill fails harmlessly and wait reports the exit.
    let _ = child.kill();
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt;
    Ok(if status.signal() == Some(9) {
        ChildEnd::Killed
    } else {
        ChildEnd::Exited(status)
    })
}

/// One cycle's verification in the parent: open, check every key, resolve, close,
/// check files. Adds to `summary`; returns the problems found.
fn verify_cycle(cfg: &CrashConfig, summary: &mut Summary) -> StressResult<Vec<String>> {
    let w = &cfg.workload;
    let exp = ExpectedState::open_file(&cfg.paths.expected, w.keys)?;
    let mut opts = cfg.tuning.options(Arc::new(StdFs::new()));
    opts.paranoid_checks = true;
    let db = match Db::open(&cfg.paths.db, opts) {
        Ok(db) => db,
        Err(e) => {
            summary.corrupt += 1;
            return Ok(vec![format!("OPEN FAILED: {e}")]);
        }
    };
    let check = verify_and_resolve(&db, &exp, w, true)?;
    summary.verified_keys += check.summary.verified_keys;
    summary.lost += check.summary.lost;
    summary.unexpected += check.summary.unexpected;
    let mut problems = check.problems;
    if let Err(e) = db.wait_for_compactions() {
        summary.corrupt += 1;
        problems.push(format!("background work after reopen failed: {e}"));
    }
    drop(db);
    let files = crate::file_checks::check_dir(&StdFs::new(), &cfg.paths.db, cfg.tuning.num_levels);
    summary.corrupt += files.len() as u64;
    problems.extend(files);
    Ok(problems)
}

/// Runs the kill/verify cycles and returns the totals. Problems are printed to stderr
/// with what is needed to reproduce them; the loop goes on after a failed cycle unless
/// the database no longer opens.
pub fn crash_command(cfg: &CrashConfig) -> StressResult<Summary> {
    cfg.workload.validate()?;
    let (min_ms, max_ms) = cfg.kill_after_ms;
    let mut rng = StdRng::seed_from_u64(mix(cfg.workload.seed ^ 0xC0A5_4000));
    let mut summary = Summary::default();
    let started = Instant::now();
    let mut kills = 0u64;
    for cycle in 0..cfg.cycles {
        let child_seed = mix(cfg.workload.seed.wrapping_add(cycle));
        let kill_ms = rng.random_range(min_ms..=max_ms);
        let mut problems = Vec::new();
        match run_child(cfg, child_seed, Duration::from_millis(kill_ms))? {
            ChildEnd::Killed => kills += 1,
            ChildEnd::Exited(s) if s.success() => {}
            ChildEnd::Exited(s) => {
                summary.unexpected += 1;
                problems.push(format!(
                    "child run exited with {s} (its verification failed; see its stderr above)"
                ));
            }
        }
        let before = summary;
        problems.extend(verify_cycle(cfg, &mut summary)?);
        summary.cycles += 1;
        if !problems.is_empty() {
            eprintln!(
                "cycle {cycle}: child seed {child_seed}, killed after {kill_ms} ms — {} problem(s) \
                 (lost +{}, unexpected +{}, corrupt +{}):",
                problems.len(),
                summary.lost - before.lost,
                summary.unexpected - before.unexpected,
                summary.corrupt - before.corrupt
            );
            for p in problems.iter().take(30) {
                eprintln!("  {p}");
            }
            if problems.iter().any(|p| p.starts_with("OPEN FAILED")) {
                eprintln!("the database no longer opens; stopping");
                break;
            }
        }
        if (cycle + 1) % 25 == 0 {
            eprintln!(
                "[{:.0}s] cycle {}/{}: {summary} kills={kills}",
                started.elapsed().as_secs_f64(),
                cycle + 1,
                cfg.cycles
            );
        }
    }
    if summary.cycles == 0 && cfg.cycles > 0 {
        return Err(StressError::Usage("no cycle completed".into()));
    }
    Ok(summary)
}
