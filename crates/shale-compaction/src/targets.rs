//! Per-level size targets and the base level.
//!
//! # Dynamic level bytes (the default)
//!
//! This follows RocksDB's `level_compaction_dynamic_level_bytes` (the "Leveled
//! Compaction" wiki page and `VersionStorageInfo::CalculateBaseBytes`). With `B` =
//! `max_bytes_for_level_base`, `M` = `level_size_multiplier`, `last` = the last level:
//!
//! 1. `S` = the size of the largest non-L0 level. (RocksDB uses the largest level
//!    rather than the last one because the last level can briefly be smaller than the
//!    level above it, e.g. after deletions.) The last level's target is `max(S, B)`.
//! 2. Going up, each level's *chain* target is its lower neighbour's divided by `M`
//!    (integer division). The chain stops at the first level whose chain target would
//!    be `<= B / M`: RocksDB "won't fill any level whose target will be lower than
//!    `max_bytes_for_level_base / max_bytes_for_level_multiplier`". The highest level
//!    still on the chain (smallest index `>= 1`) is the *natural base level*. On an
//!    empty tree it is the last level, so L0 compacts straight into it.
//! 3. The base level is the natural base level, or the first non-empty level `>= 1`
//!    if that is higher: as in RocksDB, L0 never compacts past a level holding data
//!    (newer data must stay above older data).
//! 4. Targets: 0 for L0 (scored by file count) and for every level above the base
//!    level; 0 also for the "unnecessary" levels from the base level down to just above
//!    the natural base level (they hold data only because the tree shrank or the
//!    options changed; a zero target gives them top priority so they drain downwards —
//!    RocksDB 8.2+ drains them the same way); `max(chain target, B)` for the natural
//!    base level and below. The lower bound `B` follows RocksDB's "Set lower-bound on
//!    dynamic level sizes" change (#2123): a base level smaller than `B` only adds write
//!    amplification while L0 piles up.
//!
//! Example (`B` = 256 MiB, `M` = 10, 7 levels, 10 GiB in L6): chain L6 10 GiB, L5
//! 1 GiB, L4 102.4 MiB, L3 would be 10.24 MiB `<= B / M` = 25.6 MiB, so the base level
//! is L4 and the targets are `[0, 0, 0, 0, 256 MiB, 1 GiB, 10 GiB]`.
//!
//! When even L1's chain target exceeds `B` (too few levels for the data), L1 keeps the
//! larger chain target (RocksDB caps L1 at `B` instead and lets every deeper level run
//! over its target forever; keeping the fan-out exact is the simpler choice here).
//!
//! Not (yet) followed from RocksDB: raising the base level's target to the L0 size
//! when L0 is backlogged.
//!
//! # Static targets
//!
//! With `dynamic_level_bytes` off (LevelDB's scheme): the base level is L1, L1's
//! target is `B`, and each deeper level's is `M` times the one above.

use shale_manifest::Version;

use crate::options::CompactionOptions;

/// The size target of every level and the level L0 compacts into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelTargets {
    base_level: usize,
    natural_base_level: usize,
    targets: Vec<u64>,
}

impl LevelTargets {
    /// Computes the targets for `version` (its own number of levels counts) under `opts`.
    pub fn compute(version: &Version, opts: &CompactionOptions) -> Self {
        let n = version.num_levels().max(2);
        let last = n - 1;
        let m = opts.level_size_multiplier.max(2);
        let b = opts.max_bytes_for_level_base.max(1);
        let mut targets = vec![0u64; n];
        if !opts.dynamic_level_bytes {
            let mut t = b;
            for target in targets.iter_mut().skip(1) {
                *target = t;
                t = t.saturating_mul(m);
            }
            return LevelTargets {
                base_level: 1,
                natural_base_level: 1,
                targets,
            };
        }
        let largest = (1..n).map(|l| version.level_bytes(l)).max().unwrap_or(0);
        let first_non_empty = (1..n)
            .find(|&l| !version.files(l).is_empty())
            .unwrap_or(last);
        let mut chain = vec![0u64; n];
        let mut cur = largest.max(b);
        chain[last] = cur;
        let mut natural_base = last;
        for level in (1..last).rev() {
            let up = cur / m;
            if up <= b / m {
                break;
            }
            cur = up;
            chain[level] = cur;
            natural_base = level;
        }
        let base_level = natural_base.min(first_non_empty);
        for level in natural_base..n {
            targets[level] = chain[level].max(b);
        }
        LevelTargets {
            base_level,
            natural_base_level: natural_base,
            targets,
        }
    }

    /// The level L0 compacts into (1 for static targets).
    pub fn base_level(&self) -> usize {
        self.base_level
    }

    /// The base level the data size calls for; above it (down from
    /// [`base_level`](Self::base_level)) levels are drained. Equal to the base level
    /// unless data sits higher than the size needs.
    pub fn natural_base_level(&self) -> usize {
        self.natural_base_level
    }

    /// The size target of `level` in bytes: 0 for L0, for levels that should be empty,
    /// and for levels past the end.
    pub fn target(&self, level: usize) -> u64 {
        self.targets.get(level).copied().unwrap_or(0)
    }

    /// Number of levels covered.
    pub fn num_levels(&self) -> usize {
        self.targets.len()
    }
}
