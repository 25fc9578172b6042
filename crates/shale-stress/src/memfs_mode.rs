//! `shale-stress memfs`: the workload in-process on `MemFs`, with simulated power
//! losses instead of SIGKILL.
//!
//! Each cycle opens the database on the current `MemFs` wrapped in a
//! [`KillPointFs`], runs the workers on threads of this process (the engine's flushes
//! and compactions run on its own background threads), and after a random number of
//! acknowledged writes takes a crash image with `MemFs::crash_clone_with(policy,
//! seed)`: what a power loss at that instant would leave. Half of the cycles take it
//! at once, wherever the workers and background threads happen to be; the other half
//! arm a named kill point instead and take it at the `k`th next hit (`k` random in
//! 1..=8), just before or just after the operation, of a site of background work — an
//! `sst.*`, `manifest.*` or `current.*` site, or a WAL `create`, `close`, `remove` or
//! `sync_dir` — so the crash lands inside a flush, a compaction, a WAL switch or a
//! manifest write (falling back to "at once" if none comes within 50 ms). (A clone
//! rather than `crash_with` on the live file system: the dying `Db`'s background
//! threads would otherwise keep creating files, even rewriting `CURRENT`, in the
//! "after the crash" state, which a real power loss cannot do.) The old database is
//! then stopped and dropped, the clone is opened and verified.
//!
//! The model: the engine's WAL is one ordered stream, so after a power loss every
//! thread's writes must be recovered as a prefix of the writes it issued, and that
//! prefix must include every write that was acknowledged before a synced write (or a
//! WAL sync) of that thread returned — before the crash instant. Unsynced
//! acknowledged writes may be lost, but only as a suffix.
//!
//! Same seed, same workload choices, kill points and crash outcomes per cycle; thread
//! interleavings (and so the exact state at the crash) are not deterministic.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shale_fs::{CrashPolicy, FileOp, FileType, KillPoint, KillPointFs, Moment, Site};
use shaledb::{Db, MemFs};

use crate::expected_state::{ExpectedState, IN_FLIGHT, Slot, generation, make_word, observed_of};
use crate::options::{TuningArgs, WorkloadArgs};
use crate::values::mix;
use crate::verify::{DbImage, read_all};
use crate::workload::{LoggedOp, Progress, owner, run_workers, total_acked};
use crate::{StressError, StressResult, Summary};

/// The database directory inside the `MemFs`.
pub const DB_DIR: &str = "/db";

/// Which crash policies the cycles use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyChoice {
    /// Rotate through all three.
    All,
    /// `CrashPolicy::DropAllUnsynced`.
    Drop,
    /// `CrashPolicy::KeepRandomPrefix`.
    Prefix,
    /// `CrashPolicy::RandomPages`.
    Pages,
}

impl PolicyChoice {
    /// The policy of cycle `cycle`.
    pub fn policy(self, cycle: u64) -> CrashPolicy {
        match self {
            PolicyChoice::Drop => CrashPolicy::DropAllUnsynced,
            PolicyChoice::Prefix => CrashPolicy::KeepRandomPrefix,
            PolicyChoice::Pages => CrashPolicy::RandomPages,
            PolicyChoice::All => [
                CrashPolicy::DropAllUnsynced,
                CrashPolicy::KeepRandomPrefix,
                CrashPolicy::RandomPages,
            ][(cycle % 3) as usize],
        }
    }
}

/// What the `memfs` command needs.
#[derive(Debug, Clone)]
pub struct MemfsConfig {
    /// The workload (its `ops`, if given, caps each thread's operations per cycle).
    pub workload: WorkloadArgs,
    /// Database tuning.
    pub tuning: TuningArgs,
    /// Number of power-loss cycles.
    pub cycles: u64,
    /// Crash policy selection.
    pub policy: PolicyChoice,
    /// At most this many acknowledged writes (all threads) before the crash point.
    pub max_writes_per_cycle: u64,
}

