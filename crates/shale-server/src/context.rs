//! The state every front-end connection shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use shaledb::{Db, WriteBatch, WriteOptions};

use crate::{Clients, Limits, Metrics, Shutdown, SyncPolicy};

/// Everything a connection needs besides its socket; cheap to clone.
#[derive(Clone, Debug)]
pub struct Context {
    /// The database every front end serves.
    pub db: Db,
    /// Limits on clients and requests.
    pub limits: Arc<Limits>,
    /// Command and connection metrics.
    pub metrics: Arc<Metrics>,
    /// Connected clients.
    pub clients: Arc<Clients>,
    /// Fires on SIGINT/SIGTERM (or when a test says so).
    pub shutdown: Shutdown,
    sync: Arc<AtomicU8>,
    started: Instant,
}

impl Context {
    /// A context serving `db` with these limits and durability policy.
    pub fn new(db: Db, limits: Limits, sync: SyncPolicy) -> Self {
        Context {
            db,
            limits: Arc::new(limits),
            metrics: Arc::new(Metrics::new()),
            clients: Clients::new(),
            shutdown: Shutdown::new(),
            sync: Arc::new(AtomicU8::new(encode(sync))),
            started: Instant::now(),
        }
    }

    /// The current durability policy.
    pub fn sync_policy(&self) -> SyncPolicy {
        decode(self.sync.load(Ordering::Relaxed))
    }

    /// Changes the durability policy at runtime (`CONFIG SET appendfsync`).
    pub fn set_sync_policy(&self, policy: SyncPolicy) {
        self.sync.store(encode(policy), Ordering::Relaxed);
    }

    /// Write options for a front-end write under the current policy.
    pub fn write_options(&self) -> WriteOptions {
        self.sync_policy().write_options()
    }

    /// Writes `batch` under the current policy.
    pub fn write(&self, batch: WriteBatch) -> shaledb::Result<()> {
        self.db.write(batch, &self.write_options())
    }

    /// Why the engine refuses writes, if it does: after a failed WAL write or sync,
    /// or failed background work, every write gets `Error::Poisoned` until the Db is
    /// reopened, whichever front end (or the background WAL syncer) hit the failure.
    /// `/health` reports it.
    pub fn write_failure(&self) -> Option<String> {
        self.db.write_refusal().map(|e| e.to_string())
    }

    /// Time since the server started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Runs a batch of short engine calls (the point reads and writes of one
    /// pipeline): inline when none of them can wait long, else as [`blocking`]. They
    /// can wait long when writes are fsynced (`always`) or the engine is stopping or
    /// pacing writes ([`shaledb::Db::write_pressure`]). Handing a worker to another
    /// thread costs two context switches — more than a memtable read or an unsynced
    /// write — so the common case stays on the reactor.
    ///
    /// [`blocking`]: Self::blocking
    pub fn engine<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.sync_policy() == SyncPolicy::Always || self.db.write_pressure() {
            self.blocking(f)
        } else {
            f()
        }
    }

    /// Runs engine work that may block (a synced write, a write stall, a scan)
    /// without stalling the reactor: on a multi-threaded runtime the worker hands
    /// its other tasks to another thread first.
    pub fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(f)
            }
            _ => f(),
        }
    }
}

fn encode(p: SyncPolicy) -> u8 {
    match p {
        SyncPolicy::Always => 0,
        SyncPolicy::Everysec => 1,
        SyncPolicy::No => 2,
    }
}

fn decode(v: u8) -> SyncPolicy {
    match v {
        0 => SyncPolicy::Always,
        2 => SyncPolicy::No,
        _ => SyncPolicy::Everysec,
    }
}
