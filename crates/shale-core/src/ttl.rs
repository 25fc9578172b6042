//! The layout of values that expire ([`ValueKind::ValueWithExpiry`](crate::ValueKind)).
//!
//! ```text
//! stored value := expiry_ms: fixed64 (little-endian, ms since the Unix epoch) | user value
//! ```
//!
//! The expiry is absolute, so it means the same after a restart; an entry is expired
//! when `expiry_ms <= now_ms`. See `docs/format/keys.md`.

/// Bytes of the expiry prefix.
pub const EXPIRY_LEN: usize = 8;

/// The stored form of `value` expiring at `expiry_ms`.
pub fn encode(expiry_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(EXPIRY_LEN + value.len());
    out.extend_from_slice(&expiry_ms.to_le_bytes());
    out.extend_from_slice(value);
    out
}

/// Splits a stored value into its expiry and the user value; `None` if it is too
/// short to hold the expiry (damaged).
pub fn decode(stored: &[u8]) -> Option<(u64, &[u8])> {
    let (expiry, value) = stored.split_at_checked(EXPIRY_LEN)?;
    let expiry = u64::from_le_bytes(expiry.try_into().ok()?);
    Some((expiry, value))
}

/// True if a stored value with this layout has expired at `now_ms` (a damaged one
/// counts as not expired, so that reads report it instead of hiding it).
pub fn is_expired(stored: &[u8], now_ms: u64) -> bool {
    decode(stored).is_some_and(|(expiry, _)| expiry <= now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_expiry() {
        let s = encode(1_000, b"v");
        assert_eq!(decode(&s), Some((1_000, &b"v"[..])));
        assert!(!is_expired(&s, 999));
        assert!(is_expired(&s, 1_000));
        assert_eq!(decode(b"short"), None);
        assert!(!is_expired(b"short", u64::MAX));
    }
}
