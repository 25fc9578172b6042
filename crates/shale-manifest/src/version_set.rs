//! [`VersionSet`]: the current shape of every keyspace plus the open MANIFEST writer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shale_core::{Error, Result, SeqNo};
use shale_fs::FileSystem;
use shale_wal::{LogKind, LogWriter, RecoveryMode};

use crate::current::{manifest_path, read_current, write_current};
use crate::replay::replay;
use crate::state::{KeyspaceState, State};
use crate::{Version, VersionEdit};

/// Default size past which the manifest is rolled over to a new file (64 MiB).
pub const DEFAULT_MAX_MANIFEST_SIZE: u64 = 64 * 1024 * 1024;

/// The most levels a tree may have.
pub const MAX_LEVELS: usize = 64;

/// The database's shape (every keyspace's current [`Version`], log numbers, counters)
/// and the MANIFEST it is logged to.
///
/// Changes go through [`VersionSet::log_and_apply`], which makes the edit durable in the
/// manifest before installing it. Not thread-safe by itself: the Db serialises calls.
pub struct VersionSet {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    state: State,
    manifest: LogWriter,
    manifest_file_number: u64,
    max_manifest_size: u64,
    poisoned: Option<String>,
    recovery_notes: Vec<String>,
}

impl std::fmt::Debug for VersionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionSet")
            .field("dir", &self.dir)
            .field("manifest_file_number", &self.manifest_file_number)
            .field("next_file_number", &self.state.next_file_number)
            .field("last_seqno", &self.state.last_seqno)
            .field("keyspaces", &self.state.keyspaces.len())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

fn check_levels(num_levels: usize) -> Result<()> {
    if !(2..=MAX_LEVELS).contains(&num_levels) {
        return Err(Error::invalid(format!(
            "num_levels must be between 2 and {MAX_LEVELS}, got {num_levels}"
        )));
    }
    Ok(())
}

/// Creates manifest `number` in `dir` holding a snapshot of `state` followed by `extra`
/// (if any), syncs it and the directory. CURRENT is not touched.
fn write_new_manifest(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    state: &State,
    extra: Option<&VersionEdit>,
) -> Result<LogWriter> {
    let path = manifest_path(dir, number);
    let mut w = LogWriter::create(fs, &path, LogKind::Manifest, number)?;
    for edit in state.snapshot().iter().chain(extra) {
        w.add_record(&edit.encode())?;
    }
    w.sync()?;
    // The new name must be durable before CURRENT can point at it.
    fs.sync_dir(dir)?;
    Ok(w)
}

impl VersionSet {
    /// Creates the manifest of a new database in `dir`: `MANIFEST-000001` holding an
    /// empty default keyspace, synced, then `CURRENT` naming it (atomically).
    /// Overwrites a `MANIFEST-000001` left by an earlier crashed creation.
    pub fn create_new(fs: Arc<dyn FileSystem>, dir: &Path, num_levels: usize) -> Result<Self> {
        check_levels(num_levels)?;
        let mut state = State::new(num_levels);
        let number = state.next_file_number;
        state.next_file_number += 1;
        let manifest = write_new_manifest(&*fs, dir, number, &state, None)?;
        write_current(&*fs, dir, number)?;
        Ok(VersionSet {
            fs,
            dir: dir.to_path_buf(),
            state,
            manifest,
            manifest_file_number: number,
            max_manifest_size: DEFAULT_MAX_MANIFEST_SIZE,
            poisoned: None,
            recovery_notes: Vec::new(),
        })
    }

