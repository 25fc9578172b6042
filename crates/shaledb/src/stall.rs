//! Making room for a write: memtable rotation, and backpressure when background work
//! falls behind.
//!
//! Backpressure has two stages, checked by the group-commit leader before each group:
//!
//! * **Pacing**: while level 0 holds `l0_slowdown_writes_trigger` files or more, or the
//!   estimated compaction debt exceeds `soft_pending_compaction_bytes_limit`, writes are
//!   admitted at a rate that falls linearly with the debt (from 16 MiB/s at the
//!   threshold towards 16 KiB/s at the stop threshold) — a smooth slope rather than a
//!   cliff. The leader sleeps only when it is more than a millisecond ahead of the
//!   allowed rate, so small writes are paced in aggregate without per-write sleeps.
//! * **Stop**: with `max_write_buffer_number` memtables waiting, `l0_stop_writes_trigger`
//!   L0 files, or debt above `hard_pending_compaction_bytes_limit`, the leader waits on
//!   the background threads' completion signal (no spinning) until a flush or
//!   compaction brings the tree back under the limit.
//!
//! Memory stays bounded: at most `max_write_buffer_number` memtables exist.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shale_manifest::Version;
use shale_wal::{LogKind, LogWriter};

use std::sync::atomic::Ordering;

use crate::db::DbInner;
use crate::filenames::wal_path;
use crate::keyspace::Ks;
use crate::super_version::{Immutable, SuperVersion};
use crate::write_queue::lock;
use crate::{Error, Result};

const MAX_PACED_RATE: f64 = 16.0 * 1024.0 * 1024.0;
const MIN_PACED_RATE: f64 = 16.0 * 1024.0;

/// When the next paced write may go, for the token-bucket pacing.
#[derive(Debug)]
pub(crate) struct Pacer {
    next: Instant,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            next: Instant::now(),
        }
    }
}

/// The error writes get once background work has failed: the database is read-only
/// until reopened.
pub(crate) fn refused_after(background: Error) -> Error {
    match background {
        e @ Error::Poisoned(_) => e,
        e => Error::Poisoned(format!("background work failed: {e}")),
    }
}

