//! Engine key layout: where objects, bucket properties and index entries live in
//! the Riak keyspace (documented byte by byte in `docs/format/riak.md`).
//!
//! Every engine key starts with a one-byte tag, then the bucket's address: the
//! bucket type and the bucket name, each as `u16 BE length ‖ bytes`. Untyped
//! buckets use the type `default`, so `/buckets/B` and `/types/default/buckets/B`
//! are the same bucket.

/// Tag of an object key: `o ‖ bucket ‖ key`.
pub const TAG_OBJECT: u8 = b'o';
/// Tag of a bucket-properties key: `p ‖ bucket`.
pub const TAG_PROPS: u8 = b'p';
/// Tag of a secondary-index entry: `i ‖ bucket ‖ u16 BE len ‖ index ‖ term ‖ key`.
pub const TAG_INDEX: u8 = b'i';

/// The bucket type of untyped buckets.
pub const DEFAULT_TYPE: &[u8] = b"default";

/// A bucket type and bucket name, as decoded from the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketId {
    /// Bucket type (`default` for untyped buckets).
    pub btype: Vec<u8>,
    /// Bucket name.
    pub bucket: Vec<u8>,
}

impl BucketId {
    /// True for the `default` bucket type (served under `/buckets/...`).
    pub fn is_default_type(&self) -> bool {
        self.btype == DEFAULT_TYPE
    }

    /// The URL prefix of this bucket (`/buckets/B` or `/types/T/buckets/B`),
    /// segments percent-encoded.
    pub fn url(&self) -> String {
        let b = encode_segment(&self.bucket);
        if self.is_default_type() {
            format!("/buckets/{b}")
        } else {
            format!("/types/{}/buckets/{b}", encode_segment(&self.btype))
        }
    }
}

/// Percent-encodes a path segment for a `Location` or `Link` header.
pub fn encode_segment(s: &[u8]) -> String {
    percent_encoding::percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Appends `u16 BE len ‖ bytes` (names are limited to 65535 bytes by the router).
fn push_name(out: &mut Vec<u8>, name: &[u8]) {
    let len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&name[..usize::from(len)]);
}

/// `tag ‖ type ‖ bucket`: the common prefix of a bucket's keys of one kind.
pub fn bucket_prefix(tag: u8, b: &BucketId) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + b.btype.len() + b.bucket.len());
    out.push(tag);
    push_name(&mut out, &b.btype);
    push_name(&mut out, &b.bucket);
    out
}

/// The engine key of object `key` in bucket `b`.
pub fn object_key(b: &BucketId, key: &[u8]) -> Vec<u8> {
    let mut out = bucket_prefix(TAG_OBJECT, b);
    out.extend_from_slice(key);
    out
}

/// The engine key holding bucket `b`'s properties.
pub fn props_key(b: &BucketId) -> Vec<u8> {
    bucket_prefix(TAG_PROPS, b)
}

/// Decodes `tag ‖ type ‖ bucket ‖ rest` into the bucket and the rest.
pub fn split_bucket(engine_key: &[u8]) -> Option<(u8, BucketId, &[u8])> {
    let (&tag, rest) = engine_key.split_first()?;
    let (btype, rest) = take_name(rest)?;
    let (bucket, rest) = take_name(rest)?;
    Some((
        tag,
        BucketId {
            btype: btype.to_vec(),
            bucket: bucket.to_vec(),
        },
        rest,
    ))
}

fn take_name(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
    let rest = b.get(2..)?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The smallest key greater than every key starting with `prefix` (`None`: no bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A secondary-index term, typed by the index name's suffix.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Term {
    /// A `_bin` term: arbitrary bytes.
    Bin(Vec<u8>),
    /// An `_int` term: a signed 64-bit integer.
    Int(i64),
}

impl Term {
    /// Parses `text` as a term of index `name` (`_int` names need an integer).
    pub fn parse(name: &str, text: &[u8]) -> Result<Term, String> {
        if name.ends_with("_int") {
            std::str::from_utf8(text)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .map(Term::Int)
                .ok_or_else(|| {
                    format!(
                        "Could not parse index value {:?} of {name}: not an integer",
                        String::from_utf8_lossy(text)
                    )
                })
        } else {
            Ok(Term::Bin(text.to_vec()))
        }
    }

    /// The term as the client wrote it.
    pub fn to_text(&self) -> String {
        match self {
            Term::Bin(b) => String::from_utf8_lossy(b).into_owned(),
            Term::Int(i) => i.to_string(),
        }
    }

    /// Order-preserving, self-delimiting encoding: ints as 8 bytes big-endian with
    /// the sign bit flipped; bins with `00` escaped as `00 FF`, ended by `00 01`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Term::Int(i) => out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes()),
            Term::Bin(b) => {
                for &byte in b {
                    out.push(byte);
                    if byte == 0 {
                        out.push(0xFF);
                    }
                }
                out.extend_from_slice(&[0, 1]);
            }
        }
    }

    /// Decodes a term of the kind `int` from the front of `b`; returns it and the rest.
    pub fn decode(int: bool, b: &[u8]) -> Option<(Term, &[u8])> {
        if int {
            let raw: [u8; 8] = b.get(..8)?.try_into().ok()?;
            let v = (u64::from_be_bytes(raw) ^ (1 << 63)) as i64;
            return Some((Term::Int(v), &b[8..]));
        }
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let byte = *b.get(i)?;
            if byte == 0 {
                match *b.get(i + 1)? {
                    0xFF => out.push(0),
                    1 => return Some((Term::Bin(out), &b[i + 2..])),
                    _ => return None,
                }
                i += 2;
            } else {
                out.push(byte);
                i += 1;
            }
        }
    }
}

