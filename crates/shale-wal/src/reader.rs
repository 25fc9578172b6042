//! [`LogReader`]: reassembles logical records from fragments and applies the
//! [`RecoveryMode`] to damage.

use std::path::Path;

use shale_core::{Error, Result};
use shale_fs::FileSystem;

use crate::format::{
    FILE_HEADER_PAYLOAD_LEN, FILE_HEADER_RECORD_LEN, FRAGMENT_HEADER_SIZE, FileHeader,
    FragmentHeader, FragmentType, parse_file_header,
};
use crate::scanner::{Fragment, Physical, Scanner};
use crate::{Dropped, LogKind, RecoveryMode};

/// What the reader saw, in file order; recorded only for [`crate::dump`].
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A valid fragment.
    Fragment {
        offset: u64,
        kind: FragmentType,
        len: usize,
    },
    /// A fragment whose checksum does not match (followed by its `Dropped`).
    BadFragment {
        offset: u64,
        kind: FragmentType,
        len: usize,
    },
    /// Zero padding at the end of a block.
    Padding { offset: u64, len: u64 },
    /// A region that was dropped (also in [`LogReader::dropped`]).
    Dropped(Dropped),
}

/// Whether reading goes on after a damaged region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Reads the logical records of a log file written by [`crate::LogWriter`].
///
/// The file header is read and checked by [`open`](LogReader::open); records are then
/// returned one at a time by [`next_record`](LogReader::next_record). Damage is
/// handled as the [`RecoveryMode`] says; whatever was skipped or cut off is listed by
/// [`dropped`](LogReader::dropped). Corruption errors are sticky: once `next_record`
/// returned one, it returns it again.
pub struct LogReader {
    scanner: Scanner,
    kind: LogKind,
    mode: RecoveryMode,
    header: Option<FileHeader>,
    dropped: Vec<Dropped>,
    stopped_early: bool,
    done: bool,
    error: Option<Error>,
    /// `Some` when tracing for `dump`: also makes header problems non-fatal.
    trace: Option<Vec<Event>>,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("path", &self.scanner.path())
            .field("kind", &self.kind)
            .field("mode", &self.mode)
            .field("header", &self.header)
            .field("dropped", &self.dropped)
            .field("stopped_early", &self.stopped_early)
            .finish_non_exhaustive()
    }
}

impl LogReader {
    /// Opens `path`, reads and validates the file header record (see the type docs).
    ///
    /// Fails with [`Error::Corruption`] at offset 0 if the file is not a ShaleDB log of
    /// `kind` (bad magic, a log of the other kind, an unknown format version), whatever
    /// the mode. An empty (0-byte) file is a valid empty log. A torn or damaged header
    /// record is damage like any other and is handled by `mode`.
    pub fn open(
        fs: &dyn FileSystem,
        path: &Path,
        kind: LogKind,
        mode: RecoveryMode,
    ) -> Result<LogReader> {
        Self::open_with(fs, path, kind, mode, false)
    }

    /// Opens for [`crate::dump`]: skips any damage, records events, and reports header
    /// problems as dropped regions instead of failing.
    pub(crate) fn open_traced(fs: &dyn FileSystem, path: &Path, kind: LogKind) -> Result<Self> {
        Self::open_with(fs, path, kind, RecoveryMode::SkipAnyCorruptedRecords, true)
    }

    fn open_with(
        fs: &dyn FileSystem,
        path: &Path,
        kind: LogKind,
        mode: RecoveryMode,
        traced: bool,
    ) -> Result<LogReader> {
        let file = fs.open_read(path)?;
        let mut r = LogReader {
            scanner: Scanner::new(file, path.to_path_buf()),
            kind,
            mode,
            header: None,
            dropped: Vec::new(),
            stopped_early: false,
            done: false,
            error: None,
            trace: traced.then(Vec::new),
        };
        r.read_file_header()?;
        Ok(r)
    }

    /// The file number from the file header; 0 if the file had no valid header (an
    /// empty file, or a damaged header that the mode skipped).
    pub fn file_number(&self) -> u64 {
        self.header.map_or(0, |h| h.file_number)
    }

    /// The decoded file header, if the file had a valid one.
    pub fn header(&self) -> Option<FileHeader> {
        self.header
    }

    /// The recovery mode in use.
    pub fn mode(&self) -> RecoveryMode {
        self.mode
    }

