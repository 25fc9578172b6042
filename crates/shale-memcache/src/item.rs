//! The stored form of an item (see `docs/format/memcache.md`).

use bytes::Bytes;

/// Format version written in the first byte of every stored item.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the data: version, state, flags, cas, exptime.
pub const HEADER_LEN: usize = 1 + 1 + 4 + 8 + 8;

/// State bit: the item was invalidated (meta `I`) and is served as stale.
pub const STATE_STALE: u8 = 1;
/// State bit: a client was handed the right to recache it (meta `W` was sent).
pub const STATE_TOKEN_SENT: u8 = 2;

/// One memcached item as stored in the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Meta-protocol state bits (`STATE_*`).
    pub state: u8,
    /// The client's opaque 32-bit flags.
    pub flags: u32,
    /// CAS unique of the last modification.
    pub cas: u64,
    /// Absolute expiry in ms since the Unix epoch; 0 = never.
    pub exptime_ms: u64,
    /// The value.
    pub data: Bytes,
}

impl Item {
    /// The engine value for this item.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.data.len());
        out.push(FORMAT_VERSION);
        out.push(self.state);
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.cas.to_le_bytes());
        out.extend_from_slice(&self.exptime_ms.to_le_bytes());
        out.extend_from_slice(&self.data);
        out
    }

    /// Parses an engine value; `None` if it is not a version-1 item.
    pub fn decode(stored: Bytes) -> Option<Item> {
        let header = stored.get(..HEADER_LEN)?;
        let (&version, rest) = header.split_first()?;
        if version != FORMAT_VERSION {
            return None;
        }
        let (&state, rest) = rest.split_first()?;
        let (flags, rest) = rest.split_at_checked(4)?;
        let (cas, exptime) = rest.split_at_checked(8)?;
        Some(Item {
            state,
            flags: u32::from_le_bytes(flags.try_into().ok()?),
            cas: u64::from_le_bytes(cas.try_into().ok()?),
            exptime_ms: u64::from_le_bytes(exptime.try_into().ok()?),
            data: stored.slice(HEADER_LEN..),
        })
    }

    /// True if the item has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.exptime_ms != 0 && self.exptime_ms <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_layout() {
        let it = Item {
            state: STATE_STALE,
            flags: 0x0102_0304,
            cas: 7,
            exptime_ms: 9,
            data: Bytes::from_static(b"hello"),
        };
        let enc = it.encode();
        assert_eq!(enc.len(), HEADER_LEN + 5);
        assert_eq!(&enc[..6], &[1, 1, 4, 3, 2, 1]);
        assert_eq!(Item::decode(Bytes::from(enc)), Some(it.clone()));
        assert_eq!(Item::decode(Bytes::from_static(b"\x02short")), None);
        assert_eq!(Item::decode(Bytes::from_static(&[2; HEADER_LEN])), None);
        assert!(it.is_expired(9) && !it.is_expired(8));
        assert!(
            !Item {
                exptime_ms: 0,
                ..it
            }
            .is_expired(u64::MAX)
        );
    }
}
