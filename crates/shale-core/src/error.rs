//! The engine error type.
//!
//! Every engine crate (core, fs, memtable, wal, sstable, manifest, compaction, the
//! `shaledb` facade) returns this one enum, so that an error keeps its file and offset
//! all the way to the user. Front ends convert it to their protocol's errors at the edge.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
///
/// The enum is `Clone` (I/O errors are shared behind an `Arc`) so that a sticky error,
/// such as an iterator's status or the write path's poison, can be handed to every
/// caller that runs into it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error, with the operation and the file it happened on.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What the engine was doing (`"read"`, `"sync"`, `"rename"`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Stored data failed a check: bad checksum, bad magic, impossible length, ...
    #[error("corruption in {} at offset {offset}: {detail}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in the file where the damaged unit (block, record, footer) starts.
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// The caller passed something the engine cannot accept; nothing was changed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Another `Db` (in this or another process) holds the directory's lock.
    #[error(
        "database directory {} is locked by another process or handle (LOCK file held); close it first",
        path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A previous write or sync failed; the database refuses writes until it is reopened,
    /// because the state of the failed data on disk is unknown.
    #[error("database is read-only after an earlier write failure (reopen to recover): {0}")]
    Poisoned(String),
    /// A file or directory that must exist does not.
    #[error("not found: {}", .0.display())]
    NotFound(PathBuf),
    /// A transaction could not commit: a key (or range) it read or wrote was written
    /// by someone else after the transaction's snapshot. Nothing was written; retry.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// The merge operator failed (returned an error or panicked) combining a key's
    /// operands; nothing was written or changed.
    #[error("merge operator failed for key {key}: {detail}")]
    Merge {
        /// The key, shown lossily as text.
        key: String,
        /// What the operator reported.
        detail: String,
    },
    /// Opening a database that does not exist without `create_if_missing`,
    /// or creating one that exists with `error_if_exists`.
    #[error("{0}")]
    Exists(String),
}

impl Error {
    /// Builds an [`Error::Io`] from an `io::Error`, the operation and the path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Builds an [`Error::Corruption`].
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, detail: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            detail: detail.into(),
        }
    }

    /// Builds an [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// True for [`Error::Corruption`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}
