//! [`IndexHeads`]: a compact search array over a table's pinned index block, so a
//! point lookup finds its data block touching a few cache lines instead of two per
//! binary-search step.
//!
//! The index block holds one entry per data block, each at a restart point, and
//! `BlockIter::seek` binary-searches its restart array: every step loads a restart
//! offset and then the entry it points at, two cache misses apart in a block of
//! hundreds of kilobytes (a 64 MiB table has ~16,000 entries, so ~14 steps). This
//! array keeps, per entry, the eight bytes of its separator's user key that follow
//! the prefix every separator shares, as a big-endian `u64` (zero-padded when the key
//! is shorter): 8 bytes per data block, searched in one contiguous slice whose upper
//! levels stay in cache from lookup to lookup. Heads order like the keys wherever they
//! differ; where they tie, the search compares full keys read from the block. The last
//! entry has no head: its separator is the table's short successor (`key:…` ends in
//! `l`), which would leave no prefix shared by all, so it is compared in full.
//!
//! Built from the index block when the table opens and kept in memory only, so it is
//! not a format. An index block it cannot describe (damaged, or not one entry per
//! restart point) gets no heads, and lookups take the ordinary seek, which reports the
//! damage.

use std::cmp::Ordering;
use std::path::Path;

use shale_core::InternalIterator;
use shale_core::key::{compare_internal_keys, user_key};

use crate::block::{Block, BlockIter};

/// Eight key bytes per index entry but the last, after the prefix they all share.
#[derive(Debug)]
pub(crate) struct IndexHeads {
    /// The user-key bytes every separator but the last starts with.
    common: Box<[u8]>,
    /// `head(separator i)`, for every index entry `i` but the last, in order.
    heads: Box<[u64]>,
}

