use std::collections::BTreeMap;

use proptest::prelude::*;
use shale_core::iter::BoxedIterator;
use shale_core::key::{make_internal_key, parse_internal_key};
use shale_core::{Error, InternalIterator, Result, SeqNo, ValueKind, VecIterator};

use crate::{CompactionIterator, CompactionStats};

const LATEST: SeqNo = u64::MAX >> 8;

type Entry = (Vec<u8>, Vec<u8>);

fn entry(key: &str, seq: SeqNo, kind: ValueKind, value: &str) -> Entry {
    (
        make_internal_key(key.as_bytes(), seq, kind),
        value.as_bytes().to_vec(),
    )
}

fn run(
    input: Vec<Entry>,
    snapshots: Vec<SeqNo>,
    bottommost: bool,
) -> (Vec<Entry>, CompactionStats) {
    let mut it = CompactionIterator::new(Box::new(VecIterator::new(input)), snapshots, bottommost);
    it.seek_to_first();
    let mut out = Vec::new();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    it.status().unwrap();
    (out, it.stats())
}

fn describe(entries: &[Entry]) -> Vec<(String, SeqNo, ValueKind)> {
    entries
        .iter()
        .map(|(k, _)| {
            let p = parse_internal_key(k).unwrap();
            (
                String::from_utf8_lossy(p.user_key).into_owned(),
                p.seq,
                p.kind,
            )
        })
        .collect()
}

use ValueKind::{Delete as D, Merge as M, RangeDelete as R, Value as V};

#[test]
fn keeps_newest_version_without_snapshots() {
    let input = vec![
        entry("a", 3, V, "a3"),
        entry("a", 2, V, "a2"),
        entry("a", 1, D, ""),
        entry("b", 5, V, "b5"),
    ];
    let (out, stats) = run(input, vec![], false);
    assert_eq!(describe(&out), vec![("a".into(), 3, V), ("b".into(), 5, V)]);
    assert_eq!(
        stats,
        CompactionStats {
            entries_in: 4,
            entries_out: 2,
            shadowed_dropped: 2,
            tombstones_dropped: 0,
            expired_converted: 0
        }
    );
}

#[test]
fn keeps_one_version_per_snapshot_stripe() {
    // Snapshots 2 and 4: stripes (..=2], (2..=4], (4..].
    let input = vec![
        entry("a", 6, V, ""),
        entry("a", 5, V, ""),
        entry("a", 4, V, ""),
        entry("a", 3, V, ""),
        entry("a", 2, V, ""),
        entry("a", 1, V, ""),
    ];
    let (out, _) = run(input, vec![4, 2], false);
    assert_eq!(
        describe(&out),
        vec![("a".into(), 6, V), ("a".into(), 4, V), ("a".into(), 2, V)]
    );
}

#[test]
fn tombstones_kept_above_the_bottom() {
    let input = vec![
        entry("a", 3, D, ""),
        entry("a", 2, V, ""),
        entry("b", 1, D, ""),
    ];
    let (out, _) = run(input, vec![], false);
    assert_eq!(describe(&out), vec![("a".into(), 3, D), ("b".into(), 1, D)]);
}

#[test]
fn tombstones_dropped_at_the_bottom_when_nothing_older_is_visible() {
    let input = vec![
        entry("a", 3, D, ""),
        entry("a", 2, V, ""),
        entry("b", 1, D, ""),
    ];
    let (out, stats) = run(input, vec![], true);
    assert!(out.is_empty());
    assert_eq!(stats.tombstones_dropped, 2);
    assert_eq!(stats.shadowed_dropped, 1);

    // Snapshot 2 sees a@2: the tombstone at 3 must stay for readers after 2.
    let input = vec![entry("a", 3, D, ""), entry("a", 2, V, "")];
    let (out, _) = run(input, vec![2], true);
    assert_eq!(describe(&out), vec![("a".into(), 3, D), ("a".into(), 2, V)]);

    // A tombstone in a newer stripe with nothing older: dropped (lookahead), and the
    // version it shadows in its own stripe too.
    let input = vec![
        entry("a", 5, D, ""),
        entry("a", 4, V, ""),
        entry("b", 1, V, "b"),
    ];
    let (out, stats) = run(input, vec![2], true);
    assert_eq!(describe(&out), vec![("b".into(), 1, V)]);
    assert_eq!(stats.tombstones_dropped, 1);
    assert_eq!(stats.shadowed_dropped, 1);

    // Kept tombstone still shadows older versions of its own stripe.
    let input = vec![
        entry("a", 5, D, ""),
        entry("a", 4, V, ""),
        entry("a", 1, V, ""),
    ];
    let (out, _) = run(input, vec![2], true);
    assert_eq!(describe(&out), vec![("a".into(), 5, D), ("a".into(), 1, V)]);
}

