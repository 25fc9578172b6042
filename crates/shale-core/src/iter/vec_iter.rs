//! An [`InternalIterator`] over an owned, sorted vector of entries.

use std::cmp::Ordering;

use super::InternalIterator;
use crate::error::Result;
use crate::key::compare_internal_keys;

/// An iterator over owned entries sorted by internal key: for tests, and for small
/// in-memory sources such as range tombstone lists.
#[derive(Debug, Clone, Default)]
pub struct VecIterator {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    pos: Option<usize>,
}

impl VecIterator {
    /// Builds the iterator, sorting the entries by internal key.
    pub fn new(mut entries: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        entries.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
        VecIterator { entries, pos: None }
    }

    fn entry(&self) -> Option<&(Vec<u8>, Vec<u8>)> {
        self.entries.get(self.pos?)
    }
}

impl InternalIterator for VecIterator {
    fn valid(&self) -> bool {
        self.entry().is_some()
    }
    fn seek_to_first(&mut self) {
        self.pos = (!self.entries.is_empty()).then_some(0);
    }
    fn seek_to_last(&mut self) {
        self.pos = self.entries.len().checked_sub(1);
    }
    fn seek(&mut self, target: &[u8]) {
        let i = self
            .entries
            .partition_point(|e| compare_internal_keys(&e.0, target) == Ordering::Less);
        self.pos = (i < self.entries.len()).then_some(i);
    }
    fn seek_for_prev(&mut self, target: &[u8]) {
        let i = self
            .entries
            .partition_point(|e| compare_internal_keys(&e.0, target) != Ordering::Greater);
        self.pos = i.checked_sub(1);
    }
    fn next(&mut self) {
        self.pos = self.pos.map(|p| p + 1).filter(|&p| p < self.entries.len());
    }
    fn prev(&mut self) {
        self.pos = self.pos.and_then(|p| p.checked_sub(1));
    }
    fn key(&self) -> &[u8] {
        self.entry().map_or(&[], |e| &e.0)
    }
    fn value(&self) -> &[u8] {
        self.entry().map_or(&[], |e| &e.1)
    }
    fn status(&self) -> Result<()> {
        Ok(())
    }
}
