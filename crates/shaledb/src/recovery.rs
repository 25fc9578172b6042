//! Opening a database directory: replay the WALs into a memtable, then start a fresh
//! WAL that holds everything recovered.
//!
//! Until SSTables exist the whole data set lives in the memtable, so "persist what was
//! recovered" means rewriting it into one new WAL (the role a flush to L0 takes later).
//! The sequence is crash-safe at every step:
//!
//! 1. Replay every `NNNNNN.log` in number order (per the recovery mode).
//! 2. Write the newest value of every live key, with its original seqno, into log
//!    `max + 1`; sync it; sync the directory.
//! 3. Only then remove the old logs, and sync the directory again.
//!
//! A crash before 3 completes leaves old and new logs side by side; replaying both
//! inserts identical entries (same key, same seqno), so the result is the same.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shale_core::{InternalIterator, SeqNo, ValueKind, WriteBatch};
use shale_fs::FileSystem;
use shale_memtable::MemTable;
use shale_wal::{LogKind, LogReader, LogWriter, RecoveryMode};

use crate::Result;
use crate::filenames::{FileKind, parse_file_name, wal_path};

/// What replaying the directory produced.
pub(crate) struct Recovered {
    pub mem: Arc<MemTable>,
    pub last_seq: SeqNo,
    /// Every WAL found, in number order.
    pub logs: Vec<u64>,
    /// Human-readable notes about dropped damage (torn tails and the like).
    pub notes: Vec<String>,
}

/// Replays every WAL of `dir` into a new memtable.
pub(crate) fn replay(fs: &dyn FileSystem, dir: &Path, mode: RecoveryMode) -> Result<Recovered> {
    let mut logs: Vec<u64> = fs
        .list(dir)?
        .iter()
        .filter_map(|n| match parse_file_name(n) {
            Some(FileKind::Wal(num)) => Some(num),
            _ => None,
        })
        .collect();
    logs.sort_unstable();
    let mem = Arc::new(MemTable::new());
    let mut last_seq = 0;
    let mut notes = Vec::new();
    for &num in &logs {
        let path = wal_path(dir, num);
        let mut reader = LogReader::open(fs, &path, LogKind::Wal, mode)?;
        while let Some((offset, payload)) = reader.next_record()? {
            let batch = WriteBatch::from_bytes(&payload).map_err(|e| e.relocated(&path, offset))?;
            let first = batch.seq();
            for (i, op) in batch.iter().enumerate() {
                mem.add(first + i as u64, op.kind, op.key, op.value);
            }
            if batch.count() > 0 {
                last_seq = last_seq.max(first + u64::from(batch.count()) - 1);
            }
        }
        for d in reader.dropped() {
            notes.push(format!(
                "{}: dropped {} bytes at offset {}: {}",
                path.display(),
                d.bytes,
                d.offset,
                d.reason
            ));
        }
        if reader.stopped_early() {
            notes.push(format!(
                "{}: point-in-time recovery stopped here; later logs are not replayed",
                path.display()
            ));
            break;
        }
    }
    Ok(Recovered {
        mem,
        last_seq,
        logs,
        notes,
    })
}

/// Writes the newest value of every live key in `mem` into a new, synced WAL
/// `number` and returns its writer, positioned to take new writes.
pub(crate) fn rewrite_into_new_wal(
    fs: &dyn FileSystem,
    dir: &Path,
    mem: &Arc<MemTable>,
    number: u64,
) -> Result<LogWriter> {
    let path: PathBuf = wal_path(dir, number);
    let mut log = LogWriter::create(fs, &path, LogKind::Wal, number)?;
    let mut it = mem.iter();
    it.seek_to_first();
    let mut last_user_key: Option<Vec<u8>> = None;
    let mut batch = WriteBatch::new();
    while it.valid() {
        let Some(parsed) = shale_core::key::parse_internal_key(it.key()) else {
            it.next();
            continue;
        };
        if last_user_key.as_deref() != Some(parsed.user_key) {
            last_user_key = Some(parsed.user_key.to_vec());
            // Newest version of this key. Tombstones shadow nothing once every older
            // version is gone, so only values are carried over.
            if parsed.kind == ValueKind::Value {
                batch.clear();
                batch.put(parsed.user_key, it.value());
                batch.set_seq(parsed.seq);
                log.add_record(batch.as_bytes())?;
            }
        }
        it.next();
    }
    log.sync()?;
    fs.sync_dir(dir)?;
    Ok(log)
}
