//! Flush and compaction side of range deletes: dropping the point entries a range
//! tombstone of the same job deletes for every reader, and choosing which tombstones
//! the output keeps.

use std::sync::Arc;

use shale_core::iter::BoxedIterator;
use shale_core::key::parse_internal_key;
use shale_core::{FragmentedTombstones, InternalIterator, Result, SeqNo};

/// Skips every entry of `input` deleted by a tombstone of `tombstones` for every
/// reader: the entry's key is covered by a newer tombstone and no snapshot falls
/// between the two (a snapshot at or after the entry and before the tombstone still
/// sees the entry).
pub(crate) struct RangeDelFilter {
    input: BoxedIterator,
    tombstones: Arc<FragmentedTombstones>,
    /// Live snapshots, ascending.
    snapshots: Vec<SeqNo>,
    /// Entries dropped so far.
    pub(crate) dropped: u64,
}

impl RangeDelFilter {
    pub(crate) fn new(
        input: BoxedIterator,
        tombstones: Arc<FragmentedTombstones>,
        mut snapshots: Vec<SeqNo>,
    ) -> Self {
        snapshots.sort_unstable();
        RangeDelFilter {
            input,
            tombstones,
            snapshots,
            dropped: 0,
        }
    }

    /// True if the current entry is deleted for every reader.
    fn deleted(&self) -> bool {
        let Some(p) = parse_internal_key(self.input.key()) else {
            return false; // malformed keys are left for the consumer to report
        };
        let Some(f) = self.tombstones.fragment_at(p.user_key) else {
            return false;
        };
        // The oldest tombstone newer than the entry: if a snapshot separates even
        // that one from the entry, every newer one is separated too.
        let newer = f.seqs.partition_point(|&s| s > p.seq);
        let Some(oldest_newer) = newer.checked_sub(1).and_then(|i| f.seqs.get(i)) else {
            return false;
        };
        !self
            .snapshots
            .iter()
            .any(|&s| p.seq <= s && s < *oldest_newer)
    }

    fn skip_forward(&mut self) {
        while self.input.valid() && self.deleted() {
            self.dropped += 1;
            self.input.next();
        }
    }

    fn skip_backward(&mut self) {
        while self.input.valid() && self.deleted() {
            self.input.prev();
        }
    }
}

impl InternalIterator for RangeDelFilter {
    fn valid(&self) -> bool {
        self.input.valid()
    }

    fn seek_to_first(&mut self) {
        self.input.seek_to_first();
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        self.input.seek_to_last();
        self.skip_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        self.input.seek(target);
        self.skip_forward();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.input.seek_for_prev(target);
        self.skip_backward();
    }

    fn next(&mut self) {
        self.input.next();
        self.skip_forward();
    }

    fn prev(&mut self) {
        self.input.prev();
        self.skip_backward();
    }

    fn key(&self) -> &[u8] {
        self.input.key()
    }

    fn value(&self) -> &[u8] {
        self.input.value()
    }

    fn status(&self) -> Result<()> {
        self.input.status()
    }
}

/// The union of several sources' tombstones; `None` if none holds any. A single
/// non-empty set is shared, not copied.
pub(crate) fn union(
    sets: impl IntoIterator<Item = Arc<FragmentedTombstones>>,
) -> Option<Arc<FragmentedTombstones>> {
    let sets: Vec<_> = sets.into_iter().filter(|s| !s.is_empty()).collect();
    match sets.as_slice() {
        [] => None,
        [only] => Some(Arc::clone(only)),
        many => Some(Arc::new(FragmentedTombstones::merged(
            many.iter().map(|s| &**s),
        ))),
    }
}

/// The tombstones a flush or compaction writes out: per snapshot stripe only the
/// newest of a fragment, and none at the bottom of the tree that every snapshot sees
/// (everything they delete was dropped in the same job, and nothing lies below).
pub(crate) fn output_tombstones(
    tombstones: &FragmentedTombstones,
    snapshots: &[SeqNo],
    bottommost: bool,
) -> FragmentedTombstones {
    let mut sorted = snapshots.to_vec();
    sorted.sort_unstable();
    tombstones.compacted(&sorted, |_, seq| {
        bottommost && sorted.iter().all(|&s| s >= seq)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shale_core::key::make_internal_key;
    use shale_core::{RangeTombstone, ValueKind, VecIterator};

    use super::*;

    fn entries(v: &[(&str, SeqNo)]) -> BoxedIterator {
        Box::new(VecIterator::new(
            v.iter()
                .map(|(k, s)| {
                    (
                        make_internal_key(k.as_bytes(), *s, ValueKind::Value),
                        b"v".to_vec(),
                    )
                })
                .collect(),
        ))
    }

    fn keys(mut it: RangeDelFilter) -> Vec<(String, SeqNo)> {
        let mut out = Vec::new();
        it.seek_to_first();
        while it.valid() {
            let p = parse_internal_key(it.key()).unwrap();
            out.push((String::from_utf8(p.user_key.to_vec()).unwrap(), p.seq));
            it.next();
        }
        out
    }

    #[test]
    fn drops_covered_entries_unless_a_snapshot_separates_them() {
        let tombs = Arc::new(FragmentedTombstones::new([RangeTombstone::new(
            &b"b"[..],
            &b"d"[..],
            10,
        )]));
        let input = || entries(&[("a", 5), ("b", 12), ("b", 4), ("c", 6), ("d", 1)]);
        let all = keys(RangeDelFilter::new(input(), Arc::clone(&tombs), vec![]));
        assert_eq!(all, [("a".into(), 5), ("b".into(), 12), ("d".into(), 1)]);
        // A snapshot at 5 sees b@4 (the tombstone is newer than it): b@4 stays.
        let kept = keys(RangeDelFilter::new(input(), Arc::clone(&tombs), vec![5]));
        assert_eq!(
            kept,
            [
                ("a".into(), 5),
                ("b".into(), 12),
                ("b".into(), 4),
                ("d".into(), 1)
            ]
        );
        // A snapshot at 7 sees b@4 and c@6.
        let kept = keys(RangeDelFilter::new(input(), tombs, vec![7]));
        assert_eq!(
            kept,
            [
                ("a".into(), 5),
                ("b".into(), 12),
                ("b".into(), 4),
                ("c".into(), 6),
                ("d".into(), 1)
            ]
        );
    }

    #[test]
    fn bottommost_output_drops_tombstones_every_snapshot_sees() {
        let tombs = FragmentedTombstones::new([RangeTombstone::new(&b"a"[..], &b"z"[..], 10)]);
        assert!(output_tombstones(&tombs, &[], true).is_empty());
        assert!(!output_tombstones(&tombs, &[], false).is_empty());
        assert!(!output_tombstones(&tombs, &[9], true).is_empty());
        assert!(output_tombstones(&tombs, &[10], true).is_empty());
    }
}
