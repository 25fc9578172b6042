//! Range tombstones: `delete_range(start..end)` as one entry that hides every older
//! version of every key in `[start, end)`.
//!
//! A [`RangeTombstone`] is written once (WAL record kind `RangeDelete`, key = start,
//! value = exclusive end) and kept next to the point entries of a memtable or table.
//! Readers combine all tombstones of a source into [`FragmentedTombstones`] (RocksDB's
//! *fragmenting*, Pebble's *keyspans*): the key space is cut at every start and end
//! into non-overlapping fragments, each listing the seqnos of every tombstone that
//! covers it. A key at seqno `p` is deleted for a reader at `read_seq` when some
//! covering tombstone has `p < seq <= read_seq`.
//!
//! Ends are exclusive. An end longer than any valid key ([`UNBOUNDED_END`]) means "to
//! the end of the key space". A file holding a tombstone must include its keys in the
//! file's inclusive key range: [`inclusive_upper_bound`] gives the bound to use.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::key::{MAX_KEY_SIZE, SeqNo};

/// An exclusive end key greater than every valid user key: `0xff` repeated
/// `MAX_KEY_SIZE` times, then `0x00`. A range ending here is unbounded above.
pub fn unbounded_end() -> Bytes {
    let mut v = vec![0xff; MAX_KEY_SIZE + 1];
    if let Some(last) = v.last_mut() {
        *last = 0;
    }
    Bytes::from(v)
}

/// The length of [`unbounded_end`]: the longest end key a range tombstone may have.
pub const UNBOUNDED_END: usize = MAX_KEY_SIZE + 1;

/// The smallest key greater than every key that starts with `prefix`; `None` if there
/// is none (`prefix` is empty or all `0xff`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// The exclusive end of a prefix range for a range tombstone: the
/// [`prefix_successor`], or [`unbounded_end`] when there is none.
pub fn prefix_end(prefix: &[u8]) -> Bytes {
    prefix_successor(prefix).map_or_else(unbounded_end, Bytes::from)
}

/// The largest user key a tombstone ending (exclusively) at `end` can cover, as an
/// inclusive bound for a file's key range: exact when `end` ends in a `0x00` byte
/// (the keys below `k ‖ 0x00` are exactly the keys up to `k`), otherwise `end` itself,
/// one key too many, which is safe for overlap checks.
pub fn inclusive_upper_bound(end: &[u8]) -> &[u8] {
    match end.split_last() {
        Some((0, rest)) => rest,
        _ => end,
    }
}

/// `delete_range(start..end)` at `seq`: hides every version older than `seq` of every
/// key `k` with `start <= k < end`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RangeTombstone {
    /// The first key deleted.
    pub start: Bytes,
    /// The first key after the range (exclusive).
    pub end: Bytes,
    /// The tombstone's seqno.
    pub seq: SeqNo,
}

impl RangeTombstone {
    /// A tombstone over `[start, end)` at `seq`.
    pub fn new(start: impl Into<Bytes>, end: impl Into<Bytes>, seq: SeqNo) -> Self {
        RangeTombstone {
            start: start.into(),
            end: end.into(),
            seq,
        }
    }

    /// True if `key` lies in `[start, end)`.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_ref() <= key && key < self.end.as_ref()
    }

    /// True if the range holds no key (`start >= end`).
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

/// A piece of the key space, `[start, end)`, and the seqnos (descending, distinct) of
/// every tombstone covering all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The fragment's first key.
    pub start: Bytes,
    /// The fragment's exclusive end.
    pub end: Bytes,
    /// Covering tombstones' seqnos, newest first.
    pub seqs: Vec<SeqNo>,
}

impl Fragment {
    /// The newest covering seqno visible at `read_seq`, if any.
    pub fn newest_visible(&self, read_seq: SeqNo) -> Option<SeqNo> {
        // seqs is descending: the first one <= read_seq is the newest visible.
        let i = self.seqs.partition_point(|&s| s > read_seq);
        self.seqs.get(i).copied()
    }
}

/// A set of range tombstones cut into sorted, non-overlapping [`Fragment`]s, for
/// O(log n) coverage queries. Immutable; build a new one to add tombstones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FragmentedTombstones {
    fragments: Vec<Fragment>,
}

impl FragmentedTombstones {
    /// Fragments `tombstones` (in any order; empty ranges are ignored).
    pub fn new(tombstones: impl IntoIterator<Item = RangeTombstone>) -> Self {
        let mut ts: Vec<RangeTombstone> =
            tombstones.into_iter().filter(|t| !t.is_empty()).collect();
        if ts.is_empty() {
            return Self::default();
        }
        // Every start and end is a cut point.
        let mut cuts: Vec<Bytes> = ts
            .iter()
            .flat_map(|t| [t.start.clone(), t.end.clone()])
            .collect();
        cuts.sort();
        cuts.dedup();
        ts.sort_by(|a, b| a.start.cmp(&b.start).then(b.seq.cmp(&a.seq)));
        // Sweep the cut points, keeping the tombstones active over [cuts[i], cuts[i+1]).
        let mut fragments = Vec::new();
        let mut active: Vec<&RangeTombstone> = Vec::new();
        let mut next = 0;
        for w in cuts.windows(2) {
            let (lo, hi) = (&w[0], &w[1]);
            active.retain(|t| t.end.as_ref() > lo.as_ref());
            while let Some(t) = ts.get(next) {
                if t.start.as_ref() > lo.as_ref() {
                    break;
                }
                if t.end.as_ref() > lo.as_ref() {
                    active.push(t);
                }
                next += 1;
            }
            if active.is_empty() {
                continue;
            }
            let mut seqs: Vec<SeqNo> = active.iter().map(|t| t.seq).collect();
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            seqs.dedup();
            fragments.push(Fragment {
                start: lo.clone(),
                end: hi.clone(),
                seqs,
            });
        }
        FragmentedTombstones { fragments }
    }