/// Where each thread was at the crash instant.
#[derive(Debug, Clone, Copy)]
struct ThreadCut {
    /// Writes made durable by a sync before the crash (must all be recovered).
    synced: u64,
    /// Writes issued by the time the crash clone was complete (none later can show).
    issued: u64,
    /// Writes acknowledged before the crash point (informational: unsynced ones may be
    /// lost).
    acked: u64,
}

/// Informational totals of a memfs run: how much there was to lose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemfsTotals {
    /// Writes acknowledged before the crash points.
    pub acked_writes: u64,
    /// Of those, writes covered by a sync (must survive).
    pub synced_writes: u64,
    /// Acknowledged but unsynced writes that the power losses took (allowed), counted
    /// with the longest prefix that explains the recovered state.
    pub unsynced_lost: u64,
    /// Cycles whose crash image was taken at a named kill point of background work
    /// (the others: at a random instant).
    pub kill_point_crashes: u64,
}

/// The result of one cycle's model check.
#[derive(Debug, Default)]
struct CycleCheck {
    summary: Summary,
    problems: Vec<String>,
    /// Slots to start the next cycle from.
    next: Vec<Slot>,
    /// Informational totals of this cycle.
    totals: MemfsTotals,
    /// Where the crash image was taken, e.g. `After sst.sync #3`, or `at once`.
    crash_at: String,
}

/// The observed state of key `k` as a word: what was found, keeping generations
/// increasing past `max_gen`.
fn found_word(o: Option<u64>, max_gen: u64) -> u64 {
    match o {
        Some(g) => make_word(g, true),
        None => make_word(max_gen, false),
    }
}

/// Checks one cycle: per thread, the recovered state must be a prefix of its logged
/// writes covering every synced one.
fn check_cycle(
    img: &DbImage,
    start: &[Slot],
    logs: &[Vec<LoggedOp>],
    cuts: &[ThreadCut],
) -> CycleCheck {
    let threads = logs.len();
    let mut out = CycleCheck {
        next: start.to_vec(),
        ..CycleCheck::default()
    };
    out.summary.verified_keys = start.len() as u64;
    out.summary.unexpected = img.problems.len() as u64;
    out.problems.extend(img.problems.iter().cloned());
    // Highest generation ever issued per key (including writes after the crash point).
    for log in logs {
        for op in log {
            for &(k, w) in &op.writes {
                let s = &mut out.next[k as usize];
                if generation(w) > generation(s.pending) {
                    s.pending = w & !IN_FLIGHT;
                }
            }
        }
    }
    // Per thread and key: the writes before the cut, as (op index, word).
    let mut history: Vec<BTreeMap<u32, Vec<(u64, u64)>>> = vec![BTreeMap::new(); threads];
    for (t, log) in logs.iter().enumerate() {
        for (j, op) in log.iter().enumerate().take(cuts[t].issued as usize) {
            for &(k, w) in &op.writes {
                history[t].entry(k).or_default().push((j as u64, w));
            }
        }
    }
    for (i, s) in start.iter().enumerate() {
        let k = i as u32;
        let o = img.observed[i];
        let max_gen = out.next[i].max_generation();
        out.next[i].acked = found_word(o, max_gen);
        if img.garbage[i] {
            continue;
        }
        let t = owner(k, threads);
        if !history[t].contains_key(&k) && observed_of(s.acked) != o {
            let lost = o.is_none_or(|g| g < generation(s.acked));
            if lost {
                out.summary.lost += 1;
            } else {
                out.summary.unexpected += 1;
            }
            out.problems.push(format!(
                "key {k} (not written this cycle): found generation {o:?}, expected {:?} — {}",
                observed_of(s.acked),
                if lost { "LOST" } else { "UNEXPECTED" }
            ));
        }
    }
    for t in 0..threads {
        check_thread(t, img, start, &history[t], cuts[t], &mut out);
    }
    out
}

