//! The compaction picker: a pure function of the [`Version`], the options, the
//! per-level round-robin pointers and the set of files already being compacted.
//!
//! # Scores (RocksDB's `ComputeCompactionScore`)
//!
//! * L0: number of L0 files not being compacted / `l0_compaction_trigger`.
//! * Ln (1 ≤ n < last): bytes of the level's files not being compacted / its target
//!   ([`LevelTargets`]); a level whose target is 0 but which holds data scores its
//!   byte count, so it drains before anything else. The last level is never scored:
//!   it has nowhere to go.
//!
//! Levels with a score ≥ 1 are tried from the highest score down; the first that
//! yields a compaction wins.
//!
//! # Choosing the files
//!
//! * Ln → Ln+1: the first file whose largest key sorts after the level's pointer (the
//!   key where its last compaction ended), wrapping around — LevelDB's
//!   `compact_pointer_` round robin, so every part of the key space gets its turn.
//!   Files that are busy, or whose compaction would touch a busy file, are skipped.
//! * L0 → base level: seeded with the oldest L0 file, the inputs are every L0 file
//!   connected to it by (transitive) overlap. This closure is required, not a tuning
//!   choice: an L0 file left behind that overlaps an input would hold older data
//!   above the inputs' newer data once they move down. Only one L0 compaction runs at
//!   a time (none is picked while any L0 file is busy).
//! * Then the overlapping files of the output level are added, and — LevelDB's
//!   `SetupOtherInputs` — the inputs are expanded to every input-level file inside the
//!   combined key range if that does not add output-level files and the total stays
//!   under `max_compaction_bytes`.
//! * A compaction is never picked if any file it reads is busy or if a busy file of
//!   its input or output level overlaps its key range, so compactions running at the
//!   same time work on disjoint key ranges of every level they write.
//! * Trivial move (LevelDB's `IsTrivialMove`): one input file, no output-level
//!   overlap, at most 10 × `target_file_size` of grandparent overlap.
//! * Bottommost: no level below the output level has a file in the key range.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use shale_core::compare_internal_keys;
use shale_manifest::{FileMeta, Version};

use crate::compaction::{Compaction, CompactionReason};
use crate::options::CompactionOptions;
use crate::targets::LevelTargets;

/// The score of every level that can be compacted (L0 up to the level above the
/// last), in level order; see the module docs.
pub fn level_scores(
    version: &Version,
    opts: &CompactionOptions,
    busy: &BTreeSet<u64>,
) -> Vec<(usize, f64)> {
    let targets = LevelTargets::compute(version, opts);
    scores_with(version, opts, &targets, busy)
}

fn scores_with(
    version: &Version,
    opts: &CompactionOptions,
    targets: &LevelTargets,
    busy: &BTreeSet<u64>,
) -> Vec<(usize, f64)> {
    let n = version.num_levels();
    let mut scores = Vec::with_capacity(n.saturating_sub(1));
    let l0 = version
        .files(0)
        .iter()
        .filter(|f| !busy.contains(&f.number))
        .count();
    scores.push((0, l0 as f64 / opts.l0_compaction_trigger.max(1) as f64));
    for level in 1..n.saturating_sub(1) {
        let files = version.files(level);
        let bytes: u64 = files
            .iter()
            .filter(|f| !busy.contains(&f.number))
            .map(|f| f.size)
            .sum();
        let idle_files = files.iter().any(|f| !busy.contains(&f.number));
        let target = targets.target(level);
        let score = if target == 0 {
            if idle_files { bytes.max(1) as f64 } else { 0.0 }
        } else {
            bytes as f64 / target as f64
        };
        scores.push((level, score));
    }
    scores
}

/// Picks the most urgent compaction, or `None` if no level needs one (or every
/// candidate touches a busy file). `pointers[level]` is the internal key where the
/// last compaction of `level` ended; `busy` holds the numbers of files being compacted.
pub fn pick_compaction(
    version: &Version,
    opts: &CompactionOptions,
    pointers: &[Option<Vec<u8>>],
    busy: &BTreeSet<u64>,
) -> Option<Compaction> {
    let targets = LevelTargets::compute(version, opts);
    let mut scores = scores_with(version, opts, &targets, busy);
    scores.retain(|&(_, s)| s >= 1.0);
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (level, score) in scores {
        let picked = if level == 0 {
            pick_l0(version, opts, &targets, busy, score)
        } else {
            let pointer = pointers.get(level).and_then(Option::as_deref);
            pick_level(version, opts, level, pointer, busy, score)
        };
        if picked.is_some() {
            return picked;
        }
    }
    None
}

