//! [`LogWriter`]: frames logical records into fragments and appends them.

use std::path::{Path, PathBuf};

use shale_core::{Error, Result};
use shale_fs::{FileSystem, WritableFile};

use crate::LogKind;
use crate::format::{
    BLOCK_SIZE, FRAGMENT_HEADER_SIZE, FragmentType, encode_file_header, put_fragment,
};

/// Appends logical records to a new log file (a WAL or a manifest).
///
/// Each [`add_record`](LogWriter::add_record) frames one record (plus any zero padding
/// that closes the previous block) into a buffer and hands it to the OS with a single
/// [`WritableFile::append`]. After a failed append or sync the writer refuses further
/// use ([`Error::Poisoned`]): how much of the failed write reached the file is unknown.
pub struct LogWriter {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    kind: LogKind,
    file_number: u64,
    /// Bytes in the file (everything we appended successfully).
    len: u64,
    /// Scratch buffer for framing, reused between records.
    buf: Vec<u8>,
    /// Set after an I/O failure; every later call fails with this message.
    failed: Option<String>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("file_number", &self.file_number)
            .field("len", &self.len)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl LogWriter {
    /// Creates the file (fs.create) and writes the file header record.
    ///
    /// The header is appended but not synced, and the new directory entry is not made
    /// durable either: the caller syncs the file and the directory when it needs to.
    pub fn create(
        fs: &dyn FileSystem,
        path: &Path,
        kind: LogKind,
        file_number: u64,
    ) -> Result<LogWriter> {
        let file = fs.create(path)?;
        let mut w = LogWriter {
            file,
            path: path.to_path_buf(),
            kind,
            file_number,
            len: 0,
            buf: Vec::new(),
            failed: None,
        };
        w.add_record(&encode_file_header(kind, file_number))?;
        Ok(w)
    }

    /// Frames one logical record and hands it to the OS in ONE WritableFile::append call
    /// (so an acknowledged unsynced write survives kill -9 and a record is never half-appended by us).
    pub fn add_record(&mut self, payload: &[u8]) -> Result<()> {
        self.check_usable()?;
        self.buf.clear();
        let added = frame_record(&mut self.buf, block_offset(self.len), payload);
        if let Err(e) = self.file.append(&self.buf) {
            self.failed = Some(format!("append to {} failed: {e}", self.path.display()));
            return Err(e);
        }
        self.len += added as u64;
        // Do not keep a huge buffer around after one large record.
        if self.buf.capacity() > 4 * BLOCK_SIZE {
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Makes every record added so far durable (WritableFile::sync_data).
    pub fn sync(&mut self) -> Result<()> {
        self.check_usable()?;
        if let Err(e) = self.file.sync_data() {
            self.failed = Some(format!("sync of {} failed: {e}", self.path.display()));
            return Err(e);
        }
        Ok(())
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if nothing at all was written (never the case after `create` succeeded).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file holds.
    pub fn kind(&self) -> LogKind {
        self.kind
    }

    /// The file number written in the file header.
    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    fn check_usable(&self) -> Result<()> {
        match &self.failed {
            Some(msg) => Err(Error::Poisoned(msg.clone())),
            None => Ok(()),
        }
    }
}

/// Position inside its block of file offset `len`.
fn block_offset(len: u64) -> usize {
    (len % BLOCK_SIZE as u64) as usize
}

/// Appends the framing of `payload` to `dst` for a file whose current length is at
/// `block_offset` within its block: zero padding if fewer than a header's bytes are
/// left, then FULL or FIRST, MIDDLE*, LAST fragments. Returns the bytes appended.
pub(crate) fn frame_record(dst: &mut Vec<u8>, mut block_offset: usize, payload: &[u8]) -> usize {
    let start = dst.len();
    let mut left = payload;
    let mut first = true;
    loop {
        let space = BLOCK_SIZE - block_offset;
        if space < FRAGMENT_HEADER_SIZE {
            // Too small for a header: zero-fill the block's trailer.
            dst.resize(dst.len() + space, 0);
            block_offset = 0;
            continue;
        }
        let n = left.len().min(space - FRAGMENT_HEADER_SIZE);
        let (fragment, rest) = left.split_at(n);
        let last = rest.is_empty();
        let kind = match (first, last) {
            (true, true) => FragmentType::Full,
            (true, false) => FragmentType::First,
            (false, false) => FragmentType::Middle,
            (false, true) => FragmentType::Last,
        };
        put_fragment(dst, kind, fragment);
        block_offset += FRAGMENT_HEADER_SIZE + n;
        left = rest;
        first = false;
        if last {
            return dst.len() - start;
        }
    }
}
