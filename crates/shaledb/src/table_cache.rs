//! [`TableCache`]: open table readers, shared by every read of the database.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    tables: Mutex<HashMap<u64, Arc<Table>>>,
}

impl TableCache {
    pub(crate) fn new(
        fs: Arc<dyn FileSystem>,
        dir: PathBuf,
        block_cache: Arc<BlockCache>,
        opts: TableOptions,
    ) -> Self {
        TableCache {
            fs,
            dir,
            block_cache,
            opts,
            tables: Mutex::new(HashMap::new()),
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
        lock(&self.tables).insert(number, Arc::clone(&table));
        Ok(table)
    }

    /// Forgets table `number` (its file is about to be deleted).
    pub(crate) fn evict(&self, number: u64) {
        lock(&self.tables).remove(&number);
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