/// Rewrites the files of the last level overlapping `[lo, hi]` (None = unbounded) in
/// place, for `compact_range`: nothing moves down, but tombstones no snapshot needs,
/// shadowed versions and expired values in those files are dropped (RocksDB's
/// `bottommost_level_compaction = kForce`). `None` if there are no such files or one
/// of them is busy.
pub fn pick_bottommost_rewrite(
    version: &Version,
    opts: &CompactionOptions,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    busy: &BTreeSet<u64>,
) -> Option<Compaction> {
    let last = version.num_levels().checked_sub(1)?;
    let inputs = version.overlapping_files(last, lo, hi);
    if inputs.is_empty() || inputs.iter().any(|f| busy.contains(&f.number)) {
        return None;
    }
    Some(Compaction {
        level: last,
        output_level: last,
        inputs,
        output_inputs: Vec::new(),
        grandparents: Vec::new(),
        bottommost: true,
        trivial_move: false,
        score: 0.0,
        reason: CompactionReason::Manual,
        target_file_size: opts.target_file_size,
    })
}

/// Picks the compaction of every file of `level` overlapping `[lo, hi]` (None =
/// unbounded) into the next level (the base level for L0), for `Db::compact_range`.
///
/// `None` when nothing of `level` overlaps the range, when `level` is the last level,
/// or when the compaction would touch a busy file (try again later). The whole range is
/// taken at once (not cut at `max_compaction_bytes`) and never expanded. A trivial move
/// is refused when it would carry tombstones into the bottommost position, so that a
/// full `compact_range` really rewrites (and cleans) the bottom.
pub fn pick_range_compaction(
    version: &Version,
    opts: &CompactionOptions,
    level: usize,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    busy: &BTreeSet<u64>,
) -> Option<Compaction> {
    if level + 1 >= version.num_levels() {
        return None;
    }
    let (inputs, output_level) = if level == 0 {
        if version.files(0).iter().any(|f| busy.contains(&f.number)) {
            return None;
        }
        let seeds = version.overlapping_files(0, lo, hi);
        let (slo, shi) = key_range(&seeds)?;
        let inputs = l0_closure(version, slo, shi);
        (inputs, LevelTargets::compute(version, opts).base_level())
    } else {
        (version.overlapping_files(level, lo, hi), level + 1)
    };
    if inputs.is_empty() {
        return None;
    }
    let mut c = build(
        version,
        opts,
        level,
        output_level,
        inputs,
        busy,
        false,
        0.0,
        CompactionReason::Manual,
    )?;
    if c.trivial_move && c.bottommost && c.inputs.iter().any(|f| f.num_deletions > 0) {
        c.trivial_move = false;
    }
    Some(c)
}

fn pick_l0(
    version: &Version,
    opts: &CompactionOptions,
    targets: &LevelTargets,
    busy: &BTreeSet<u64>,
    score: f64,
) -> Option<Compaction> {
    let l0 = version.files(0);
    if l0.iter().any(|f| busy.contains(&f.number)) {
        return None;
    }
    let oldest = l0.last()?;
    let inputs = l0_closure(
        version,
        oldest.smallest_user_key(),
        oldest.largest_user_key(),
    );
    build(
        version,
        opts,
        0,
        targets.base_level(),
        inputs,
        busy,
        true,
        score,
        CompactionReason::L0FileCount,
    )
}

fn pick_level(
    version: &Version,
    opts: &CompactionOptions,
    level: usize,
    pointer: Option<&[u8]>,
    busy: &BTreeSet<u64>,
    score: f64,
) -> Option<Compaction> {
    let files = version.files(level);
    if files.is_empty() || level + 1 >= version.num_levels() {
        return None;
    }
    let start = pointer.map_or(0, |p| {
        files.partition_point(|f| compare_internal_keys(&f.largest, p) != Ordering::Greater)
    });
    (0..files.len())
        .map(|i| &files[(start + i) % files.len()])
        .filter(|f| !busy.contains(&f.number))
        .find_map(|f| {
            build(
                version,
                opts,
                level,
                level + 1,
                vec![Arc::clone(f)],
                busy,
                true,
                score,
                CompactionReason::LevelSize,
            )
        })
}

/// Every L0 file connected by overlap to the user-key range `[lo, hi]`, in L0 order.
fn l0_closure(version: &Version, lo: &[u8], hi: &[u8]) -> Vec<Arc<FileMeta>> {
    let files = version.files(0);
    let mut taken = vec![false; files.len()];
    let (mut lo, mut hi) = (lo.to_vec(), hi.to_vec());
    loop {
        let mut grew = false;
        for (i, f) in files.iter().enumerate() {
            if !taken[i] && f.overlaps(Some(&lo), Some(&hi)) {
                taken[i] = true;
                grew = true;
                if f.smallest_user_key() < lo.as_slice() {
                    lo = f.smallest_user_key().to_vec();
                }
                if f.largest_user_key() > hi.as_slice() {
                    hi = f.largest_user_key().to_vec();
                }
            }
        }
        if !grew {
            break;
        }
    }
    files
        .iter()
        .zip(taken)
        .filter(|(_, t)| *t)
        .map(|(f, _)| Arc::clone(f))
        .collect()
}

