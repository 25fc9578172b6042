//! DynamoDB numbers: exact decimals of up to 38 significant digits with a
//! magnitude between 1E-130 and 9.99…E+125, normalised and compared exactly.

use std::cmp::Ordering;

use crate::error::DynError;

/// Most significant digits a number may have.
pub const MAX_DIGITS: usize = 38;
/// Largest exponent `e` of `0.d1d2… × 10^e` (9.99…E+125).
const MAX_EXP: i64 = 126;
/// Smallest exponent `e` of `0.d1d2… × 10^e` (1E-130).
const MIN_EXP: i64 = -129;

/// An exact decimal `±0.d1d2…dn × 10^exp` with no leading or trailing zero digit;
/// zero has no digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Number {
    /// Zero.
    pub fn zero() -> Self {
        Number {
            neg: false,
            digits: Vec::new(),
            exp: 0,
        }
    }

    /// Parses DynamoDB number text (`-12.50`, `1e3`, `.5`) and checks its range.
    pub fn parse(s: &str) -> Result<Self, DynError> {
        let bad = || {
            DynError::validation(format!(
                "The parameter cannot be converted to a numeric value: {s}"
            ))
        };
        let b = s.as_bytes();
        let mut i = 0;
        let mut neg = false;
        if let Some(&c) = b.first()
            && (c == b'-' || c == b'+')
        {
            neg = c == b'-';
            i = 1;
        }
        let mut digits = Vec::new();
        let mut int_digits: i64 = 0;
        let mut seen_digit = false;
        let mut seen_dot = false;
        while let Some(&c) = b.get(i) {
            match c {
                b'0'..=b'9' => {
                    seen_digit = true;
                    if digits.is_empty() && c == b'0' {
                        // Leading zero: shifts the exponent only after the point.
                        if seen_dot {
                            int_digits -= 1;
                        }
                    } else {
                        if digits.len() > 4096 {
                            return Err(too_many_digits());
                        }
                        digits.push(c - b'0');
                        if !seen_dot {
                            int_digits += 1;
                        }
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                b'e' | b'E' => break,
                _ => return Err(bad()),
            }
            i += 1;
        }
        if !seen_digit {
            return Err(bad());
        }
        let mut exp_adj: i64 = 0;
        if b.get(i).is_some() {
            // An exponent follows.
            i += 1;
            let mut eneg = false;
            if let Some(&c) = b.get(i)
                && (c == b'-' || c == b'+')
            {
                eneg = c == b'-';
                i += 1;
            }
            let rest = b.get(i..).unwrap_or_default();
            if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            for &c in rest {
                exp_adj = exp_adj
                    .saturating_mul(10)
                    .saturating_add(i64::from(c - b'0'));
            }
            exp_adj = exp_adj.min(1_000_000);
            if eneg {
                exp_adj = -exp_adj;
            }
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        let n = if digits.is_empty() {
            Number::zero()
        } else {
            Number {
                neg,
                digits,
                exp: int_digits + exp_adj,
            }
        };
        n.checked()
    }

    /// `self` if it is within DynamoDB's precision and range, else the error
    /// DynamoDB gives.
    pub fn checked(self) -> Result<Self, DynError> {
        if self.digits.len() > MAX_DIGITS {
            return Err(too_many_digits());
        }
        if !self.digits.is_empty() {
            if self.exp > MAX_EXP {
                return Err(DynError::validation(
                    "Number overflow. Attempting to store a number with magnitude larger than supported range",
                ));
            }
            if self.exp < MIN_EXP {
                return Err(DynError::validation(
                    "Number underflow. Attempting to store a number with magnitude smaller than supported range",
                ));
            }
        }
        Ok(self)
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// True for a number below zero.
    pub fn is_negative(&self) -> bool {
        self.neg
    }

    /// Significant digits (each 0–9), most significant first; empty for zero.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The exponent `e` of `0.d1d2… × 10^e`.
    pub fn exponent(&self) -> i64 {
        self.exp
    }

    /// The value as an integer if it is a whole number that fits in an `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        if self.is_zero() {
            return Some(0);
        }
        let len = i64::try_from(self.digits.len()).ok()?;
        if self.exp < len || self.exp > 19 {
            return None;
        }
        let mut v: i64 = 0;
        for i in 0..self.exp {
            let d = usize::try_from(i)
                .ok()
                .and_then(|i| self.digits.get(i))
                .copied()
                .unwrap_or(0);
            v = v.checked_mul(10)?.checked_add(i64::from(d))?;
        }
        Some(if self.neg { -v } else { v })
    }

    /// `self + other`, exact; errors when the result leaves DynamoDB's range.
    pub fn add(&self, other: &Number) -> Result<Number, DynError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Scale: the power of ten of each number's last digit.
        let scale = |n: &Number| n.exp - n.digits.len() as i64;
        let low = scale(self).min(scale(other));
        let a = self.aligned(low);
        let b = other.aligned(low);
        let (neg, mag) = if self.neg == other.neg {
            (self.neg, add_mag(&a, &b))
        } else {
            match cmp_mag(&a, &b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.neg, sub_mag(&a, &b)),
                Ordering::Less => (other.neg, sub_mag(&b, &a)),
            }
        };
        Number::from_scaled(neg, mag, low).checked()
    }

    /// `self - other`, exact.
    pub fn sub(&self, other: &Number) -> Result<Number, DynError> {
        self.add(&other.negated())
    }

    /// `-self`.
    pub fn negated(&self) -> Number {
        let mut n = self.clone();
        if !n.is_zero() {
            n.neg = !n.neg;
        }
        n
    }

    /// Digits (least significant last) of the integer `self / 10^low`.
    fn aligned(&self, low: i64) -> Vec<u8> {
        let pad = (self.exp - self.digits.len() as i64 - low).max(0);
        let mut v = self.digits.clone();
        v.extend(std::iter::repeat_n(0, usize::try_from(pad).unwrap_or(0)));
        v
    }

    /// The number `± mag × 10^low`, normalised.
    fn from_scaled(neg: bool, mag: Vec<u8>, low: i64) -> Number {
        let mut digits: Vec<u8> = mag.into_iter().skip_while(|&d| d == 0).collect();
        let len = digits.len() as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Number::zero();
        }
        Number {
            neg,
            digits,
            exp: low + len,
        }
    }
}

