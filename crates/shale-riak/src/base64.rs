//! Standard base64 (RFC 4648, padded) for vector clocks and index continuations,
//! decoded leniently: clients send continuations back URL-safe or with an unescaped
//! `+` that arrives as a space.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard alphabet; padding optional and trailing bits ignored on decode.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encodes `data` as padded base64.
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes padded or unpadded base64; `None` on any invalid character. Also
/// takes the URL-safe alphabet (`-`, `_`) and a space for `+`.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let normal: String = text
        .chars()
        .map(|c| match c {
            ' ' | '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    LENIENT.decode(normal).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for data in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0, 255, 7],
        ] {
            assert_eq!(decode(&encode(data)).as_deref(), Some(data));
        }
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(decode("!!"), None);
        assert_eq!(decode("+/8="), decode(" _8"));
    }
}