impl DbInner {
    /// Called by the group-commit leader before writing `bytes` into keyspaces `kss`:
    /// freezes full memtables, then paces or stops the write while one of those
    /// keyspaces is behind with its flushes or compactions.
    pub(crate) fn make_room_for_write(&self, bytes: usize, kss: &[Arc<Ks>]) -> Result<()> {
        let mut stopped_since: Option<Instant> = None;
        let result = 'outer: loop {
            if let Some(e) = self.background_error() {
                break Err(refused_after(e));
            }
            let mut worst: Option<f64> = None;
            for ks in kss {
                let sv = ks.super_version();
                let max_dels = self.opts.memtable_max_range_deletions;
                let full = sv.mem.approximate_memory_usage() >= self.write_buffer_size(ks)
                    || (max_dels > 0 && sv.mem.num_range_tombstones() >= max_dels);
                if full && sv.imm.len() + 1 < self.opts.max_write_buffer_number {
                    self.rotate_memtables(std::slice::from_ref(ks))?;
                    continue 'outer;
                }
                let l0 = sv.version.files(0).len();
                let debt = sv.compaction_debt(|v| self.pending_compaction_bytes(v));
                let stop = full
                    || l0 >= self.opts.l0_stop_writes_trigger
                    || debt >= self.opts.hard_pending_compaction_bytes_limit;
                if stop {
                    self.stats.set_pressure(true);
                    if stopped_since.is_none() {
                        stopped_since = Some(Instant::now());
                        self.stats.record_stop();
                        tracing::warn!(
                            keyspace = %ks.name,
                            l0,
                            debt,
                            memtables = sv.imm.len() + 1,
                            "writes stopped until background work catches up"
                        );
                    }
                    self.schedule_work();
                    self.wait_for_background(Duration::from_millis(500))
                        .map_err(refused_after)?;
                    continue 'outer;
                }
                let slope = |value: f64, start: f64, end: f64| {
                    if value < start {
                        None
                    } else {
                        Some(((value - start) / (end - start).max(1.0)).clamp(0.0, 0.999))
                    }
                };
                let l0_debt = slope(
                    l0 as f64,
                    self.opts.l0_slowdown_writes_trigger as f64,
                    self.opts.l0_stop_writes_trigger as f64,
                );
                let byte_debt = slope(
                    debt as f64,
                    self.opts.soft_pending_compaction_bytes_limit as f64,
                    self.opts.hard_pending_compaction_bytes_limit as f64,
                );
                worst = l0_debt
                    .into_iter()
                    .chain(byte_debt)
                    .chain(worst)
                    .reduce(f64::max);
            }
            self.stats
                .set_pressure(worst.is_some() || stopped_since.is_some());
            if let Some(f) = worst {
                self.pace(bytes, f);
            }
            break Ok(());
        };
        if let Some(t) = stopped_since {
            self.stats.record_stall_time(t.elapsed());
        }
        result
    }

    /// `ks`'s memtable size limit, within the memory budget if one is set.
    pub(crate) fn write_buffer_size(&self, ks: &Ks) -> usize {
        self.opts
            .budgeted_write_buffer_size(ks.options().write_buffer_size)
    }

    /// Delays the leader so that writes proceed at a rate falling with debt `f` in [0, 1).
    fn pace(&self, bytes: usize, f: f64) {
        let rate = (MAX_PACED_RATE * (1.0 - f)).max(MIN_PACED_RATE);
        let cost = Duration::from_secs_f64(bytes as f64 / rate);
        let now = Instant::now();
        let wait = {
            let mut p = lock(&self.pacer);
            p.next = p.next.max(now) + cost;
            p.next.saturating_duration_since(now)
        };
        self.stats.record_slowdown();
        if wait > Duration::from_millis(1) {
            std::thread::sleep(wait);
            self.stats.record_stall_time(wait);
        }
    }

    /// Compaction debt: bytes above each level's target, plus L0 once it is due.
    pub(crate) fn pending_compaction_bytes(&self, version: &Version) -> u64 {
        let copts = self.compaction_options();
        let targets = shale_compaction::LevelTargets::compute(version, &copts);
        let mut debt = 0u64;
        if version.files(0).len() >= self.opts.l0_compaction_trigger {
            debt += version.level_bytes(0);
        }
        for level in 1..version.num_levels() {
            debt += version
                .level_bytes(level)
                .saturating_sub(targets.target(level));
        }
        debt
    }

    /// Freezes the memtables of keyspaces `ids` that hold anything (for `Db::flush`),
    /// waiting for room where a keyspace has its maximum of memtables.
    pub(crate) fn rotate_if_not_empty(&self, ids: &[u32]) -> Result<()> {
        loop {
            let mut due = Vec::new();
            let mut blocked = false;
            for ks in ids.iter().filter_map(|&id| self.keyspace_by_id(id)) {
                let sv = ks.super_version();
                if sv.mem.is_empty() {
                    continue;
                }
                if sv.imm.len() + 1 < self.opts.max_write_buffer_number {
                    due.push(ks);
                } else {
                    blocked = true;
                }
            }
            if !due.is_empty() {
                self.rotate_memtables(&due)?;
            }
            if !blocked {
                return Ok(());
            }
            self.schedule_work();
            self.wait_for_background(Duration::from_millis(500))
                .map_err(refused_after)?;
        }
    }

    /// Starts a new WAL and freezes the active memtables of `kss` (the new WAL is the
    /// first their next memtables' writes can be in). Only the group-commit leader
    /// calls this, so no write is in flight. If the WALs still needed then exceed
    /// `max_total_wal_size`, the keyspaces holding the oldest one are frozen too.
    fn rotate_memtables(&self, kss: &[Arc<Ks>]) -> Result<()> {
        let number = self.new_file_number();
        let log = LogWriter::create(
            self.opts.fs.as_ref(),
            &wal_path(&self.path, number),
            LogKind::Wal,
            number,
        )?;
        // The new name must be durable before a synced write in it is acknowledged.
        self.opts.fs.sync_dir(&self.path)?;
        let closed_bytes = self.writes.switch_wal(log)?;
        let previous = self.wal_number.swap(number, Ordering::AcqRel);
        lock(&self.wal_sizes).insert(previous, closed_bytes);
        let mut frozen_any = false;
        for ks in kss {
            frozen_any |= self.freeze(ks, number);
        }
        // A rarely written keyspace must not pin old WALs forever.
        let min = self.min_log_number();
        let live_wal: u64 = {
            let mut sizes = lock(&self.wal_sizes);
            sizes.retain(|&n, _| n >= min);
            sizes.values().sum()
        };
        if live_wal > self.opts.effective_max_total_wal_size() {
            for ks in self.all_keyspaces() {
                let sv = ks.super_version();
                let oldest = sv.imm.last().map_or(sv.log_number, |i| i.log_number);
                if oldest == min
                    && !sv.mem.is_empty()
                    && sv.imm.len() + 1 < self.opts.max_write_buffer_number
                {
                    tracing::info!(keyspace = %ks.name, live_wal, "flushing to free old WALs");
                    frozen_any |= self.freeze(&ks, number);
                }
            }
        }
        tracing::debug!(wal = number, "new WAL started");
        if frozen_any {
            self.schedule_work();
        }
        Ok(())
    }

    /// Freezes `ks`'s active memtable (if it holds anything); the next one starts in
    /// WAL `log_number`.
    fn freeze(&self, ks: &Ks, log_number: u64) -> bool {
        let sv = ks.super_version();
        if sv.mem.is_empty() {
            // Nothing to flush; its writes simply continue in the new WAL.
            self.install_super_version(ks, |cur| {
                let log = if cur.mem.is_empty() {
                    log_number
                } else {
                    cur.log_number
                };
                SuperVersion::new(
                    Arc::clone(&cur.mem),
                    log,
                    cur.imm.clone(),
                    Arc::clone(&cur.version),
                )
            });
            return false;
        }
        let mem = Arc::new(ks.options().new_memtable(self.write_buffer_size(ks)));
        self.install_super_version(ks, |cur| {
            let frozen = Arc::new(Immutable {
                mem: Arc::clone(&cur.mem),
                log_number: cur.log_number,
            });
            let mut imm = vec![frozen];
            imm.extend(cur.imm.iter().cloned());
            SuperVersion::new(Arc::clone(&mem), log_number, imm, Arc::clone(&cur.version))
        });
        tracing::debug!(keyspace = %ks.name, wal = log_number, "memtable frozen");
        true
    }

    /// The oldest WAL any keyspace still needs: the WAL of its oldest unflushed
    /// memtable, or the current WAL for a keyspace holding nothing unflushed.
    pub(crate) fn min_log_number(&self) -> u64 {
        // Read the WAL number first: a write after this point goes to it or a later one.
        let current = self.current_wal();
        self.all_keyspaces()
            .iter()
            .map(|ks| {
                let sv = ks.super_version();
                match sv.imm.last() {
                    Some(oldest) => oldest.log_number,
                    None if sv.mem.is_empty() => current,
                    None => sv.log_number,
                }
            })
            .min()
            .unwrap_or(current)
    }
}
