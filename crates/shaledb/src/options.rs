//! Options for opening a database, writing and reading.

use std::sync::Arc;

use shale_fs::{FileSystem, StdFs};
use shale_wal::RecoveryMode;

use crate::{Error, Result};

/// How a database is opened and run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The file system all I/O goes through (the real one by default; `MemFs` in tests).
    pub fs: Arc<dyn FileSystem>,
    /// Create the directory and an empty database if none exists (default true).
    pub create_if_missing: bool,
    /// Fail if a database already exists in the directory (default false).
    pub error_if_exists: bool,
    /// What recovery does with damaged WAL records (default: tolerate a torn tail).
    pub wal_recovery_mode: RecoveryMode,
    /// Upper bound on the bytes of write batches that one group commit combines into a
    /// single WAL record (default 1 MiB).
    pub max_write_group_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fs: Arc::new(StdFs::new()),
            create_if_missing: true,
            error_if_exists: false,
            wal_recovery_mode: RecoveryMode::default(),
            max_write_group_bytes: 1 << 20,
        }
    }
}

impl Options {
    /// Options that put the database on `fs` (e.g. a `MemFs` for tests).
    pub fn with_fs(fs: Arc<dyn FileSystem>) -> Self {
        Options {
            fs,
            ..Options::default()
        }
    }

    /// Rejects settings that cannot work, before anything is touched on disk.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_write_group_bytes == 0 {
            return Err(Error::invalid("max_write_group_bytes must be at least 1"));
        }
        if self.error_if_exists && !self.create_if_missing {
            return Err(Error::invalid(
                "error_if_exists without create_if_missing can never open a database",
            ));
        }
        Ok(())
    }
}

/// Per-write durability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `false` (default): the write survives a process crash once acknowledged.
    /// `true`: it is also on stable storage (fdatasync) before it is acknowledged, so it
    /// survives power loss. Concurrent synced writers share one fsync (group commit).
    pub sync: bool,
}

impl WriteOptions {
    /// Options for a write that must survive power loss.
    pub fn synced() -> Self {
        WriteOptions { sync: true }
    }
}
