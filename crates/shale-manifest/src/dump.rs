//! [`dump()`] (`shale dump-manifest`) and [`check()`]: reading a manifest for people.

use std::io::Write;
use std::path::Path;

use shale_core::{Error, Result};
use shale_fs::FileSystem;
use shale_wal::{LogKind, LogReader, RecoveryMode};

use crate::VersionEdit;
use crate::current::{manifest_path, read_current};
use crate::edit::show_key;
use crate::replay::replay;
use crate::state::State;
use crate::version_set::MAX_LEVELS;

/// Counts from a [`dump()`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpSummary {
    /// Edits decoded.
    pub edits: u64,
    /// Damaged records, undecodable edits and edits that could not apply.
    pub corruptions: u64,
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::io("write dump", path, e)
}

/// Prints manifest `path`: its header, every edit (offset, length, each field on its own
/// line), every damaged region, and the resulting state (keyspaces, files per level,
/// counters). Reads past damage (like `SkipAnyCorruptedRecords`) so that it shows all of
/// it. Fails only on I/O errors and on a file that is not a manifest.
pub fn dump(fs: &dyn FileSystem, path: &Path, out: &mut dyn Write) -> Result<DumpSummary> {
    let mut reader = LogReader::open(
        fs,
        path,
        LogKind::Manifest,
        RecoveryMode::SkipAnyCorruptedRecords,
    )?;
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| io_err(path, e));
    w(
        out,
        format!("file: {} ({} bytes)", path.display(), reader.file_len()),
    )?;
    match reader.header() {
        Some(h) => w(
            out,
            format!(
                "header: version={} file_number={}",
                h.version, h.file_number
            ),
        )?,
        None => w(out, "header: none".to_owned())?,
    }
    let mut summary = DumpSummary::default();
    let mut state: Option<State> = Some(State::new(MAX_LEVELS));
    while let Some((offset, payload)) = reader.next_record()? {
        match VersionEdit::decode(&payload) {
            Ok(edit) => {
                summary.edits += 1;
                w(out, format!("edit @{offset} ({} bytes):", payload.len()))?;
                write!(out, "{edit}").map_err(|e| io_err(path, e))?;
                if let Some(s) = &state {
                    match s.apply(&edit) {
                        Ok(next) => state = Some(next),
                        Err(e) => {
                            summary.corruptions += 1;
                            w(out, format!("CORRUPTION @{offset}: {e}"))?;
                            state = None;
                        }
                    }
                }
            }
            Err(e) => {
                summary.corruptions += 1;
                w(
                    out,
                    format!("CORRUPTION @{offset}: {}", e.relocated(path, offset)),
                )?;
                state = None;
            }
        }
    }
    for d in reader.dropped() {
        summary.corruptions += 1;
        w(
            out,
            format!(
                "CORRUPTION @{} ({} bytes dropped): {}",
                d.offset, d.bytes, d.reason
            ),
        )?;
    }
    match &state {
        Some(s) => print_state(out, s).map_err(|e| io_err(path, e))?,
        None => w(
            out,
            "state: not shown (an edit could not be applied)".to_owned(),
        )?,
    }
    w(
        out,
        format!(
            "summary: {} edits, {} corruptions",
            summary.edits, summary.corruptions
        ),
    )?;
    Ok(summary)
}

fn print_state(out: &mut dyn Write, s: &State) -> std::io::Result<()> {
    writeln!(
        out,
        "state: next_file_number={} last_seqno={} max_keyspace_id={}",
        s.next_file_number, s.last_seqno, s.max_keyspace_id
    )?;
    for (id, ks) in &s.keyspaces {
        writeln!(
            out,
            "keyspace {id} \"{}\": log_number={}",
            ks.name, ks.log_number
        )?;
        for (level, files) in ks.current.levels().iter().enumerate() {
            for f in files {
                writeln!(
                    out,
                    "  L{level} #{} size={} [{} .. {}]",
                    f.number,
                    f.size,
                    show_key(&f.smallest),
                    show_key(&f.largest)
                )?;
            }
        }
    }
    Ok(())
}

/// Verifies the manifest of the database in `dir`: CURRENT, every record (a torn tail is
/// accepted, as recovery accepts it), every edit, the LSM invariants, and that every
/// live table file (`NNNNNN.sst`) exists. Returns every problem found; empty = healthy.
pub fn check(fs: &dyn FileSystem, dir: &Path, num_levels: usize) -> Vec<Error> {
    let number = match read_current(fs, dir) {
        Ok(n) => n,
        Err(e) => return vec![e],
    };
    let path = manifest_path(dir, number);
    let replayed = match replay(
        fs,
        &path,
        number,
        num_levels,
        RecoveryMode::TolerateCorruptedTailRecords,
    ) {
        Ok(r) => r,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    for (id, ks) in &replayed.state.keyspaces {
        if let Err(e) = ks.current.check_invariants() {
            errors.push(e.relocated(&path, 0));
        }
        for f in ks.current.levels().iter().flatten() {
            let table = dir.join(format!("{:06}.sst", f.number));
            match fs.file_size(&table) {
                Ok(size) if size == f.size => {}
                Ok(size) => errors.push(Error::corruption(
                    &table,
                    0,
                    format!(
                        "keyspace {id}: manifest records {} bytes, the file has {size}",
                        f.size
                    ),
                )),
                Err(_) => errors.push(Error::NotFound(table)),
            }
        }
    }
    errors
}
