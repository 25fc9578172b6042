//! [`DbIterator`]: ordered scans over user keys, forward and reverse.
//!
//! A scan reads the engine's merged internal view (every version of every key, newest
//! first per key) through the [`InternalIterator`] contract and turns it into user
//! entries: it hides versions newer than its snapshot, shows only the newest visible
//! version of each key, and hides keys whose newest visible version is a tombstone.
//!
//! The front and the back of a [`DbIterator`] are two independent cursors over the
//! same snapshot; they stop when they meet, so `next` and `next_back` can be mixed.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use bytes::Bytes;
use shale_core::iter::BoxedIterator;
use shale_core::key::{self, TRAILER_LEN, parse_internal_key};
use shale_core::{InternalIterator, LookupKey, MAX_SEQNO, MergingIterator, SeqNo, ValueKind};

use crate::keyspace::Ks;
use crate::snapshot::Snapshot;
use crate::super_version::SuperVersion;
use crate::tombstone_view::TombstoneView;
use crate::{Error, Result};

/// The user-key bounds of a scan.
#[derive(Debug, Clone)]
pub(crate) struct KeyRange {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
}

impl KeyRange {
    pub(crate) fn from_bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(r: R) -> Self {
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        KeyRange {
            lower: own(r.start_bound()),
            upper: own(r.end_bound()),
        }
    }

    /// Every key starting with `p`.
    pub(crate) fn prefix(p: &[u8]) -> Self {
        KeyRange {
            lower: Bound::Included(p.to_vec()),
            upper: shale_core::range_del::prefix_successor(p)
                .map_or(Bound::Unbounded, Bound::Excluded),
        }
    }

    /// The bounds as owned `Bound`s.
    pub(crate) fn bounds(&self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (self.lower.clone(), self.upper.clone())
    }

    fn above_lower(&self, k: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(l) => k >= l.as_slice(),
            Bound::Excluded(l) => k > l.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn below_upper(&self, k: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(u) => k <= u.as_slice(),
            Bound::Excluded(u) => k < u.as_slice(),
            Bound::Unbounded => true,
        }
    }
}

/// One direction's position in the internal view.
struct Cursor {
    it: BoxedIterator,
    /// Forward only: the user key last emitted or found deleted; older versions of it
    /// are skipped.
    skip: Option<Vec<u8>>,
}

/// An ordered scan over `(key, value)` pairs as of one snapshot. Iterate it forward,
/// or call `.rev()` for descending order; both ends may be mixed. An I/O or corruption
/// error is yielded once as `Err` and ends the scan.
pub struct DbIterator {
    snapshot: Snapshot,
    ks: Arc<Ks>,
    /// The memtables and files this scan reads, pinned for its whole life (`None`
    /// only while being dropped).
    sv: Option<Arc<SuperVersion>>,
    range: KeyRange,
    front: Option<Cursor>,
    back: Option<Cursor>,
    last_front: Option<Bytes>,
    last_back: Option<Bytes>,
    done: bool,
    /// TTL expiry is judged at this time for the whole scan.
    now_ms: u64,
    /// The range tombstones this scan honours (`None`: there are none).
    tombstones: Option<TombstoneView>,
    /// Why the tombstones could not be read, reported by the first step.
    setup_error: Option<Error>,
}

