//! The range tombstones a read honours, as a few fragmented sets consulted side by
//! side rather than merged into one.
//!
//! A super version's frozen sources (frozen memtables and tables) are fragmented
//! once into one set; the active memtable keeps its own, re-fragmented when a range
//! delete arrives. Merging the two for every read after a range delete would cost a
//! pass over every tombstone in the tree per read; asking each set costs one binary
//! search per set.

use std::sync::Arc;

use shale_core::FragmentedTombstones;
use shale_core::key::SeqNo;
use shale_core::range_del::Fragment;

/// A read's view of the range tombstones: the newest one covering a key is the
/// newest any of the sets has.
#[derive(Clone, Debug)]
pub(crate) struct TombstoneView {
    sets: Vec<Arc<FragmentedTombstones>>,
}

impl TombstoneView {
    /// The view of `sets`, or `None` when none holds a tombstone.
    pub(crate) fn of(sets: impl IntoIterator<Item = Arc<FragmentedTombstones>>) -> Option<Self> {
        let sets: Vec<_> = sets.into_iter().filter(|s| !s.is_empty()).collect();
        (!sets.is_empty()).then_some(TombstoneView { sets })
    }

    /// The seqno of the newest tombstone over `key` visible at `read_seq`, if any.
    pub(crate) fn max_covering_seq(&self, key: &[u8], read_seq: SeqNo) -> Option<SeqNo> {
        self.sets
            .iter()
            .filter_map(|s| s.max_covering_seq(key, read_seq))
            .max()
    }

    /// True if the version of `key` at `seq` is deleted by a tombstone visible at
    /// `read_seq`.
    pub(crate) fn covers(&self, key: &[u8], seq: SeqNo, read_seq: SeqNo) -> bool {
        self.max_covering_seq(key, read_seq)
            .is_some_and(|t| t > seq)
    }

    /// Every fragment of every set (sets overlap; each fragment is exact in its own).
    pub(crate) fn fragments(&self) -> impl Iterator<Item = &Fragment> {
        self.sets.iter().flat_map(|s| s.fragments())
    }
}
