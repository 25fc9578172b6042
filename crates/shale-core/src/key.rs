//! Sequence numbers, value kinds, and the internal key format and order.
//!
//! An *internal key* is the user key followed by an 8-byte little-endian trailer
//! `(seqno << 8) | kind`. Internal keys sort by user key ascending (bytewise), then by
//! trailer descending, so the newest version of a key comes first. See
//! `docs/format/keys.md`.

use std::cmp::Ordering;

use bytes::Bytes;

/// A sequence number: every write gets the next one; 56 bits are usable.
pub type SeqNo = u64;

/// The largest sequence number that fits in an internal key trailer.
pub const MAX_SEQNO: SeqNo = (1 << 56) - 1;

/// The largest user key the engine accepts (64 KiB).
pub const MAX_KEY_SIZE: usize = 64 * 1024;

/// The largest value the engine accepts (values must be smaller than 4 GiB).
pub const MAX_VALUE_SIZE: usize = u32::MAX as usize;

/// Length of the trailer that ends every internal key.
pub const TRAILER_LEN: usize = 8;

/// The kind byte used in seek targets: sorts before every real kind at the same seqno.
pub const KIND_FOR_SEEK: u8 = 0xff;

/// What an entry means. Stored as the low byte of the trailer; values are part of the
/// on-disk format and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ValueKind {
    /// A tombstone: the key is deleted as of this seqno.
    Delete = 0,
    /// A plain value.
    Value = 1,
    /// A merge operand (resolved by the keyspace's merge operator).
    Merge = 2,
    /// A range tombstone: the value holds the exclusive end key.
    RangeDelete = 3,
    /// A value with an absolute expiry: the value is an 8-byte little-endian expiry
    /// (milliseconds since the Unix epoch) followed by the user value. Once the clock
    /// passes the expiry the entry reads as deleted (see [`crate::ttl`]).
    ValueWithExpiry = 4,
}

impl ValueKind {
    /// Decodes a kind byte; `None` for bytes no version of the format uses.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Value),
            2 => Some(ValueKind::Merge),
            3 => Some(ValueKind::RangeDelete),
            4 => Some(ValueKind::ValueWithExpiry),
            _ => None,
        }
    }
}

/// Packs a seqno and a kind byte into a trailer.
#[inline]
pub fn pack_trailer(seq: SeqNo, kind: u8) -> u64 {
    debug_assert!(seq <= MAX_SEQNO);
    (seq << 8) | u64::from(kind)
}

/// Appends the internal key for `(user_key, seq, kind)` to `dst`.
#[inline]
pub fn append_internal_key(dst: &mut Vec<u8>, user_key: &[u8], seq: SeqNo, kind: u8) {
    dst.extend_from_slice(user_key);
    dst.extend_from_slice(&pack_trailer(seq, kind).to_le_bytes());
}

/// Builds the internal key for `(user_key, seq, kind)`.
pub fn make_internal_key(user_key: &[u8], seq: SeqNo, kind: ValueKind) -> Vec<u8> {
    let mut v = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    append_internal_key(&mut v, user_key, seq, kind as u8);
    v
}

/// Splits an internal key into user key and trailer. A key shorter than the trailer
/// (only possible from damaged input) is treated as a user key with trailer 0, so the
/// comparator stays total and never panics; decoders reject such keys separately.
#[inline]
pub fn split_internal_key(ikey: &[u8]) -> (&[u8], u64) {
    match ikey.len().checked_sub(TRAILER_LEN) {
        Some(n) => {
            let (user, trailer) = ikey.split_at(n);
            let mut t = [0u8; 8];
            t.copy_from_slice(trailer);
            (user, u64::from_le_bytes(t))
        }
        None => (ikey, 0),
    }
}

/// The user key part of an internal key.
#[inline]
pub fn user_key(ikey: &[u8]) -> &[u8] {
    split_internal_key(ikey).0
}

