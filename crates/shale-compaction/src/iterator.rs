//! [`CompactionIterator`]: the filter every flush and compaction writes through.
//!
//! It follows RocksDB's `CompactionIterator` (without merge operators, TTL and range
//! tombstones, which come later). For each user key the input yields versions newest
//! first. The live snapshots `s_0 < s_1 < ... < s_k` cut the seqno space into
//! *stripes*: a version with seqno `v` belongs to stripe `i`, the smallest `i` with
//! `v <= s_i`, or to the "latest" stripe `k + 1` if `v` is above every snapshot. A
//! reader at snapshot `s_i` sees the newest version with seqno `<= s_i`, which is
//! always the newest version of *some* stripe `<= i`; so:
//!
//! * **Shadowed versions**: only the newest version of each stripe is kept; every
//!   older version in the same stripe is invisible to every reader and is dropped.
//! * **Tombstones** (`Delete`): when the output is `bottommost` (nothing below the
//!   output level holds the key, so the input holds every older version), a tombstone
//!   is dropped if no version of the key lies in an older stripe — no snapshot can
//!   see anything it hides, so "deleted" and "absent" read the same. (RocksDB drops
//!   tombstones at or below the earliest snapshot; this also drops tombstones in newer
//!   stripes when nothing older exists, at the cost of a one-entry lookahead.) A kept
//!   tombstone still shadows older versions of its own stripe. Above the bottom
//!   tombstones are always kept: older versions may live in lower levels.
//! * **Extension points** (marked `EXTENSION` in the code): a `Merge` operand is
//!   passed through unchanged and does not shadow what follows it (the versions below
//!   it are its operands and base), though it is dropped when a newer value or
//!   tombstone of its stripe shadows it; a `RangeDelete` is passed through and takes
//!   no part in the per-key rules. Merge resolution, TTL expiry and range tombstones
//!   will hook in there.
//!
//! Errors: an input error or a malformed internal key (`Error::Corruption`) ends the
//! iteration (`valid()` turns false) and is reported by [`CompactionIterator::status`];
//! nothing is skipped silently, so a caller that checks `status` never writes a table
//! with data missing.

use shale_core::iter::BoxedIterator;
use shale_core::key::parse_internal_key;
use shale_core::{Error, Result, SeqNo, ValueKind};

/// Counters of what the iterator passed and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// Entries read from the input.
    pub entries_in: u64,
    /// Entries yielded.
    pub entries_out: u64,
    /// Versions dropped because a newer version of their stripe hides them.
    pub shadowed_dropped: u64,
    /// Tombstones dropped at the bottommost level.
    pub tombstones_dropped: u64,
    /// Expired values written out as tombstones.
    pub expired_converted: u64,
}

/// A forward-only filter over a compaction's (or flush's) merged input; see the
/// module docs for the rules.
pub struct CompactionIterator {
    input: BoxedIterator,
    snapshots: Vec<SeqNo>,
    bottommost: bool,
    key: Vec<u8>,
    value: Vec<u8>,
    valid: bool,
    error: Option<Error>,
    /// User key of the versions being processed.
    cur_user_key: Vec<u8>,
    has_cur: bool,
    /// Stripe of the newest non-merge version of the current user key seen so far.
    cur_stripe: Option<usize>,
    /// "Now" for expiring values; `None` leaves them as plain values.
    now_ms: Option<u64>,
    stats: CompactionStats,
}