/// `i ‖ bucket ‖ u16 BE len ‖ index name`: the prefix of one index's entries.
pub fn index_prefix(b: &BucketId, index: &str) -> Vec<u8> {
    let mut out = bucket_prefix(TAG_INDEX, b);
    push_name(&mut out, index.as_bytes());
    out
}

/// The engine key of the entry saying object `key` has `term` in `index`.
pub fn index_key(b: &BucketId, index: &str, term: &Term, key: &[u8]) -> Vec<u8> {
    let mut out = index_prefix(b, index);
    term.encode(&mut out);
    out.extend_from_slice(key);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn int_terms_sort_like_integers() {
        let vals = [i64::MIN, -1000, -1, 0, 1, 7, 1000, i64::MAX];
        let enc: Vec<Vec<u8>> = vals
            .iter()
            .map(|v| {
                let mut o = Vec::new();
                Term::Int(*v).encode(&mut o);
                o
            })
            .collect();
        assert!(enc.windows(2).all(|w| w[0] < w[1]));
        for (v, e) in vals.iter().zip(&enc) {
            assert_eq!(Term::decode(true, e).unwrap().0, Term::Int(*v));
        }
    }

    #[test]
    fn bin_terms_sort_and_round_trip() {
        let vals: [&[u8]; 6] = [b"", b"\0", b"\0\0", b"a", b"a\0b", b"ab"];
        let enc: Vec<Vec<u8>> = vals
            .iter()
            .map(|v| {
                let mut o = Vec::new();
                Term::Bin(v.to_vec()).encode(&mut o);
                o.extend_from_slice(b"key");
                o
            })
            .collect();
        assert!(enc.windows(2).all(|w| w[0] < w[1]));
        for (v, e) in vals.iter().zip(&enc) {
            let (t, rest) = Term::decode(false, e).unwrap();
            assert_eq!(t, Term::Bin(v.to_vec()));
            assert_eq!(rest, b"key");
        }
    }

    #[test]
    fn random_terms_sort_and_split_like_the_terms() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        // Bytes drawn mostly from the escape-relevant values.
        let alphabet = [0u8, 1, 2, 0xFE, 0xFF, b'a'];
        for int in [false, true] {
            let mut terms: Vec<Term> = (0..2000)
                .map(|_| {
                    if int {
                        Term::Int(match rng.random_range(0..3) {
                            0 => rng.random_range(-3..3),
                            _ => rng.random(),
                        })
                    } else {
                        let len = rng.random_range(0..6);
                        Term::Bin(
                            (0..len)
                                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                                .collect(),
                        )
                    }
                })
                .collect();
            terms.sort();
            let mut prev: Option<Vec<u8>> = None;
            for t in &terms {
                let mut e = Vec::new();
                t.encode(&mut e);
                e.extend_from_slice(&[0xFF, 0]); // a key after the term
                let (back, rest) = Term::decode(int, &e).unwrap();
                assert_eq!((&back, rest), (t, &[0xFF, 0][..]));
                if let Some(p) = &prev {
                    assert!(p <= &e, "{t:?}");
                }
                prev = Some(e);
            }
        }
    }

    #[test]
    fn bucket_round_trips() {
        let b = BucketId {
            btype: b"default".to_vec(),
            bucket: b"../x".to_vec(),
        };
        let k = object_key(&b, b"k/1");
        let (tag, got, rest) = split_bucket(&k).unwrap();
        assert_eq!((tag, got, rest), (TAG_OBJECT, b, &b"k/1"[..]));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF]), None);
    }
}
