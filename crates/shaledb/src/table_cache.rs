//! [`TableCache`]: open table readers, shared by every read of the database.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use shale_fs::FileSystem;
use shale_sstable::{BlockCache, Table, TableOptions};

use crate::Result;
use crate::filenames::table_path;
use crate::write_queue::lock;

/// Opens each table once (footer, index and filter read and pinned) and hands out
/// shared readers. Readers are `Arc`s: evicting one here never invalidates a reader an
/// iterator still holds.
pub(crate) struct TableCache {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    block_cache: Arc<BlockCache>,
    opts: TableOptions,
    /// By file number. Fx hashing: every point lookup hashes here once per table it
    /// probes, and file numbers need no protection from crafted collisions.
    tables: Mutex<FxHashMap<u64, Arc<Table>>>,
    /// With a memory budget: the bytes shared by the block cache and the pinned
    /// index/filter blocks of open tables. The cache gets what the pinned blocks leave.
    shared_budget: Option<u64>,
}

/// The block cache keeps at least this fraction of its share, even when pinned blocks
/// fill the budget (reads need a few blocks cached; the overshoot shows in `Stats`).
const MIN_CACHE_FRACTION: u64 = 8;

impl TableCache {
    pub(crate) fn new(
        fs: Arc<dyn FileSystem>,
        dir: PathBuf,
        block_cache: Arc<BlockCache>,
        opts: TableOptions,
        shared_budget: Option<u64>,
    ) -> Self {
        TableCache {
            fs,
            dir,
            block_cache,
            opts,
            tables: Mutex::new(FxHashMap::default()),
            shared_budget,
        }
    }

    /// Gives the block cache what the pinned index/filter blocks leave of the budget.
    fn rebalance(&self, tables: &FxHashMap<u64, Arc<Table>>) {
        if let Some(budget) = self.shared_budget {
            let pinned: u64 = tables.values().map(|t| t.memory_usage() as u64).sum();
            let floor = (budget / MIN_CACHE_FRACTION).max(4096);
            let capacity = budget.saturating_sub(pinned).max(floor);
            if capacity != self.block_cache.capacity() {
                self.block_cache.set_capacity(capacity);
            }
        }
    }

    /// The reader of table `number`, opening it on first use.
    pub(crate) fn get(&self, number: u64) -> Result<Arc<Table>> {
        if let Some(t) = lock(&self.tables).get(&number) {
            return Ok(Arc::clone(t));
        }
        // Open outside the lock: it reads from disk. Two racing opens are harmless.
        let path = table_path(&self.dir, number);
        let file = self.fs.open_read(&path)?;
        let table = Table::open(
            file,
            path,
            number,
            Some(Arc::clone(&self.block_cache)),
            self.opts,
        )?;
        let mut tables = lock(&self.tables);
        tables.insert(number, Arc::clone(&table));
        self.rebalance(&tables);
        Ok(table)
    }

    /// Forgets table `number` (its file is about to be deleted).
    pub(crate) fn evict(&self, number: u64) {
        let mut tables = lock(&self.tables);
        if tables.remove(&number).is_some() {
            self.rebalance(&tables);
        }
    }

    /// Bytes pinned by open readers (index and filter blocks).
    pub(crate) fn pinned_bytes(&self) -> u64 {
        lock(&self.tables)
            .values()
            .map(|t| t.memory_usage() as u64)
            .sum()
    }

    /// Number of open readers.
    pub(crate) fn open_tables(&self) -> usize {
        lock(&self.tables).len()
    }

    /// The block cache.
    pub(crate) fn block_cache(&self) -> &Arc<BlockCache> {
        &self.block_cache
    }
}
