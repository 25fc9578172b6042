//! Reading a manifest back: replays its edits onto an empty [`State`].

use std::path::Path;

use shale_core::{Error, Result};
use shale_fs::FileSystem;
use shale_wal::{Dropped, LogKind, LogReader, RecoveryMode};

use crate::VersionEdit;
use crate::state::State;

/// What replaying a manifest produced.
#[derive(Debug)]
pub(crate) struct Replayed {
    /// The state after the last complete edit.
    pub(crate) state: State,
    /// Damage the recovery mode dropped (a torn tail after a crash).
    pub(crate) dropped: Vec<Dropped>,
}

/// Replays manifest `path` (which must be manifest number `number`) with `mode`.
///
/// Errors are [`Error::Corruption`] naming the file and the offset of the record at
/// fault: a damaged record the mode does not drop, an undecodable edit, an edit that
/// cannot apply, a file header naming another number, a manifest with no edits or
/// without a next file number.
pub(crate) fn replay(
    fs: &dyn FileSystem,
    path: &Path,
    number: u64,
    num_levels: usize,
    mode: RecoveryMode,
) -> Result<Replayed> {
    let mut reader = LogReader::open(fs, path, LogKind::Manifest, mode)?;
    if reader.header().is_some() && reader.file_number() != number {
        return Err(Error::corruption(
            path,
            0,
            format!(
                "manifest header says file number {}, but the file is manifest {number}",
                reader.file_number()
            ),
        ));
    }
    let mut state = State::new(num_levels);
    let mut edits = 0u64;
    let mut saw_next_file = false;
    while let Some((offset, payload)) = reader.next_record()? {
        let edit = VersionEdit::decode(&payload).map_err(|e| e.relocated(path, offset))?;
        state = state.apply(&edit).map_err(|e| e.relocated(path, offset))?;
        saw_next_file |= edit.next_file_number.is_some();
        edits += 1;
    }
    if edits == 0 || !saw_next_file {
        return Err(Error::corruption(
            path,
            0,
            "manifest holds no complete snapshot (no edit with a next file number)",
        ));
    }
    // The manifest's own number and every live file are in use.
    state.next_file_number = state
        .next_file_number
        .max(number.saturating_add(1))
        .max(state.live_files().last().map_or(0, |n| n.saturating_add(1)));
    Ok(Replayed {
        state,
        dropped: reader.dropped().to_vec(),
    })
}