#[test]
fn merge_and_range_delete_pass_through() {
    let input = vec![
        entry("a", 9, M, "m9"),
        entry("a", 8, M, "m8"),
        entry("a", 7, V, "base"),
        entry("a", 6, V, "old"),
        entry("b", 5, R, "c"),
        entry("b", 4, V, "b4"),
        entry("c", 3, D, ""),
        entry("c", 2, M, "hidden"),
    ];
    let (out, _) = run(input, vec![], true);
    assert_eq!(
        describe(&out),
        vec![
            ("a".into(), 9, M),
            ("a".into(), 8, M),
            ("a".into(), 7, V),
            ("b".into(), 5, R),
            ("b".into(), 4, V),
        ]
    );
}

/// Yields `entries`, then fails.
struct FailingIter {
    inner: VecIterator,
    fail_after: usize,
    seen: usize,
    failed: bool,
}

impl InternalIterator for FailingIter {
    fn valid(&self) -> bool {
        !self.failed && self.inner.valid()
    }
    fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
        self.seen = 0;
    }
    fn seek_to_last(&mut self) {}
    fn seek(&mut self, _: &[u8]) {}
    fn seek_for_prev(&mut self, _: &[u8]) {}
    fn next(&mut self) {
        self.seen += 1;
        if self.seen >= self.fail_after {
            self.failed = true;
        } else {
            self.inner.next();
        }
    }
    fn prev(&mut self) {}
    fn key(&self) -> &[u8] {
        self.inner.key()
    }
    fn value(&self) -> &[u8] {
        self.inner.value()
    }
    fn status(&self) -> Result<()> {
        if self.failed {
            Err(Error::corruption("000007.sst", 4096, "bad block checksum"))
        } else {
            Ok(())
        }
    }
}

#[test]
fn input_error_ends_iteration_and_is_reported() {
    let entries = vec![
        entry("a", 1, V, ""),
        entry("b", 1, V, ""),
        entry("c", 1, V, ""),
    ];
    let input: BoxedIterator = Box::new(FailingIter {
        inner: VecIterator::new(entries),
        fail_after: 2,
        seen: 0,
        failed: false,
    });
    let mut it = CompactionIterator::new(input, vec![], false);
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    assert_eq!(n, 2);
    let err = it.status().unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("000007.sst"));
}

#[test]
fn error_during_tombstone_lookahead_is_reported() {
    let entries = vec![entry("a", 5, D, ""), entry("a", 1, V, "")];
    let input: BoxedIterator = Box::new(FailingIter {
        inner: VecIterator::new(entries),
        fail_after: 1,
        seen: 0,
        failed: false,
    });
    let mut it = CompactionIterator::new(input, vec![2], true);
    it.seek_to_first();
    assert!(!it.valid());
    assert!(it.status().is_err());
}