    /// Opens the manifest named by `dir/CURRENT`, replays it (a torn last edit, never
    /// acknowledged, is dropped and noted), then continues in a NEW manifest holding a
    /// snapshot of the recovered state, switches CURRENT to it and removes the old one.
    ///
    /// [`Error::NotFound`] if there is no CURRENT; [`Error::Corruption`] (naming CURRENT
    /// or the manifest and the offset) for any damage that a crash cannot explain.
    pub fn recover(fs: Arc<dyn FileSystem>, dir: &Path, num_levels: usize) -> Result<Self> {
        check_levels(num_levels)?;
        let old_number = read_current(&*fs, dir)?;
        let old_path = manifest_path(dir, old_number);
        let replayed = replay(
            &*fs,
            &old_path,
            old_number,
            num_levels,
            RecoveryMode::TolerateCorruptedTailRecords,
        )?;
        let recovery_notes = replayed
            .dropped
            .iter()
            .map(|d| {
                format!(
                    "{}: dropped {} bytes at offset {} (an edit never acknowledged): {}",
                    old_path.display(),
                    d.bytes,
                    d.offset,
                    d.reason
                )
            })
            .collect();
        let mut state = replayed.state;
        let number = state.next_file_number;
        state.next_file_number += 1;
        let manifest = write_new_manifest(&*fs, dir, number, &state, None)?;
        write_current(&*fs, dir, number)?;
        let vs = VersionSet {
            fs,
            dir: dir.to_path_buf(),
            state,
            manifest,
            manifest_file_number: number,
            max_manifest_size: DEFAULT_MAX_MANIFEST_SIZE,
            poisoned: None,
            recovery_notes,
        };
        vs.remove_old_manifest(old_number);
        Ok(vs)
    }

    /// Sets the size past which the manifest is rolled over (default 64 MiB).
    pub fn set_max_manifest_size(&mut self, bytes: u64) {
        self.max_manifest_size = bytes;
    }

    /// Allocates a file number (for a WAL, table or manifest). It is made durable by
    /// the next [`log_and_apply`](Self::log_and_apply).
    pub fn new_file_number(&mut self) -> u64 {
        let n = self.state.next_file_number;
        self.state.next_file_number += 1;
        n
    }

    /// Makes sure `number` is never allocated again (e.g. a WAL found on disk).
    pub fn mark_file_number_used(&mut self, number: u64) {
        self.state.next_file_number = self.state.next_file_number.max(number.saturating_add(1));
    }

    /// The next file number that [`new_file_number`](Self::new_file_number) returns.
    pub fn next_file_number(&self) -> u64 {
        self.state.next_file_number
    }

    /// The last sequence number in use.
    pub fn last_seqno(&self) -> SeqNo {
        self.state.last_seqno
    }

    /// Raises the last sequence number (never lowers it); logged by the next edit.
    pub fn set_last_seqno(&mut self, seq: SeqNo) {
        self.state.last_seqno = self.state.last_seqno.max(seq);
    }

    /// The current version of `keyspace` (an empty version if it does not exist; see
    /// [`keyspace`](Self::keyspace) for a checked lookup).
    pub fn current(&self, keyspace: u32) -> Arc<Version> {
        match self.state.keyspaces.get(&keyspace) {
            Some(k) => Arc::clone(&k.current),
            None => Arc::new(Version::new(self.state.num_levels)),
        }
    }

    /// The log number of `keyspace`: WALs below it hold none of its unflushed data
    /// (0 if the keyspace does not exist).
    pub fn log_number(&self, keyspace: u32) -> u64 {
        self.state
            .keyspaces
            .get(&keyspace)
            .map_or(0, |k| k.log_number)
    }

    /// The smallest log number over all live keyspaces: WALs below it can be deleted.
    pub fn min_log_number(&self) -> u64 {
        self.state
            .keyspaces
            .values()
            .map(|k| k.log_number)
            .min()
            .unwrap_or(0)
    }

    /// The live keyspaces as (id, name), by id.
    pub fn keyspaces(&self) -> Vec<(u32, String)> {
        self.state
            .keyspaces
            .iter()
            .map(|(id, k)| (*id, k.name.clone()))
            .collect()
    }

    /// Everything recorded for `keyspace`; `None` if it does not exist.
    pub fn keyspace(&self, keyspace: u32) -> Option<&KeyspaceState> {
        self.state.keyspaces.get(&keyspace)
    }

    /// The id of a live keyspace by name.
    pub fn keyspace_id(&self, name: &str) -> Option<u32> {
        self.state
            .keyspaces
            .iter()
            .find(|(_, k)| k.name == name)
            .map(|(id, _)| *id)
    }