impl std::fmt::Debug for DbIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIterator")
            .field("snapshot", &self.snapshot)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl DbIterator {
    pub(crate) fn new(snapshot: Snapshot, ks: Arc<Ks>, range: KeyRange) -> Self {
        let now_ms = snapshot.db.inner.opts.clock.now_ms();
        let sv = ks.super_version();
        let (tombstones, setup_error) = match sv.range_tombstones(&snapshot.db.inner.tables) {
            Ok(t) => (t, None),
            Err(e) => (None, Some(e)),
        };
        DbIterator {
            tombstones,
            setup_error,
            sv: Some(sv),
            ks,
            snapshot,
            range,
            front: None,
            back: None,
            last_front: None,
            last_back: None,
            done: false,
            now_ms,
        }
    }

    fn internal(&self) -> Result<BoxedIterator> {
        if let Some(e) = &self.setup_error {
            return Err(e.clone());
        }
        let Some(sv) = &self.sv else {
            return Err(Error::invalid("iterator used while being dropped"));
        };
        let children = sv.iterators(&self.snapshot.db.inner.tables)?;
        Ok(Box::new(MergingIterator::new(children)))
    }

    fn seq(&self) -> SeqNo {
        self.snapshot.seqno()
    }

    /// True if the version of `key` at `seq` is deleted by a visible range tombstone.
    fn covered(&self, key: &[u8], seq: SeqNo) -> bool {
        self.tombstones
            .as_ref()
            .is_some_and(|t| t.covers(key, seq, self.seq()))
    }

    fn fail(&mut self, e: Error) -> Option<Result<(Bytes, Bytes)>> {
        self.done = true;
        Some(Err(e))
    }

    fn next_front(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        let seq = self.seq();
        let mut cursor = match self.front.take() {
            Some(c) => c,
            None => {
                let mut it = match self.internal() {
                    Ok(it) => it,
                    Err(e) => return Some(Err(e)),
                };
                match &self.range.lower {
                    Bound::Included(k) | Bound::Excluded(k) => {
                        it.seek(LookupKey::new(k, MAX_SEQNO).internal_key())
                    }
                    Bound::Unbounded => it.seek_to_first(),
                }
                Cursor { it, skip: None }
            }
        };
        let found = loop {
            if !cursor.it.valid() {
                break cursor.it.status().err().map(Err);
            }
            let Some(p) = parse_internal_key(cursor.it.key()) else {
                break Some(Err(malformed(cursor.it.key())));
            };
            if !self.range.below_upper(p.user_key) {
                break None;
            }
            let hidden = p.seq > seq
                || cursor.skip.as_deref() == Some(p.user_key)
                || !self.range.above_lower(p.user_key);
            if hidden {
                cursor.it.next();
                continue;
            }
            cursor.skip = Some(p.user_key.to_vec());
            if self.covered(p.user_key, p.seq) {
                cursor.it.next();
                continue;
            }
            if p.kind == ValueKind::Merge {
                let user_key = Bytes::copy_from_slice(p.user_key);
                break Some(self.merged_forward(&mut cursor, user_key));
            }
            match visible_value(p.kind, cursor.it.value(), self.now_ms) {
                Ok(Some(v)) => {
                    let item = (
                        Bytes::copy_from_slice(p.user_key),
                        Bytes::copy_from_slice(v),
                    );
                    cursor.it.next();
                    break Some(Ok(item));
                }
                Ok(None) => {}
                Err(detail) => break Some(Err(Error::corruption("<merged view>", 0, detail))),
            }
            cursor.it.next();
        };
        self.front = Some(cursor);
        found
    }

    fn next_back(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        let seq = self.seq();
        let mut cursor = match self.back.take() {
            Some(c) => c,
            None => {
                let mut it = match self.internal() {
                    Ok(it) => it,
                    Err(e) => return Some(Err(e)),
                };
                match &self.range.upper {
                    // Last entry <= (k, seq 0, kind 0), the smallest internal key of k:
                    // lands on the oldest version of k or before it.
                    Bound::Included(k) => it.seek_for_prev(&smallest_internal_key(k)),
                    // Last entry strictly before every version of k.
                    Bound::Excluded(k) => {
                        it.seek_for_prev(LookupKey::new(k, MAX_SEQNO).internal_key())
                    }
                    Bound::Unbounded => it.seek_to_last(),
                }
                Cursor { it, skip: None }
            }
        };
        let found = loop {
            if !cursor.it.valid() {
                break cursor.it.status().err().map(Err);
            }
            let Some(p) = parse_internal_key(cursor.it.key()) else {
                break Some(Err(malformed(cursor.it.key())));
            };
            if !self.range.above_lower(p.user_key) {
                break None;
            }
            let user_key = p.user_key.to_vec();
            // Walking backwards, versions of one key come oldest first: the last
            // visible one seen before the key changes is the newest visible.
            let mut newest: Option<(ValueKind, Bytes)> = None;
            // Merge operands above the newest non-operand version, oldest first.
            let mut operands: Vec<Bytes> = Vec::new();
            while cursor.it.valid() && key::user_key(cursor.it.key()) == user_key.as_slice() {
                match parse_internal_key(cursor.it.key()) {
                    Some(v) if v.seq <= seq && self.covered(&user_key, v.seq) => {
                        newest = Some((ValueKind::Delete, Bytes::new()));
                        operands.clear();
                    }
                    Some(v) if v.seq <= seq => {
                        let value = Bytes::copy_from_slice(cursor.it.value());
                        if v.kind == ValueKind::Merge {
                            operands.push(value);
                        } else {
                            newest = Some((v.kind, value));
                            operands.clear();
                        }
                    }
                    Some(_) => {}
                    None => break,
                }
                cursor.it.prev();
            }
            if let Err(e) = cursor.it.status() {
                break Some(Err(e));
            }
            if !self.range.below_upper(&user_key) {
                continue;
            }
            if !operands.is_empty() {
                operands.reverse();
                break Some(
                    self.merged(&user_key, newest, &operands)
                        .map(|v| (Bytes::from(user_key), v)),
                );
            }
            if let Some((kind, stored)) = newest {
                match visible_value(kind, &stored, self.now_ms) {
                    Ok(Some(v)) => {
                        let v = stored.slice_ref(v);
                        break Some(Ok((Bytes::from(user_key), v)));
                    }
                    Ok(None) => {}
                    Err(detail) => break Some(Err(Error::corruption("<merged view>", 0, detail))),
                }
            }
        };
        self.back = Some(cursor);
        found
    }
}