impl std::fmt::Debug for CompactionIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactionIterator")
            .field("snapshots", &self.snapshots)
            .field("bottommost", &self.bottommost)
            .field("valid", &self.valid)
            .field("error", &self.error)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl CompactionIterator {
    /// Wraps `input` (internal-key order). `snapshots` are the live snapshot seqnos
    /// (sorted and deduplicated here if they are not); `bottommost` allows dropping
    /// tombstones. The iterator starts unpositioned: call
    /// [`seek_to_first`](Self::seek_to_first).
    pub fn new(input: BoxedIterator, mut snapshots: Vec<SeqNo>, bottommost: bool) -> Self {
        snapshots.sort_unstable();
        snapshots.dedup();
        CompactionIterator {
            input,
            snapshots,
            bottommost,
            key: Vec::new(),
            value: Vec::new(),
            valid: false,
            error: None,
            cur_user_key: Vec::new(),
            has_cur: false,
            cur_stripe: None,
            now_ms: None,
            stats: CompactionStats::default(),
        }
    }

    /// Treats values that expired at `now_ms` as tombstones: an expired newest version
    /// of a stripe is written as a tombstone at its seqno — never simply dropped, which
    /// would let an older version show through — and then follows the tombstone rules
    /// (gone at the bottommost level when no snapshot needs it).
    pub fn with_expiry_clock(mut self, now_ms: u64) -> Self {
        self.now_ms = Some(now_ms);
        self
    }

    /// Rewrites the current output entry (a copy of the input's) as a tombstone.
    fn make_current_tombstone(&mut self) {
        if let Some(kind) = self
            .key
            .len()
            .checked_sub(8)
            .and_then(|i| self.key.get_mut(i))
        {
            *kind = ValueKind::Delete as u8;
        }
        self.value.clear();
        self.stats.expired_converted += 1;
    }

    /// Positions at the first surviving entry (restarting the input and the counters).
    pub fn seek_to_first(&mut self) {
        self.has_cur = false;
        self.cur_stripe = None;
        self.stats = CompactionStats::default();
        self.valid = false;
        if self.error.is_some() {
            return;
        }
        self.input.seek_to_first();
        self.find_next();
    }

    /// True when positioned at an entry.
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// The current internal key (empty when not valid).
    pub fn key(&self) -> &[u8] {
        if self.valid { &self.key } else { &[] }
    }

    /// The current value (empty when not valid).
    pub fn value(&self) -> &[u8] {
        if self.valid { &self.value } else { &[] }
    }

    /// Moves to the next surviving entry. Does nothing when not valid.
    pub fn next(&mut self) {
        if self.valid {
            self.valid = false;
            self.find_next();
        }
    }

    /// `Ok` unless the input failed or held a malformed key; the error is sticky.
    pub fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// What was read, written and dropped so far.
    pub fn stats(&self) -> CompactionStats {
        self.stats
    }

    /// The stripe of `seq`: index of the smallest snapshot `>= seq`, or
    /// `snapshots.len()` ("latest") if there is none.
    fn stripe(&self, seq: SeqNo) -> usize {
        self.snapshots.partition_point(|&s| s < seq)
    }

    /// Records a malformed input key; ends the iteration.
    fn corrupt(&mut self) {
        let k = self.input.key();
        let shown: String = k.iter().take(32).map(|b| format!("{b:02x}")).collect();
        self.error = Some(Error::corruption(
            "<compaction input>",
            0,
            format!(
                "malformed internal key ({} bytes: {shown}{})",
                k.len(),
                if k.len() > 32 { "..." } else { "" }
            ),
        ));
        self.valid = false;
    }

    /// Makes the input's current entry the output and advances the input past it.
    fn emit_current(&mut self) {
        self.key.clear();
        self.key.extend_from_slice(self.input.key());
        self.value.clear();
        self.value.extend_from_slice(self.input.value());
        self.input.next();
        self.stats.entries_out += 1;
        self.valid = true;
    }

    /// True (having recorded the error) if the input is exhausted because of an error.
    fn input_failed(&mut self) -> bool {
        if let Err(e) = self.input.status() {
            self.error = Some(e);
            self.valid = false;
            return true;
        }
        false
    }

    /// Advances the input to the next entry that survives, and makes it current.
    /// Invariant: the input is positioned at the first entry not yet consumed.
    fn find_next(&mut self) {
        loop {
            if self.error.is_some() {
                self.valid = false;
                return;
            }
            if !self.input.valid() {
                self.input_failed();
                self.valid = false;
                return;
            }
            let Some(parsed) = parse_internal_key(self.input.key()) else {
                self.corrupt();
                return;
            };
            let (seq, mut kind) = (parsed.seq, parsed.kind);
            let mut expired = false;
            if kind == ValueKind::ValueWithExpiry {
                expired = self
                    .now_ms
                    .is_some_and(|now| shale_core::ttl::is_expired(self.input.value(), now));
                kind = if expired {
                    ValueKind::Delete
                } else {
                    ValueKind::Value
                };
            }
            self.stats.entries_in += 1;
            if !self.has_cur || self.cur_user_key.as_slice() != parsed.user_key {
                self.cur_user_key.clear();
                self.cur_user_key.extend_from_slice(parsed.user_key);
                self.has_cur = true;
                self.cur_stripe = None;
            }
            let stripe = self.stripe(seq);
            match kind {
                // EXTENSION: range tombstones are passed through untouched for now.
                ValueKind::RangeDelete => {
                    self.emit_current();
                    return;
                }
                // EXTENSION: merge operands are not resolved yet; one is kept unless a
                // newer value/tombstone of its stripe hides it, and it does not hide
                // the versions below it (its operands and base).
                ValueKind::Merge => {
                    if self.cur_stripe == Some(stripe) {
                        self.stats.shadowed_dropped += 1;
                        self.input.next();
                        continue;
                    }
                    self.emit_current();
                    return;
                }
                // (An expiring value arrives here already classified as a value or,
                // once expired, a tombstone.)
                ValueKind::Value | ValueKind::Delete | ValueKind::ValueWithExpiry => {
                    if self.cur_stripe == Some(stripe) {
                        self.stats.shadowed_dropped += 1;
                        self.input.next();
                        continue;
                    }
                    self.cur_stripe = Some(stripe);
                    if kind == ValueKind::Value || !self.bottommost {
                        self.emit_current();
                        if expired {
                            self.make_current_tombstone();
                        }
                        return;
                    }
                    if stripe == 0 {
                        // Oldest stripe: every older version is in this stripe too.
                        self.stats.tombstones_dropped += 1;
                        self.input.next();
                        continue;
                    }
                    if self.tombstone_needed(stripe) {
                        if expired {
                            self.make_current_tombstone();
                        }
                        return;
                    }
                    if self.error.is_some() {
                        self.valid = false;
                        return;
                    }
                }
            }
        }
    }

    /// Bottommost tombstone of stripe `stripe > 0` at the input's current entry: looks
    /// ahead past the versions it shadows. If an older stripe holds a version of the
    /// key, the tombstone is kept (made current, true); otherwise it is dropped (false,
    /// the input left at the next key). Errors are recorded.
    fn tombstone_needed(&mut self, stripe: usize) -> bool {
        self.key.clear();
        self.key.extend_from_slice(self.input.key());
        self.value.clear();
        self.value.extend_from_slice(self.input.value());
        self.input.next();
        loop {
            if !self.input.valid() {
                if self.input_failed() {
                    return false;
                }
                break;
            }
            let Some(parsed) = parse_internal_key(self.input.key()) else {
                self.corrupt();
                return false;
            };
            if parsed.user_key != self.cur_user_key.as_slice() {
                break;
            }
            if parsed.kind != ValueKind::RangeDelete && self.stripe(parsed.seq) == stripe {
                self.stats.entries_in += 1;
                self.stats.shadowed_dropped += 1;
                self.input.next();
                continue;
            }
            // An older stripe (or a range tombstone starting here) holds a version the
            // tombstone must keep hiding.
            self.stats.entries_out += 1;
            self.valid = true;
            return true;
        }
        self.stats.tombstones_dropped += 1;
        false
    }
}
