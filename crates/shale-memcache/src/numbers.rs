//! Number parsing exactly as memcached's `safe_strto*` helpers (C `strto*` rules).

/// C `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What C's `strtoull`/`strtol` consumed: the sign, the magnitude (`None` on
/// overflow of u64) and the rest of the input.
fn scan(s: &[u8]) -> Option<(bool, Option<u64>, &[u8])> {
    let start = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    let mut rest = s.get(start..)?;
    let mut negative = false;
    if let Some((&c, r)) = rest.split_first()
        && (c == b'+' || c == b'-')
    {
        negative = c == b'-';
        rest = r;
    }
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (num, rest) = rest.split_at_checked(digits)?;
    let mag = num.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    Some((negative, mag, rest))
}

/// The end condition memcached checks: at the end of the token or before a space.
fn ends_well(rest: &[u8]) -> bool {
    rest.first().is_none_or(|&c| is_space(c) || c == 0)
}

/// memcached's `safe_strtoull`: unsigned 64-bit; a negative sign is accepted only
/// when the wrapped result still looks positive as a signed number.
pub fn safe_strtoull(s: &[u8]) -> Option<u64> {
    let (negative, mag, rest) = scan(s)?;
    let mag = mag?;
    if !ends_well(rest) {
        return None;
    }
    let v = if negative { mag.wrapping_neg() } else { mag };
    if (v as i64) < 0 && negative {
        return None;
    }
    Some(v)
}

/// memcached's `safe_strtoul` stored into a `uint32_t` (truncating, as memcached does).
pub fn safe_strtoul32(s: &[u8]) -> Option<u32> {
    safe_strtoull(s).map(|v| v as u32)
}

/// memcached's `safe_strtol` stored into an `int32_t` (truncating, as memcached does).
pub fn safe_strtol32(s: &[u8]) -> Option<i32> {
    let (negative, mag, rest) = scan(s)?;
    let mag = mag?;
    let v: i64 = if negative {
        if mag > 1u64 << 63 {
            return None;
        }
        0i64.wrapping_sub_unsigned(mag)
    } else {
        i64::try_from(mag).ok()?
    };
    if !ends_well(rest) {
        return None;
    }
    Some(v as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_memcached() {
        assert_eq!(safe_strtoull(b"12"), Some(12));
        assert_eq!(safe_strtoull(b"  12 abc"), Some(12));
        assert_eq!(safe_strtoull(b"12abc"), None);
        assert_eq!(safe_strtoull(b"-1"), None);
        assert_eq!(safe_strtoull(b"-0"), Some(0));
        assert_eq!(safe_strtoull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(safe_strtoull(b"18446744073709551616"), None);
        assert_eq!(safe_strtoull(b""), None);
        assert_eq!(safe_strtoul32(b"4294967297"), Some(1));
        assert_eq!(safe_strtol32(b"4294967296"), Some(0));
        assert_eq!(safe_strtol32(b"2147483648"), Some(i32::MIN));
        assert_eq!(safe_strtol32(b"-5"), Some(-5));
        assert_eq!(safe_strtol32(b"x"), None);
        assert_eq!(safe_strtol32(b"9223372036854775808"), None);
    }
}
