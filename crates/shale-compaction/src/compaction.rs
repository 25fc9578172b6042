//! [`Compaction`]: one unit of work chosen by the picker.

use std::sync::Arc;

use shale_manifest::FileMeta;

use crate::splitter::OutputSplitter;

/// Why a compaction was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactionReason {
    /// L0 reached `l0_compaction_trigger` files.
    L0FileCount,
    /// A level outgrew its target (or holds data it should not, see
    /// [`crate::targets`]).
    LevelSize,
    /// Requested through `Db::compact_range`.
    Manual,
}

/// A compaction: merge `inputs` (of `level`) with `output_inputs` (the overlapping
/// files of `output_level`) and write the result to `output_level`.
#[derive(Debug, Clone, PartialEq)]
pub struct Compaction {
    /// The input level.
    pub level: usize,
    /// Where the outputs go: `level + 1`, or the base level for L0.
    pub output_level: usize,
    /// Files of `level` (L0: newest first; deeper: in key order).
    pub inputs: Vec<Arc<FileMeta>>,
    /// The files of `output_level` overlapping the inputs' key range, in key order.
    pub output_inputs: Vec<Arc<FileMeta>>,
    /// The files of `output_level + 1` overlapping the compaction's key range.
    pub grandparents: Vec<Arc<FileMeta>>,
    /// No file in a level below `output_level` overlaps the key range, so tombstones
    /// nothing older needs may be dropped.
    pub bottommost: bool,
    /// One input file, no output-level overlap, little grandparent overlap: move the
    /// file to `output_level` with a manifest edit instead of rewriting it.
    pub trivial_move: bool,
    /// The score of `level` when it was picked (0 for manual compactions).
    pub score: f64,
    /// Why it was picked.
    pub reason: CompactionReason,
    /// Output tables are cut at about this size (from the options).
    pub target_file_size: u64,
}

impl Compaction {
    /// Every file the compaction reads (and deletes): inputs, then output-level files.
    pub fn input_files(&self) -> impl Iterator<Item = &Arc<FileMeta>> + '_ {
        self.inputs.iter().chain(self.output_inputs.iter())
    }

    /// The smallest user key of any input file (empty if there are none).
    pub fn smallest_user_key(&self) -> &[u8] {
        self.input_files()
            .map(|f| f.smallest_user_key())
            .min()
            .unwrap_or(&[])
    }

    /// The largest user key of any input file (empty if there are none).
    pub fn largest_user_key(&self) -> &[u8] {
        self.input_files()
            .map(|f| f.largest_user_key())
            .max()
            .unwrap_or(&[])
    }

    /// Total size of every file the compaction reads.
    pub fn input_bytes(&self) -> u64 {
        self.input_files().map(|f| f.size).sum()
    }

    /// True when tombstones may be dropped (see [`Compaction::bottommost`]).
    pub fn is_bottommost(&self) -> bool {
        self.bottommost
    }

    /// True when the compaction is a manifest-only move (see [`Compaction::trivial_move`]).
    pub fn is_trivial_move(&self) -> bool {
        self.trivial_move
    }

    /// A fresh splitter deciding where this compaction's output tables end.
    pub fn output_splitter(&self) -> OutputSplitter {
        OutputSplitter::new(self.grandparents.clone(), self.target_file_size).with_input_ranges(
            self.input_files().map(|f| {
                (
                    f.smallest_user_key().to_vec(),
                    f.largest_user_key().to_vec(),
                )
            }),
        )
    }
}
