//! The file-system seam of ShaleDB.
//!
//! All engine I/O goes through [`FileSystem`], so that crash recovery and I/O errors
//! are testable in memory:
//!
//! * [`StdFs`]: the real file system (positional reads, `fdatasync`, directory fsync,
//!   an OS lock on `LOCK`).
//! * [`MemFs`]: an in-memory file system whose [`MemFs::crash`] drops every byte and
//!   every directory entry that a sync had not made durable ([`MemFs::crash_with`]:
//!   or keeps a random part of the unsynced bytes, per a [`CrashPolicy`]).
//! * [`FaultFs`]: wraps any of them and injects faults per [`Rule`]s: `EIO`/`ENOSPC`
//!   on any operation, short writes, bit flips on read, and fsyncgate (a failed fsync
//!   that silently drops the unsynced data).
//! * [`KillPointFs`]: wraps a `MemFs` (or a file system over one), names every
//!   operation that changes files as a [`Site`] (`wal.append`, `current.rename`, ...),
//!   counts hits per site and takes crash images at chosen hits (named kill points).
//!
//! # Durability model
//!
//! * [`WritableFile::append`] hands bytes to the operating system: they survive the
//!   process being killed, not a power loss.
//! * [`WritableFile::sync_data`] makes the file's bytes durable.
//! * A new name (create, rename) or a removal is durable only after
//!   [`FileSystem::sync_dir`] on the parent directory.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // this crate *is* the seam

mod fault;
mod kill_points;
mod mem;
mod rng;
mod std_fs;

use std::path::Path;
use std::sync::Arc;

pub use fault::{
    EIO, ENOSPC, Effect, ErrorKind, Fault, FaultFs, Op, OpRecord, Rule, RuleId, Trigger,
};
pub use kill_points::{Capture, FileOp, FileType, KillPoint, KillPointFs, Moment, Observer, Site};
pub use mem::{CRASH_PAGE_SIZE, CrashPolicy, MemFs};
pub use shale_core::{Error, Result};
pub use std_fs::StdFs;

/// A file being written sequentially (WAL, table, manifest).
pub trait WritableFile: Send + Sync {
    /// Appends `data`; when this returns, the bytes survive a process crash.
    fn append(&mut self, data: &[u8]) -> Result<()>;
    /// Makes every appended byte durable (survives power loss).
    fn sync_data(&mut self) -> Result<()>;
    /// Bytes written so far.
    fn len(&self) -> u64;
    /// True when nothing was written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A file read at arbitrary offsets, shareable between threads.
pub trait RandomAccessFile: Send + Sync {
    /// Reads exactly `buf.len()` bytes at `offset`; a short file is an error.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// The file's size.
    fn len(&self) -> u64;
    /// True for an empty file.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A held lock on a file; released on drop.
pub trait FileLock: Send + Sync {}

/// The operations the engine performs on files and directories.
pub trait FileSystem: Send + Sync + std::fmt::Debug {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> Result<()>;
    /// Creates (or truncates) `path` for writing.
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>>;
    /// Opens an existing file to append to it.
    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>>;
    /// Opens an existing file for positional reads.
    fn open_read(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>>;
    /// Reads a whole file (small files: CURRENT, options).
    fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        let f = self.open_read(path)?;
        let len = usize::try_from(f.len())
            .map_err(|_| Error::invalid(format!("{} is too large", path.display())))?;
        let mut buf = vec![0; len];
        f.read_exact_at(0, &mut buf)?;
        Ok(buf)
    }
    /// Renames `from` to `to`, replacing `to` atomically if it exists.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> Result<()>;
    /// Creates `link` as another name of the existing file `original`.
    fn hard_link(&self, original: &Path, link: &Path) -> Result<()>;
    /// Names (not paths) of the entries of `dir`, sorted.
    fn list(&self, dir: &Path) -> Result<Vec<String>>;
    /// True if `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// Size of the file at `path`.
    fn file_size(&self, path: &Path) -> Result<u64>;
    /// Makes the creations, renames and removals of entries of `dir` durable.
    fn sync_dir(&self, dir: &Path) -> Result<()>;
    /// Takes an exclusive lock on `path` (created if missing); fails with
    /// [`Error::Locked`] if another process or handle holds it.
    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>>;
}

/// Writes `data` to `path` atomically and durably: write a temp file, sync it, rename
/// it over `path`, sync the directory. Used for `CURRENT`.
pub fn write_file_atomic(fs: &dyn FileSystem, path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".dbtmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = fs.create(&tmp)?;
        f.append(data)?;
        f.sync_data()?;
    }
    fs.rename(&tmp, path)?;
    fs.sync_dir(dir)
}

#[cfg(test)]
mod tests;