#[test]
fn malformed_key_is_corruption() {
    let mut bad = make_internal_key(b"b", 1, V);
    let n = bad.len();
    bad[n - 8] = 0x77;
    let input = vec![
        entry("a", 1, V, ""),
        (bad, Vec::new()),
        entry("c", 1, V, ""),
    ];
    let mut it = CompactionIterator::new(Box::new(VecIterator::new(input)), vec![], false);
    it.seek_to_first();
    assert!(it.valid());
    it.next();
    assert!(!it.valid());
    assert!(it.status().unwrap_err().is_corruption());
    // Too short to hold a trailer.
    let input = vec![(b"x".to_vec(), Vec::new())];
    let mut it = CompactionIterator::new(Box::new(VecIterator::new(input)), vec![], false);
    it.seek_to_first();
    assert!(!it.valid());
    assert!(it.status().unwrap_err().is_corruption());
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Read {
    Value(Vec<u8>),
    Deleted,
    Absent,
}

/// What a reader at `snapshot` sees for every user key of `entries`.
fn read_all(entries: &[Entry], snapshot: SeqNo, bottommost: bool) -> BTreeMap<Vec<u8>, Read> {
    let mut seen: BTreeMap<Vec<u8>, Option<Read>> = BTreeMap::new();
    for (k, _) in entries {
        let p = parse_internal_key(k).unwrap();
        seen.entry(p.user_key.to_vec()).or_insert(None);
    }
    for (k, v) in entries {
        // Entries are in internal-key order: the first visible one per key decides.
        let p = parse_internal_key(k).unwrap();
        if p.seq > snapshot {
            continue;
        }
        let slot = seen.get_mut(p.user_key).unwrap();
        if slot.is_none() {
            *slot = Some(match p.kind {
                ValueKind::Delete if bottommost => Read::Absent,
                ValueKind::Delete => Read::Deleted,
                _ => Read::Value(v.clone()),
            });
        }
    }
    seen.into_iter()
        .map(|(k, r)| (k, r.unwrap_or(Read::Absent)))
        .collect()
}

/// `entries` in internal-key order.
fn sorted(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| shale_core::compare_internal_keys(&a.0, &b.0));
    entries
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xC0_4AC7),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn output_reads_like_input_at_every_snapshot(
        versions in proptest::collection::vec((0u8..6, any::<bool>()), 0..40),
        snapshots in proptest::collection::vec(0u64..45, 0..5),
        bottommost in any::<bool>(),
    ) {
        // Seqnos are unique, as in the engine: version i gets seqno i + 1.
        let input: Vec<Entry> = sorted(versions
            .iter()
            .enumerate()
            .map(|(i, &(k, is_delete))| {
                let seq = i as SeqNo + 1;
                let kind = if is_delete { D } else { V };
                let value = if is_delete { Vec::new() } else { format!("v{seq}").into_bytes() };
                (make_internal_key(&[b'a' + k], seq, kind), value)
            })
            .collect());
        let (out, stats) = run(input.clone(), snapshots.clone(), bottommost);

        // (a) every snapshot, and the latest state, reads the same.
        for &s in snapshots.iter().chain(std::iter::once(&LATEST)) {
            let want = read_all(&input, s, bottommost);
            let mut got = read_all(&out, s, bottommost);
            for k in want.keys() {
                got.entry(k.clone()).or_insert(Read::Absent);
            }
            prop_assert_eq!(got, want, "snapshot {}", s);
        }
        // (b) sorted, strictly, and a subset of the input.
        for pair in out.windows(2) {
            prop_assert_eq!(
                shale_core::compare_internal_keys(&pair[0].0, &pair[1].0),
                std::cmp::Ordering::Less
            );
        }
        for e in &out {
            prop_assert!(input.contains(e));
        }
        prop_assert_eq!(stats.entries_in as usize, input.len());
        prop_assert_eq!(stats.entries_out as usize, out.len());
        prop_assert_eq!(
            stats.entries_in,
            stats.entries_out + stats.shadowed_dropped + stats.tombstones_dropped
        );
        // (c) no snapshots at the bottom: one value per live key, no tombstones.
        if snapshots.is_empty() && bottommost {
            let live: Vec<Vec<u8>> = read_all(&input, LATEST, true)
                .into_iter()
                .filter(|(_, r)| matches!(r, Read::Value(_)))
                .map(|(k, _)| k)
                .collect();
            let out_keys: Vec<Vec<u8>> = out
                .iter()
                .map(|(k, _)| {
                    let p = parse_internal_key(k).unwrap();
                    prop_assert_eq!(p.kind, V);
                    Ok(p.user_key.to_vec())
                })
                .collect::<std::result::Result<_, TestCaseError>>()?;
            prop_assert_eq!(out_keys, live);
        }
    }
}

#[test]
fn expired_values_become_tombstones_never_holes() {
    use shale_core::iter::BoxedIterator;
    use shale_core::key::parse_internal_key;
    use shale_core::{VecIterator, ttl};
    let entries = vec![
        (
            make_internal_key(b"k", 9, ValueKind::ValueWithExpiry),
            ttl::encode(1_000, b"new"),
        ),
        (
            make_internal_key(b"k", 5, ValueKind::Value),
            b"old".to_vec(),
        ),
        (
            make_internal_key(b"live", 7, ValueKind::ValueWithExpiry),
            ttl::encode(5_000, b"v"),
        ),
    ];
    let run_at = |now: u64, bottommost: bool| {
        let input: BoxedIterator = Box::new(VecIterator::new(entries.clone()));
        let mut it =
            crate::CompactionIterator::new(input, vec![], bottommost).with_expiry_clock(now);
        it.seek_to_first();
        let mut out = vec![];
        while it.valid() {
            let p = parse_internal_key(it.key()).unwrap();
            out.push((p.user_key.to_vec(), p.seq, p.kind, it.value().to_vec()));
            it.next();
        }
        it.status().unwrap();
        (out, it.stats())
    };
    // Not yet expired: kept as is (the older version is shadowed).
    let (out, _) = run_at(999, false);
    assert_eq!(
        out[0],
        (
            b"k".to_vec(),
            9,
            ValueKind::ValueWithExpiry,
            ttl::encode(1_000, b"new")
        )
    );
    assert_eq!(out.len(), 2);
    // Expired above other levels: a tombstone at the same seqno keeps "old" hidden.
    let (out, stats) = run_at(1_000, false);
    assert_eq!(out[0], (b"k".to_vec(), 9, ValueKind::Delete, vec![]));
    assert_eq!(stats.expired_converted, 1);
    // Expired at the bottom with no snapshot: gone, with everything it shadowed.
    let (out, _) = run_at(1_000, true);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, b"live".to_vec());
}
