//! What optimistic concurrency control asks of the tree: the newest seqno of a key,
//! and whether anything in a range was written after a given seqno.

use std::ops::Bound;

use shale_core::key::{parse_internal_key, user_key};
use shale_core::{InternalIterator, LookupKey, MAX_SEQNO, MergingIterator, SeqNo};

use crate::db::DbInner;
use crate::keyspace::Ks;
use crate::{Error, Result};

impl DbInner {
    /// The seqno of the newest write to `key` (value, tombstone, operand or a range
    /// tombstone over it), if any.
    pub(crate) fn newest_seqno(&self, ks: &Ks, key: &[u8]) -> Result<Option<SeqNo>> {
        let sv = ks.super_version();
        let found = (|| {
            let point = self.newest_version(&sv, key, MAX_SEQNO)?.map(|v| v.seq);
            let range = sv
                .range_tombstones(&self.tables)?
                .and_then(|t| t.max_covering_seq(key, MAX_SEQNO));
            Ok(point.max(range))
        })();
        self.release_super_version(sv);
        found
    }

    /// The first user key in `(lo, hi)` with a version newer than `after`, if any.
    pub(crate) fn first_write_after(
        &self,
        ks: &Ks,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        after: SeqNo,
    ) -> Result<Option<Vec<u8>>> {
        let sv = ks.super_version();
        let result = (|| {
            // A range tombstone written after `after` that overlaps the range.
            if let Some(tombs) = sv.range_tombstones(&self.tables)? {
                for f in tombs.fragments() {
                    let starts_below_hi = match hi {
                        Bound::Included(h) => f.start.as_ref() <= h,
                        Bound::Excluded(h) => f.start.as_ref() < h,
                        Bound::Unbounded => true,
                    };
                    let ends_above_lo = match lo {
                        Bound::Included(l) | Bound::Excluded(l) => f.end.as_ref() > l,
                        Bound::Unbounded => true,
                    };
                    if starts_below_hi
                        && ends_above_lo
                        && f.seqs.first().is_some_and(|&s| s > after)
                    {
                        return Ok(Some(f.start.to_vec()));
                    }
                }
            }
            let mut it = MergingIterator::new(sv.iterators(&self.tables)?);
            match lo {
                Bound::Included(k) | Bound::Excluded(k) => {
                    it.seek(LookupKey::new(k, MAX_SEQNO).internal_key())
                }
                Bound::Unbounded => it.seek_to_first(),
            }
            while it.valid() {
                let ikey = it.key();
                let uk = user_key(ikey);
                let below_hi = match hi {
                    Bound::Included(h) => uk <= h,
                    Bound::Excluded(h) => uk < h,
                    Bound::Unbounded => true,
                };
                if !below_hi {
                    break;
                }
                let above_lo = !matches!(lo, Bound::Excluded(l) if uk == l);
                let p = parse_internal_key(ikey).ok_or_else(|| {
                    Error::corruption("<merged view>", 0, "malformed internal key")
                })?;
                if above_lo && p.seq > after {
                    return Ok(Some(uk.to_vec()));
                }
                it.next();
            }
            it.status().map(|()| None)
        })();
        self.release_super_version(sv);
        result
    }
}
