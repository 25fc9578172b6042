//! [`KeyFilter`]: a bloom filter over the user keys in one memtable, so that a point
//! lookup of a key the memtable does not hold skips the skiplist search (RocksDB's
//! `memtable_whole_key_filtering`).
//!
//! A search of a large memtable costs a few dozen key comparisons, most of them cache
//! misses, and a lookup asks every memtable (active and frozen) before the tables. The
//! filter answers "not here" with one cache line: like the table filter
//! (`shale-sstable`'s `filter.rs`), every key sets and tests its bits inside one
//! 512-bit line chosen by its XXH3-64 hash. It lives in memory only, so its layout is
//! not a format. Bits are set with atomic `fetch_or`, so inserting needs no lock and
//! readers never wait; a bit set before the entry's seqno was published is visible to
//! every reader that can see the entry.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bits tested per key: about 0.5 % false positives at 12 bits per key, and far fewer
/// at the 20–40 bits per key a memtable of typical entries gets.
const PROBES: u32 = 6;
const WORDS_PER_LINE: usize = 8;
const LINE_BYTES: usize = WORDS_PER_LINE * 8;
const PROBE_MULTIPLIER: u32 = 0x9e37_79b9;

/// A concurrent, insert-only blocked bloom filter over user keys.
#[derive(Debug)]
pub(crate) struct KeyFilter {
    lines: Box<[[AtomicU64; WORDS_PER_LINE]]>,
}

impl KeyFilter {
    /// A filter of about `bytes` bytes (rounded down to whole 64-byte lines), or `None`
    /// when that is less than one line.
    pub(crate) fn with_bytes(bytes: usize) -> Option<KeyFilter> {
        let n = bytes / LINE_BYTES;
        if n == 0 {
            return None;
        }
        let lines = (0..n)
            .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
            .collect();
        Some(KeyFilter { lines })
    }

    /// Bytes the filter occupies.
    pub(crate) fn size_bytes(&self) -> usize {
        self.lines.len() * LINE_BYTES
    }

    /// Records `user_key`.
    pub(crate) fn insert(&self, user_key: &[u8]) {
        let (line, mut p) = self.locate(user_key);
        if let Some(line) = self.lines.get(line) {
            for _ in 0..PROBES {
                let bit = p >> 23;
                if let Some(word) = line.get((bit / 64) as usize) {
                    word.fetch_or(1 << (bit % 64), Ordering::Relaxed);
                }
                p = p.wrapping_mul(PROBE_MULTIPLIER);
            }
        }
    }

    /// False if `user_key` was certainly never inserted.
    pub(crate) fn may_contain(&self, user_key: &[u8]) -> bool {
        let (line, mut p) = self.locate(user_key);
        let Some(line) = self.lines.get(line) else {
            return true;
        };
        for _ in 0..PROBES {
            let bit = p >> 23;
            let set = line
                .get((bit / 64) as usize)
                .is_none_or(|w| w.load(Ordering::Relaxed) & (1 << (bit % 64)) != 0);
            if !set {
                return false;
            }
            p = p.wrapping_mul(PROBE_MULTIPLIER);
        }
        true
    }

    /// The line of `user_key` and the seed of its bit positions.
    fn locate(&self, user_key: &[u8]) -> (usize, u32) {
        let h = xxhash_rust::xxh3::xxh3_64(user_key);
        let n = self.lines.len() as u64;
        // Lemire's multiply-shift maps the high half onto 0..n without a division.
        let line = ((h >> 32) * n) >> 32;
        (line as usize, h as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_small_is_none() {
        assert!(KeyFilter::with_bytes(63).is_none());
        assert_eq!(
            KeyFilter::with_bytes(130).map(|f| f.size_bytes()),
            Some(128)
        );
    }

    #[test]
    fn inserted_keys_are_always_found() {
        let f = KeyFilter::with_bytes(1024).unwrap();
        let keys: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        for k in &keys {
            f.insert(k);
        }
        // Overfull (4 bits per key), yet never a false negative.
        assert!(keys.iter().all(|k| f.may_contain(k)));
    }

    #[test]
    fn false_positive_rate_is_low_at_sixteen_bits_per_key() {
        let n = 10_000u32;
        let f = KeyFilter::with_bytes(n as usize * 2).unwrap();
        for i in 0..n {
            f.insert(format!("key{i}").as_bytes());
        }
        let fp = (n..11 * n)
            .filter(|i| f.may_contain(format!("key{i}").as_bytes()))
            .count();
        let rate = fp as f64 / (10 * n) as f64;
        assert!(rate < 0.01, "false-positive rate {rate}");
    }
}