/// The prefix check of thread `t`: every touched key restricts the prefix length `p`
/// (number of the thread's writes applied) to a union of intervals; some `p` in
/// `[synced, issued]` must satisfy all keys at once.
fn check_thread(
    t: usize,
    img: &DbImage,
    start: &[Slot],
    history: &BTreeMap<u32, Vec<(u64, u64)>>,
    cut: ThreadCut,
    out: &mut CycleCheck,
) {
    let n = cut.issued;
    // diff[p] over p in 0..=n: +1 where a key allows p.
    let mut diff = vec![0i64; n as usize + 2];
    let mut constrained = 0i64;
    let mut individually_ok = true;
    for (&k, writes) in history {
        if img.garbage[k as usize] {
            individually_ok = false;
            continue;
        }
        let o = img.observed[k as usize];
        // State after p writes: the initial one for p <= first index, then each write's.
        let mut intervals = Vec::new();
        let first = writes.first().map_or(n, |w| w.0);
        if observed_of(start[k as usize].acked) == o {
            intervals.push((0, first));
        }
        for (m, &(j, w)) in writes.iter().enumerate() {
            let end = writes.get(m + 1).map_or(n, |next| next.0);
            if observed_of(w) == o {
                intervals.push((j + 1, end));
            }
        }
        let in_window = intervals
            .iter()
            .any(|&(a, b)| a.max(cut.synced) <= b.min(n));
        if !in_window {
            individually_ok = false;
            let lost = !intervals.is_empty();
            if lost {
                out.summary.lost += 1;
            } else {
                out.summary.unexpected += 1;
            }
            out.problems.push(format!(
                "thread {t} key {k}: found generation {o:?}, allowed only after {:?} of the \
                 thread's writes, but {} were synced and {} issued — {}",
                intervals,
                cut.synced,
                n,
                if lost {
                    "LOST (a synced write is missing)"
                } else {
                    "UNEXPECTED (never written)"
                }
            ));
            continue;
        }
        constrained += 1;
        for (a, b) in intervals {
            diff[a as usize] += 1;
            diff[b as usize + 1] -= 1;
        }
    }
    if !individually_ok {
        return;
    }
    let mut count = 0;
    let mut longest = None;
    for (p, d) in diff.iter().enumerate().take(n as usize + 1) {
        count += d;
        if count == constrained && p as u64 >= cut.synced {
            longest = Some(p as u64);
        }
    }
    out.totals.acked_writes += cut.acked;
    out.totals.synced_writes += cut.synced;
    if let Some(p) = longest {
        out.totals.unsynced_lost += cut.acked.saturating_sub(p);
    } else {
        out.summary.unexpected += 1;
        out.problems.push(format!(
            "thread {t}: the recovered keys are not a prefix of its writes \
             (synced {}, issued {}): a write was lost while a later one survived",
            cut.synced, n
        ));
    }
}

/// Opens the database on `fs`.
fn open(fs: &MemFs, tuning: &TuningArgs) -> shaledb::Result<Db> {
    Db::open(Path::new(DB_DIR), tuning.options(Arc::new(fs.clone())))
}

