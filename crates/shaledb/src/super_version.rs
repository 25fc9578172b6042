//! [`SuperVersion`]: everything a read needs, swapped atomically as one `Arc`.

use std::sync::{Arc, OnceLock};

use shale_core::FragmentedTombstones;

use shale_core::iter::BoxedIterator;
use shale_manifest::Version;
use shale_memtable::MemTable;

use crate::Result;
use crate::level_iter::LevelIterator;
use crate::table_cache::TableCache;
use crate::tombstone_view::TombstoneView;

/// A frozen memtable waiting to be flushed, with the WAL that holds its data.
#[derive(Debug)]
pub(crate) struct Immutable {
    pub mem: Arc<MemTable>,
    /// The WAL that holds this memtable's writes (and nothing newer).
    pub log_number: u64,
}

/// The active memtable, the frozen ones (newest first) and the table files: a reader
/// clones the `Arc` once and then reads without any lock, while writers and background
/// work install new super versions.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub mem: Arc<MemTable>,
    /// The first WAL that may hold the active memtable's writes.
    pub log_number: u64,
    pub imm: Vec<Arc<Immutable>>,
    pub version: Arc<Version>,
    /// The range tombstones of the frozen memtables and every table, fragmented once
    /// on first use (they never change for this super version).
    frozen_tombstones: OnceLock<Arc<FragmentedTombstones>>,
    /// The version's compaction debt (a function of the version alone), computed once
    /// instead of on every write group.
    debt: OnceLock<u64>,
}

impl SuperVersion {
    pub(crate) fn new(
        mem: Arc<MemTable>,
        log_number: u64,
        imm: Vec<Arc<Immutable>>,
        version: Arc<Version>,
    ) -> Self {
        SuperVersion {
            mem,
            log_number,
            imm,
            version,
            frozen_tombstones: OnceLock::new(),
            debt: OnceLock::new(),
        }
    }

    /// The compaction debt of `version`, as `compute` (`DbInner::pending_compaction_bytes`)
    /// gives it, computed on first use.
    pub(crate) fn compaction_debt(&self, compute: impl FnOnce(&Version) -> u64) -> u64 {
        *self.debt.get_or_init(|| compute(&self.version))
    }

    /// Every range tombstone a reader of this super version must honour — the
    /// frozen sources' (computed once) and the active memtable's as of now — or
    /// `None` when there is none (the common case, at the cost of one atomic load).
    pub(crate) fn range_tombstones(&self, tables: &TableCache) -> Result<Option<TombstoneView>> {
        let frozen = match self.frozen_tombstones.get() {
            // The common case, checked without touching the shared reference count.
            Some(f) if f.is_empty() && self.mem.range_tombstones().is_none() => return Ok(None),
            Some(f) => Arc::clone(f),
            None => {
                let mut sets: Vec<Arc<FragmentedTombstones>> = Vec::new();
                for imm in &self.imm {
                    sets.extend(imm.mem.range_tombstones());
                }
                for f in self.version.levels().iter().flatten() {
                    sets.extend(tables.get(f.number)?.range_tombstones());
                }
                let merged = crate::range_del_filter::union(sets).unwrap_or_default();
                Arc::clone(self.frozen_tombstones.get_or_init(|| merged))
            }
        };
        // Side by side, not merged: see `TombstoneView`.
        Ok(TombstoneView::of(
            self.mem.range_tombstones().into_iter().chain([frozen]),
        ))
    }

    /// Iterators over every source, newest first: memtables, L0 tables, one lazy
    /// iterator per deeper level.
    pub(crate) fn iterators(&self, tables: &Arc<TableCache>) -> Result<Vec<BoxedIterator>> {
        let mut out: Vec<BoxedIterator> = Vec::with_capacity(2 + self.imm.len() + 8);
        out.push(Box::new(self.mem.iter()));
        for imm in &self.imm {
            out.push(Box::new(imm.mem.iter()));
        }
        for f in self.version.files(0) {
            out.push(Box::new(tables.get(f.number)?.iter()));
        }
        for level in 1..self.version.num_levels() {
            let files = self.version.files(level);
            if !files.is_empty() {
                out.push(Box::new(LevelIterator::new(
                    files.to_vec(),
                    Arc::clone(tables),
                )));
            }
        }
        Ok(out)
    }

    /// Bytes held by all memtables.
    pub(crate) fn memtable_bytes(&self) -> u64 {
        let imm: usize = self
            .imm
            .iter()
            .map(|i| i.mem.approximate_memory_usage())
            .sum();
        (self.mem.approximate_memory_usage() + imm) as u64
    }
}
