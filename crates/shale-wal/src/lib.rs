//! The ShaleDB log format, used for the write-ahead log (WAL) and the MANIFEST.
//!
//! A log file is a sequence of 32 KiB blocks. A *logical record* (a write batch, a
//! version edit) is stored as one or more *fragments*, each with a 7-byte header:
//!
//! ```text
//! masked crc32c: u32 LE | length: u16 LE | type: u8 | payload: length bytes
//! ```
//!
//! The crc32c covers the type byte and the payload and is masked like LevelDB's. Types:
//! 1 = FULL, 2 = FIRST, 3 = MIDDLE, 4 = LAST; 0 is reserved (zero padding,
//! preallocated space). A record is split so that no header crosses a block
//! boundary; fewer than 7 bytes left in a block are zero-filled. The first record of
//! every file is a *file header record*: magic (`SHALEWAL` / `SHALEMAN`), format
//! version (u32 LE, 1) and file number (u64 LE).
//!
//! The byte-by-byte description, the write-batch payload and the recovery modes are in
//! `docs/format/wal.md`.
//!
//! * [`LogWriter`] appends records (one `append` call per record).
//! * [`LogReader`] reads them back and handles damage per [`RecoveryMode`].
//! * [`dump()`] prints everything in a file, damage included (`shale dump-wal`).

mod dump;
mod format;
mod reader;
mod scanner;
mod writer;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests;

pub use dump::{DumpSummary, dump};
pub use format::{
    BLOCK_SIZE, FILE_HEADER_PAYLOAD_LEN, FILE_HEADER_RECORD_LEN, FORMAT_VERSION,
    FRAGMENT_HEADER_SIZE, FileHeader, FragmentType, MAX_FRAGMENT_PAYLOAD, mask_crc, unmask_crc,
};
pub use reader::LogReader;
pub use writer::LogWriter;

/// What a log file holds; selects the magic number of its file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// A write-ahead log (`NNNNNN.log`): each record is a write batch.
    Wal,
    /// A manifest (`MANIFEST-NNNNNN`): each record is a version edit.
    Manifest,
}

impl LogKind {
    /// The 8-byte magic number that starts the file header record.
    pub fn magic(self) -> &'static [u8; 8] {
        match self {
            LogKind::Wal => b"SHALEWAL",
            LogKind::Manifest => b"SHALEMAN",
        }
    }

    /// The kind whose magic number is `magic`, if any.
    pub fn from_magic(magic: &[u8]) -> Option<LogKind> {
        [LogKind::Wal, LogKind::Manifest]
            .into_iter()
            .find(|k| k.magic() == magic)
    }

    /// Human-readable name ("WAL" or "manifest").
    pub fn name(self) -> &'static str {
        match self {
            LogKind::Wal => "WAL",
            LogKind::Manifest => "manifest",
        }
    }
}

/// How [`LogReader`] treats damage: checksum mismatches, impossible lengths or types,
/// zero-filled regions, truncated fragments, and fragment sequencing errors (MIDDLE or
/// LAST without FIRST, FIRST or FULL while a record is open, end of file inside a
/// record). Mirrors RocksDB's `WALRecoveryMode`. Zero padding at the end of a block
/// (fewer than 7 bytes) is not damage; nor is an empty (0-byte) file.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Damage at the end of the file, after which no valid fragment follows anywhere
    /// (a torn last record, a checksum-failing or zero-filled tail), ends the log: the
    /// records before it are returned, the damage is reported in
    /// [`LogReader::dropped`] and `next_record` returns `Ok(None)`. Damage followed by a
    /// valid fragment later in the file is real corruption: `Err(Corruption)`.
    /// The right mode after a process or machine crash: only unacknowledged or
    /// unsynced writes can be lost, never a record in the middle.
    #[default]
    TolerateCorruptedTailRecords,
    /// Any damage, including a torn tail, is `Err(Corruption)`. For files that were
    /// closed cleanly (or synced after every write) and must be intact.
    AbsoluteConsistency,
    /// Stop at the first damage: return `Ok(None)` from there on, report the damage
    /// and everything after it in [`LogReader::dropped`], and set
    /// [`LogReader::stopped_early`]: the caller must not replay later logs, so that
    /// the recovered state is a consistent point in time. Never an error for damage.
    PointInTimeRecovery,
    /// Skip every damaged region (a damaged fragment loses the rest of its block, as a
    /// damaged header's length cannot be trusted), report each one in
    /// [`LogReader::dropped`], and keep reading. Records are never returned with wrong
    /// content, but records can be missing. For salvaging data.
    SkipAnyCorruptedRecords,
}

/// A region of a log file that the reader skipped or cut off, for reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// File offset where the damage starts (the first fragment of a damaged record).
    pub offset: u64,
    /// Bytes dropped from `offset` (to the end of the file when the mode stopped there).
    pub bytes: u64,
    /// What was wrong.
    pub reason: String,
}
