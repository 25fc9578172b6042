//! Standard base64 (RFC 4648, padded) for meta-protocol `b` keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Decodes padded base64; `None` if malformed or empty.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    STANDARD.decode(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for s in [&b"f"[..], b"fo", b"foo", b"foob", b"\x00\xff\x10 \r\n"] {
            assert_eq!(decode(STANDARD.encode(s).as_bytes()).as_deref(), Some(s));
        }
        assert_eq!(decode(b"Zm9vYg=="), Some(b"foob".to_vec()));
        assert_eq!(decode(b"bs"), None);
        assert_eq!(decode(b"a=b="), None);
        assert_eq!(decode(b";;;;"), None);
        assert_eq!(decode(b""), None);
    }
}
