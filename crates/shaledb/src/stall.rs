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
use shale_memtable::MemTable;
use shale_wal::{LogKind, LogWriter};

use crate::db::DbInner;
use crate::filenames::wal_path;
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
fn refused_after(background: Error) -> Error {
    match background {
        e @ Error::Poisoned(_) => e,
        e => Error::Poisoned(format!("background work failed: {e}")),
    }
}

impl DbInner {
    /// Called by the group-commit leader before writing `bytes`.
    pub(crate) fn make_room_for_write(&self, bytes: usize) -> Result<()> {
        let mut stopped_since: Option<Instant> = None;
        let result = loop {
            if let Some(e) = self.background_error() {
                break Err(refused_after(e));
            }
            let sv = self.super_version();
            let full = sv.mem.approximate_memory_usage() >= self.opts.effective_write_buffer_size();
            if full && sv.imm.len() + 1 < self.opts.max_write_buffer_number {
                self.rotate_memtable(&sv)?;
                continue;
            }
            let l0 = sv.version.files(0).len();
            let debt = self.pending_compaction_bytes(&sv.version);
            let stop = full
                || l0 >= self.opts.l0_stop_writes_trigger
                || debt >= self.opts.hard_pending_compaction_bytes_limit;
            if stop {
                if stopped_since.is_none() {
                    stopped_since = Some(Instant::now());
                    self.stats.record_stop();
                    tracing::warn!(
                        l0,
                        debt,
                        memtables = sv.imm.len() + 1,
                        "writes stopped until background work catches up"
                    );
                }
                self.schedule_work();
                self.wait_for_background(Duration::from_millis(500))
                    .map_err(refused_after)?;
                continue;
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
            if let Some(f) = l0_debt.into_iter().chain(byte_debt).reduce(f64::max) {
                self.pace(bytes, f);
            }
            break Ok(());
        };
        if let Some(t) = stopped_since {
            self.stats.record_stall_time(t.elapsed());
        }
        result
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

    /// Freezes the active memtable if it holds anything (for `Db::flush`).
    pub(crate) fn rotate_if_not_empty(&self) -> Result<()> {
        let sv = self.super_version();
        if sv.mem.is_empty() {
            return Ok(());
        }
        loop {
            let sv = self.super_version();
            if sv.imm.len() + 1 < self.opts.max_write_buffer_number {
                return self.rotate_memtable(&sv);
            }
            self.schedule_work();
            self.wait_for_background(Duration::from_millis(500))
                .map_err(refused_after)?;
        }
    }

    /// Freezes the active memtable and starts a new WAL for the next one. Only the
    /// group-commit leader calls this, so no write is in flight.
    fn rotate_memtable(&self, sv: &Arc<SuperVersion>) -> Result<()> {
        let number = self.new_file_number();
        let log = LogWriter::create(
            self.opts.fs.as_ref(),
            &wal_path(&self.path, number),
            LogKind::Wal,
            number,
        )?;
        // The new name must be durable before a synced write in it is acknowledged.
        self.opts.fs.sync_dir(&self.path)?;
        self.writes.switch_wal(log)?;
        let frozen = Arc::new(Immutable {
            mem: Arc::clone(&sv.mem),
            log_number: sv.log_number,
        });
        self.install_super_version(|cur| {
            let mut imm = vec![frozen];
            imm.extend(cur.imm.iter().cloned());
            SuperVersion {
                mem: Arc::new(MemTable::new()),
                log_number: number,
                imm,
                version: Arc::clone(&cur.version),
            }
        });
        tracing::debug!(wal = number, "memtable frozen, new WAL started");
        self.schedule_work();
        Ok(())
    }
}
