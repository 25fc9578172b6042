//! The merge operator: user-defined read-modify-write without a read.
//!
//! A merge writes an *operand* (kind `Merge`). Reads combine the operands of a key,
//! oldest first, onto the newest value or tombstone below them (the *base*; none if
//! the key never existed or was deleted) with [`MergeOperator::full_merge`].
//! Compaction applies the same combination as soon as a base is in reach, so operand
//! chains stay short.

/// An associative combination of a base value and operands (counters, appends, sets).
pub trait MergeOperator: Send + Sync + std::fmt::Debug {
    /// A stable name (recorded nowhere yet; for logs and errors).
    fn name(&self) -> &str;

    /// Combines `base` (`None`: absent or deleted) with `operands`, oldest first.
    /// An `Err` is reported to the reader as `Error::Merge` and never written.
    fn full_merge(
        &self,
        key: &[u8],
        base: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, String>;
}

/// Adds signed 64-bit integers kept as ASCII decimal text — the representation Redis
/// `INCR` and memcached `incr` use. Operands are decimal deltas; a base that is not an
/// integer, or an overflow, is an error (Redis: "value is not an integer or out of
/// range").
#[derive(Debug, Default, Clone, Copy)]
pub struct Int64Add;

fn parse_i64(bytes: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| "value is not an integer or out of range".to_string())
}

impl MergeOperator for Int64Add {
    fn name(&self) -> &str {
        "shale.int64_add"
    }

    fn full_merge(
        &self,
        _key: &[u8],
        base: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, String> {
        let mut total = match base {
            Some(b) => parse_i64(b)?,
            None => 0,
        };
        for op in operands {
            total = total
                .checked_add(parse_i64(op)?)
                .ok_or_else(|| "increment or decrement would overflow".to_string())?;
        }
        Ok(total.to_string().into_bytes())
    }
}

/// Appends operands to the base, with an optional separator between pieces.
#[derive(Debug, Default, Clone)]
pub struct StringAppend {
    /// Placed between the base and each operand (none by default).
    pub separator: Vec<u8>,
}

impl MergeOperator for StringAppend {
    fn name(&self) -> &str {
        "shale.string_append"
    }

    fn full_merge(
        &self,
        _key: &[u8],
        base: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, String> {
        let mut out = base.map(<[u8]>::to_vec).unwrap_or_default();
        for (i, op) in operands.iter().enumerate() {
            if i > 0 || base.is_some() {
                out.extend_from_slice(&self.separator);
            }
            out.extend_from_slice(op);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int64_add() {
        let op = Int64Add;
        assert_eq!(op.full_merge(b"k", None, &[b"5", b"-2"]).unwrap(), b"3");
        assert_eq!(op.full_merge(b"k", Some(b"10"), &[b"1"]).unwrap(), b"11");
        assert!(op.full_merge(b"k", Some(b"abc"), &[b"1"]).is_err());
        assert!(
            op.full_merge(b"k", Some(b"9223372036854775807"), &[b"1"])
                .is_err()
        );
    }

    #[test]
    fn string_append() {
        let op = StringAppend {
            separator: b",".to_vec(),
        };
        assert_eq!(op.full_merge(b"k", None, &[b"a", b"b"]).unwrap(), b"a,b");
        assert_eq!(op.full_merge(b"k", Some(b"x"), &[b"y"]).unwrap(), b"x,y");
        assert_eq!(
            StringAppend::default()
                .full_merge(b"k", Some(b"x"), &[b"y"])
                .unwrap(),
            b"xy"
        );
    }
}
