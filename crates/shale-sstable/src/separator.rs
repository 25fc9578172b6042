//! Short index keys: separators between blocks and a successor after the last block.

use shale_core::MAX_SEQNO;
use shale_core::key::{KIND_FOR_SEEK, append_internal_key, user_key};

/// A key `s` with `a <= s < b` in internal-key order, shorter than `a` when possible
/// (LevelDB's `FindShortestSeparator` applied to the user keys). Requires `a < b`.
pub fn shortest_separator(a: &[u8], b: &[u8]) -> Vec<u8> {
    let (ua, ub) = (user_key(a), user_key(b));
    let n = ua.iter().zip(ub).take_while(|(x, y)| x == y).count();
    if let (Some(&ca), Some(&cb)) = (ua.get(n), ub.get(n))
        && ca < 0xff
        && ca + 1 < cb
        && n + 1 < ua.len()
    {
        // ua[..n] ++ [ca + 1] is > ua (differs at n) and < ub (ca + 1 < cb).
        let mut s = Vec::with_capacity(n + 1 + 8);
        s.extend_from_slice(&ua[..n]);
        s.push(ca + 1);
        let mut key = Vec::with_capacity(s.len() + 8);
        append_internal_key(&mut key, &s, MAX_SEQNO, KIND_FOR_SEEK);
        return key;
    }
    a.to_vec()
}

/// A short key `s >= a`: the first byte of `a`'s user key that is not 0xff, plus one,
/// when that is shorter than `a` (LevelDB's `FindShortSuccessor`).
pub fn short_successor(a: &[u8]) -> Vec<u8> {
    let ua = user_key(a);
    if let Some(i) = ua.iter().position(|&c| c != 0xff)
        && i + 1 < ua.len()
    {
        let mut s = ua[..=i].to_vec();
        s[i] += 1;
        let mut key = Vec::with_capacity(s.len() + 8);
        append_internal_key(&mut key, &s, MAX_SEQNO, KIND_FOR_SEEK);
        return key;
    }
    a.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use shale_core::key::make_internal_key;
    use shale_core::{ValueKind, compare_internal_keys};
    use std::cmp::Ordering;

    #[test]
    fn shortens() {
        let a = make_internal_key(b"abcdefg", 5, ValueKind::Value);
        let b = make_internal_key(b"abzzz", 9, ValueKind::Value);
        let s = shortest_separator(&a, &b);
        assert_eq!(user_key(&s), b"abd");
        let s = short_successor(&a);
        assert_eq!(user_key(&s), b"b");
        // Same user key: keep a.
        let a2 = make_internal_key(b"abc", 3, ValueKind::Value);
        let b2 = make_internal_key(b"abc", 2, ValueKind::Value);
        assert_eq!(shortest_separator(&a2, &b2), a2);
    }

    proptest! {
        #[test]
        fn separator_between(ka in proptest::collection::vec(any::<u8>(), 0..8), sa in 0u64..4,
                             kb in proptest::collection::vec(any::<u8>(), 0..8), sb in 0u64..4) {
            let a = make_internal_key(&ka, sa, ValueKind::Value);
            let b = make_internal_key(&kb, sb, ValueKind::Delete);
            let (a, b) = match compare_internal_keys(&a, &b) {
                Ordering::Less => (a, b),
                Ordering::Greater => (b, a),
                Ordering::Equal => return Ok(()),
            };
            let s = shortest_separator(&a, &b);
            prop_assert!(compare_internal_keys(&a, &s) != Ordering::Greater);
            prop_assert!(compare_internal_keys(&s, &b) == Ordering::Less);
            prop_assert!(s.len() <= a.len());
            let t = short_successor(&a);
            prop_assert!(compare_internal_keys(&a, &t) != Ordering::Greater);
            prop_assert!(t.len() <= a.len());
        }
    }
}