impl DbIterator {
    /// Forward scan at a merge operand of `user_key` (the cursor's current entry):
    /// collects the operands below it down to their base, leaves the cursor after
    /// them, and combines.
    fn merged_forward(&self, cursor: &mut Cursor, user_key: Bytes) -> Result<(Bytes, Bytes)> {
        let mut operands = vec![Bytes::copy_from_slice(cursor.it.value())];
        let mut base = None;
        cursor.it.next();
        while cursor.it.valid() && key::user_key(cursor.it.key()) == user_key.as_ref() {
            let (kind, seq) = parse_internal_key(cursor.it.key())
                .map(|p| (p.kind, p.seq))
                .ok_or_else(|| malformed(cursor.it.key()))?;
            if self.covered(&user_key, seq) {
                // Deleted by a range tombstone: the operands apply to nothing.
                break;
            }
            let value = Bytes::copy_from_slice(cursor.it.value());
            cursor.it.next();
            if kind == ValueKind::Merge {
                operands.push(value);
            } else {
                base = Some((kind, value));
                break;
            }
        }
        cursor.it.status()?;
        let merged = self.merged(&user_key, base, &operands)?;
        Ok((user_key, merged))
    }

    /// Combines `operands` (newest first) over the version `base` (none: absent).
    fn merged(
        &self,
        key: &[u8],
        base: Option<(ValueKind, Bytes)>,
        operands: &[Bytes],
    ) -> Result<Bytes> {
        let base = match base {
            Some((kind, stored)) => crate::merge::base_of(kind, &stored, self.now_ms)?
                .unwrap_or(crate::merge::Base::Absent),
            None => crate::merge::Base::Absent,
        };
        crate::merge::resolve(
            self.ks.options().merge_operator.as_ref(),
            key,
            &base,
            operands,
        )
    }
}

impl Drop for DbIterator {
    fn drop(&mut self) {
        // The cursors hold table readers of this super version: release them first.
        self.front = None;
        self.back = None;
        let inner = &self.snapshot.db.inner;
        if let Some(sv) = self.sv.take() {
            inner.release_super_version(sv);
        }
        release_keyspace(inner, &mut self.ks);
    }
}

/// Lets go of a reader's keyspace; if it was dropped, its files may have just lost
/// their last reader, so they are deleted now rather than at the next flush.
pub(crate) fn release_keyspace(inner: &crate::db::DbInner, ks: &mut Arc<Ks>) {
    if !ks.is_dropped() {
        return;
    }
    drop(std::mem::replace(ks, Arc::clone(&inner.default_ks)));
    inner.delete_obsolete_files();
}

/// What a reader sees of the newest visible version: the user value, or `None` for a
/// tombstone or an expired value. Kinds a scan cannot show yet are an error.
fn visible_value(kind: ValueKind, stored: &[u8], now_ms: u64) -> Result<Option<&[u8]>, String> {
    match kind {
        ValueKind::Value => Ok(Some(stored)),
        ValueKind::Delete => Ok(None),
        ValueKind::ValueWithExpiry => match shale_core::ttl::decode(stored) {
            Some((expiry, _)) if expiry <= now_ms => Ok(None),
            Some((_, v)) => Ok(Some(v)),
            None => Err("expiring value shorter than its expiry".into()),
        },
        ValueKind::Merge | ValueKind::RangeDelete => Ok(None),
    }
}

fn smallest_internal_key(user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    key::append_internal_key(&mut k, user_key, 0, 0);
    k
}

fn malformed(ikey: &[u8]) -> Error {
    Error::corruption(
        "<merged view>",
        0,
        format!("malformed internal key of {} bytes", ikey.len()),
    )
}

impl Iterator for DbIterator {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_front() {
            Some(Ok((k, v))) => {
                if self.last_back.as_ref().is_some_and(|b| k >= *b) {
                    self.done = true;
                    return None;
                }
                self.last_front = Some(k.clone());
                Some(Ok((k, v)))
            }
            Some(Err(e)) => self.fail(e),
            None => {
                self.done = true;
                None
            }
        }
    }
}

impl DoubleEndedIterator for DbIterator {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match DbIterator::next_back(self) {
            Some(Ok((k, v))) => {
                if self.last_front.as_ref().is_some_and(|f| k <= *f) {
                    self.done = true;
                    return None;
                }
                self.last_back = Some(k.clone());
                Some(Ok((k, v)))
            }
            Some(Err(e)) => self.fail(e),
            None => {
                self.done = true;
                None
            }
        }
    }
}
