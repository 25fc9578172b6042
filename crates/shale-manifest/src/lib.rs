//! The manifest: which table files make up the tree, level by level.
//!
//! * [`FileMeta`]: what the engine knows about one table file.
//! * [`Version`]: an immutable set of files per level (one per keyspace).

mod version;

pub use version::{FileMeta, Version};