/// The user-key range covered by `files`; `None` if empty.
fn key_range(files: &[Arc<FileMeta>]) -> Option<(&[u8], &[u8])> {
    let lo = files.iter().map(|f| f.smallest_user_key()).min()?;
    let hi = files.iter().map(|f| f.largest_user_key()).max()?;
    Some((lo, hi))
}

fn total_size(files: &[Arc<FileMeta>]) -> u64 {
    files.iter().map(|f| f.size).sum()
}

fn any_busy(files: &[Arc<FileMeta>], busy: &BTreeSet<u64>) -> bool {
    files.iter().any(|f| busy.contains(&f.number))
}

fn same_files(a: &[Arc<FileMeta>], b: &[Arc<FileMeta>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.number == y.number)
}

/// True if a busy file of `level` overlaps `[lo, hi]`.
fn range_touches_busy(
    version: &Version,
    level: usize,
    lo: &[u8],
    hi: &[u8],
    busy: &BTreeSet<u64>,
) -> bool {
    any_busy(&version.overlapping_files(level, Some(lo), Some(hi)), busy)
}

/// LevelDB's `SetupOtherInputs` expansion: every input-level file inside the key range
/// of inputs plus output-level files, if that adds no output-level file, no busy file,
/// and stays within `max_compaction_bytes`. `None` when the inputs stay as they are.
fn expanded_inputs(
    version: &Version,
    opts: &CompactionOptions,
    level: usize,
    output_level: usize,
    inputs: &[Arc<FileMeta>],
    output_inputs: &[Arc<FileMeta>],
    busy: &BTreeSet<u64>,
) -> Option<Vec<Arc<FileMeta>>> {
    if output_inputs.is_empty() {
        return None;
    }
    let all: Vec<Arc<FileMeta>> = inputs.iter().chain(output_inputs).cloned().collect();
    let (alo, ahi) = key_range(&all)?;
    let expanded = if level == 0 {
        l0_closure(version, alo, ahi)
    } else {
        version.overlapping_files(level, Some(alo), Some(ahi))
    };
    let bytes = total_size(&expanded).saturating_add(total_size(output_inputs));
    if expanded.len() <= inputs.len()
        || any_busy(&expanded, busy)
        || bytes > opts.max_compaction_bytes
    {
        return None;
    }
    let (elo, ehi) = key_range(&expanded)?;
    let new_outputs = version.overlapping_files(output_level, Some(elo), Some(ehi));
    same_files(&new_outputs, output_inputs).then_some(expanded)
}

/// Completes a compaction from its input-level files: output-level overlap, optional
/// expansion, busy checks, grandparents, bottommost and trivial-move flags.
#[allow(clippy::too_many_arguments)]
fn build(
    version: &Version,
    opts: &CompactionOptions,
    level: usize,
    output_level: usize,
    mut inputs: Vec<Arc<FileMeta>>,
    busy: &BTreeSet<u64>,
    expand: bool,
    score: f64,
    reason: CompactionReason,
) -> Option<Compaction> {
    let n = version.num_levels();
    if output_level >= n || output_level <= level || any_busy(&inputs, busy) {
        return None;
    }
    let (lo, hi) = key_range(&inputs)?;
    let output_inputs = version.overlapping_files(output_level, Some(lo), Some(hi));
    if any_busy(&output_inputs, busy) {
        return None;
    }

    if expand
        && let Some(expanded) = expanded_inputs(
            version,
            opts,
            level,
            output_level,
            &inputs,
            &output_inputs,
            busy,
        )
    {
        inputs = expanded;
    }

    let all: Vec<Arc<FileMeta>> = inputs.iter().chain(&output_inputs).cloned().collect();
    let (lo, hi) = key_range(&all)?;
    if range_touches_busy(version, level, lo, hi, busy)
        || range_touches_busy(version, output_level, lo, hi, busy)
    {
        return None;
    }
    let grandparents = if output_level + 1 < n {
        version.overlapping_files(output_level + 1, Some(lo), Some(hi))
    } else {
        Vec::new()
    };
    let bottommost =
        (output_level + 1..n).all(|l| version.overlapping_files(l, Some(lo), Some(hi)).is_empty());
    let trivial_move = inputs.len() == 1
        && output_inputs.is_empty()
        && total_size(&grandparents) <= opts.max_grandparent_overlap();
    Some(Compaction {
        level,
        output_level,
        inputs,
        output_inputs,
        grandparents,
        bottommost,
        trivial_move,
        score,
        reason,
        target_file_size: opts.target_file_size,
    })
}
