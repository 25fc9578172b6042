//! How Redis data maps onto engine keys and values (see `docs/format/resp.md`).
//!
//! - Key record: engine key `b'k' ‖ userkey` → `version u8 ‖ type u8 ‖ expiry_ms u64 LE
//!   (0 = none) ‖ payload`; a string's payload is its bytes, a hash's its field
//!   count as u64 LE.
//! - Hash field: engine key `b'h' ‖ len(userkey) u32 BE ‖ userkey ‖ field` → value.
//! - Hash marker: engine key `b'm' ‖ userkey` → empty, present whenever the key's
//!   record is a hash, so a plain SET learns "not a hash" from the bloom filters
//!   without reading the record.
//! - Layout version: engine key [`LAYOUT_KEY`] → [`LAYOUT_VERSION`] as u8.

use bytes::Bytes;
use smallvec::SmallVec;

/// The format version byte at the start of every key record.
pub const FORMAT_VERSION: u8 = 1;
/// Type byte of a string.
pub const TYPE_STRING: u8 = b's';
/// Type byte of a hash.
pub const TYPE_HASH: u8 = b'h';
/// Bytes of the key record header.
pub const HEADER_LEN: usize = 10;

/// Prefix of key records.
pub const KEY_PREFIX: u8 = b'k';
/// Prefix of hash field records.
pub const FIELD_PREFIX: u8 = b'h';
/// Prefix of hash markers.
pub const MARKER_PREFIX: u8 = b'm';
/// Every engine key of a Redis DB's data lies in `[DB_START, DB_END)`.
pub const DB_START: &[u8] = b"h";
/// See [`DB_START`].
pub const DB_END: &[u8] = b"n";
/// The engine key holding the layout version of a DB's keyspace (outside the data
/// range, so FLUSHDB keeps it).
pub const LAYOUT_KEY: &[u8] = b"f:layout";
/// Layout version 2: hash markers exist (version 1, without the key, had none).
pub const LAYOUT_VERSION: u8 = 2;

/// The type of a Redis value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// A hash.
    Hash,
}

impl Kind {
    /// The name `TYPE` replies with.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
        }
    }

    fn byte(self) -> u8 {
        match self {
            Kind::String => TYPE_STRING,
            Kind::Hash => TYPE_HASH,
        }
    }
}

/// A decoded key record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its type.
    pub kind: Kind,
    /// Absolute expiry in ms since the epoch, 0 for none.
    pub expiry: u64,
    /// The string bytes, or the hash's field count (u64 LE).
    pub payload: Bytes,
}

impl Record {
    /// A string record.
    pub fn string(value: Bytes, expiry: u64) -> Record {
        Record {
            kind: Kind::String,
            expiry,
            payload: value,
        }
    }

    /// A hash record with `count` fields.
    pub fn hash(count: u64, expiry: u64) -> Record {
        Record {
            kind: Kind::Hash,
            expiry,
            payload: Bytes::copy_from_slice(&count.to_le_bytes()),
        }
    }

    /// A hash's field count (0 for a string or a damaged payload).
    pub fn hash_len(&self) -> u64 {
        self.payload
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    }

    /// The stored value bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN + self.payload.len());
        v.push(FORMAT_VERSION);
        v.push(self.kind.byte());
        v.extend_from_slice(&self.expiry.to_le_bytes());
        v.extend_from_slice(&self.payload);
        v
    }

    /// Decodes a stored value; `None` if it is not a record of a known version.
    pub fn decode(v: &Bytes) -> Option<Record> {
        let version = *v.first()?;
        if version != FORMAT_VERSION || v.len() < HEADER_LEN {
            return None;
        }
        let kind = match *v.get(1)? {
            TYPE_STRING => Kind::String,
            TYPE_HASH => Kind::Hash,
            _ => return None,
        };
        let expiry = u64::from_le_bytes(<[u8; 8]>::try_from(v.get(2..10)?).ok()?);
        Some(Record {
            kind,
            expiry,
            payload: v.slice(HEADER_LEN..),
        })
    }

    /// True if it has expired at `now_ms` (the engine's rule: expiry ≤ now).
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expiry != 0 && self.expiry <= now_ms
    }
}

/// An engine key built per command: on the stack up to 64 bytes, so the lookup of
/// a typical key allocates nothing.
pub type EngineKey = SmallVec<[u8; 64]>;

/// The engine key of `key`'s record.
pub fn record_key(key: &[u8]) -> EngineKey {
    tagged(KEY_PREFIX, key)
}

/// The engine key of `key`'s hash marker.
pub fn marker_key(key: &[u8]) -> EngineKey {
    tagged(MARKER_PREFIX, key)
}

fn tagged(tag: u8, key: &[u8]) -> EngineKey {
    let mut v = EngineKey::with_capacity(1 + key.len());
    v.push(tag);
    v.extend_from_slice(key);
    v
}

/// The common prefix of the engine keys of `key`'s hash fields.
pub fn field_prefix(key: &[u8]) -> Vec<u8> {
    let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
    let mut v = Vec::with_capacity(5 + key.len());
    v.push(FIELD_PREFIX);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(key);
    v
}

/// The engine key of one hash field.
pub fn field_key(key: &[u8], field: &[u8]) -> Vec<u8> {
    let mut v = field_prefix(key);
    v.extend_from_slice(field);
    v
}

/// The smallest key greater than every key starting with `prefix` (`None` if the
/// prefix is all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xff {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrip() {
        let r = Record::string(Bytes::from("hello"), 1234);
        let enc = Bytes::from(r.encode());
        assert_eq!(&enc[..2], b"\x01s");
        assert_eq!(Record::decode(&enc), Some(r));
        let h = Record::hash(7, 0);
        assert_eq!(
            Record::decode(&Bytes::from(h.encode())).unwrap().hash_len(),
            7
        );
        assert_eq!(Record::decode(&Bytes::from_static(b"\x02s")), None);
    }

    #[test]
    fn keys() {
        assert_eq!(record_key(b"ab").as_slice(), b"kab");
        assert_eq!(marker_key(b"ab").as_slice(), b"mab");
        assert!(marker_key(b"\xff").as_slice() < DB_END);
        assert!(LAYOUT_KEY < DB_START);
        assert_eq!(field_key(b"ab", b"f"), b"h\0\0\0\x02abf");
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert!(
            field_prefix(b"x").as_slice() >= DB_START && field_prefix(b"x").as_slice() < DB_END
        );
    }
}
