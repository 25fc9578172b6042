//! Background work: flushes and compactions on a small pool of threads.
//!
//! Work is *pulled*: a worker wakes when something may be due (a memtable was frozen,
//! a flush or compaction finished, a manual compaction was requested) and takes the
//! most urgent job: a flush first, then the highest-scoring compaction whose files are
//! not busy — so several compactions run at once on disjoint key ranges.
//!
//! An error in background work is never retried on top of unknown state: it is
//! recorded, the database stops accepting writes (they return it), and reads go on.
//! Reopening the database recovers from the manifest and the WALs.

use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use shale_compaction::Compaction;

use crate::db::DbInner;
use crate::keyspace::Ks;
use crate::write_queue::lock;
use crate::{Error, Result};

/// What the background threads are doing and whether they should stop.
#[derive(Default)]
pub(crate) struct BgState {
    /// Keyspaces with a flush running (one at a time per keyspace, oldest first).
    pub flushing: BTreeSet<u32>,
    pub compactions_running: usize,
    /// Files that are inputs of a running compaction.
    pub busy: BTreeSet<u64>,
    /// The first background error; writes fail with it until reopen.
    pub error: Option<Error>,
    pub shutting_down: bool,
    /// Bumped whenever a job finishes, so waiters can tell progress happened.
    pub completed_jobs: u64,
    /// Manual compactions asked for by `compact_range` and not yet picked.
    pub manual: Vec<ManualCompaction>,
}

/// A level of a `compact_range` call waiting to be run.
#[derive(Debug, Clone)]
pub(crate) struct ManualCompaction {
    pub ks: Arc<Ks>,
    pub level: usize,
    pub lo: Option<Vec<u8>>,
    pub hi: Option<Vec<u8>>,
    pub id: u64,
}

/// The shared background state with its two condition variables.
#[derive(Default)]
pub(crate) struct Background {
    pub state: Mutex<BgState>,
    /// Signalled when there may be new work.
    pub work: Condvar,
    /// Signalled when a job finished (stalled writers and `flush()` wait on it).
    pub done: Condvar,
}

enum Job {
    Flush(Arc<Ks>),
    Compact(Arc<Ks>, Box<Compaction>),
}

/// Stops the background threads when the last `Db` handle is dropped.
pub(crate) struct BgGuard {
    inner: Arc<DbInner>,
    threads: Vec<JoinHandle<()>>,
}

impl BgGuard {
    pub(crate) fn start(inner: &Arc<DbInner>) -> Result<BgGuard> {
        let mut threads = Vec::new();
        for i in 0..inner.opts.background_threads {
            let db = Arc::clone(inner);
            let t = std::thread::Builder::new()
                .name(format!("shale-bg-{i}"))
                .spawn(move || db.background_loop())
                .map_err(|e| Error::io("spawn background thread", &inner.path, e))?;
            threads.push(t);
        }
        Ok(BgGuard {
            inner: Arc::clone(inner),
            threads,
        })
    }
}

