//! When acknowledged writes reach stable storage (Redis's `appendfsync`).

use std::time::Duration;

use serde::Deserialize;
use shaledb::WriteOptions;
use tracing::warn;

use crate::Context;

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

/// How often the `everysec` syncer fsyncs the WAL.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the once-a-second WAL fsync behind [`SyncPolicy::Everysec`]. Start it
/// whatever the starting policy: it reads the context's policy at every tick and
/// syncs only while that is `everysec`, so `CONFIG SET appendfsync` takes effect
/// at runtime in both directions. It stops at shutdown (unpark the thread to stop
/// it at once). Runs on its own thread so a slow fsync never holds a reactor
/// thread.
pub fn spawn_wal_syncer(ctx: Context) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("shale-wal-syncer".into())
        .spawn(move || {
            let mut failures = 0u32;
            loop {
                std::thread::park_timeout(SYNC_INTERVAL);
                if ctx.shutdown.is_triggered() {
                    break;
                }
                if ctx.sync_policy() != SyncPolicy::Everysec {
                    continue;
                }
                match ctx.db.sync_wal() {
                    Ok(()) => ctx.metrics.wal_background_synced(),
                    Err(e) => {
                        // A failed fsync poisons the Db (`/health` reports it);
                        // writes now fail with that error, so log once and then
                        // only occasionally.
                        if failures.is_multiple_of(60) {
                            warn!(error = %e, "background WAL sync failed");
                        }
                        failures = failures.saturating_add(1);
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::Instant;

    use shaledb::{Db, FileSystem, MemFs, Options};

    use super::*;
    use crate::Limits;

    /// The WAL files of the Db at `/db` on `mem`.
    fn wals(mem: &MemFs) -> Vec<PathBuf> {
        let dir = Path::new("/db");
        let mut v: Vec<PathBuf> = mem
            .list(dir)
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".log"))
            .map(|n| dir.join(n))
            .collect();
        v.sort();
        v
    }

    /// True when every byte of every WAL would survive a power cut now.
    fn wal_synced(mem: &MemFs) -> bool {
        wals(mem)
            .iter()
            .all(|w| mem.synced_len(w).unwrap() == mem.file_size(w).unwrap())
    }

    #[test]
    fn a_switch_to_everysec_at_runtime_starts_syncing() {
        let mem = MemFs::new();
        let opts = Options {
            fs: Arc::new(mem.clone()),
            ..Options::default()
        };
        let db = Db::open("/db", opts).unwrap();
        let ctx = Context::new(db.clone(), Limits::default(), SyncPolicy::No);
        let syncer = spawn_wal_syncer(ctx.clone()).unwrap();
        db.put_opt("k", "v", &ctx.write_options()).unwrap();
        assert!(!wals(&mem).is_empty());
        assert!(!wal_synced(&mem), "an unsynced write under `no`");
        // `CONFIG SET appendfsync everysec`: no further write, the syncer takes over.
        ctx.set_sync_policy(SyncPolicy::Everysec);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !wal_synced(&mem) {
            assert!(Instant::now() < deadline, "the WAL was never synced");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ctx.metrics.wal_background_syncs() >= 1);
        ctx.shutdown.trigger();
        syncer.thread().unpark();
        syncer.join().unwrap();
    }
}
