//! Order-preserving encoding of an item's primary key into an engine key, so that
//! one partition is one contiguous engine range sorted by sort key
//! (see `docs/format/dynamo.md`).

use std::ops::Bound;

use crate::types::value::AttributeValue;

/// Appends the order-preserving, self-delimiting encoding of a key value.
///
/// `S` and `B`: the bytes with each `0x00` written `0x00 0xFF`, then `0x00 0x01`.
/// `N`: a class byte (`0x01` negative, `0x02` zero, `0x03` positive), then for
/// non-zero numbers the exponent biased by `0x8000` as big-endian `u16` and one byte
/// per digit (`d + 1`), ended by `0x00`; for negative numbers every byte after the
/// class is inverted (`0xFF - b`) so larger magnitudes sort first.
pub fn encode_value(out: &mut Vec<u8>, v: &AttributeValue) {
    match v {
        AttributeValue::S(s) => encode_bytes(out, s.as_bytes()),
        AttributeValue::B(b) => encode_bytes(out, b),
        AttributeValue::N(n) => {
            if n.is_zero() {
                out.push(0x02);
                return;
            }
            let start = out.len() + 1;
            out.push(if n.is_negative() { 0x01 } else { 0x03 });
            // The exponent is within -129..=126 for any stored number.
            let biased = u16::try_from(n.exponent() + 0x8000).unwrap_or(0x8000);
            out.extend_from_slice(&biased.to_be_bytes());
            out.extend(n.digits().iter().map(|d| d + 1));
            out.push(0x00);
            if n.is_negative()
                && let Some(tail) = out.get_mut(start..)
            {
                for b in tail {
                    *b = 0xFF - *b;
                }
            }
        }
        // Other types never reach a key: key attributes are checked first.
        _ => {}
    }
}

/// Appends escaped `bytes` (`0x00` → `0x00 0xFF`) without the terminator: the
/// prefix every encoding of a value starting with `bytes` has.
pub fn encode_prefix(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

fn encode_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    encode_prefix(out, bytes);
    out.extend_from_slice(&[0x00, 0x01]);
}

/// The engine key of an item with partition key `pk` and optional sort key `sk`.
pub fn item_key(pk: &AttributeValue, sk: Option<&AttributeValue>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(&mut out, pk);
    if let Some(sk) = sk {
        encode_value(&mut out, sk);
    }
    out
}

/// The smallest key greater than every key starting with `prefix` (`None`: no
/// such key, the prefix is all `0xFF`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

/// Engine key bounds `(lower, upper)`.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The range of every key starting with `prefix`.
pub fn prefix_range(prefix: &[u8]) -> KeyRange {
    (
        Bound::Included(prefix.to_vec()),
        prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::number::Number;

    fn n(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        encode_value(&mut v, &AttributeValue::N(Number::parse(s).unwrap()));
        v
    }

    #[test]
    fn numbers_sort_numerically() {
        let order = [
            "-1e100", "-1000", "-99.5", "-1.5", "-1", "-0.5", "-0.05", "-1e-100", "0", "1e-100",
            "0.05", "0.5", "1", "1.5", "99.5", "1000", "1e100",
        ];
        for w in order.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn documented_examples() {
        // docs/format/dynamo.md shows these bytes.
        assert_eq!(n("0"), [0x02]);
        assert_eq!(n("1"), [0x03, 0x80, 0x01, 0x02, 0x00]);
        assert_eq!(n("1.5"), [0x03, 0x80, 0x01, 0x02, 0x06, 0x00]);
        assert_eq!(n("10"), [0x03, 0x80, 0x02, 0x02, 0x00]);
        assert_eq!(n("0.05"), [0x03, 0x7F, 0xFF, 0x06, 0x00]);
        assert_eq!(n("-1"), [0x01, 0x7F, 0xFE, 0xFD, 0xFF]);
        assert_eq!(n("-1.5"), [0x01, 0x7F, 0xFE, 0xFD, 0xF9, 0xFF]);
        let mut v = Vec::new();
        encode_value(&mut v, &AttributeValue::S("a\0b".into()));
        assert_eq!(v, [0x61, 0x00, 0xFF, 0x62, 0x00, 0x01]);
    }

    #[test]
    fn strings_with_zero_bytes_sort() {
        let s = |b: &[u8]| {
            let mut v = Vec::new();
            encode_value(&mut v, &AttributeValue::B(b.to_vec()));
            v
        };
        assert!(s(b"a") < s(b"a\0"));
        assert!(s(b"a\0") < s(b"a\x01"));
        assert!(s(b"") < s(b"\0"));
    }
}
