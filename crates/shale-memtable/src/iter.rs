//! [`MemTableIterator`]: the memtable's [`InternalIterator`].
//!
//! A skiplist search costs O(log n) key comparisons (each a likely cache miss in a
//! large memtable), so the iterator does not search on every step: it keeps a small
//! buffer of owned entries (clones of the skiplist's entries, refcount bumps) that
//! were adjacent in the skiplist when they were read, and steps through it. Stepping
//! past either end of the buffer refills it with one range scan from the current key.
//!
//! Forward refills read up to `batch` entries with one search and then walk the
//! skiplist's level-0 links; `batch` starts small after every seek (a seek followed by
//! one or two steps reads no more than it uses) and doubles up to [`MAX_BATCH`].
//! `crossbeam-skiplist` nodes have no back links (its reverse step is itself a search
//! from the head), so a backward refill gains nothing from reading ahead: it reads
//! [`BACKWARD_BATCH`] entries, one search each, as the unbuffered iterator did.
//!
//! Concurrent inserts: a buffer is a run of entries that were consecutive in the
//! skiplist when it was filled, and every entry that existed when the iterator was
//! positioned existed at every later fill, so no such entry is ever skipped or
//! repeated; entries inserted after a fill may be missed (they carry seqnos above
//! every reader's snapshot, so no reader needs them).

use std::ops::Bound;
use std::sync::Arc;

use shale_core::{InternalIterator, Result};

use crate::MemTable;
use crate::entry::{Entry, KeyView, Probe};

/// Entries read by the first forward refill after a seek.
pub(crate) const FIRST_BATCH: usize = 8;
/// The most entries one forward refill reads.
pub(crate) const MAX_BATCH: usize = 64;
/// Entries read by one backward refill (see the module docs).
pub(crate) const BACKWARD_BATCH: usize = 1;

/// An iterator over a memtable that owns a reference to it, so it can outlive the
/// `Db` call that created it. It reads the skiplist in short runs into a buffer of
/// owned entries, which keeps it independent of concurrent inserts (see the module
/// docs of `iter.rs` for the guarantees).
pub struct MemTableIterator {
    mem: Arc<MemTable>,
    /// A run of entries that were consecutive in the skiplist, ascending.
    buf: Vec<Entry>,
    /// Where refills collect entries (kept empty; reused for its capacity).
    scratch: Vec<Entry>,
    /// The current entry, `buf[pos]`; the iterator is valid iff `pos < buf.len()`.
    pos: usize,
    /// Entries the next forward refill reads.
    batch: usize,
    first_batch: usize,
    max_batch: usize,
    backward_batch: usize,
}

impl MemTableIterator {
    pub(crate) fn new(mem: Arc<MemTable>) -> Self {
        Self::with_batches(mem, FIRST_BATCH, MAX_BATCH, BACKWARD_BATCH)
    }

    /// An iterator with explicit refill sizes (tests use tiny ones to cross buffer
    /// boundaries often).
    pub(crate) fn with_batches(
        mem: Arc<MemTable>,
        first_batch: usize,
        max_batch: usize,
        backward_batch: usize,
    ) -> Self {
        let first_batch = first_batch.max(1);
        MemTableIterator {
            mem,
            buf: Vec::new(),
            scratch: Vec::new(),
            pos: 0,
            batch: first_batch,
            first_batch,
            max_batch: max_batch.max(first_batch),
            backward_batch: backward_batch.max(1),
        }
    }

    /// Positions at `found` (or nowhere) and restarts the refill growth.
    fn position(&mut self, found: Option<Entry>) {
        self.buf.clear();
        self.pos = 0;
        self.batch = self.first_batch;
        self.buf.extend(found);
    }

    fn current(&self) -> Option<&Entry> {
        self.buf.get(self.pos)
    }

    /// Refills with the entries after the current (last buffered) one, keeping the
    /// current one so a `prev` right after needs no search.
    fn refill_forward(&mut self) {
        debug_assert_eq!(self.pos + 1, self.buf.len());
        self.buf.drain(..self.pos);
        let Some(current) = self.buf.first() else {
            return;
        };
        let n = self.batch;
        self.batch = (n * 2).min(self.max_batch);
        self.scratch.extend(
            self.mem
                .map
                .range::<Entry, _>((Bound::Excluded(current), Bound::Unbounded))
                .take(n)
                .map(|e| e.key().clone()),
        );
        self.buf.append(&mut self.scratch);
        // The first entry read, or past the end (`buf.len() == 1`) if none followed.
        self.pos = 1;
    }

    /// Refills with the entries before the current (first buffered) one, keeping the
    /// current one so a `next` right after needs no search.
    fn refill_backward(&mut self) {
        debug_assert_eq!(self.pos, 0);
        self.buf.truncate(1);
        let Some(current) = self.buf.first() else {
            return;
        };
        // Read descending (each step a search, as `Range::rev` would do too), then
        // flip to ascending and end with the current entry.
        let mut before = current;
        while self.scratch.len() < self.backward_batch {
            let Some(e) = self.mem.map.upper_bound::<Entry>(Bound::Excluded(before)) else {
                break;
            };
            self.scratch.push(e.key().clone());
            before = self.scratch.last().unwrap_or(current);
        }
        self.scratch.reverse();
        self.scratch.append(&mut self.buf);
        std::mem::swap(&mut self.buf, &mut self.scratch);
        // Nothing before: `pos == buf.len()` (invalid).
        self.pos = self.buf.len().checked_sub(2).unwrap_or(self.buf.len());
        // A run ascending from here on restarts small.
        self.batch = self.first_batch;
    }
}

impl InternalIterator for MemTableIterator {
    fn valid(&self) -> bool {
        self.pos < self.buf.len()
    }

    fn seek_to_first(&mut self) {
        let found = self.mem.map.front().map(|e| e.key().clone());
        self.position(found);
    }

    fn seek_to_last(&mut self) {
        let found = self.mem.map.back().map(|e| e.key().clone());
        self.position(found);
    }

    fn seek(&mut self, target: &[u8]) {
        let target = Probe::new(target);
        let found = self
            .mem
            .map
            .lower_bound(Bound::Included(&target as &dyn KeyView))
            .map(|e| e.key().clone());
        self.position(found);
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        let target = Probe::new(target);
        let found = self
            .mem
            .map
            .upper_bound(Bound::Included(&target as &dyn KeyView))
            .map(|e| e.key().clone());
        self.position(found);
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if self.pos + 1 < self.buf.len() {
            self.pos += 1;
        } else {
            self.refill_forward();
        }
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if self.pos > 0 {
            self.pos -= 1;
        } else {
            self.refill_backward();
        }
    }

    fn key(&self) -> &[u8] {
        self.current().map_or(&[], Entry::internal_key)
    }

    fn value(&self) -> &[u8] {
        self.current().map_or(&[], Entry::value)
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}
