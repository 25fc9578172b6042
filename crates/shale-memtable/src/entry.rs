//! [`Entry`]: one point entry as the skiplist holds it, and the borrowed form
//! ([`KeyView`], [`Probe`]) that lets lookups search without building an entry.

use std::borrow::Borrow;
use std::cmp::Ordering;

use bytes::Bytes;
use shale_core::key::{compare_internal_keys, split_internal_key};

/// The first 16 bytes of an internal key's user key as two big-endian words,
/// zero-padded when shorter. Comparing two of these orders like the user keys
/// wherever they differ (a zero pad sorts before every byte, as the end of a shorter
/// key does), so a skiplist search decides most steps from the node alone, without
/// following the pointer to the key bytes: one cache miss per step instead of two.
/// Equal prefixes fall back to the full comparison. Sixteen bytes, not eight,
/// because keys often share a longer head than eight bytes (`user:0000…`, a
/// front end's tag byte in front of `key:…`), and such keys would tie on every step.
pub(crate) fn key_prefix(internal_key: &[u8]) -> Prefix {
    let (user, _) = split_internal_key(internal_key);
    let mut p = [0u8; 16];
    let n = user.len().min(16);
    if let (Some(dst), Some(src)) = (p.get_mut(..n), user.get(..n)) {
        dst.copy_from_slice(src);
    }
    let (hi, lo) = p.split_at(8);
    let word = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
    (word(hi), word(lo))
}

/// A [`key_prefix`]: two big-endian words, compared in order (not a `u128`, whose
/// 16-byte alignment would pad every skiplist node).
pub(crate) type Prefix = (u64, u64);

/// Orders two internal keys given their [`key_prefix`]es: the prefixes first, the
/// bytes only on a tie.
fn compare_with_prefix(pa: Prefix, a: &[u8], pb: Prefix, b: &[u8]) -> Ordering {
    pa.cmp(&pb).then_with(|| compare_internal_keys(a, b))
}

/// One point entry: `internal key ‖ value` in one buffer, ordered by the internal key
/// alone ([`compare_internal_keys`]). Cloning is a refcount bump.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// [`key_prefix`] of the internal key, inline in the skiplist node.
    prefix: Prefix,
    data: Bytes,
    /// Length of the internal key at the front of `data` (user keys are at most
    /// 64 KiB, so it fits).
    key_len: u32,
    /// True when `data` is a slice of an arena chunk that other entries share; false
    /// when the entry has an allocation of its own.
    in_chunk: bool,
}

impl Entry {
    /// `data` holds the internal key (`key_len` bytes) followed by the value.
    pub(crate) fn new(data: Bytes, key_len: usize, in_chunk: bool) -> Self {
        debug_assert!(key_len <= data.len());
        let key_len = u32::try_from(key_len.min(data.len())).unwrap_or(u32::MAX);
        Entry {
            prefix: key_prefix(data.get(..key_len as usize).unwrap_or(&[])),
            data,
            key_len,
            in_chunk,
        }
    }

    /// The internal key.
    pub(crate) fn internal_key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }

    /// The value.
    pub(crate) fn value(&self) -> &[u8] {
        &self.data[self.key_len as usize..]
    }

    /// The value as a `Bytes` that does not keep a shared arena chunk alive: a copy
    /// for an entry in a chunk, a zero-copy slice for one with its own allocation.
    pub(crate) fn detached_value(&self) -> Bytes {
        if self.in_chunk {
            Bytes::copy_from_slice(self.value())
        } else {
            self.data.slice(self.key_len as usize..)
        }
    }
}

/// An internal key the skiplist can compare with its entries: an [`Entry`], or a
/// [`Probe`] built from a borrowed target, so a lookup allocates nothing.
pub(crate) trait KeyView {
    /// The encoded internal key.
    fn internal_key(&self) -> &[u8];
    /// Its [`key_prefix`].
    fn prefix(&self) -> Prefix;
}

impl KeyView for Entry {
    fn internal_key(&self) -> &[u8] {
        Entry::internal_key(self)
    }

    fn prefix(&self) -> Prefix {
        self.prefix
    }
}

/// A borrowed internal key to search for.
pub(crate) struct Probe<'a> {
    key: &'a [u8],
    prefix: Prefix,
}

impl<'a> Probe<'a> {
    /// A probe for the encoded internal key `key`.
    pub(crate) fn new(key: &'a [u8]) -> Self {
        Probe {
            key,
            prefix: key_prefix(key),
        }
    }
}

impl KeyView for Probe<'_> {
    fn internal_key(&self) -> &[u8] {
        self.key
    }

    fn prefix(&self) -> Prefix {
        self.prefix
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for dyn KeyView + '_ {}

impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_with_prefix(
            self.prefix(),
            self.internal_key(),
            other.prefix(),
            other.internal_key(),
        )
    }
}

/// The borrowed form orders exactly like the entry (both by the internal key), as
/// `Borrow` requires.
impl<'a> Borrow<dyn KeyView + 'a> for Entry {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_with_prefix(
            self.prefix,
            self.internal_key(),
            other.prefix,
            other.internal_key(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use shale_core::key::append_internal_key;

    fn ikey(user: &[u8], seq: u64, kind: u8) -> Vec<u8> {
        let mut v = Vec::new();
        append_internal_key(&mut v, user, seq, kind);
        v
    }

    /// Short keys, zero bytes and shared 16-byte prefixes are where a prefix could
    /// disagree with the bytes: bias the keys towards them.
    fn user_key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), Just(0xffu8), any::<u8>()],
            0..20,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x9AEF1),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn prefix_order_agrees_with_internal_key_order(
            a in user_key(), b in user_key(), sa in 0u64..4, sb in 0u64..4,
        ) {
            let (ka, kb) = (ikey(&a, sa, 1), ikey(&b, sb, 1));
            let expected = compare_internal_keys(&ka, &kb);
            prop_assert_eq!(compare_with_prefix(key_prefix(&ka), &ka, key_prefix(&kb), &kb), expected);
            let (ea, eb) = (Entry::new(Bytes::from(ka.clone()), ka.len(), false), Entry::new(Bytes::from(kb.clone()), kb.len(), false));
            prop_assert_eq!(ea.cmp(&eb), expected);
            let (pa, pb) = (Probe::new(&ka), Probe::new(&kb));
            prop_assert_eq!((&pa as &dyn KeyView).cmp(&eb as &dyn KeyView), expected);
            prop_assert_eq!((&ea as &dyn KeyView).cmp(&pb as &dyn KeyView), expected);
        }
    }

    #[test]
    fn prefixes_of_short_and_padded_keys() {
        assert_eq!(key_prefix(&ikey(b"", 1, 1)), (0, 0));
        assert_eq!(key_prefix(&ikey(b"a", 1, 1)), (0x6100_0000_0000_0000, 0));
        // "a" and "a\0" share a prefix: the bytes decide, and "a" sorts first.
        let (a, a0) = (ikey(b"a", 1, 1), ikey(b"a\0", 1, 1));
        assert_eq!(key_prefix(&a), key_prefix(&a0));
        assert_eq!(
            compare_with_prefix(key_prefix(&a), &a, key_prefix(&a0), &a0),
            Ordering::Less
        );
        // Only the first 16 bytes count.
        assert_eq!(
            key_prefix(&ikey(b"abcdefghijklmnopZ", 1, 1)),
            key_prefix(&ikey(b"abcdefghijklmnopA", 1, 1))
        );
        assert_ne!(
            key_prefix(&ikey(b"abcdefghZ", 1, 1)),
            key_prefix(&ikey(b"abcdefghA", 1, 1))
        );
    }
}