    /// The union of several sets.
    pub fn merged<'a>(sets: impl IntoIterator<Item = &'a FragmentedTombstones>) -> Self {
        Self::new(sets.into_iter().flat_map(|s| s.tombstones()))
    }

    /// True if there are no tombstones.
    pub fn is_empty(&self) -> bool {
        self.fragments.is_empty()
    }

    /// The fragments, sorted by start.
    pub fn fragments(&self) -> &[Fragment] {
        &self.fragments
    }

    /// One tombstone per (fragment, seqno): the set in a form that can be stored and
    /// fragmented again to the same fragments.
    pub fn tombstones(&self) -> impl Iterator<Item = RangeTombstone> + '_ {
        self.fragments.iter().flat_map(|f| {
            f.seqs
                .iter()
                .map(|&seq| RangeTombstone::new(f.start.clone(), f.end.clone(), seq))
        })
    }

    /// The fragment containing `key`, if any.
    pub fn fragment_at(&self, key: &[u8]) -> Option<&Fragment> {
        // First fragment whose end is > key; it contains key if its start is <= key.
        let i = self.fragments.partition_point(|f| f.end.as_ref() <= key);
        self.fragments.get(i).filter(|f| f.start.as_ref() <= key)
    }

    /// The newest seqno `<= read_seq` of a tombstone covering `key`, if any.
    pub fn max_covering_seq(&self, key: &[u8], read_seq: SeqNo) -> Option<SeqNo> {
        self.fragment_at(key)?.newest_visible(read_seq)
    }

    /// True if the version of `key` at `seq` is deleted for a reader at `read_seq`.
    pub fn covers(&self, key: &[u8], seq: SeqNo, read_seq: SeqNo) -> bool {
        self.max_covering_seq(key, read_seq)
            .is_some_and(|t| t > seq)
    }

    /// The smallest start and largest end over all fragments.
    pub fn bounds(&self) -> Option<(&[u8], &[u8])> {
        let first = self.fragments.first()?;
        let last = self.fragments.last()?;
        Some((first.start.as_ref(), last.end.as_ref()))
    }

    /// The tombstones cut to `[lo, hi)` (`None` = unbounded on that side): what a file
    /// covering exactly that part of the key space must hold.
    pub fn clipped(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Vec<RangeTombstone> {
        let mut out = Vec::new();
        for f in &self.fragments {
            let start = match lo {
                Some(lo) if f.start.as_ref() < lo => Bytes::copy_from_slice(lo),
                _ => f.start.clone(),
            };
            let end = match hi {
                Some(hi) if f.end.as_ref() > hi => Bytes::copy_from_slice(hi),
                _ => f.end.clone(),
            };
            if start >= end {
                continue;
            }
            for &seq in &f.seqs {
                out.push(RangeTombstone::new(start.clone(), end.clone(), seq));
            }
        }
        out
    }

    /// The set a compaction keeps. Between two consecutive snapshots (a *stripe*) only
    /// the newest seqno of a fragment matters, so older ones in the same stripe go;
    /// then `drop(fragment, seq)` may remove more (e.g. at the bottom of the tree, a
    /// tombstone every snapshot sees). `snapshots` must be sorted ascending.
    pub fn compacted(
        &self,
        snapshots: &[SeqNo],
        mut drop: impl FnMut(&Fragment, SeqNo) -> bool,
    ) -> FragmentedTombstones {
        let stripe = |seq: SeqNo| snapshots.partition_point(|&s| s < seq);
        let mut fragments = Vec::new();
        for f in &self.fragments {
            let mut seqs = Vec::new();
            let mut last_stripe = None;
            for &seq in &f.seqs {
                let s = stripe(seq);
                if last_stripe == Some(s) {
                    continue;
                }
                last_stripe = Some(s);
                if !drop(f, seq) {
                    seqs.push(seq);
                }
            }
            if !seqs.is_empty() {
                fragments.push(Fragment {
                    start: f.start.clone(),
                    end: f.end.clone(),
                    seqs,
                });
            }
        }
        FragmentedTombstones { fragments }
    }
}