/// Bytes `skip..skip + 8` of `user_key` as a big-endian word, zero-padded.
fn head(user_key: &[u8], skip: usize) -> u64 {
    let mut word = [0u8; 8];
    let tail = user_key.get(skip..).unwrap_or(&[]);
    let n = tail.len().min(8);
    if let (Some(dst), Some(src)) = (word.get_mut(..n), tail.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(word)
}

impl IndexHeads {
    /// The heads of `index`, or `None` when it is empty, does not hold exactly one
    /// entry per restart point, or does not decode.
    pub(crate) fn build(index: &Block) -> Option<IndexHeads> {
        let n = index.num_restarts();
        if index.is_empty() {
            return None;
        }
        let with_heads = n - 1;
        let first = index.restart_key(0).map(user_key)?;
        let last_with_head = index
            .restart_key(with_heads.saturating_sub(1))
            .map(user_key)?;
        let skip = match with_heads {
            0 => 0,
            _ => first
                .iter()
                .zip(last_with_head)
                .take_while(|(a, b)| a == b)
                .count(),
        };
        let common: Box<[u8]> = first.get(..skip)?.into();
        let mut heads = Vec::with_capacity(with_heads);
        let mut it = BlockIter::new(index, Path::new(""), 0);
        it.seek_to_first();
        let mut entries = 0;
        while it.valid() {
            if entries >= n || index.restart_point(entries) != it.entry_offset() {
                return None;
            }
            if entries < with_heads {
                heads.push(head(user_key(it.key()), skip));
            }
            entries += 1;
            it.next();
        }
        if it.status().is_err() || entries != n {
            return None;
        }
        Some(IndexHeads {
            common,
            heads: heads.into(),
        })
    }

    /// Bytes of memory held.
    pub(crate) fn memory_usage(&self) -> usize {
        self.common.len() + self.heads.len() * 8 + std::mem::size_of::<Self>()
    }

    /// The position of the first entry of `index` (the block these heads were built
    /// from) whose key is `>= target`, an internal key: the number of entries when
    /// there is none, `None` when a key it had to read does not decode.
    pub(crate) fn lower_bound(&self, index: &Block, target: &[u8]) -> Option<usize> {
        let with_heads = self.heads.len();
        let user = user_key(target);
        let skip = self.common.len();
        // Every separator with a head starts with `common`: a target that does not
        // sorts before or after all of them.
        let order = match with_heads {
            0 => Ordering::Greater,
            _ => user.get(..skip.min(user.len()))?.cmp(&self.common),
        };
        match order {
            Ordering::Less => return Some(0),
            Ordering::Greater => {}
            Ordering::Equal => {
                let wanted = head(user, skip);
                let (mut lo, mut hi) = (0, with_heads);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let order = match self.heads.get(mid)?.cmp(&wanted) {
                        Ordering::Equal => compare_internal_keys(index.restart_key(mid)?, target),
                        unequal => unequal,
                    };
                    if order == Ordering::Less {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                if lo < with_heads {
                    return Some(lo);
                }
            }
        }
        // Past every entry with a head: the last entry, or past the end.
        match compare_internal_keys(index.restart_key(with_heads)?, target) {
            Ordering::Less => Some(with_heads + 1),
            _ => Some(with_heads),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::BlockBuilder;
    use proptest::prelude::*;
    use shale_core::key::make_internal_key;

    fn index_of(keys: &[Vec<u8>], interval: usize) -> Block {
        let mut b = BlockBuilder::new(interval);
        for (i, k) in keys.iter().enumerate() {
            b.add(k, &(i as u32).to_le_bytes());
        }
        Block::new(bytes::Bytes::copy_from_slice(b.finish())).unwrap()
    }

    /// The position `BlockIter::seek` lands on, as an entry number.
    fn seek_position(block: &Block, keys: &[Vec<u8>], target: &[u8]) -> usize {
        let mut it = BlockIter::new(block, Path::new(""), 0);
        it.seek(target);
        if !it.valid() {
            return keys.len();
        }
        keys.iter().position(|k| k == it.key()).unwrap()
    }

    fn sorted_internal_keys(users: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let mut users = users;
        users.sort();
        users.dedup();
        users
            .iter()
            .enumerate()
            .map(|(i, u)| make_internal_key(u, 1000 - i as u64, shale_core::ValueKind::Value))
            .collect()
    }

    #[test]
    fn shared_prefixes_and_ties_find_what_seek_finds() {
        // Long shared heads (ties on all eight bytes) and a key equal to the prefix.
        let users: Vec<Vec<u8>> = [
            "key:",
            "key:0000000001a",
            "key:0000000001b",
            "key:1",
            "key:2",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let keys = sorted_internal_keys(users);
        let block = index_of(&keys, 1);
        let heads = IndexHeads::build(&block).unwrap();
        assert_eq!(&*heads.common, b"key:");
        for probe in [
            "",
            "a",
            "key",
            "key:",
            "key:0",
            "key:0000000001a",
            "key:0000000001c",
            "key:3",
            "kez",
        ] {
            for seq in [0, 995, u64::MAX >> 8] {
                let target = make_internal_key(probe.as_bytes(), seq, shale_core::ValueKind::Value);
                assert_eq!(
                    heads.lower_bound(&block, &target),
                    Some(seek_position(&block, &keys, &target)),
                    "probe {probe:?} at {seq}"
                );
            }
        }
    }

    #[test]
    fn not_one_entry_per_restart_gets_no_heads() {
        let keys = sorted_internal_keys((0..40u8).map(|i| vec![b'k', i]).collect());
        assert!(IndexHeads::build(&index_of(&keys, 16)).is_none());
        assert!(IndexHeads::build(&index_of(&keys, 1)).is_some());
        assert!(IndexHeads::build(&index_of(&[], 1)).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

        /// Against the block's own seek, for keys over a small alphabet (long shared
        /// prefixes, equal heads, keys that are prefixes of others).
        #[test]
        fn lower_bound_matches_block_seek(
            users in prop::collection::vec(prop::collection::vec(0u8..3, 0..14), 1..60),
            probes in prop::collection::vec((prop::collection::vec(0u8..3, 0..14), 0u64..1100), 1..40),
            successor in any::<bool>(),
        ) {
            let mut keys = sorted_internal_keys(users);
            if successor {
                // A table's last separator: the short successor of its last key.
                let last = keys.last().unwrap().clone();
                let succ = crate::short_successor(&last);
                if succ != last {
                    keys.push(succ);
                }
            }
            let block = index_of(&keys, 1);
            let heads = IndexHeads::build(&block).unwrap();
            for (user, seq) in probes {
                let target = make_internal_key(&user, seq, shale_core::ValueKind::Value);
                prop_assert_eq!(
                    heads.lower_bound(&block, &target),
                    Some(seek_position(&block, &keys, &target))
                );
            }
        }
    }
}