/// The seqno of an internal key.
#[inline]
pub fn seqno_of(ikey: &[u8]) -> SeqNo {
    split_internal_key(ikey).1 >> 8
}

/// The raw kind byte of an internal key.
#[inline]
pub fn kind_byte_of(ikey: &[u8]) -> u8 {
    (split_internal_key(ikey).1 & 0xff) as u8
}

/// Decoded parts of a well-formed internal key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The user key.
    pub user_key: &'a [u8],
    /// The sequence number.
    pub seq: SeqNo,
    /// The kind.
    pub kind: ValueKind,
}

/// Parses an internal key; `None` if it is too short or has an unknown kind.
pub fn parse_internal_key(ikey: &[u8]) -> Option<ParsedKey<'_>> {
    if ikey.len() < TRAILER_LEN {
        return None;
    }
    let (user_key, trailer) = split_internal_key(ikey);
    let kind = ValueKind::from_u8((trailer & 0xff) as u8)?;
    Some(ParsedKey {
        user_key,
        seq: trailer >> 8,
        kind,
    })
}

/// The internal key order: user key ascending, then trailer (seqno, kind) descending.
#[inline]
pub fn compare_internal_keys(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ta) = split_internal_key(a);
    let (ub, tb) = split_internal_key(b);
    compare_bytes(ua, ub).then_with(|| tb.cmp(&ta))
}

