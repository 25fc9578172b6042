//! When acknowledged writes reach stable storage (Redis's `appendfsync`).

use std::time::Duration;

use serde::Deserialize;
use shaledb::{Db, WriteOptions};
use tracing::warn;

use crate::Shutdown;

/// How front-end writes are made durable.
///
/// Every policy survives `kill -9` of the server (the WAL is written before a
/// write is acknowledged); they differ on power loss.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyncPolicy {
    /// fsync before acknowledging each write (group commit shares the fsync).
    Always,
    /// fsync the WAL once a second in the background: a power cut loses at most
    /// about a second of acknowledged writes.
    #[default]
    Everysec,
    /// Never fsync explicitly; the OS writes back when it likes.
    No,
}

impl SyncPolicy {
    /// The write options a front-end write uses under this policy.
    pub fn write_options(self) -> WriteOptions {
        match self {
            SyncPolicy::Always => WriteOptions::synced(),
            SyncPolicy::Everysec | SyncPolicy::No => WriteOptions::default(),
        }
    }

    /// The name used in config files and `CONFIG GET appendfsync`.
    pub fn name(self) -> &'static str {
        match self {
            SyncPolicy::Always => "always",
            SyncPolicy::Everysec => "everysec",
            SyncPolicy::No => "no",
        }
    }

    /// Parses a config name.
    pub fn parse(name: &str) -> Option<SyncPolicy> {
        match name.to_ascii_lowercase().as_str() {
            "always" => Some(SyncPolicy::Always),
            "everysec" => Some(SyncPolicy::Everysec),
            "no" => Some(SyncPolicy::No),
            _ => None,
        }
    }
}

/// Starts the once-a-second WAL fsync used by [`SyncPolicy::Everysec`]; it stops at
/// shutdown. Runs on its own thread so a slow fsync never holds a reactor thread.
pub fn spawn_wal_syncer(
    db: Db,
    shutdown: Shutdown,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("shale-wal-syncer".into())
        .spawn(move || {
            let mut failures = 0u32;
            while !shutdown.is_triggered() {
                std::thread::park_timeout(Duration::from_secs(1));
                if let Err(e) = db.sync_wal() {
                    // A failed fsync poisons the Db; writes now fail with that error,
                    // so log once and then only occasionally.
                    if failures.is_multiple_of(60) {
                        warn!(error = %e, "background WAL sync failed");
                    }
                    failures = failures.saturating_add(1);
                }
            }
        })
}