impl Drop for BgGuard {
    fn drop(&mut self) {
        lock(&self.inner.bg.state).shutting_down = true;
        self.inner.bg.work.notify_all();
        self.inner.bg.done.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl DbInner {
    /// Tells the workers that there may be work.
    pub(crate) fn schedule_work(&self) {
        self.bg.work.notify_all();
    }

    fn background_loop(self: Arc<Self>) {
        loop {
            let job = {
                let mut st = lock(&self.bg.state);
                loop {
                    if st.shutting_down {
                        return;
                    }
                    if st.error.is_none()
                        && let Some(job) = self.next_job(&mut st)
                    {
                        break job;
                    }
                    st = self.bg.work.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            };
            let result = match &job {
                Job::Flush(ks) => self.flush_oldest_immutable(ks).map(|_| ()),
                Job::Compact(ks, c) => self.run_compaction(ks, c),
            };
            let mut st = lock(&self.bg.state);
            match job {
                Job::Flush(ks) => {
                    st.flushing.remove(&ks.id);
                }
                Job::Compact(_, c) => {
                    st.compactions_running -= 1;
                    for f in c.input_files() {
                        st.busy.remove(&f.number);
                    }
                }
            }
            if let Err(e) = result
                && !st.shutting_down
            {
                tracing::error!(error = %e, "background work failed; the database is read-only until reopened");
                self.stats.record_bg_error();
                st.error.get_or_insert(e);
            }
            st.completed_jobs += 1;
            drop(st);
            self.bg.done.notify_all();
            self.bg.work.notify_all();
        }
    }

    /// The most urgent job that can start now, marking its resources busy: a flush
    /// (oldest memtable of a keyspace not already flushing), then a manual compaction,
    /// then the highest-scoring automatic compaction over all keyspaces.
    fn next_job(&self, st: &mut BgState) -> Option<Job> {
        let keyspaces = self.all_keyspaces();
        for ks in &keyspaces {
            if !st.flushing.contains(&ks.id) && !ks.super_version().imm.is_empty() {
                st.flushing.insert(ks.id);
                return Some(Job::Flush(Arc::clone(ks)));
            }
        }
        let copts = self.compaction_options();
        let picked = if let Some(m) = st.manual.first().cloned() {
            let version = m.ks.current_version();
            let (lo, hi) = (m.lo.as_deref(), m.hi.as_deref());
            let pick = if m.ks.is_dropped() {
                None
            } else if m.level + 1 == version.num_levels() {
                shale_compaction::pick_bottommost_rewrite(&version, &copts, lo, hi, &st.busy)
            } else {
                shale_compaction::pick_range_compaction(&version, &copts, m.level, lo, hi, &st.busy)
            };
            match pick {
                Some(c) => {
                    st.manual.remove(0);
                    Some((m.ks, c))
                }
                // Nothing to compact at that level (or it is busy): done with it if no
                // compaction is running that could change that.
                None if st.compactions_running == 0 || m.ks.is_dropped() => {
                    st.manual.remove(0);
                    st.completed_jobs += 1;
                    self.bg.done.notify_all();
                    return self.next_job(st);
                }
                None => None,
            }
        } else {
            keyspaces
                .iter()
                .filter_map(|ks| {
                    let pointers = self.compact_pointers(ks);
                    shale_compaction::pick_compaction(
                        &ks.current_version(),
                        &copts,
                        &pointers,
                        &st.busy,
                    )
                    .map(|c| (Arc::clone(ks), c))
                })
                .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
        };
        let (ks, c) = picked?;
        for f in c.input_files() {
            st.busy.insert(f.number);
        }
        st.compactions_running += 1;
        Some(Job::Compact(ks, Box::new(c)))
    }

    /// Waits until a background job finishes or `timeout` passes; returns the
    /// background error if there is one.
    pub(crate) fn wait_for_background(&self, timeout: Duration) -> Result<()> {
        let st = lock(&self.bg.state);
        if let Some(e) = &st.error {
            return Err(e.clone());
        }
        let seen = st.completed_jobs;
        let (st, _) = self
            .bg
            .done
            .wait_timeout_while(st, timeout, |s| {
                s.completed_jobs == seen && s.error.is_none() && !s.shutting_down
            })
            .unwrap_or_else(|p| p.into_inner());
        match &st.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The background error, if any.
    pub(crate) fn background_error(&self) -> Option<Error> {
        lock(&self.bg.state).error.clone()
    }

    /// True when no flush or compaction is running or due.
    pub(crate) fn is_idle(&self, st: &BgState) -> bool {
        st.flushing.is_empty()
            && st.compactions_running == 0
            && st.manual.is_empty()
            && self
                .all_keyspaces()
                .iter()
                .all(|ks| ks.super_version().imm.is_empty())
    }
}
