//! Unit and property tests (pure: no I/O).

mod iterator;
mod options;
mod picker;
mod prop_picker;
mod splitter;
mod targets;

use std::sync::Arc;

use shale_core::SeqNo;
use shale_core::ValueKind;
use shale_core::key::make_internal_key;
use shale_manifest::{FileMeta, Version};

pub(crate) const MIB: u64 = 1024 * 1024;
pub(crate) const GIB: u64 = 1024 * MIB;

/// A file over user keys `[lo, hi]` with the given size and seqno.
pub(crate) fn file(number: u64, lo: &str, hi: &str, size: u64, seq: SeqNo) -> Arc<FileMeta> {
    Arc::new(FileMeta {
        number,
        size,
        smallest: make_internal_key(lo.as_bytes(), seq, ValueKind::Value),
        largest: make_internal_key(hi.as_bytes(), seq, ValueKind::Value),
        smallest_seqno: seq,
        largest_seqno: seq,
        num_entries: 1,
        num_deletions: 0,
    })
}

/// A version with `n` levels holding the given files.
pub(crate) fn version(n: usize, files: Vec<(usize, Arc<FileMeta>)>) -> Version {
    let mut levels = vec![Vec::new(); n];
    for (l, f) in files {
        levels[l].push(f);
    }
    let v = Version::from_levels(levels);
    v.check_invariants().unwrap();
    v
}

pub(crate) fn numbers<'a>(files: impl IntoIterator<Item = &'a Arc<FileMeta>>) -> Vec<u64> {
    files.into_iter().map(|f| f.number).collect()
}
