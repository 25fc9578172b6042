//! [`MemTableIterator`]: the memtable's [`InternalIterator`].

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use shale_core::{InternalIterator, InternalKey, Result};

use crate::MemTable;

/// An iterator over a memtable that owns a reference to it, so it can outlive the
/// `Db` call that created it. Each step is a skiplist search from the current key,
/// which keeps the iterator independent of concurrent inserts.
pub struct MemTableIterator {
    mem: Arc<MemTable>,
    current: Option<(InternalKey, Bytes)>,
}

impl MemTableIterator {
    pub(crate) fn new(mem: Arc<MemTable>) -> Self {
        MemTableIterator { mem, current: None }
    }
}

fn owned(target: &[u8]) -> InternalKey {
    InternalKey(Bytes::copy_from_slice(target))
}

impl InternalIterator for MemTableIterator {
    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn seek_to_first(&mut self) {
        self.current = self.mem.lower_bound(Bound::Unbounded);
    }

    fn seek_to_last(&mut self) {
        self.current = self.mem.upper_bound(Bound::Unbounded);
    }

    fn seek(&mut self, target: &[u8]) {
        self.current = self.mem.lower_bound(Bound::Included(&owned(target)));
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.current = self.mem.upper_bound(Bound::Included(&owned(target)));
    }

    fn next(&mut self) {
        if let Some((key, _)) = self.current.take() {
            self.current = self.mem.lower_bound(Bound::Excluded(&key));
        }
    }

    fn prev(&mut self) {
        if let Some((key, _)) = self.current.take() {
            self.current = self.mem.upper_bound(Bound::Excluded(&key));
        }
    }

    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |(k, _)| k.as_bytes())
    }

    fn value(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |(_, v)| v)
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}
