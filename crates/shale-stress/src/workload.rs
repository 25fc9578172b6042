//! The random workload one worker thread runs, and the check of every read it does.
//!
//! Thread `t` of `T` owns the keys `k` with `k % T == t`: only it writes them, one
//! write (a single op or a batch) at a time, so each key has at most one write in
//! flight and its expected state is unambiguous. Reads may touch any key:
//!
//! * a key the reader owns must read exactly its acknowledged value;
//! * another thread's key must read a value whose generation lies between the one
//!   acknowledged before the read started and the newest one issued after it ended
//!   (or be absent, if that window allows a delete).
//!
//! EXTENSION POINT (merge operators): add a `merge` op kind next to put/delete; the
//! expected state then needs the operand list since the last put (see `values`).
//! EXTENSION POINT (transactions): a transaction is a batch whose reads must also be
//! validated at commit; the thread-owned key slices make the expected outcome exact.
//! EXTENSION POINT (TTL): puts with an expiry; reads must then accept "absent" once the
//! expiry (recorded in the slot's spare bits or a side table) has passed.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{Bytes, Db, WriteBatch, WriteOptions};

use crate::expected_state::{ExpectedState, Slot, generation, is_put, observed_of};
use crate::options::WorkloadArgs;
use crate::values::{key_bytes, parse_key, parse_value};
use crate::{StressError, StressResult};

/// One write a thread issued: the (key, word) pairs of its batch and its durability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOp {
    /// Keys and the words written to them (see `expected_state`).
    pub writes: Vec<(u32, u64)>,
    /// Issued with `sync: true` (or a durability barrier covering it followed).
    pub sync: bool,
}

/// How far a thread got, readable by other threads (the memfs crash driver).
#[derive(Debug, Default)]
pub struct Progress {
    /// Writes issued (logged, then handed to the engine).
    pub issued: AtomicU64,
    /// Writes acknowledged by the engine.
    pub acked: AtomicU64,
    /// Number of writes made durable: every write up to this count was acknowledged
    /// before a synced write or a WAL sync of this thread returned.
    pub synced_through: AtomicU64,
    /// Every issued write, in order, when the driver needs it (memfs mode).
    pub log: Option<Mutex<Vec<LoggedOp>>>,
}

impl Progress {
    /// Progress that also keeps the log of issued writes.
    pub fn with_log() -> Self {
        Progress {
            log: Some(Mutex::new(Vec::new())),
            ..Progress::default()
        }
    }
}

/// What one worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Operations run.
    pub ops: u64,
    /// Writes acknowledged.
    pub writes: u64,
    /// Key reads checked against the expected state (point reads and scanned keys).
    pub reads_verified: u64,
    /// Range and prefix scans.
    pub scans: u64,
    /// Snapshot consistency checks.
    pub snapshot_checks: u64,
}

impl WorkerStats {
    /// Adds `o` to these counters.
    pub fn add(&mut self, o: &WorkerStats) {
        self.ops += o.ops;
        self.writes += o.writes;
        self.reads_verified += o.reads_verified;
        self.scans += o.scans;
        self.snapshot_checks += o.snapshot_checks;
    }
}

/// The thread that owns key `k` among `threads`.
pub fn owner(k: u32, threads: usize) -> usize {
    k as usize % threads
}

/// Whether a read of a key that the reader does not own, returning `observed`, is
/// allowed between `lo` (slot before the read) and `hi` (slot after it).
pub fn allowed_between(lo: Slot, hi: Slot, observed: Option<u64>) -> bool {
    let lo_gen = generation(lo.acked);
    let newer = hi.max_generation() > lo_gen;
    match observed {
        None => !is_put(lo.acked) || newer,
        Some(g) if g == lo_gen => is_put(lo.acked),
        Some(g) => g > lo_gen && g <= hi.max_generation(),
    }
}

/// The generation a read of key `k` saw, or a description of invalid bytes.
pub fn decode_read(k: u32, raw: Option<&[u8]>) -> Result<Option<u64>, String> {
    match raw {
        None => Ok(None),
        Some(v) => parse_value(k, v).map(Some).ok_or_else(|| {
            format!(
                "key {k}: value {:?} was never written for this key",
                String::from_utf8_lossy(&v[..v.len().min(48)])
            )
        }),
    }
}

