//! [`LevelIterator`]: one iterator over all the tables of a sorted level (L1 and below).

use std::cmp::Ordering;
use std::sync::Arc;

use shale_core::key::compare_internal_keys;
use shale_core::{Error, InternalIterator, Result};
use shale_manifest::FileMeta;
use shale_sstable::TableIterator;

use crate::table_cache::TableCache;

/// Concatenates the tables of one level, whose key ranges are sorted and disjoint.
/// A table is opened only when the scan reaches it, so a short scan of a large level
/// touches one or two files.
pub(crate) struct LevelIterator {
    files: Vec<Arc<FileMeta>>,
    tables: Arc<TableCache>,
    index: usize,
    current: Option<TableIterator>,
    error: Option<Error>,
    /// Whether blocks read enter the block cache (not for compaction inputs).
    fill_cache: bool,
}

impl LevelIterator {
    pub(crate) fn new(files: Vec<Arc<FileMeta>>, tables: Arc<TableCache>) -> Self {
        LevelIterator {
            files,
            tables,
            index: 0,
            current: None,
            error: None,
            fill_cache: true,
        }
    }

    /// A level iterator whose reads bypass the block cache (compaction inputs are read
    /// once; caching them would only evict blocks readers want).
    pub(crate) fn without_cache_fill(files: Vec<Arc<FileMeta>>, tables: Arc<TableCache>) -> Self {
        LevelIterator {
            fill_cache: false,
            ..Self::new(files, tables)
        }
    }

    /// Makes file `i` the current one and returns its (unpositioned) iterator; `None`
    /// if out of range or on error.
    fn open(&mut self, i: usize) -> Option<&mut TableIterator> {
        self.current = None;
        self.index = i;
        if self.error.is_some() {
            return None;
        }
        let meta = self.files.get(i)?;
        match self.tables.get(meta.number) {
            Ok(t) => self
                .current
                .insert(t.iter_with_fill_cache(self.fill_cache))
                .into(),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    /// Records the current table's error, if any; true if it is healthy.
    fn healthy(&mut self) -> bool {
        if let Some(Err(e)) = self.current.as_ref().map(|c| c.status()) {
            self.error = Some(e);
            self.current = None;
        }
        self.error.is_none()
    }

    fn valid_here(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.valid())
    }

    /// While the current table is exhausted, move on to the next file's first entry.
    fn skip_forward(&mut self) {
        while self.healthy() && !self.valid_here() {
            match self.open(self.index + 1) {
                Some(c) => c.seek_to_first(),
                None => return,
            }
        }
    }

    /// While the current table is exhausted, move back to the previous file's last entry.
    fn skip_backward(&mut self) {
        while self.healthy() && !self.valid_here() {
            let Some(prev) = self.index.checked_sub(1) else {
                self.current = None;
                return;
            };
            match self.open(prev) {
                Some(c) => c.seek_to_last(),
                None => return,
            }
        }
    }
}

impl InternalIterator for LevelIterator {
    fn valid(&self) -> bool {
        self.error.is_none() && self.valid_here()
    }

    fn seek_to_first(&mut self) {
        if let Some(c) = self.open(0) {
            c.seek_to_first();
        }
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        let Some(last) = self.files.len().checked_sub(1) else {
            self.current = None;
            return;
        };
        if let Some(c) = self.open(last) {
            c.seek_to_last();
        }
        self.skip_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        // First file whose largest key is >= target.
        let i = self
            .files
            .partition_point(|f| compare_internal_keys(&f.largest, target) == Ordering::Less);
        if let Some(c) = self.open(i) {
            c.seek(target);
        }
        self.skip_forward();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        // Last file whose smallest key is <= target.
        let n = self
            .files
            .partition_point(|f| compare_internal_keys(&f.smallest, target) != Ordering::Greater);
        let Some(i) = n.checked_sub(1) else {
            self.current = None;
            return;
        };
        if let Some(c) = self.open(i) {
            c.seek_for_prev(target);
        }
        self.skip_backward();
    }

    fn next(&mut self) {
        if let Some(c) = self.current.as_mut() {
            c.next();
        }
        self.skip_forward();
    }

    fn prev(&mut self) {
        if let Some(c) = self.current.as_mut() {
            c.prev();
        }
        self.skip_backward();
    }

    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.key())
    }

    fn value(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.value())
    }

    fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}
