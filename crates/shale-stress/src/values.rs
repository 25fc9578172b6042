//! Keys and values derived from (key index, generation), so that any value read back
//! can be checked: it must be exactly `value_bytes(key, gen)` for some generation.
//!
//! EXTENSION POINT (merge operators): a merged value would be derived from the key and
//! the list of operand generations (e.g. `v<key>.<g1>+<g2>+...`), checked the same way.
//! EXTENSION POINT (TTL): a value would carry its expiry so a read can tell "expired" from
//! "lost".

/// Bytes of the key with index `k`. Fixed width, so byte order equals numeric order.
pub fn key_bytes(k: u32) -> Vec<u8> {
    format!("key{k:08}").into_bytes()
}

/// The index of a key produced by [`key_bytes`], if `b` is one.
pub fn parse_key(b: &[u8]) -> Option<u32> {
    let digits = b.strip_prefix(b"key")?;
    if digits.len() != 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// SplitMix64: the hash/stream used to derive value lengths and filler bytes.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The value written for key `k` at generation `generation` (> 0).
pub fn value_bytes(k: u32, generation: u64) -> Vec<u8> {
    let h = mix((u64::from(k) << 40) ^ generation);
    // Mostly small values, sometimes a larger one (spans blocks, fills memtables fast).
    let len = if h.is_multiple_of(16) {
        300 + (h >> 8) % 1500
    } else {
        (h >> 8) % 120
    } as usize;
    let mut v = format!("v{k}.{generation}:").into_bytes();
    let mut state = h;
    while v.len() < len + 16 {
        state = mix(state);
        // Printable filler, partly repetitive so compression has something to do.
        let b = if state.is_multiple_of(4) {
            b'a' + (state >> 8) as u8 % 26
        } else {
            b'x'
        };
        v.push(b);
    }
    v
}

/// The generation of `v` if it is exactly the value [`value_bytes`] makes for key `k`;
/// `None` for anything else (a value of another key, damaged or invented bytes).
pub fn parse_value(k: u32, v: &[u8]) -> Option<u64> {
    let rest = v.strip_prefix(format!("v{k}.").as_bytes())?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let generation: u64 = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    (generation > 0 && value_bytes(k, generation) == v).then_some(generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        for k in [0, 1, 9_999, 12_345_678] {
            assert_eq!(parse_key(&key_bytes(k)), Some(k));
            for g in [1, 2, 77, 1 << 40] {
                assert_eq!(parse_value(k, &value_bytes(k, g)), Some(g));
                assert_eq!(parse_value(k + 1, &value_bytes(k, g)), None);
            }
        }
        assert!(key_bytes(9) < key_bytes(10));
        let mut v = value_bytes(3, 5);
        let last = v.len() - 1;
        v[last] ^= 1;
        assert_eq!(parse_value(3, &v), None);
        assert_eq!(parse_key(b"key1"), None);
    }
}