fn too_many_digits() -> DynError {
    DynError::validation("Attempting to store more than 38 significant digits in a Number")
}

/// Compares two digit strings (most significant first, no leading zeros).
fn cmp_mag(a: &[u8], b: &[u8]) -> Ordering {
    let a = strip_leading(a);
    let b = strip_leading(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_leading(a: &[u8]) -> &[u8] {
    let first = a.iter().position(|&d| d != 0).unwrap_or(a.len());
    a.get(first..).unwrap_or_default()
}

fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u8;
    let mut ia = a.iter().rev();
    let mut ib = b.iter().rev();
    loop {
        let (x, y) = (ia.next(), ib.next());
        if x.is_none() && y.is_none() {
            break;
        }
        let s = x.copied().unwrap_or(0) + y.copied().unwrap_or(0) + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out.reverse();
    out
}

/// `a - b` for `a >= b`.
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    let mut ib = b.iter().rev();
    for &x in a.iter().rev() {
        let y = ib.next().copied().unwrap_or(0);
        let mut d = x as i8 - y as i8 - borrow;
        if d < 0 {
            d += 10;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out.push(d.unsigned_abs());
    }
    out.reverse();
    out
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| {
            if n.is_zero() {
                0
            } else if n.neg {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            o => return o,
        }
        let mag = self
            .exp
            .cmp(&other.exp)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.neg { mag.reverse() } else { mag }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Number {
    /// Plain notation without trailing zeros, like DynamoDB: `1.5`, `-0.001`, `1200`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        let len = self.digits.len() as i64;
        let digit = |d: &u8| char::from(b'0' + d);
        if self.exp <= 0 {
            s.push_str("0.");
            for _ in 0..(-self.exp) {
                s.push('0');
            }
            s.extend(self.digits.iter().map(digit));
        } else if self.exp >= len {
            s.extend(self.digits.iter().map(digit));
            for _ in 0..(self.exp - len) {
                s.push('0');
            }
        } else {
            let split = usize::try_from(self.exp).unwrap_or(0);
            let (int, frac) = self.digits.split_at(split.min(self.digits.len()));
            s.extend(int.iter().map(digit));
            s.push('.');
            s.extend(frac.iter().map(digit));
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn normalises() {
        for (i, o) in [
            ("1.50", "1.5"),
            ("-0", "0"),
            ("0.000", "0"),
            ("+7", "7"),
            ("1e3", "1000"),
            ("1.5E-3", "0.0015"),
            ("-012.3400", "-12.34"),
            (".5", "0.5"),
            ("5.", "5"),
            ("100", "100"),
        ] {
            assert_eq!(n(i).to_string(), o, "{i}");
        }
    }

    #[test]
    fn rejects() {
        for s in [
            "", "-", "abc", "1.2.3", "1e", "e5", "1e+", "--1", " 1", "0x10",
        ] {
            assert!(Number::parse(s).is_err(), "{s:?}");
        }
        assert!(Number::parse("1e126").is_err());
        assert!(Number::parse("9.9e125").is_ok());
        assert!(Number::parse("1e-130").is_ok());
        assert!(Number::parse("1e-131").is_err());
        assert!(Number::parse(&"1".repeat(38)).is_ok());
        assert!(Number::parse(&"1".repeat(39)).is_err());
        assert!(Number::parse(&format!("{}000", "1".repeat(38))).is_ok());
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("1").sub(&n("1.000")).unwrap().to_string(), "0");
        assert_eq!(n("-5").add(&n("3")).unwrap().to_string(), "-2");
        assert_eq!(n("999").add(&n("1")).unwrap().to_string(), "1000");
        assert_eq!(
            n("1e20").add(&n("1e-5")).unwrap().to_string(),
            "100000000000000000000.00001"
        );
        assert!(n("1e30").add(&n("1e-10")).is_err());
        assert_eq!(n("12").to_i64(), Some(12));
        assert_eq!(n("1.5").to_i64(), None);
    }

    #[test]
    fn orders_numerically() {
        let mut v: Vec<Number> = [
            "-100", "-1.5", "-1", "-0.01", "0", "0.01", "1", "1.5", "10", "1e100",
        ]
        .iter()
        .map(|s| n(s))
        .collect();
        let sorted = v.clone();
        v.reverse();
        v.sort();
        assert_eq!(v, sorted);
    }
}
