//! [`OutputSplitter`]: where a compaction ends one output table and starts the next.
//!
//! Rules, checked for each key in output order (each key before it is added):
//!
//! * Never between two versions of the same user key: every level `>= 1` must stay
//!   non-overlapping by user key.
//! * At a gap between the compaction's own input files (only range compactions have
//!   such gaps): an output never spans key space the compaction did not own, so a
//!   concurrent compaction working in that gap cannot end up overlapping it.
//! * When the current output reached `target_file_size`.
//! * LevelDB's `ShouldStopBefore`: when the key passes the end of a grandparent file
//!   (a file of `output_level + 1`) and the output already overlaps more than
//!   10 × `target_file_size` of grandparent bytes, so that a later compaction of this
//!   output does not drag in too much of the next level.
//! * To "split outputs at file boundaries of the next level": when the key passes the
//!   end of a grandparent file and the output is at least `target_file_size / 8`. Each
//!   output then overlaps about one next-level file, which keeps future compactions
//!   small and makes trivial moves likelier (RocksDB aligns outputs the same way).
//!
//! The caller should call [`OutputSplitter::should_start_new_file`] for every key, the
//! first of each output included (then with `current_file_size` 0; the answer is
//! `false`). A splitter that first hears of the compaction at its second key is still
//! safe: it never cuts on its first call except at an input gap, which no user key
//! spans.

use std::sync::Arc;

use shale_core::key::user_key;
use shale_manifest::FileMeta;

/// Decides where output tables end; one per compaction, fed keys in order.
#[derive(Debug, Clone)]
pub struct OutputSplitter {
    grandparents: Vec<Arc<FileMeta>>,
    target_file_size: u64,
    max_grandparent_overlap: u64,
    /// Index of the first grandparent whose end the keys have not passed.
    gp_index: usize,
    /// Grandparent bytes the current output overlaps (files wholly passed).
    overlapped_bytes: u64,
    /// Connected components of the inputs' user-key ranges, in order.
    components: Vec<(Vec<u8>, Vec<u8>)>,
    component_index: usize,
    last_user_key: Vec<u8>,
    seen_key: bool,
}

impl OutputSplitter {
    /// A splitter over `grandparents` (files of `output_level + 1`, in key order).
    pub fn new(grandparents: Vec<Arc<FileMeta>>, target_file_size: u64) -> Self {
        OutputSplitter {
            grandparents,
            target_file_size,
            max_grandparent_overlap: target_file_size.saturating_mul(10),
            gp_index: 0,
            overlapped_bytes: 0,
            components: Vec::new(),
            component_index: 0,
            last_user_key: Vec::new(),
            seen_key: false,
        }
    }

    /// Also cut at gaps between the given input ranges (inclusive user-key ranges).
    pub fn with_input_ranges(
        mut self,
        ranges: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> Self {
        let mut ranges: Vec<(Vec<u8>, Vec<u8>)> = ranges.into_iter().collect();
        ranges.sort();
        let mut components: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (lo, hi) in ranges {
            match components.last_mut() {
                Some(last) if lo <= last.1 => {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                }
                _ => components.push((lo, hi)),
            }
        }
        self.components = components;
        self
    }

    /// True if the output being written (`current_file_size` bytes so far) should end
    /// before `ikey`, which then starts a new output.
    pub fn should_start_new_file(&mut self, ikey: &[u8], current_file_size: u64) -> bool {
        let uk = user_key(ikey);
        if self.seen_key && uk == self.last_user_key.as_slice() {
            return false;
        }
        let first_call = !self.seen_key;
        self.seen_key = true;
        self.last_user_key.clear();
        self.last_user_key.extend_from_slice(uk);

        let mut left_component = false;
        while self
            .components
            .get(self.component_index)
            .is_some_and(|(_, hi)| hi.as_slice() < uk)
        {
            self.component_index += 1;
            left_component = true;
        }
        let mut passed_boundary = false;
        while let Some(gp) = self.grandparents.get(self.gp_index) {
            if gp.largest_user_key() >= uk {
                break;
            }
            if !first_call {
                self.overlapped_bytes = self.overlapped_bytes.saturating_add(gp.size);
            }
            passed_boundary = true;
            self.gp_index += 1;
        }
        let cut = if first_call {
            left_component
        } else {
            current_file_size > 0
                && (left_component
                    || current_file_size >= self.target_file_size
                    || (passed_boundary && self.overlapped_bytes > self.max_grandparent_overlap)
                    || (passed_boundary && current_file_size >= self.target_file_size / 8))
        };
        if cut {
            self.overlapped_bytes = 0;
        }
        cut
    }
}