    /// The file's size when it was opened.
    pub fn file_len(&self) -> u64 {
        self.scanner.file_len()
    }

    /// Next logical record and the file offset of its first fragment's header; Ok(None) at the end (or where the mode says to stop).
    pub fn next_record(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.done {
            return Ok(None);
        }
        // The record being assembled: offset of its FIRST fragment and its bytes so far.
        let mut pending: Option<(u64, Vec<u8>)> = None;
        loop {
            match self.scanner.next()? {
                Physical::Eof => {
                    let Some((start, _)) = pending.take() else {
                        self.done = true;
                        return Ok(None);
                    };
                    let len = self.scanner.file_len();
                    let reason = format!(
                        "record at offset {start} is incomplete: the file ends before its LAST fragment"
                    );
                    if self.damage(start, len, len, reason)? == Flow::Stop {
                        return Ok(None);
                    }
                }
                Physical::Padding { offset, len } => self.trace(Event::Padding { offset, len }),
                Physical::Damage(d) => {
                    if let Some((kind, len)) = d.bad_crc {
                        let offset = d.offset;
                        self.trace(Event::BadFragment { offset, kind, len });
                    }
                    let (start, reason) = match pending.take() {
                        Some((start, _)) => (
                            start,
                            format!(
                                "{} at offset {}, inside the record starting at offset {start}",
                                d.reason, d.offset
                            ),
                        ),
                        None => (d.offset, d.reason),
                    };
                    if self.damage(start, d.end, d.offset + 1, reason)? == Flow::Stop {
                        return Ok(None);
                    }
                }
                Physical::Fragment(f) => {
                    self.trace_fragment(&f);
                    match f.kind {
                        FragmentType::Full | FragmentType::First => {
                            if let Some((start, _)) = pending.take() {
                                let reason = format!(
                                    "record at offset {start} has no LAST fragment: a {} fragment starts at offset {}",
                                    f.kind.name(),
                                    f.offset
                                );
                                if self.damage(start, f.offset, f.offset, reason)? == Flow::Stop {
                                    return Ok(None);
                                }
                            }
                            let payload = self.scanner.bytes(f.payload.clone()).to_vec();
                            if f.kind == FragmentType::Full {
                                return Ok(Some((f.offset, payload)));
                            }
                            pending = Some((f.offset, payload));
                        }
                        FragmentType::Middle | FragmentType::Last => {
                            let Some((start, mut buf)) = pending.take() else {
                                let reason = format!(
                                    "{} fragment without a preceding FIRST fragment",
                                    f.kind.name()
                                );
                                if self.damage(f.offset, f.end(), f.end(), reason)? == Flow::Stop {
                                    return Ok(None);
                                }
                                continue;
                            };
                            buf.extend_from_slice(self.scanner.bytes(f.payload.clone()));
                            if f.kind == FragmentType::Last {
                                return Ok(Some((start, buf)));
                            }
                            pending = Some((start, buf));
                        }
                    }
                }
            }
        }
    }

