//! [`dump()`]: a human-readable listing of a log file, damage included
//! (`shale dump-wal`).

use std::io::Write;
use std::path::Path;

use shale_core::{Error, Result, ValueKind, WriteBatch};
use shale_fs::FileSystem;

use crate::LogKind;
use crate::reader::{Event, LogReader};

/// Counts from a [`dump()`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpSummary {
    /// Logical records found (the file header record not included).
    pub records: u64,
    /// Valid physical fragments (the file header's included).
    pub fragments: u64,
    /// Damaged regions, header problems and (for WALs) undecodable write batches.
    pub corruptions: u64,
}

/// Longest key or value printed in full; longer ones are cut and their size shown.
const MAX_PRINTED: usize = 256;

/// Prints `path` to `out`: the file header, every fragment (offset, type, length, crc
/// status), every logical record (offset, length; for a WAL the decoded write batch)
/// and every damaged region with its offset. Reads like
/// [`RecoveryMode::SkipAnyCorruptedRecords`](crate::RecoveryMode), so it reports all
/// damage instead of stopping. Fails only on I/O errors.
pub fn dump(
    fs: &dyn FileSystem,
    path: &Path,
    kind: LogKind,
    out: &mut dyn Write,
) -> Result<DumpSummary> {
    let mut p = Printer {
        out,
        summary: DumpSummary::default(),
    };
    let mut reader = LogReader::open_traced(fs, path, kind)?;
    p.line(format_args!(
        "file: {} ({} bytes, read as {})",
        path.display(),
        reader.file_len(),
        kind.name()
    ))?;
    p.events(reader.take_events())?;
    match reader.header() {
        Some(h) => p.line(format_args!(
            "header: kind={} version={} file_number={}",
            h.kind.name(),
            h.version,
            h.file_number
        ))?,
        None if reader.file_len() == 0 => p.line(format_args!("header: none (empty file)"))?,
        None => p.line(format_args!("header: missing or damaged"))?,
    }
    while let Some((offset, payload)) = reader.next_record()? {
        p.events(reader.take_events())?;
        p.summary.records += 1;
        p.line(format_args!("record @{offset}: len={}", payload.len()))?;
        match kind {
            LogKind::Wal => p.batch(offset, &payload)?,
            LogKind::Manifest => p.line(format_args!("  data {}", escape(&payload)))?,
        }
    }
    p.events(reader.take_events())?;
    let s = p.summary;
    p.line(format_args!(
        "summary: records={} fragments={} corruptions={}",
        s.records, s.fragments, s.corruptions
    ))?;
    Ok(s)
}

struct Printer<'a> {
    out: &'a mut dyn Write,
    summary: DumpSummary,
}

impl Printer<'_> {
    fn line(&mut self, args: std::fmt::Arguments<'_>) -> Result<()> {
        writeln!(self.out, "{args}").map_err(|e| Error::io("write", "<dump output>", e))
    }

    fn events(&mut self, events: Vec<Event>) -> Result<()> {
        for e in events {
            match e {
                Event::Fragment { offset, kind, len } => {
                    self.summary.fragments += 1;
                    self.line(format_args!(
                        "fragment @{offset}: type={} len={len} crc=ok",
                        kind.name()
                    ))?;
                }
                Event::BadFragment { offset, kind, len } => {
                    self.line(format_args!(
                        "fragment @{offset}: type={} len={len} crc=MISMATCH",
                        kind.name()
                    ))?;
                }
                Event::Padding { offset, len } => {
                    self.line(format_args!("padding @{offset}: {len} zero bytes"))?;
                }
                Event::Dropped(d) => {
                    self.summary.corruptions += 1;
                    self.line(format_args!(
                        "CORRUPTION @{}: {} bytes skipped: {}",
                        d.offset, d.bytes, d.reason
                    ))?;
                }
            }
        }
        Ok(())
    }

    fn batch(&mut self, offset: u64, payload: &[u8]) -> Result<()> {
        let batch = match WriteBatch::from_bytes(payload) {
            Ok(b) => b,
            Err(e) => {
                self.summary.corruptions += 1;
                let detail = match e {
                    Error::Corruption { offset, detail, .. } => {
                        format!("{detail} (at byte {offset} of the batch)")
                    }
                    other => other.to_string(),
                };
                return self.line(format_args!(
                    "CORRUPTION @{offset}: record is not a valid write batch: {detail}"
                ));
            }
        };
        self.line(format_args!(
            "  batch seq={} count={}",
            batch.seq(),
            batch.count()
        ))?;
        for op in batch.iter() {
            let ks = if op.keyspace == 0 {
                String::new()
            } else {
                format!(" keyspace={}", op.keyspace)
            };
            let (key, value) = (escape(op.key), escape(op.value));
            match op.kind {
                ValueKind::Value => self.line(format_args!("    put{ks} {key} {value}"))?,
                ValueKind::Delete => self.line(format_args!("    del{ks} {key}"))?,
                ValueKind::Merge => self.line(format_args!("    merge{ks} {key} {value}"))?,
                ValueKind::ValueWithExpiry => match shale_core::ttl::decode(op.value) {
                    Some((expiry, v)) => self.line(format_args!(
                        "    put{ks} {key} {} expires_at_ms={expiry}",
                        escape(v)
                    ))?,
                    None => self.line(format_args!("    put{ks} {key} <damaged expiry>"))?,
                },
                ValueKind::RangeDelete => {
                    self.line(format_args!("    range-del{ks} {key} {value}"))?
                }
            }
        }
        Ok(())
    }
}

/// Printable ASCII as is; space, quotes, backslash and everything else as `\xNN`; the
/// empty string as `""`; cut after [`MAX_PRINTED`] bytes.
pub(crate) fn escape(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "\"\"".to_string();
    }
    let shown = bytes.get(..MAX_PRINTED).unwrap_or(bytes);
    let mut s = String::with_capacity(shown.len());
    for &b in shown {
        if b.is_ascii_graphic() && b != b'\\' && b != b'"' && b != b'\'' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > shown.len() {
        s.push_str(&format!("...({} bytes)", bytes.len()));
    }
    s
}