/// Orders tombstones by start, then seqno descending (the order tables store them in).
pub fn compare_tombstones(a: &RangeTombstone, b: &RangeTombstone) -> Ordering {
    a.start
        .cmp(&b.start)
        .then(b.seq.cmp(&a.seq))
        .then(a.end.cmp(&b.end))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn t(s: &str, e: &str, seq: SeqNo) -> RangeTombstone {
        RangeTombstone::new(s.as_bytes().to_vec(), e.as_bytes().to_vec(), seq)
    }

    #[test]
    fn fragments_overlapping_ranges() {
        let f = FragmentedTombstones::new([t("a", "e", 5), t("c", "g", 9)]);
        let frags: Vec<(&[u8], &[u8], Vec<SeqNo>)> = f
            .fragments()
            .iter()
            .map(|f| (f.start.as_ref(), f.end.as_ref(), f.seqs.clone()))
            .collect();
        assert_eq!(
            frags,
            vec![
                (&b"a"[..], &b"c"[..], vec![5]),
                (&b"c"[..], &b"e"[..], vec![9, 5]),
                (&b"e"[..], &b"g"[..], vec![9]),
            ]
        );
        assert_eq!(f.max_covering_seq(b"d", 100), Some(9));
        assert_eq!(f.max_covering_seq(b"d", 8), Some(5));
        assert_eq!(f.max_covering_seq(b"d", 4), None);
        assert_eq!(f.max_covering_seq(b"g", 100), None);
        assert_eq!(f.max_covering_seq(b"0", 100), None);
        assert!(f.covers(b"b", 4, 10));
        assert!(!f.covers(b"b", 5, 10));
        assert!(!f.covers(b"f", 3, 8));
    }

    #[test]
    fn empty_ranges_are_ignored_and_gaps_stay_uncovered() {
        let f = FragmentedTombstones::new([t("b", "b", 1), t("a", "b", 2), t("x", "y", 3)]);
        assert_eq!(f.fragments().len(), 2);
        assert_eq!(f.max_covering_seq(b"m", 10), None);
        assert_eq!(f.max_covering_seq(b"x", 10), Some(3));
    }

    #[test]
    fn clipping_keeps_only_the_window() {
        let f = FragmentedTombstones::new([t("a", "z", 7)]);
        let c = f.clipped(Some(b"c"), Some(b"f"));
        assert_eq!(c, vec![t("c", "f", 7)]);
        assert!(f.clipped(Some(b"z"), None).is_empty());
        assert_eq!(f.clipped(None, Some(b"b")), vec![t("a", "b", 7)]);
    }

    #[test]
    fn compaction_keeps_the_newest_per_stripe() {
        let f = FragmentedTombstones::new([t("a", "c", 3), t("a", "c", 5), t("a", "c", 9)]);
        // Snapshot at 4: stripes (..=4] and (4..]; 5 and 9 share the newer one.
        let kept = f.compacted(&[4], |_, _| false);
        assert_eq!(kept.fragments()[0].seqs, vec![9, 3]);
        let none = f.compacted(&[], |_, _| true);
        assert!(none.is_empty());
    }

    #[test]
    fn bounds_helpers() {
        assert_eq!(inclusive_upper_bound(b"k\0"), b"k");
        assert_eq!(inclusive_upper_bound(b"k"), b"k");
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
        assert_eq!(prefix_end(b"ab"), Bytes::from_static(b"ac"));
        assert_eq!(prefix_end(b"a\xff"), Bytes::from_static(b"b"));
        let unb = prefix_end(b"\xff\xff");
        assert_eq!(unb.len(), UNBOUNDED_END);
        assert!(unb.as_ref() > vec![0xff; MAX_KEY_SIZE].as_slice());
        assert_eq!(
            inclusive_upper_bound(&unb),
            vec![0xff; MAX_KEY_SIZE].as_slice()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(6), ..ProptestConfig::default() })]

        /// Fragment queries agree with a brute-force scan of the raw tombstones, and
        /// re-fragmenting the stored form gives the same fragments.
        #[test]
        fn agrees_with_brute_force(
            raw in prop::collection::vec((0u8..20, 0u8..20, 1u64..50), 0..12),
            probes in prop::collection::vec((0u8..22, 0u64..55), 1..40),
        ) {
            let ts: Vec<RangeTombstone> = raw
                .iter()
                .map(|&(a, b, s)| RangeTombstone::new(vec![a], vec![b], s))
                .collect();
            let f = FragmentedTombstones::new(ts.clone());
            for (k, read) in probes {
                let want = ts
                    .iter()
                    .filter(|t| t.contains(&[k]) && t.seq <= read)
                    .map(|t| t.seq)
                    .max();
                prop_assert_eq!(f.max_covering_seq(&[k], read), want);
            }
            let again = FragmentedTombstones::new(f.tombstones());
            prop_assert_eq!(&again, &f);
            // Fragments are sorted and disjoint.
            let mut prev: Option<&Fragment> = None;
            let mut starts = BTreeMap::new();
            for fr in f.fragments() {
                prop_assert!(fr.start < fr.end);
                if let Some(p) = prev {
                    prop_assert!(p.end <= fr.start);
                }
                starts.insert(fr.start.clone(), ());
                prev = Some(fr);
            }
        }
    }
}