/// One worker thread's state.
pub struct Worker<'a> {
    db: &'a Db,
    exp: &'a ExpectedState,
    progress: &'a Progress,
    threads: usize,
    thread: usize,
    num_keys: u32,
    sync_ratio: f64,
    rng: StdRng,
    stats: WorkerStats,
}

impl<'a> Worker<'a> {
    /// A worker for thread `thread` of `args.threads`, seeded from `args.seed`.
    pub fn new(
        db: &'a Db,
        exp: &'a ExpectedState,
        args: &WorkloadArgs,
        thread: usize,
        progress: &'a Progress,
    ) -> Self {
        let seed = crate::values::mix(args.seed ^ ((thread as u64 + 1) << 48));
        Worker {
            db,
            exp,
            progress,
            threads: args.threads,
            thread,
            num_keys: exp.num_keys(),
            sync_ratio: args.sync_ratio,
            rng: StdRng::seed_from_u64(seed),
            stats: WorkerStats::default(),
        }
    }

    /// Runs `ops` operations (0: unlimited) or until `stop` is set.
    pub fn run(mut self, ops: u64, stop: &AtomicBool) -> StressResult<WorkerStats> {
        while (ops == 0 || self.stats.ops < ops) && !stop.load(Ordering::Relaxed) {
            self.step()?;
            self.stats.ops += 1;
        }
        Ok(self.stats)
    }

    fn mismatch(&self, what: String) -> StressError {
        StressError::Mismatch(format!("thread {}: {what}", self.thread))
    }

    /// One random operation.
    fn step(&mut self) -> StressResult<()> {
        match self.rng.random_range(0..1000u32) {
            0..350 => self.write_op(1, 0.85),
            350..450 => self.write_op(1, 0.0),
            450..550 => {
                let n = self.rng.random_range(2..=8);
                self.write_op(n, 0.75)
            }
            550..750 => self.point_read(),
            750..900 => self.scan(),
            900..990 => self.snapshot_check(),
            990..997 => {
                self.db.sync_wal()?;
                let acked = self.progress.acked.load(Ordering::SeqCst);
                self.progress.synced_through.store(acked, Ordering::SeqCst);
                Ok(())
            }
            997..999 => Ok(self.db.flush()?),
            _ => {
                let a = self.rng.random_range(0..self.num_keys);
                let b = (a + 500).min(self.num_keys);
                Ok(self.db.compact_range(key_bytes(a)..key_bytes(b))?)
            }
        }
    }

    fn random_own_key(&mut self) -> u32 {
        let t = self.thread as u32;
        let n = (self.num_keys - t).div_ceil(self.threads as u32);
        t + self.rng.random_range(0..n) * self.threads as u32
    }