/// Runs the power-loss cycles and returns the totals; problems go to stderr with the
/// seed, cycle and policy.
pub fn memfs_command(cfg: &MemfsConfig) -> StressResult<(Summary, MemfsTotals)> {
    let w = &cfg.workload;
    w.validate()?;
    let mut rng = StdRng::seed_from_u64(mix(w.seed ^ 0x3E3F_5000));
    let mut fs = MemFs::new();
    let mut start = vec![Slot::default(); w.keys as usize];
    let mut summary = Summary::default();
    let mut totals = MemfsTotals::default();
    let started = Instant::now();
    for cycle in 0..cfg.cycles {
        let policy = cfg.policy.policy(cycle);
        let crash_seed: u64 = rng.random();
        let target = rng.random_range(0..=cfg.max_writes_per_cycle);
        // Same draws from `rng` as before kill points existed (so a seed still means
        // the same targets, policies and crash seeds); the kill point comes from the
        // crash seed.
        let kill_point = rng
            .random_bool(0.5)
            .then(|| KillPointArm::from_seed(mix(crash_seed)));
        let worker_seed = mix(w.seed.wrapping_add(cycle));
        let before = summary;
        let mut problems = Vec::new();
        let mut crash_at = String::new();
        let result = one_cycle(
            cfg,
            &fs,
            &start,
            worker_seed,
            target,
            kill_point,
            policy,
            crash_seed,
        );
        match result {
            Ok((check, next_fs)) => {
                summary.verified_keys += check.summary.verified_keys;
                summary.lost += check.summary.lost;
                summary.unexpected += check.summary.unexpected;
                summary.corrupt += check.summary.corrupt;
                totals.acked_writes += check.totals.acked_writes;
                totals.synced_writes += check.totals.synced_writes;
                totals.unsynced_lost += check.totals.unsynced_lost;
                totals.kill_point_crashes += check.totals.kill_point_crashes;
                crash_at = check.crash_at;
                problems = check.problems;
                fs = next_fs;
                start = check.next;
            }
            Err(e) => {
                summary.corrupt += 1;
                problems.push(e.to_string());
            }
        }
        summary.cycles += 1;
        if !problems.is_empty() {
            eprintln!(
                "cycle {cycle} (seed {}, policy {policy:?}, crash seed {crash_seed}, \
                 worker seed {worker_seed}, {target} writes, crash {crash_at}): \
                 lost +{} unexpected +{} corrupt +{}",
                w.seed,
                summary.lost - before.lost,
                summary.unexpected - before.unexpected,
                summary.corrupt - before.corrupt
            );
            for p in problems.iter().take(30) {
                eprintln!("  {p}");
            }
            // Start over from an empty database so one fault is reported once.
            fs = MemFs::new();
            start = vec![Slot::default(); w.keys as usize];
        }
        if (cycle + 1) % 100 == 0 {
            eprintln!(
                "[{:.0}s] cycle {}/{}: {summary}",
                started.elapsed().as_secs_f64(),
                cycle + 1,
                cfg.cycles
            );
        }
    }
    Ok((summary, totals))
}

/// A crash at the `nth` next hit of a background-work kill point, at `moment`.
#[derive(Debug, Clone, Copy)]
struct KillPointArm {
    nth: u64,
    moment: Moment,
}

impl KillPointArm {
    fn from_seed(x: u64) -> Self {
        KillPointArm {
            nth: 1 + x % 8,
            moment: if (x >> 8) & 1 == 0 {
                Moment::Before
            } else {
                Moment::After
            },
        }
    }
}

/// The sites an armed crash waits for: background work (flush, compaction, manifest
/// and `CURRENT` writes, obsolete file deletion) and WAL switches, not the WAL appends
/// and syncs that crashes at a random instant land on anyway.
fn is_background_site(site: Site) -> bool {
    match site.file {
        FileType::Sst | FileType::Manifest | FileType::Current => true,
        FileType::Wal => matches!(
            site.op,
            FileOp::Create | FileOp::Close | FileOp::Remove | FileOp::SyncDir
        ),
        FileType::Dir | FileType::Other => false,
    }
}

/// A crash image and where every thread was at its instant.
struct Crash {
    image: MemFs,
    cuts: Vec<ThreadCut>,
    at: String,
}

