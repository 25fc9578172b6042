//! Tests of the log format: roundtrips, torn tails, bit flips, headers, crashes, dump.
//!
//! Shared helpers live here; each file holds one family of tests.

mod bitflip;
mod crash;
mod dump;
mod header;
mod roundtrip;
mod truncation;

use std::path::{Path, PathBuf};

use shale_core::Error;
use shale_fs::{FileSystem, MemFs};

use crate::{
    BLOCK_SIZE, Dropped, FRAGMENT_HEADER_SIZE, LogKind, LogReader, LogWriter, RecoveryMode,
};

/// Every recovery mode.
pub(crate) const ALL_MODES: [RecoveryMode; 4] = [
    RecoveryMode::TolerateCorruptedTailRecords,
    RecoveryMode::AbsoluteConsistency,
    RecoveryMode::PointInTimeRecovery,
    RecoveryMode::SkipAnyCorruptedRecords,
];

/// The file number every test log gets.
pub(crate) const FILE_NUMBER: u64 = 7;

/// A MemFs with the directory `/db`.
pub(crate) fn mem_fs() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    fs
}

/// `/db/<name>`.
pub(crate) fn db_path(name: &str) -> PathBuf {
    Path::new("/db").join(name)
}

/// Deterministic, mostly non-zero payload bytes for record `i`.
pub(crate) fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (i.wrapping_mul(131) ^ j.wrapping_mul(17) ^ (j >> 8)) as u8 | 0x10)
        .collect()
}

/// A written log: the file bytes, and each record's payload, offset and end.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub bytes: Vec<u8>,
    pub records: Vec<Vec<u8>>,
    /// Offset of each record's first fragment header (after any padding).
    pub offsets: Vec<u64>,
    /// File length right after each record was added.
    pub ends: Vec<u64>,
}

impl Written {
    /// `(offset, payload)` pairs as the reader returns them.
    pub fn expected(&self, n: usize) -> Vec<(u64, Vec<u8>)> {
        self.offsets
            .iter()
            .copied()
            .zip(self.records.iter().cloned())
            .take(n)
            .collect()
    }
}

/// Where the first fragment of a record appended at file length `len` starts.
pub(crate) fn first_fragment_offset(len: u64) -> u64 {
    let space = BLOCK_SIZE as u64 - len % BLOCK_SIZE as u64;
    if space < FRAGMENT_HEADER_SIZE as u64 {
        len + space
    } else {
        len
    }
}

/// Writes a WAL with `sizes` records at `path` of `fs` and returns what was written.
pub(crate) fn write_log(fs: &dyn FileSystem, path: &Path, sizes: &[usize]) -> Written {
    let mut w = LogWriter::create(fs, path, LogKind::Wal, FILE_NUMBER).unwrap();
    let mut out = Written {
        bytes: Vec::new(),
        records: Vec::new(),
        offsets: Vec::new(),
        ends: Vec::new(),
    };
    for (i, &size) in sizes.iter().enumerate() {
        let p = payload(i, size);
        out.offsets.push(first_fragment_offset(w.len()));
        w.add_record(&p).unwrap();
        out.ends.push(w.len());
        out.records.push(p);
    }
    assert_eq!(w.len(), fs.file_size(path).unwrap());
    out.bytes = fs.read_all(path).unwrap();
    out
}

/// Writes a WAL with `sizes` records into a fresh MemFs and returns its bytes.
pub(crate) fn build_log(sizes: &[usize]) -> Written {
    write_log(&mem_fs(), &db_path("000007.log"), sizes)
}

/// Replaces the file at `path` with `bytes`.
pub(crate) fn put_file(fs: &dyn FileSystem, path: &Path, bytes: &[u8]) {
    let mut f = fs.create(path).unwrap();
    f.append(bytes).unwrap();
    f.sync_data().unwrap();
}

/// What reading a whole log produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Records returned before the end or the error.
    pub records: Vec<(u64, Vec<u8>)>,
    /// The error that ended reading (from `open` or `next_record`), if any.
    pub error: Option<Error>,
    /// True if `open` itself failed.
    pub open_failed: bool,
    pub dropped: Vec<Dropped>,
    pub stopped_early: bool,
    pub file_number: u64,
}

impl Outcome {
    /// Panics unless the outcome is a corruption error.
    pub fn corruption(&self) -> (u64, String) {
        match &self.error {
            Some(Error::Corruption { offset, detail, .. }) => (*offset, detail.clone()),
            other => panic!("expected a corruption error, got {other:?}"),
        }
    }
}

/// Reads every record of `path` with `mode`.
pub(crate) fn read_log(
    fs: &dyn FileSystem,
    path: &Path,
    kind: LogKind,
    mode: RecoveryMode,
) -> Outcome {
    let mut out = Outcome {
        records: Vec::new(),
        error: None,
        open_failed: false,
        dropped: Vec::new(),
        stopped_early: false,
        file_number: 0,
    };
    let mut r = match LogReader::open(fs, path, kind, mode) {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e);
            out.open_failed = true;
            return out;
        }
    };
    loop {
        match r.next_record() {
            Ok(Some(rec)) => out.records.push(rec),
            Ok(None) => break,
            Err(e) => {
                // Errors are sticky.
                assert_eq!(r.next_record().unwrap_err().to_string(), e.to_string());
                out.error = Some(e);
                break;
            }
        }
    }
    if out.error.is_none() {
        assert_eq!(r.next_record().unwrap(), None, "end of log is sticky");
    }
    out.dropped = r.dropped().to_vec();
    out.stopped_early = r.stopped_early();
    out.file_number = r.file_number();
    out
}

/// Writes `bytes` to a fresh MemFs file and reads it back as a WAL with `mode`.
pub(crate) fn read_bytes(bytes: &[u8], mode: RecoveryMode) -> Outcome {
    let fs = mem_fs();
    let path = db_path("x.log");
    put_file(&fs, &path, bytes);
    read_log(&fs, &path, LogKind::Wal, mode)
}

/// True if every returned record is one of the written records, at its offset, in
/// order (a subsequence): nothing was returned with wrong content.
pub(crate) fn is_faithful(got: &[(u64, Vec<u8>)], written: &Written) -> bool {
    let expected = written.expected(written.records.len());
    let mut it = expected.iter();
    got.iter().all(|g| it.any(|e| e == g))
}
