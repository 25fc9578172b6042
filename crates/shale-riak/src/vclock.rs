//! The `X-Riak-Vclock` header: an opaque token naming one version of an object.
//!
//! ShaleDB keeps one version per key (last write wins, no siblings), so its
//! "vector clock" is a single counter: `base64("shv" ‖ 0x01 ‖ u64 BE counter ‖
//! u64 BE last-modified ms)`. The counter starts at 1 when a key is created and
//! grows by one with each write. Clients treat it as opaque and send it back on
//! updates; ShaleDB accepts it and does not need it.

use crate::base64;

const MAGIC: &[u8] = b"shv\x01";

/// Encodes the vclock of the object version with this write counter and time.
pub fn encode(counter: u64, last_modified_ms: u64) -> String {
    let mut raw = Vec::with_capacity(20);
    raw.extend_from_slice(MAGIC);
    raw.extend_from_slice(&counter.to_be_bytes());
    raw.extend_from_slice(&last_modified_ms.to_be_bytes());
    base64::encode(&raw)
}

/// Decodes a vclock made by [`encode`] into (counter, last-modified ms).
#[cfg(test)]
pub fn decode(text: &str) -> Option<(u64, u64)> {
    let raw = base64::decode(text)?;
    let rest = raw.strip_prefix(MAGIC)?;
    let counter = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    let ms = u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?);
    Some((counter, ms))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let v = super::encode(7, 1_700_000_000_123);
        assert_eq!(super::decode(&v), Some((7, 1_700_000_000_123)));
        assert_eq!(super::decode("bm9wZQ=="), None);
    }
}