/// Takes a crash image with `take`, reading each thread's progress around it: what
/// was synced and acknowledged before, what was issued after.
fn capture(progress: &[Progress], take: impl FnOnce() -> MemFs, at: String) -> Crash {
    let before: Vec<(u64, u64)> = progress
        .iter()
        .map(|p| {
            (
                p.synced_through.load(Ordering::SeqCst),
                p.acked.load(Ordering::SeqCst),
            )
        })
        .collect();
    let image = take();
    let cuts = progress
        .iter()
        .zip(before)
        .map(|(p, (synced, acked))| ThreadCut {
            synced,
            issued: p.issued.load(Ordering::SeqCst),
            acked,
        })
        .collect();
    Crash { image, cuts, at }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The armed kill point of one cycle, shared by the driver and the observer.
struct Trap {
    /// Hits of background sites (at `moment`) still to come before the crash; `None`
    /// when not armed, or once taken (by the observer or by the driver's fallback).
    remaining: Mutex<Option<u64>>,
    moment: Moment,
    policy: CrashPolicy,
    seed: u64,
    progress: Arc<Vec<Progress>>,
    crash: Mutex<Option<Crash>>,
    taken: Condvar,
}

impl Trap {
    /// Called at every kill point: takes the crash image at the armed hit.
    fn observe(&self, p: &KillPoint<'_>) {
        if p.moment != self.moment || !is_background_site(p.site) {
            return;
        }
        {
            let mut remaining = lock(&self.remaining);
            match remaining.as_mut() {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    return;
                }
                Some(_) => *remaining = None,
                None => return,
            }
        }
        let at = format!("{:?} {} #{}", p.moment, p.site, p.hit);
        let crash = capture(&self.progress, || p.crash_image(self.policy, self.seed), at);
        *lock(&self.crash) = Some(crash);
        self.taken.notify_all();
    }

    /// Arms the trap and waits for it; after `timeout` without a hit, disarms it and
    /// takes the image at once from `fs`.
    fn wait(&self, arm: KillPointArm, timeout: Duration, fs: &MemFs) -> Crash {
        *lock(&self.remaining) = Some(arm.nth);
        let guard = lock(&self.crash);
        let (mut guard, _) = self
            .taken
            .wait_timeout_while(guard, timeout, |c| c.is_none())
            .unwrap_or_else(|p| p.into_inner());
        if guard.is_none() && lock(&self.remaining).take().is_some() {
            // Disarmed before any kill point fired: crash now.
            let at = format!(
                "at once (no {:?} kill point within {timeout:?})",
                arm.moment
            );
            return capture(
                &self.progress,
                || fs.crash_clone_with(self.policy, self.seed),
                at,
            );
        }
        // Fired (or firing: the observer took the arm and is taking the image).
        guard = self
            .taken
            .wait_while(guard, |c| c.is_none())
            .unwrap_or_else(|p| p.into_inner());
        guard
            .take()
            .unwrap_or_else(|| unreachable!("wait_while returned without a crash"))
    }
}

