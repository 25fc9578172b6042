#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Property tests: the engine key encoding sorts exactly as DynamoDB orders key
//! values (S by UTF-8 bytes, B by unsigned bytes, N numerically), also inside
//! composite (partition, sort) keys.

use std::cmp::Ordering;

use proptest::prelude::*;
use shale_dynamo::keys::{encode_value, item_key};
use shale_dynamo::types::number::Number;
use shale_dynamo::types::value::AttributeValue;

fn enc(v: &AttributeValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(&mut out, v);
    out
}

/// Any valid DynamoDB number as text: up to 38 digits, exponent in range.
fn number() -> impl Strategy<Value = Number> {
    (
        any::<bool>(),
        proptest::collection::vec(0u8..10, 1..38),
        -90i32..88,
    )
        .prop_map(|(neg, digits, exp)| {
            let d: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let s = format!("{}{}e{}", if neg { "-" } else { "" }, d, exp);
            Number::parse(&s).unwrap()
        })
}

/// Small numbers with an exact i128 value `m * 10^(e + 20)`.
fn small() -> impl Strategy<Value = (i64, i32)> {
    (-1_000_000_000_000i64..1_000_000_000_000, -10i32..10)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn strings_sort_by_utf8_bytes(a in ".{0,12}", b in ".{0,12}") {
        let (ea, eb) = (enc(&AttributeValue::S(a.clone())), enc(&AttributeValue::S(b.clone())));
        prop_assert_eq!(ea.cmp(&eb), a.as_bytes().cmp(b.as_bytes()));
    }

    #[test]
    fn binaries_sort_unsigned(a in proptest::collection::vec(any::<u8>(), 0..12),
                              b in proptest::collection::vec(prop_oneof![Just(0u8), Just(255u8), any::<u8>()], 0..12)) {
        let (ea, eb) = (enc(&AttributeValue::B(a.clone())), enc(&AttributeValue::B(b.clone())));
        prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
    }

    #[test]
    fn numbers_sort_numerically(a in number(), b in number()) {
        let (ea, eb) = (enc(&AttributeValue::N(a.clone())), enc(&AttributeValue::N(b.clone())));
        prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        prop_assert_eq!(a == b, ea == eb);
    }

    #[test]
    fn number_order_matches_exact_arithmetic((ma, xa) in small(), (mb, xb) in small()) {
        let a = Number::parse(&format!("{ma}e{xa}")).unwrap();
        let b = Number::parse(&format!("{mb}e{xb}")).unwrap();
        let exact = |m: i64, x: i32| i128::from(m) * 10i128.pow((x + 10) as u32);
        prop_assert_eq!(a.cmp(&b), exact(ma, xa).cmp(&exact(mb, xb)));
        prop_assert_eq!(enc(&AttributeValue::N(a.clone())).cmp(&enc(&AttributeValue::N(b.clone()))),
                        exact(ma, xa).cmp(&exact(mb, xb)));
        // Addition is exact too.
        let sum = a.add(&b).unwrap();
        let want = exact(ma, xa) + exact(mb, xb);
        let got = Number::parse(&format!("{want}e-10")).unwrap();
        prop_assert_eq!(sum, got);
    }

    #[test]
    fn composite_keys_sort_by_partition_then_sort(pa in ".{0,6}", pb in ".{0,6}", sa in number(), sb in number()) {
        let ka = item_key(&AttributeValue::S(pa.clone()), Some(&AttributeValue::N(sa.clone())));
        let kb = item_key(&AttributeValue::S(pb.clone()), Some(&AttributeValue::N(sb.clone())));
        let want = match pa.as_bytes().cmp(pb.as_bytes()) {
            Ordering::Equal => sa.cmp(&sb),
            o => o,
        };
        prop_assert_eq!(ka.cmp(&kb), want);
    }
}
