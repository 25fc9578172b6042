//! The range-deletion block (format version 2): a table's range tombstones.
//!
//! Same entry format as data blocks (`crate::block`): one entry per tombstone, key =
//! internal key (`start`, seq, `RangeDelete`), value = the exclusive `end`, sorted by
//! start ascending, then seq descending, then end ascending, no two alike. Written raw
//! (never compressed), with a restart point every [`RESTART_INTERVAL`] entries; it is
//! located through the `range_del_block` property and read, checked and pinned (as
//! [`FragmentedTombstones`]) when the table is opened.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use shale_core::key::{append_internal_key, parse_internal_key};
use shale_core::range_del::{Fragment, compare_tombstones};
use shale_core::{
    Error, FragmentedTombstones, InternalIterator, RangeTombstone, Result, ValueKind,
};

use crate::block::{Block, BlockBuilder, BlockIter};

/// Restart interval of the range-deletion blocks this crate writes (readers accept
/// any).
pub const RESTART_INTERVAL: usize = 16;

/// Encodes tombstones that are already sorted with [`compare_tombstones`] and
/// distinct as the block's (uncompressed) contents.
pub(crate) fn encode_range_del_block(sorted: &[RangeTombstone]) -> Vec<u8> {
    let mut b = BlockBuilder::new(RESTART_INTERVAL);
    let mut key = Vec::new();
    for t in sorted {
        key.clear();
        append_internal_key(&mut key, &t.start, t.seq, ValueKind::RangeDelete as u8);
        b.add(&key, &t.end);
    }
    b.finish().to_vec()
}

/// Parses and checks the decoded contents of the range-deletion block found at
/// `offset` in `path`: the block structure, every entry's key (kind `RangeDelete`),
/// `start < end`, and strictly increasing order. Any damage is `Error::Corruption` at
/// `offset`.
pub(crate) fn decode_range_del_block(
    data: Bytes,
    path: &Arc<Path>,
    offset: u64,
) -> Result<Vec<RangeTombstone>> {
    let corrupt = |detail: String| Error::corruption(&**path, offset, detail);
    let block = Block::new(data).map_err(|d| corrupt(format!("range-deletion block: {d}")))?;
    let mut it = BlockIter::new(block, Arc::clone(path), offset);
    it.seek_to_first();
    let mut out: Vec<RangeTombstone> = Vec::new();
    while it.valid() {
        let i = out.len();
        let Some(p) = parse_internal_key(it.key()) else {
            return Err(corrupt(format!(
                "range-deletion block: entry {i} has an unknown value kind"
            )));
        };
        if p.kind != ValueKind::RangeDelete {
            return Err(corrupt(format!(
                "range-deletion block: entry {i} has kind {:?}, not RangeDelete",
                p.kind
            )));
        }
        let t = RangeTombstone::new(
            Bytes::copy_from_slice(p.user_key),
            Bytes::copy_from_slice(it.value()),
            p.seq,
        );
        if t.is_empty() {
            return Err(corrupt(format!(
                "range-deletion block: entry {i} is an empty range (start >= end)"
            )));
        }
        if out
            .last()
            .is_some_and(|prev| compare_tombstones(prev, &t) != Ordering::Less)
        {
            return Err(corrupt(format!(
                "range-deletion block: entry {i} is not after the previous one"
            )));
        }
        out.push(t);
        it.next();
    }
    it.status()?;
    Ok(out)
}

/// Estimated heap bytes of a fragmented set: fragment headers, key bytes and seqnos.
pub(crate) fn fragmented_memory(set: &FragmentedTombstones) -> usize {
    set.fragments()
        .iter()
        .map(|f| std::mem::size_of::<Fragment>() + f.start.len() + f.end.len() + 8 * f.seqs.len())
        .sum::<usize>()
        + std::mem::size_of::<FragmentedTombstones>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &[u8], e: &[u8], seq: u64) -> RangeTombstone {
        RangeTombstone::new(s.to_vec(), e.to_vec(), seq)
    }

    fn path() -> Arc<Path> {
        Arc::from(Path::new("x.sst"))
    }

    #[test]
    fn roundtrip() {
        let mut ts = vec![
            t(b"a", b"c", 9),
            t(b"a", b"b", 9),
            t(b"a", b"z", 3),
            t(b"b", b"\xff\xff", 1),
            t(b"", b"\0", 4),
        ];
        for i in 0..40u64 {
            ts.push(t(format!("k{i:03}").as_bytes(), b"l", i + 100));
        }
        ts.sort_by(compare_tombstones);
        let data = encode_range_del_block(&ts);
        let back = decode_range_del_block(Bytes::from(data), &path(), 77).unwrap();
        assert_eq!(back, ts);
        let empty = encode_range_del_block(&[]);
        assert!(
            decode_range_del_block(Bytes::from(empty), &path(), 0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn damage_is_corruption_at_the_block() {
        let corrupt_at_77 = |r: Result<Vec<RangeTombstone>>| match r {
            Err(Error::Corruption { offset, detail, .. }) => {
                assert_eq!(offset, 77, "{detail}");
                detail
            }
            other => panic!("expected corruption, got {other:?}"),
        };
        // Unsorted, duplicate, empty range, wrong kind.
        for (bad, what) in [
            (vec![t(b"b", b"c", 1), t(b"a", b"c", 1)], "not after"),
            (vec![t(b"a", b"c", 1), t(b"a", b"c", 1)], "not after"),
            (vec![t(b"a", b"c", 1), t(b"a", b"c", 2)], "not after"),
            (vec![t(b"c", b"c", 1)], "empty range"),
            (vec![t(b"d", b"c", 1)], "empty range"),
        ] {
            let data = encode_range_del_block(&bad);
            let detail = corrupt_at_77(decode_range_del_block(Bytes::from(data), &path(), 77));
            assert!(detail.contains(what), "{detail}");
        }
        let mut b = BlockBuilder::new(1);
        let mut key = Vec::new();
        append_internal_key(&mut key, b"a", 1, ValueKind::Delete as u8);
        b.add(&key, b"b");
        let detail = corrupt_at_77(decode_range_del_block(
            Bytes::copy_from_slice(b.finish()),
            &path(),
            77,
        ));
        assert!(detail.contains("not RangeDelete"), "{detail}");
        // Garbage, truncation.
        let good = encode_range_del_block(&[t(b"a", b"b", 1), t(b"c", b"d", 2)]);
        for cut in 0..good.len() {
            let r = decode_range_del_block(Bytes::copy_from_slice(&good[..cut]), &path(), 77);
            if let Ok(v) = r {
                panic!("truncation to {cut} decoded to {v:?}");
            }
        }
        corrupt_at_77(decode_range_del_block(
            Bytes::from_static(&[0xff; 9]),
            &path(),
            77,
        ));
    }
}
