//! Leveled compaction for ShaleDB: the pure parts.
//!
//! Everything here is a function of its arguments — no I/O, no threads — so the
//! whole policy is unit-testable. The `shaledb` crate runs the jobs.
//!
//! * [`options`]: [`CompactionOptions`], the knobs and their validation.
//! * [`targets`]: [`LevelTargets`], per-level size targets (dynamic level bytes, as
//!   RocksDB's `level_compaction_dynamic_level_bytes`) and the base level.
//! * [`picker`]: [`pick_compaction`] (score-based, round robin, busy-aware, so several
//!   compactions can run at once on disjoint key ranges) and [`pick_range_compaction`]
//!   (for `Db::compact_range`).
//! * [`compaction`]: [`Compaction`], what was picked and why.
//! * [`splitter`]: [`OutputSplitter`], where a compaction cuts its output tables.
//! * [`iterator`]: [`CompactionIterator`], shared by flush and compaction: keeps the
//!   newest version per snapshot stripe and drops tombstones nothing needs.

pub mod compaction;
pub mod iterator;
pub mod options;
pub mod picker;
pub mod splitter;
pub mod targets;

#[cfg(test)]
mod tests;

pub use compaction::{Compaction, CompactionReason};
pub use iterator::{CompactionIterator, CompactionStats};
pub use options::CompactionOptions;
pub use picker::{level_scores, pick_bottommost_rewrite, pick_compaction, pick_range_compaction};
pub use splitter::OutputSplitter;
pub use targets::LevelTargets;