/// Bytewise order, as `<[u8]>::cmp`, for the short keys every lookup compares
/// dozens of times: eight bytes at a time inline (as big-endian words, which order
/// like their bytes), where the slice order calls `memcmp` for each comparison.
/// Long keys still go to `memcmp`.
#[inline]
pub fn compare_bytes(a: &[u8], b: &[u8]) -> Ordering {
    const INLINE_MAX: usize = 32;
    let n = a.len().min(b.len());
    if n > INLINE_MAX {
        return a.cmp(b);
    }
    let (a8, b8) = (a.get(..n).unwrap_or(a), b.get(..n).unwrap_or(b));
    let (wa, wb) = (a8.chunks_exact(8), b8.chunks_exact(8));
    let (ta, tb) = (wa.remainder(), wb.remainder());
    let word = |c: &[u8]| u64::from_be_bytes(c.try_into().unwrap_or([0; 8]));
    for (x, y) in wa.zip(wb) {
        let (x, y) = (word(x), word(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    // The remainders have the same length (under eight bytes).
    for (x, y) in ta.iter().zip(tb) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// An owned internal key that orders by [`compare_internal_keys`]; the memtable's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InternalKey(pub Bytes);

impl InternalKey {
    /// Builds an owned internal key.
    pub fn new(user_key: &[u8], seq: SeqNo, kind: u8) -> Self {
        let mut v = Vec::with_capacity(user_key.len() + TRAILER_LEN);
        append_internal_key(&mut v, user_key, seq, kind);
        InternalKey(Bytes::from(v))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The user key part.
    pub fn user_key(&self) -> &[u8] {
        user_key(&self.0)
    }
}

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_internal_keys(&self.0, &other.0)
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A seek target: positions an iterator at the newest entry of `user_key` whose seqno
/// is at most `seq` (or at the next user key if there is none).
#[derive(Debug, Clone)]
pub struct LookupKey(Vec<u8>);

impl LookupKey {
    /// The target for reading `user_key` as of `seq`.
    pub fn new(user_key: &[u8], seq: SeqNo) -> Self {
        Self::new_in(
            Vec::with_capacity(user_key.len() + TRAILER_LEN),
            user_key,
            seq,
        )
    }

    /// [`LookupKey::new`] built in `buf` (cleared first), so a caller that keeps a
    /// buffer ([`into_buffer`](Self::into_buffer)) looks keys up without allocating.
    pub fn new_in(mut buf: Vec<u8>, user_key: &[u8], seq: SeqNo) -> Self {
        buf.clear();
        append_internal_key(&mut buf, user_key, seq.min(MAX_SEQNO), KIND_FOR_SEEK);
        LookupKey(buf)
    }

    /// The buffer back, for the next [`new_in`](Self::new_in).
    pub fn into_buffer(self) -> Vec<u8> {
        self.0
    }

    /// The encoded internal key.
    pub fn internal_key(&self) -> &[u8] {
        &self.0
    }

    /// The user key.
    pub fn user_key(&self) -> &[u8] {
        user_key(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newest_version_sorts_first() {
        let a5 = make_internal_key(b"a", 5, ValueKind::Value);
        let a3 = make_internal_key(b"a", 3, ValueKind::Delete);
        let b9 = make_internal_key(b"b", 9, ValueKind::Value);
        let ab1 = make_internal_key(b"ab", 1, ValueKind::Value);
        let mut v = vec![b9.clone(), a3.clone(), ab1.clone(), a5.clone()];
        v.sort_by(|x, y| compare_internal_keys(x, y));
        assert_eq!(v, vec![a5, a3, ab1, b9]);
    }

    #[test]
    fn lookup_key_lands_on_visible_version() {
        let a5 = make_internal_key(b"a", 5, ValueKind::Value);
        let a3 = make_internal_key(b"a", 3, ValueKind::Value);
        let at4 = LookupKey::new(b"a", 4);
        assert_eq!(
            compare_internal_keys(at4.internal_key(), &a5),
            Ordering::Greater
        );
        assert_eq!(
            compare_internal_keys(at4.internal_key(), &a3),
            Ordering::Less
        );
        let at5 = LookupKey::new(b"a", 5);
        assert_eq!(
            compare_internal_keys(at5.internal_key(), &a5),
            Ordering::Less
        );
    }

    #[test]
    fn parse_rejects_damage() {
        assert!(parse_internal_key(b"short").is_none());
        let mut k = make_internal_key(b"k", 7, ValueKind::Value);
        let n = k.len();
        k[n - 8] = 0x77; // unknown kind
        assert!(parse_internal_key(&k).is_none());
        let ok = make_internal_key(b"k", MAX_SEQNO, ValueKind::Merge);
        let p = parse_internal_key(&ok).unwrap();
        assert_eq!(
            (p.user_key, p.seq, p.kind),
            (&b"k"[..], MAX_SEQNO, ValueKind::Merge)
        );
    }

    proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AA1E),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

        #[test]
        fn order_matches_tuple_order(
            ka in proptest::collection::vec(any::<u8>(), 0..6), sa in 0u64..1000,
            kb in proptest::collection::vec(any::<u8>(), 0..6), sb in 0u64..1000,
        ) {
            let a = make_internal_key(&ka, sa, ValueKind::Value);
            let b = make_internal_key(&kb, sb, ValueKind::Value);
            let expected = ka.cmp(&kb).then(sb.cmp(&sa));
            prop_assert_eq!(compare_internal_keys(&a, &b), expected);
        }

        /// Pairs that share a long head (the inline words tie) and differ near
        /// the end, in the remainder, in length only, or past the inline limit.
        #[test]
        fn compare_bytes_matches_the_slice_order(
            head in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xffu8), any::<u8>()], 0..40),
            ta in proptest::collection::vec(prop_oneof![Just(0u8), Just(0x80u8), any::<u8>()], 0..10),
            tb in proptest::collection::vec(prop_oneof![Just(0u8), Just(0x80u8), any::<u8>()], 0..10),
        ) {
            let a = [head.as_slice(), &ta].concat();
            let b = [head.as_slice(), &tb].concat();
            prop_assert_eq!(compare_bytes(&a, &b), a.cmp(&b));
            prop_assert_eq!(compare_bytes(&b, &a), b.cmp(&a));
            prop_assert_eq!(compare_bytes(&a, &a), std::cmp::Ordering::Equal);
        }
    }
}
