//! [`State`]: everything a manifest records, and the pure function that applies a
//! [`VersionEdit`] to it. Shared by recovery (replay), `log_and_apply`, dump and check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use shale_core::{Error, Result, SeqNo};

use crate::{Version, VersionEdit};

/// The id of the keyspace that always exists.
pub const DEFAULT_KEYSPACE: u32 = 0;
/// The name of keyspace 0.
pub const DEFAULT_KEYSPACE_NAME: &str = "default";

/// One keyspace's part of the manifest state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceState {
    /// The keyspace's name (unique among live keyspaces).
    pub name: String,
    /// Its current tree.
    pub current: Arc<Version>,
    /// The oldest WAL still needed for its unflushed data (WALs below it are not).
    pub log_number: u64,
    /// Per level: where the next compaction of that level starts (an internal key).
    pub compact_pointers: Vec<Option<Vec<u8>>>,
}

impl KeyspaceState {
    fn new(name: String, num_levels: usize) -> Self {
        let current = Arc::new(Version::new(num_levels));
        let n = current.num_levels();
        KeyspaceState {
            name,
            current,
            log_number: 0,
            compact_pointers: vec![None; n],
        }
    }
}

/// Everything the manifest records: the keyspaces and the global counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) num_levels: usize,
    pub(crate) keyspaces: BTreeMap<u32, KeyspaceState>,
    pub(crate) next_file_number: u64,
    pub(crate) last_seqno: SeqNo,
    pub(crate) max_keyspace_id: u32,
}

fn bad(detail: String) -> Error {
    Error::corruption("MANIFEST", 0, detail)
}

impl State {
    /// A new database: only the default keyspace, empty; file numbers start at 1.
    pub(crate) fn new(num_levels: usize) -> Self {
        let mut keyspaces = BTreeMap::new();
        keyspaces.insert(
            DEFAULT_KEYSPACE,
            KeyspaceState::new(DEFAULT_KEYSPACE_NAME.to_owned(), num_levels),
        );
        State {
            num_levels: num_levels.max(2),
            keyspaces,
            next_file_number: 1,
            last_seqno: 0,
            max_keyspace_id: 0,
        }
    }

    /// The state after `edit`, or a Corruption (file "MANIFEST", offset 0) naming why
    /// the edit cannot apply. `self` is never changed.
    pub(crate) fn apply(&self, edit: &VersionEdit) -> Result<State> {
        let mut s = self.clone();
        if let Some((id, name)) = &edit.add_keyspace {
            if s.keyspaces.contains_key(id) {
                return Err(bad(format!("edit adds keyspace {id}, which exists")));
            }
            if s.keyspaces.values().any(|k| &k.name == name) {
                return Err(bad(format!(
                    "edit adds keyspace {id} named {name:?}, a name already in use"
                )));
            }
            s.keyspaces
                .insert(*id, KeyspaceState::new(name.clone(), s.num_levels));
            s.max_keyspace_id = s.max_keyspace_id.max(*id);
        }
        let per_keyspace = edit.log_number.is_some()
            || !edit.new_files.is_empty()
            || !edit.deleted_files.is_empty()
            || !edit.compact_pointers.is_empty();
        if per_keyspace {
            s.apply_to_keyspace(edit)?;
        }
        if let Some(id) = edit.drop_keyspace {
            if id == DEFAULT_KEYSPACE {
                return Err(bad("edit drops the default keyspace".to_owned()));
            }
            if s.keyspaces.remove(&id).is_none() {
                return Err(bad(format!(
                    "edit drops keyspace {id}, which does not exist"
                )));
            }
        }
        if let Some(n) = edit.next_file_number {
            s.next_file_number = s.next_file_number.max(n);
        }
        if let Some(max_file) = edit.new_files.iter().map(|(_, f)| f.number).max() {
            s.next_file_number = s.next_file_number.max(max_file.saturating_add(1));
        }
        if let Some(seq) = edit.last_seqno {
            s.last_seqno = s.last_seqno.max(seq);
        }
        if let Some(id) = edit.max_keyspace_id {
            s.max_keyspace_id = s.max_keyspace_id.max(id);
        }
        Ok(s)
    }

    fn apply_to_keyspace(&mut self, edit: &VersionEdit) -> Result<()> {
        let id = edit.keyspace;
        if !edit.new_files.is_empty() && self.keyspaces.len() > 1 {
            // File numbers are global: a new file must not be live in another keyspace.
            for (other_id, other) in &self.keyspaces {
                if *other_id == id {
                    continue;
                }
                for (_, f) in &edit.new_files {
                    if other
                        .current
                        .levels()
                        .iter()
                        .flatten()
                        .any(|g| g.number == f.number)
                    {
                        return Err(bad(format!(
                            "edit adds file {} to keyspace {id}, but it is live in keyspace {other_id}",
                            f.number
                        )));
                    }
                }
            }
        }
        let num_levels = self.num_levels;
        let Some(ks) = self.keyspaces.get_mut(&id) else {
            return Err(bad(format!(
                "edit changes keyspace {id}, which does not exist"
            )));
        };
        if let Some(n) = edit.log_number {
            if n < ks.log_number {
                return Err(bad(format!(
                    "edit moves keyspace {id}'s log number back from {} to {n}",
                    ks.log_number
                )));
            }
            ks.log_number = n;
        }
        for (level, key) in &edit.compact_pointers {
            let Some(slot) = ks.compact_pointers.get_mut(*level) else {
                return Err(bad(format!(
                    "edit sets a compact pointer for L{level}, but there are only {num_levels} levels"
                )));
            };
            *slot = Some(key.clone());
        }
        if !edit.new_files.is_empty() || !edit.deleted_files.is_empty() {
            ks.current = Arc::new(ks.current.apply(edit)?);
        }
        Ok(())
    }

    /// The edits that rebuild this state from [`State::new`]: one per keyspace, then
    /// one with the global counters. Written at the start of every manifest.
    pub(crate) fn snapshot(&self) -> Vec<VersionEdit> {
        let mut edits = Vec::new();
        for (&id, ks) in &self.keyspaces {
            let mut e = VersionEdit::for_keyspace(id);
            if id != DEFAULT_KEYSPACE {
                e.add_keyspace = Some((id, ks.name.clone()));
            }
            e.log_number = Some(ks.log_number);
            for (level, files) in ks.current.levels().iter().enumerate() {
                for f in files {
                    e.new_files.push((level, (**f).clone()));
                }
            }
            for (level, key) in ks.compact_pointers.iter().enumerate() {
                if let Some(key) = key {
                    e.compact_pointers.push((level, key.clone()));
                }
            }
            edits.push(e);
        }
        edits.push(VersionEdit {
            next_file_number: Some(self.next_file_number),
            last_seqno: Some(self.last_seqno),
            max_keyspace_id: Some(self.max_keyspace_id),
            ..VersionEdit::default()
        });
        edits
    }

    /// Every file number referenced by a live keyspace's current version.
    pub(crate) fn live_files(&self) -> BTreeSet<u64> {
        self.keyspaces
            .values()
            .flat_map(|k| k.current.levels().iter().flatten().map(|f| f.number))
            .collect()
    }
}