/// One cycle: run, crash, reopen the clone, check. Returns the check and the clone.
#[allow(clippy::too_many_arguments)]
fn one_cycle(
    cfg: &MemfsConfig,
    fs: &MemFs,
    start: &[Slot],
    worker_seed: u64,
    target: u64,
    kill_point: Option<KillPointArm>,
    policy: CrashPolicy,
    crash_seed: u64,
) -> StressResult<(CycleCheck, MemFs)> {
    let w = WorkloadArgs {
        seed: worker_seed,
        ..cfg.workload.clone()
    };
    let exp = ExpectedState::from_slots(start, None);
    let progress: Arc<Vec<Progress>> =
        Arc::new((0..w.threads).map(|_| Progress::with_log()).collect());
    let stop = AtomicBool::new(false);
    let kp = KillPointFs::new(fs.clone());
    let trap = Arc::new(Trap {
        remaining: Mutex::new(None),
        moment: kill_point.map_or(Moment::Before, |k| k.moment),
        policy,
        seed: crash_seed,
        progress: progress.clone(),
        crash: Mutex::new(None),
        taken: Condvar::new(),
    });
    {
        let trap = trap.clone();
        kp.set_observer(move |p| trap.observe(p));
    }
    let db = Db::open(Path::new(DB_DIR), cfg.tuning.options(Arc::new(kp.clone())))?;
    let (crash, worker_result) = std::thread::scope(|s| {
        let workers = s.spawn(|| run_workers(&db, &exp, &w, w.ops.unwrap_or(0), &stop, &progress));
        let deadline = Instant::now() + Duration::from_secs(30);
        while total_acked(&progress) < target
            && !stop.load(Ordering::SeqCst)
            && !workers.is_finished()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        let crash = match kill_point {
            Some(arm) => trap.wait(arm, Duration::from_millis(50), fs),
            None => capture(
                &progress,
                || fs.crash_clone_with(policy, crash_seed),
                "at once".into(),
            ),
        };
        stop.store(true, Ordering::SeqCst);
        let r = workers
            .join()
            .unwrap_or_else(|_| Err(StressError::Mismatch("worker thread panicked".into())));
        (crash, r)
    });
    drop(db);
    let mut extra = Vec::new();
    let mut unexpected = 0;
    let mut corrupt = 0;
    match worker_result {
        Ok(_) => {}
        Err(StressError::Mismatch(m)) => {
            unexpected += 1;
            extra.push(format!("during the run: {m}"));
        }
        Err(e) => {
            corrupt += 1;
            extra.push(format!("during the run: {e}"));
        }
    }
    kp.clear_observer();
    let logs: Vec<Vec<LoggedOp>> = progress
        .iter()
        .map(|p| {
            p.log
                .as_ref()
                .map(|l| std::mem::take(&mut *lock(l)))
                .unwrap_or_default()
        })
        .collect();
    let Crash {
        image: clone,
        cuts,
        at,
    } = crash;
    let at_kill_point = !at.starts_with("at once");
    let db = open(&clone, &cfg.tuning)
        .map_err(|e| StressError::Mismatch(format!("OPEN FAILED after the crash {at}: {e}")))?;
    let img = read_all(&db, w.keys, w.threads, w.keyspaces)?;
    let mut check = check_cycle(&img, start, &logs, &cuts);
    if let Err(e) = db.wait_for_compactions() {
        corrupt += 1;
        extra.push(format!("background work after reopen failed: {e}"));
    }
    drop(db);
    let files = crate::file_checks::check_dir(&clone, Path::new(DB_DIR), cfg.tuning.num_levels);
    corrupt += files.len() as u64;
    extra.extend(files);
    check.summary.unexpected += unexpected;
    check.summary.corrupt += corrupt;
    check.problems.extend(extra);
    check.totals.kill_point_crashes = u64::from(at_kill_point);
    check.crash_at = at;
    Ok((check, clone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(writes: &[(u32, u64)], sync: bool) -> LoggedOp {
        LoggedOp {
            writes: writes.to_vec(),
            sync,
        }
    }

    fn image(observed: Vec<Option<u64>>) -> DbImage {
        DbImage {
            garbage: vec![false; observed.len()],
            observed,
            problems: vec![],
        }
    }

    #[test]
    fn prefix_model() {
        let put = |g| make_word(g, true);
        // One thread, keys 0 and 1: op0 sets k0=1, op1 sets k1=1, op2 sets k0=2.
        let logs = vec![vec![
            op(&[(0, put(1))], false),
            op(&[(1, put(1))], true),
            op(&[(0, put(2))], false),
        ]];
        let start = vec![Slot::default(); 2];
        let cut = |synced, issued| {
            vec![ThreadCut {
                synced,
                issued,
                acked: issued,
            }]
        };
        let run = |obs: Vec<Option<u64>>, c: Vec<ThreadCut>| {
            let r = check_cycle(&image(obs), &start, &logs, &c);
            (r.summary.lost, r.summary.unexpected)
        };
        assert_eq!(run(vec![Some(1), Some(1)], cut(2, 3)), (0, 0));
        assert_eq!(run(vec![Some(2), Some(1)], cut(2, 3)), (0, 0));
        assert_eq!(run(vec![None, None], cut(0, 3)), (0, 0));
        // Synced op1 missing.
        assert_eq!(run(vec![Some(1), None], cut(2, 3)), (1, 0));
        // op2 applied without op1: not a prefix.
        assert_eq!(run(vec![Some(2), None], cut(0, 3)), (0, 1));
        // A write that was not issued before the crash.
        assert_eq!(run(vec![Some(2), Some(1)], cut(2, 2)), (0, 1));
    }
}