    /// What the mode skipped or cut off, for reporting.
    pub fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }

    /// PointInTimeRecovery stopped at damage: the caller must not replay later logs.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }

    /// Takes the events recorded since the last call (only when tracing).
    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn read_file_header(&mut self) -> Result<()> {
        if self.scanner.file_len() == 0 {
            // Crash right after create: nothing was ever acknowledged from this file.
            self.done = true;
            return Ok(());
        }
        let what = self.kind.name();
        match self.scanner.next()? {
            Physical::Fragment(f) => {
                self.trace_fragment(&f);
                let parsed = if f.kind == FragmentType::Full {
                    parse_file_header(self.scanner.bytes(f.payload.clone()), self.kind)
                } else {
                    Err(format!(
                        "not a ShaleDB {what} file: it starts with a {} fragment, not a file header",
                        f.kind.name()
                    ))
                };
                match parsed {
                    Ok(h) => self.header = Some(h),
                    Err(reason) => self.bad_header(f.end(), reason)?,
                }
            }
            Physical::Damage(d) => {
                if let Some((kind, len)) = d.bad_crc {
                    self.trace(Event::BadFragment {
                        offset: 0,
                        kind,
                        len,
                    });
                }
                if self.looks_like_damaged_header()? {
                    // Our header, torn or damaged: damage like any other. If the
                    // whole record is there its length is known; resume after it.
                    let mut end = d.end;
                    if self.scanner.file_len() >= FILE_HEADER_RECORD_LEN as u64
                        && !self.header_is_zero()?
                    {
                        end = FILE_HEADER_RECORD_LEN as u64;
                        self.scanner.skip_to(end);
                    }
                    let reason = format!("damaged file header record: {}", d.reason);
                    self.damage(0, end, 1, reason)?;
                } else {
                    self.bad_header(d.end, format!("not a ShaleDB {what} file: {}", d.reason))?;
                }
            }
            // Impossible at offset 0 of a non-empty file; treat as the end.
            Physical::Padding { .. } | Physical::Eof => self.done = true,
        }
        Ok(())
    }

    /// A file that is not a log of our kind: fatal, except when tracing for `dump`.
    fn bad_header(&mut self, end: u64, reason: String) -> Result<()> {
        if self.trace.is_some() {
            self.drop_region(0, end, reason);
            Ok(())
        } else {
            Err(Error::corruption(self.scanner.path(), 0, reason))
        }
    }

    /// True if the file's first bytes are zeros or could be a torn or bit-damaged
    /// header record of our kind (type FULL, length 20 and our magic where present).
    fn looks_like_damaged_header(&mut self) -> Result<bool> {
        let magic = self.kind.magic();
        let raw = self.scanner.prefix(FILE_HEADER_RECORD_LEN)?;
        if raw.iter().all(|&b| b == 0) {
            return Ok(true);
        }
        if let Some(h) = FragmentHeader::decode(raw)
            && (h.kind != FragmentType::Full as u8 || h.len != FILE_HEADER_PAYLOAD_LEN)
        {
            return Ok(false);
        }
        let after = raw.get(FRAGMENT_HEADER_SIZE..).unwrap_or(&[]);
        let present = after.get(..magic.len().min(after.len())).unwrap_or(&[]);
        Ok(magic.starts_with(present))
    }

    fn header_is_zero(&mut self) -> Result<bool> {
        let raw = self.scanner.prefix(FILE_HEADER_RECORD_LEN)?;
        Ok(raw.iter().all(|&b| b == 0))
    }

    /// Applies the recovery mode to a damaged region that starts at `offset` (the
    /// start of the record it damaged) and that the scanner skips up to `end`.
    /// `scan_from` is where a valid fragment would prove the damage is not a torn tail.
    fn damage(&mut self, offset: u64, end: u64, scan_from: u64, reason: String) -> Result<Flow> {
        let file_len = self.scanner.file_len();
        match self.mode {
            RecoveryMode::AbsoluteConsistency => Err(self.fail(offset, reason)),
            RecoveryMode::TolerateCorruptedTailRecords => {
                if let Some(at) = self.scanner.valid_fragment_from(scan_from)? {
                    let reason = format!(
                        "{reason}; a valid fragment follows at offset {at}, so this is not a torn tail"
                    );
                    return Err(self.fail(offset, reason));
                }
                self.drop_region(offset, file_len, format!("torn tail: {reason}"));
                self.done = true;
                Ok(Flow::Stop)
            }
            RecoveryMode::PointInTimeRecovery => {
                let reason = format!("{reason}; point-in-time recovery stops here");
                self.drop_region(offset, file_len, reason);
                self.stopped_early = true;
                self.done = true;
                Ok(Flow::Stop)
            }
            RecoveryMode::SkipAnyCorruptedRecords => {
                self.drop_region(offset, end, reason);
                Ok(Flow::Continue)
            }
        }
    }

    /// Builds the corruption error, and makes it sticky.
    fn fail(&mut self, offset: u64, reason: String) -> Error {
        let e = Error::corruption(self.scanner.path(), offset, reason);
        self.error = Some(e.clone());
        self.done = true;
        e
    }

    fn drop_region(&mut self, offset: u64, end: u64, reason: String) {
        let d = Dropped {
            offset,
            bytes: end.saturating_sub(offset),
            reason,
        };
        self.trace(Event::Dropped(d.clone()));
        self.dropped.push(d);
    }

    fn trace_fragment(&mut self, f: &Fragment) {
        self.trace(Event::Fragment {
            offset: f.offset,
            kind: f.kind,
            len: f.payload.len(),
        });
    }

    fn trace(&mut self, event: Event) {
        if let Some(t) = &mut self.trace {
            t.push(event);
        }
    }
}
