//! [`TableIterator`]: the two-level iterator (index block → data blocks) of a table.

use std::sync::Arc;

use shale_core::{Error, InternalIterator, Result};

use crate::block::BlockIter;
use crate::table::Table;

/// Iterates a whole table under the shared [`InternalIterator`] contract: the index
/// iterator picks the data block, the data block iterator walks it, and empty ends
/// move on to the neighbouring block. Holds an `Arc` of the table, so it can outlive
/// the caller's handle and move between threads.
pub struct TableIterator {
    table: Arc<Table>,
    fill_cache: bool,
    index: BlockIter,
    data: Option<BlockIter>,
    err: Option<Error>,
}

impl std::fmt::Debug for TableIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableIterator")
            .field("table", &self.table.path())
            .field("valid", &self.valid())
            .field("err", &self.err)
            .finish()
    }
}

impl TableIterator {
    pub(crate) fn new(table: Arc<Table>, fill_cache: bool) -> Self {
        let index = table.index_iter();
        TableIterator {
            table,
            fill_cache,
            index,
            data: None,
            err: None,
        }
    }

    /// The table being iterated.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }

    fn fail(&mut self, e: Error) {
        if self.err.is_none() {
            self.err = Some(e);
        }
        self.data = None;
    }

    /// Points `data` at the block the index is on (reusing it if it already is).
    /// Returns false, with `data` cleared, when the index is exhausted or on error.
    fn load_data_block(&mut self) -> bool {
        if !self.index.valid() {
            if let Err(e) = self.index.status() {
                self.fail(e);
            }
            self.data = None;
            return false;
        }
        let handle = match self.table.decode_handle(self.index.value()) {
            Ok(h) => h,
            Err(e) => {
                self.fail(e);
                return false;
            }
        };
        if self
            .data
            .as_ref()
            .is_some_and(|d| d.block_offset() == handle.offset && d.status().is_ok())
        {
            return true;
        }
        match self.table.read_data_block(handle, self.fill_cache) {
            Ok(block) => {
                self.data = Some(BlockIter::new(
                    block,
                    Arc::clone(self.table.shared_path()),
                    handle.offset,
                ));
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Records the data iterator's error, if any; true when it is fine.
    fn data_ok(&mut self) -> bool {
        match self.data.as_ref().map(|d| d.status()) {
            Some(Err(e)) => {
                self.fail(e);
                false
            }
            _ => true,
        }
    }

    /// Moves forward past exhausted data blocks.
    fn skip_forward(&mut self) {
        loop {
            if !self.data_ok() {
                return;
            }
            match &self.data {
                Some(d) if d.valid() => return,
                None => return,
                Some(_) => {}
            }
            self.index.next();
            if !self.load_data_block() {
                return;
            }
            if let Some(d) = &mut self.data {
                d.seek_to_first();
            }
        }
    }

    /// Moves backward past exhausted data blocks.
    fn skip_backward(&mut self) {
        loop {
            if !self.data_ok() {
                return;
            }
            match &self.data {
                Some(d) if d.valid() => return,
                None => return,
                Some(_) => {}
            }
            self.index.prev();
            if !self.load_data_block() {
                return;
            }
            if let Some(d) = &mut self.data {
                d.seek_to_last();
            }
        }
    }

    fn position(
        &mut self,
        index_op: impl FnOnce(&Table, &mut BlockIter),
        data_op: impl FnOnce(&mut BlockIter),
    ) -> bool {
        if self.err.is_some() {
            return false;
        }
        index_op(&self.table, &mut self.index);
        if !self.load_data_block() {
            return false;
        }
        if let Some(d) = &mut self.data {
            data_op(d);
        }
        true
    }
}

impl InternalIterator for TableIterator {
    fn valid(&self) -> bool {
        self.err.is_none() && self.data.as_ref().is_some_and(|d| d.valid())
    }

    fn seek_to_first(&mut self) {
        if self.position(|_, i| i.seek_to_first(), |d| d.seek_to_first()) {
            self.skip_forward();
        }
    }

    fn seek_to_last(&mut self) {
        if self.position(|_, i| i.seek_to_last(), |d| d.seek_to_last()) {
            self.skip_backward();
        }
    }

    fn seek(&mut self, target: &[u8]) {
        if self.position(|t, i| t.seek_index(i, target), |d| d.seek(target)) {
            self.skip_forward();
        }
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        // The first block whose separator is >= target may hold entries <= target;
        // if target is past every separator, the last block holds them.
        let index_op = |t: &Table, i: &mut BlockIter| {
            t.seek_index(i, target);
            if !i.valid() && i.status().is_ok() {
                i.seek_to_last();
            }
        };
        if self.position(index_op, |d| d.seek_for_prev(target)) {
            self.skip_backward();
        }
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(d) = &mut self.data {
            d.next();
        }
        self.skip_forward();
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(d) = &mut self.data {
            d.prev();
        }
        self.skip_backward();
    }

    fn key(&self) -> &[u8] {
        match &self.data {
            Some(d) if self.err.is_none() => d.key(),
            _ => &[],
        }
    }

    fn value(&self) -> &[u8] {
        match &self.data {
            Some(d) if self.err.is_none() => d.value(),
            _ => &[],
        }
    }

    fn status(&self) -> Result<()> {
        match &self.err {
            Some(e) => Err(e.clone()),
            None => self.index.status(),
        }
    }
}