    /// The id to give the next new keyspace (ids of dropped keyspaces are never reused).
    pub fn next_keyspace_id(&self) -> u32 {
        self.state.max_keyspace_id.saturating_add(1)
    }

    /// Every file number referenced by a live keyspace's current version.
    pub fn live_files(&self) -> BTreeSet<u64> {
        self.state.live_files()
    }

    /// The number of the manifest being written (`MANIFEST-NNNNNN`); other manifests in
    /// the directory are obsolete.
    pub fn manifest_file_number(&self) -> u64 {
        self.manifest_file_number
    }

    /// Bytes in the current manifest.
    pub fn manifest_size(&self) -> u64 {
        self.manifest.len()
    }

    /// The number of levels of every keyspace's tree.
    pub fn num_levels(&self) -> usize {
        self.state.num_levels
    }

    /// What [`recover`](Self::recover) dropped (a torn last edit), for the Db's notes.
    pub fn recovery_notes(&self) -> &[String] {
        &self.recovery_notes
    }

    /// True after a failed manifest write: every later `log_and_apply` fails.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// Logs `edit` and installs the resulting state.
    ///
    /// Fills in the next file number and last seqno, validates the edit against the
    /// current state (an edit that cannot apply is [`Error::InvalidArgument`] and
    /// changes nothing), appends it to the manifest and **syncs** it, and only then
    /// installs the new versions. When the manifest has reached its maximum size, the
    /// edit goes into a new manifest instead (snapshot + edit, synced, CURRENT
    /// switched), and the old one is removed.
    ///
    /// If any write or sync fails, nothing is installed and the set is poisoned: every
    /// later call returns [`Error::Poisoned`]; the Db must be reopened.
    pub fn log_and_apply(&mut self, mut edit: VersionEdit) -> Result<()> {
        if let Some(msg) = &self.poisoned {
            return Err(Error::Poisoned(msg.clone()));
        }
        let roll = self.manifest.len() >= self.max_manifest_size;
        let mut base = self.state.clone();
        let new_manifest = roll.then(|| {
            let n = base.next_file_number;
            base.next_file_number += 1;
            n
        });
        edit.next_file_number = Some(base.next_file_number);
        edit.last_seqno = Some(edit.last_seqno.unwrap_or(0).max(base.last_seqno));
        if let Some((id, _)) = &edit.add_keyspace {
            edit.max_keyspace_id = Some(base.max_keyspace_id.max(*id));
        }
        let new_state = base.apply(&edit).map_err(|e| match e {
            Error::Corruption { detail, .. } => {
                Error::invalid(format!("invalid version edit: {detail}"))
            }
            other => other,
        })?;
        match new_manifest {
            None => {
                let payload = edit.encode();
                let written = self
                    .manifest
                    .add_record(&payload)
                    .and_then(|()| self.manifest.sync());
                if let Err(e) = written {
                    return Err(self.poison(e));
                }
            }
            Some(number) => {
                let switched = write_new_manifest(&*self.fs, &self.dir, number, &base, Some(&edit))
                    .and_then(|w| write_current(&*self.fs, &self.dir, number).map(|()| w));
                match switched {
                    Ok(w) => {
                        let old = std::mem::replace(&mut self.manifest, w);
                        drop(old);
                        let old_number = std::mem::replace(&mut self.manifest_file_number, number);
                        self.remove_old_manifest(old_number);
                    }
                    Err(e) => return Err(self.poison(e)),
                }
            }
        }
        self.state = new_state;
        Ok(())
    }

    fn poison(&mut self, e: Error) -> Error {
        let msg = format!("manifest write failed; reopen the database: {e}");
        self.poisoned = Some(msg);
        e
    }

    /// Removes a superseded manifest. Failures are ignored: CURRENT no longer names it,
    /// so it is merely an obsolete file that the Db's file GC removes later.
    fn remove_old_manifest(&self, number: u64) {
        if number == self.manifest_file_number {
            return;
        }
        if self
            .fs
            .remove_file(&manifest_path(&self.dir, number))
            .is_ok()
        {
            let _ = self.fs.sync_dir(&self.dir);
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> &State {
        &self.state
    }
}
