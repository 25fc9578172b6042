//! [`Entry`]: one point entry as the skiplist holds it, and the borrowed form
//! ([`KeyView`], [`Probe`]) that lets lookups search without building an entry.

use std::borrow::Borrow;
use std::cmp::Ordering;

use bytes::Bytes;
use shale_core::key::compare_internal_keys;

/// One point entry: `internal key ‖ value` in one buffer, ordered by the internal key
/// alone ([`compare_internal_keys`]). Cloning is a refcount bump.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    data: Bytes,
    /// Length of the internal key at the front of `data` (user keys are at most
    /// 64 KiB, so it fits).
    key_len: u32,
    /// True when `data` is a slice of an arena chunk that other entries share; false
    /// when the entry has an allocation of its own.
    in_chunk: bool,
}

impl Entry {
    /// `data` holds the internal key (`key_len` bytes) followed by the value.
    pub(crate) fn new(data: Bytes, key_len: usize, in_chunk: bool) -> Self {
        debug_assert!(key_len <= data.len());
        let key_len = u32::try_from(key_len.min(data.len())).unwrap_or(u32::MAX);
        Entry {
            data,
            key_len,
            in_chunk,
        }
    }

    /// The internal key.
    pub(crate) fn internal_key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }

    /// The value.
    pub(crate) fn value(&self) -> &[u8] {
        &self.data[self.key_len as usize..]
    }

    /// The value as a `Bytes` that does not keep a shared arena chunk alive: a copy
    /// for an entry in a chunk, a zero-copy slice for one with its own allocation.
    pub(crate) fn detached_value(&self) -> Bytes {
        if self.in_chunk {
            Bytes::copy_from_slice(self.value())
        } else {
            self.data.slice(self.key_len as usize..)
        }
    }
}

/// An internal key the skiplist can compare with its entries: an [`Entry`], or a
/// [`Probe`] built from a borrowed target, so a lookup allocates nothing.
pub(crate) trait KeyView {
    /// The encoded internal key.
    fn internal_key(&self) -> &[u8];
}

impl KeyView for Entry {
    fn internal_key(&self) -> &[u8] {
        Entry::internal_key(self)
    }
}

/// A borrowed internal key to search for.
pub(crate) struct Probe<'a>(pub(crate) &'a [u8]);

impl KeyView for Probe<'_> {
    fn internal_key(&self) -> &[u8] {
        self.0
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for dyn KeyView + '_ {}

impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_internal_keys(self.internal_key(), other.internal_key())
    }
}

/// The borrowed form orders exactly like the entry (both by the internal key), as
/// `Borrow` requires.
impl<'a> Borrow<dyn KeyView + 'a> for Entry {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_internal_keys(self.internal_key(), other.internal_key())
    }
}
