//! [`CompactionOptions`]: the knobs of leveled compaction.
//!
//! Names and defaults follow RocksDB's leveled compaction options
//! (`level0_file_num_compaction_trigger`, `max_bytes_for_level_multiplier`,
//! `max_bytes_for_level_base`, `target_file_size_base`, `max_compaction_bytes`,
//! `level_compaction_dynamic_level_bytes`).

use shale_core::{Error, Result};
use shale_manifest::MAX_LEVELS;

const MIB: u64 = 1024 * 1024;

/// How the tree is shaped and when and how much to compact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionOptions {
    /// Number of levels, L0 included (2..=64).
    pub num_levels: usize,
    /// L0 is compacted once it holds this many files (its score is `files / trigger`).
    pub l0_compaction_trigger: usize,
    /// Fan-out: each level's target is this many times the one above it (at least 2).
    pub level_size_multiplier: u64,
    /// The minimum target of the base level (the level L0 compacts into).
    pub max_bytes_for_level_base: u64,
    /// Output tables are cut at about this size.
    pub target_file_size: u64,
    /// Input expansion stops at this many bytes (inputs plus output-level overlap).
    pub max_compaction_bytes: u64,
    /// Size level targets from the data in the tree (see [`crate::targets`]); when
    /// false, L1 gets `max_bytes_for_level_base` and each deeper level `multiplier` × more.
    pub dynamic_level_bytes: bool,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        CompactionOptions {
            num_levels: 7,
            l0_compaction_trigger: 4,
            level_size_multiplier: 10,
            max_bytes_for_level_base: 256 * MIB,
            target_file_size: 64 * MIB,
            max_compaction_bytes: 25 * 64 * MIB,
            dynamic_level_bytes: true,
        }
    }
}

impl CompactionOptions {
    /// Checks every knob; `Error::InvalidArgument` names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let checks: [(bool, String); 6] = [
            (
                !(2..=MAX_LEVELS).contains(&self.num_levels),
                format!(
                    "num_levels must be between 2 and {MAX_LEVELS}, got {}",
                    self.num_levels
                ),
            ),
            (
                self.l0_compaction_trigger == 0,
                "l0_compaction_trigger must be at least 1".to_owned(),
            ),
            (
                self.level_size_multiplier < 2,
                format!(
                    "level_size_multiplier (fan-out) must be at least 2, got {}",
                    self.level_size_multiplier
                ),
            ),
            (
                self.max_bytes_for_level_base == 0,
                "max_bytes_for_level_base must be positive".to_owned(),
            ),
            (
                self.target_file_size == 0,
                "target_file_size must be positive".to_owned(),
            ),
            (
                self.max_compaction_bytes == 0,
                "max_compaction_bytes must be positive".to_owned(),
            ),
        ];
        match checks.into_iter().find(|(bad, _)| *bad) {
            Some((_, msg)) => Err(Error::invalid(msg)),
            None => Ok(()),
        }
    }

    /// LevelDB's `MaxGrandParentOverlapBytes`: 10 × `target_file_size`. A trivial move
    /// is refused above it, and an output file is cut once it overlaps this much of
    /// the level below its output level.
    pub fn max_grandparent_overlap(&self) -> u64 {
        self.target_file_size.saturating_mul(10)
    }
}
