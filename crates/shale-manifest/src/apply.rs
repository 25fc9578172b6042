//! [`Version::apply`]: the version that results from a [`VersionEdit`]'s file changes.

use std::collections::BTreeSet;
use std::sync::Arc;

use shale_core::{Error, Result};

use crate::{Version, VersionEdit};

impl Version {
    /// The version after `edit`'s file changes: its deletions first, then its additions.
    /// The result is sorted canonically and checked with [`Version::check_invariants`].
    ///
    /// Fails with [`Error::Corruption`] (file "MANIFEST", offset 0; callers relocate)
    /// if the edit deletes a file that is not at that level, adds a file number that is
    /// already in the version, or names a level past the version's last. Only the file
    /// fields are looked at; `self` is never changed.
    pub fn apply(&self, edit: &VersionEdit) -> Result<Version> {
        let n = self.num_levels();
        let mut levels: Vec<Vec<Arc<crate::FileMeta>>> = self.levels().to_vec();
        for &(level, number) in &edit.deleted_files {
            let files = levels
                .get_mut(level)
                .ok_or_else(|| bad_level("delete", number, level, n))?;
            let Some(pos) = files.iter().position(|f| f.number == number) else {
                return Err(apply_error(format!(
                    "edit deletes file {number} from L{level}, where it is not"
                )));
            };
            files.remove(pos);
        }
        let mut live: BTreeSet<u64> = levels.iter().flatten().map(|f| f.number).collect();
        for (level, file) in &edit.new_files {
            let files = levels
                .get_mut(*level)
                .ok_or_else(|| bad_level("add", file.number, *level, n))?;
            if !live.insert(file.number) {
                return Err(apply_error(format!(
                    "edit adds file {} at L{level}, but that file number is already live",
                    file.number
                )));
            }
            files.push(Arc::new(file.clone()));
        }
        let v = Version::from_levels(levels);
        v.check_invariants()?;
        Ok(v)
    }
}

fn bad_level(what: &str, number: u64, level: usize, n: usize) -> Error {
    apply_error(format!(
        "edit would {what} file {number} at L{level}, but there are only {n} levels"
    ))
}

fn apply_error(detail: String) -> Error {
    Error::corruption("MANIFEST", 0, detail)
}
