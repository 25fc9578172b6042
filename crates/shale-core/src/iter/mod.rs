//! The one iterator contract of the engine, and the iterators built on it alone.
//!
//! # The `InternalIterator` contract
//!
//! Every source of entries (memtable, data block, table, level, merged view) implements
//! [`InternalIterator`]. Keys are *internal keys* (user key ‖ trailer, see
//! [`crate::key`]) in [`compare_internal_keys`](crate::key::compare_internal_keys)
//! order; values are the raw stored values.
//!
//! * A new iterator is **unpositioned** (`valid() == false`). Position it with
//!   [`seek_to_first`](InternalIterator::seek_to_first),
//!   [`seek_to_last`](InternalIterator::seek_to_last),
//!   [`seek`](InternalIterator::seek) or
//!   [`seek_for_prev`](InternalIterator::seek_for_prev).
//! * `seek(t)` moves to the first entry `>= t`; `seek_for_prev(t)` to the last entry
//!   `<= t`. Either leaves the iterator invalid when there is no such entry.
//! * `next`/`prev` may only be called while `valid()`; they move one entry and may
//!   make the iterator invalid by running off an end. Switching direction (a `prev`
//!   right after `next`s, or the reverse) is always allowed and lands on the entry
//!   adjacent to the current one.
//! * `key`/`value` may only be called while `valid()`. Their slices stay good until
//!   the next call that moves the iterator. Called on an invalid iterator they return
//!   an empty slice rather than panic.
//! * Errors (I/O, corruption) make the iterator **invalid** and are reported by
//!   [`status`](InternalIterator::status). An iterator never skips over data it could
//!   not read: an error ends the scan. A seek clears nothing: once an error is recorded
//!   it stays until the iterator is dropped.
//! * `valid() == false` with `status() == Ok(())` means a clean end of data.

mod merging;
mod vec_iter;

pub use merging::MergingIterator;
pub use vec_iter::VecIterator;

use crate::error::Result;

/// A positioned cursor over internal-key-ordered entries; see the module docs for the
/// contract every implementation keeps.
pub trait InternalIterator {
    /// True when positioned at an entry.
    fn valid(&self) -> bool;
    /// Positions at the first entry.
    fn seek_to_first(&mut self);
    /// Positions at the last entry.
    fn seek_to_last(&mut self);
    /// Positions at the first entry whose internal key is `>= target`.
    fn seek(&mut self, target: &[u8]);
    /// Positions at the last entry whose internal key is `<= target`.
    fn seek_for_prev(&mut self, target: &[u8]);
    /// Moves to the next entry. Requires `valid()`.
    fn next(&mut self);
    /// Moves to the previous entry. Requires `valid()`.
    fn prev(&mut self);
    /// The current internal key. Requires `valid()`.
    fn key(&self) -> &[u8];
    /// The current value. Requires `valid()`.
    fn value(&self) -> &[u8];
    /// `Ok` unless an error was hit; errors make the iterator invalid.
    fn status(&self) -> Result<()>;
}

/// A boxed iterator that can move between threads: the currency of merging.
pub type BoxedIterator = Box<dyn InternalIterator + Send>;

impl<I: InternalIterator + ?Sized> InternalIterator for Box<I> {
    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn seek_to_first(&mut self) {
        (**self).seek_to_first()
    }
    fn seek_to_last(&mut self) {
        (**self).seek_to_last()
    }
    fn seek(&mut self, target: &[u8]) {
        (**self).seek(target)
    }
    fn seek_for_prev(&mut self, target: &[u8]) {
        (**self).seek_for_prev(target)
    }
    fn next(&mut self) {
        (**self).next()
    }
    fn prev(&mut self) {
        (**self).prev()
    }
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
    fn status(&self) -> Result<()> {
        (**self).status()
    }
}
