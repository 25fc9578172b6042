//! The manifest: which table files make up the tree, level by level, and the log of
//! changes to it. The byte format is in `docs/format/manifest.md`.
//!
//! * [`FileMeta`]: what the engine knows about one table file.
//! * [`Version`]: an immutable set of files per level (one per keyspace);
//!   [`Version::apply`] derives the next one from a [`VersionEdit`].
//! * [`VersionEdit`]: one change, encoded as one MANIFEST record (tags in [`tags`]).
//! * [`VersionSet`]: every keyspace's current version and the counters, logged to the
//!   MANIFEST with [`VersionSet::log_and_apply`] and rebuilt by [`VersionSet::recover`].
//! * [`current`]: the `CURRENT` file and manifest file names.
//! * [`dump()`] / [`check()`]: `shale dump-manifest` and verification.

mod apply;
pub mod current;
mod dump;
mod edit;
mod replay;
mod state;
pub mod tags;
mod version;
mod version_set;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests;

pub use current::{CURRENT_FILE, manifest_file_name, manifest_path, parse_manifest_file_name};
pub use dump::{DumpSummary, check, dump};
pub use edit::VersionEdit;
pub use state::{DEFAULT_KEYSPACE, DEFAULT_KEYSPACE_NAME, KeyspaceState};
pub use version::{FileMeta, Version};
pub use version_set::{DEFAULT_MAX_MANIFEST_SIZE, MAX_LEVELS, VersionSet};