    /// One write of `n` distinct own keys, each a put with probability `put_ratio`.
    fn write_op(&mut self, n: usize, put_ratio: f64) -> StressResult<()> {
        let mut keys: Vec<u32> = Vec::with_capacity(n);
        while keys.len() < n {
            let k = self.random_own_key();
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let writes: Vec<(u32, u64)> = keys
            .iter()
            .map(|&k| {
                let put = self.rng.random_bool(put_ratio);
                (k, self.exp.next_word(k, put))
            })
            .collect();
        let sync = self.rng.random_bool(self.sync_ratio);
        let mut batch = WriteBatch::new();
        for &(k, w) in &writes {
            if is_put(w) {
                batch.put(key_bytes(k), crate::values::value_bytes(k, generation(w)));
            } else {
                batch.delete(key_bytes(k));
            }
        }
        if let Some(log) = &self.progress.log {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(LoggedOp {
                    writes: writes.clone(),
                    sync,
                });
        }
        self.progress.issued.fetch_add(1, Ordering::SeqCst);
        for &(k, w) in &writes {
            self.exp.begin(k, w)?;
        }
        // Single writes go through put_opt/delete_opt, batches through write.
        let wo = WriteOptions { sync };
        match writes.as_slice() {
            [(k, w)] if is_put(*w) => self.db.put_opt(
                key_bytes(*k),
                crate::values::value_bytes(*k, generation(*w)),
                &wo,
            )?,
            [(k, _)] => self.db.delete_opt(key_bytes(*k), &wo)?,
            _ => self.db.write(batch, &wo)?,
        }
        for &(k, _) in &writes {
            self.exp.commit(k)?;
        }
        let acked = self.progress.acked.fetch_add(1, Ordering::SeqCst) + 1;
        if sync {
            self.progress.synced_through.store(acked, Ordering::SeqCst);
        }
        self.stats.writes += 1;
        Ok(())
    }

    /// Checks a read of `k` that returned `raw`, given its slot before and after.
    fn check(&mut self, k: u32, lo: Slot, hi: Slot, raw: Option<&[u8]>) -> StressResult<()> {
        let observed = decode_read(k, raw).map_err(|e| self.mismatch(e))?;
        let ok = if owner(k, self.threads) == self.thread {
            observed_of(lo.acked) == observed
        } else {
            allowed_between(lo, hi, observed)
        };
        if !ok {
            return Err(self.mismatch(format!(
                "key {k}: read generation {observed:?}, expected state before {lo:?} after {hi:?}"
            )));
        }
        self.stats.reads_verified += 1;
        Ok(())
    }

    fn point_read(&mut self) -> StressResult<()> {
        let k = self.rng.random_range(0..self.num_keys);
        let lo = self.exp.slot(k);
        let got = self.db.get(key_bytes(k))?;
        let hi = self.exp.slot(k);
        self.check(k, lo, hi, got.as_deref())
    }

    /// A random key range of up to `max` keys.
    fn random_range(&mut self, max: u32) -> Range<u32> {
        let a = self.rng.random_range(0..self.num_keys);
        let width = self.rng.random_range(1..=max);
        a..(a + width).min(self.num_keys)
    }

    /// Checks the result of a scan over `range` in the given direction: order, bounds,
    /// every value, and every key of the range that is missing.
    fn check_scan(
        &mut self,
        range: Range<u32>,
        lo: &[Slot],
        hi: &[Slot],
        entries: &[(Bytes, Bytes)],
        reverse: bool,
    ) -> StressResult<()> {
        let mut seen = vec![None; range.len()];
        let mut prev: Option<u32> = None;
        for (key, value) in entries {
            let k = parse_key(key)
                .filter(|k| range.contains(k))
                .ok_or_else(|| self.mismatch(format!("scan of {range:?} returned key {key:?}")))?;
            if let Some(p) = prev
                && ((!reverse && k <= p) || (reverse && k >= p))
            {
                return Err(self.mismatch(format!(
                    "scan of {range:?} (reverse={reverse}) out of order: {p} then {k}"
                )));
            }
            prev = Some(k);
            seen[(k - range.start) as usize] = Some(value.clone());
        }
        for (i, v) in seen.iter().enumerate() {
            let k = range.start + i as u32;
            self.check(k, lo[i], hi[i], v.as_deref())?;
        }
        Ok(())
    }

    fn slots(&self, range: &Range<u32>) -> Vec<Slot> {
        range.clone().map(|k| self.exp.slot(k)).collect()
    }

    fn scan(&mut self) -> StressResult<()> {
        let reverse = self.rng.random_bool(0.4);
        let prefix = self.rng.random_bool(0.25);
        let range = if prefix {
            let a = self.rng.random_range(0..self.num_keys) / 100 * 100;
            a..(a + 100).min(self.num_keys)
        } else {
            self.random_range(64)
        };
        let lo = self.slots(&range);
        let it = if prefix {
            // "key000123" + two digits: every key of [a, a + 100).
            let full = key_bytes(range.start);
            self.db.prefix(&full[..full.len() - 2])
        } else {
            self.db
                .range(key_bytes(range.start)..key_bytes(range.end.max(range.start)))
        };
        let entries: Vec<(Bytes, Bytes)> = if reverse {
            it.rev().collect::<shaledb::Result<_>>()?
        } else {
            it.collect::<shaledb::Result<_>>()?
        };
        let hi = self.slots(&range);
        self.stats.scans += 1;
        self.check_scan(range, &lo, &hi, &entries, reverse)
    }

    /// Takes a snapshot over a small range, writes more, and checks that the snapshot's
    /// point reads and scans (both directions) agree with each other, are stable over
    /// time, and match the expected state at the moment it was taken.
    fn snapshot_check(&mut self) -> StressResult<()> {
        let range = self.random_range(24);
        let lo = self.slots(&range);
        let snap = self.db.snapshot();
        let hi_at_snapshot = self.slots(&range);
        let first: Vec<Option<Bytes>> = range
            .clone()
            .map(|k| snap.get(key_bytes(k)))
            .collect::<shaledb::Result<_>>()?;
        // Own keys may change now; the snapshot must not.
        for _ in 0..self.rng.random_range(1..=4) {
            let n = self.rng.random_range(1..=3);
            self.write_op(n, 0.7)?;
        }
        let entries: Vec<(Bytes, Bytes)> = snap
            .range(key_bytes(range.start)..key_bytes(range.end))
            .collect::<shaledb::Result<_>>()?;
        self.check_scan(range.clone(), &lo, &hi_at_snapshot, &entries, false)?;
        let mut backwards: Vec<(Bytes, Bytes)> = snap
            .range(key_bytes(range.start)..key_bytes(range.end))
            .rev()
            .collect::<shaledb::Result<_>>()?;
        backwards.reverse();
        let from_gets: Vec<(Bytes, Bytes)> = range
            .clone()
            .zip(&first)
            .filter_map(|(k, v)| v.clone().map(|v| (Bytes::from(key_bytes(k)), v)))
            .collect();
        if entries != from_gets || backwards != from_gets {
            return Err(self.mismatch(format!(
                "snapshot at seqno {} over keys {range:?}: gets, forward and reverse scans disagree \
                 ({} / {} / {} entries)",
                snap.seqno(),
                from_gets.len(),
                entries.len(),
                backwards.len()
            )));
        }
        self.stats.snapshot_checks += 1;
        Ok(())
    }
}

/// Runs `args.threads` workers on `db` (scoped threads) until each did `ops` operations
/// (0: until `stop`); the first failure stops the others and is returned.
pub fn run_workers(
    db: &Db,
    exp: &ExpectedState,
    args: &WorkloadArgs,
    ops: u64,
    stop: &AtomicBool,
    progress: &[Progress],
) -> StressResult<WorkerStats> {
    std::thread::scope(|s| {
        let handles: Vec<_> = progress
            .iter()
            .enumerate()
            .take(args.threads)
            .map(|(t, p)| {
                s.spawn(move || {
                    let r = Worker::new(db, exp, args, t, p).run(ops, stop);
                    if r.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    r
                })
            })
            .collect();
        let mut total = WorkerStats::default();
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(s)) => total.add(&s),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(StressError::Mismatch("a worker panicked".into()));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    })
}

/// A value counter shared between threads (total operations for progress reports).
pub fn total_acked(progress: &[Progress]) -> u64 {
    progress
        .iter()
        .map(|p| p.acked.load(Ordering::SeqCst))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expected_state::{IN_FLIGHT, make_word};

    #[test]
    fn reads_of_other_threads_keys() {
        let lo = Slot {
            acked: make_word(3, true),
            pending: make_word(3, true),
        };
        assert!(allowed_between(lo, lo, Some(3)));
        assert!(!allowed_between(lo, lo, None));
        assert!(!allowed_between(lo, lo, Some(2)));
        assert!(!allowed_between(lo, lo, Some(4)));
        let hi = Slot {
            acked: make_word(3, true),
            pending: make_word(4, false) | IN_FLIGHT,
        };
        assert!(allowed_between(lo, hi, None));
        assert!(allowed_between(lo, hi, Some(4)));
        let deleted = Slot {
            acked: make_word(5, false),
            pending: make_word(5, false),
        };
        assert!(allowed_between(deleted, deleted, None));
        assert!(!allowed_between(deleted, deleted, Some(5)));
    }
}
