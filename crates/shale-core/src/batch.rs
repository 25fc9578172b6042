//! [`WriteBatch`]: an ordered set of writes applied atomically, and the WAL payload.
//!
//! Encoding (also documented in `docs/format/wal.md`, "Payload: write batch"):
//!
//! ```text
//! batch  := seq: fixed64 | count: fixed32 | record*            (count records)
//! record := kind: u8 | keyspace: varint32 | key: varint-len bytes
//!           [ value: varint-len bytes ]                         (not for Delete)
//! ```
//!
//! Record `i` gets seqno `seq + i`. The seqno is filled in by the write path.

use crate::coding::{Decoder, put_length_prefixed, put_varint32};
use crate::error::{Error, Result};
use crate::key::{SeqNo, ValueKind};

/// Size of the batch header (seqno + count).
pub const BATCH_HEADER_LEN: usize = 12;

/// Most bytes a record adds besides its key and value: kind, keyspace varint and the
/// two length varints.
const RECORD_FRAMING: usize = 1 + 3 * 5;

/// One decoded write of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOp<'a> {
    /// What the write does.
    pub kind: ValueKind,
    /// The keyspace it targets (0 is the default keyspace).
    pub keyspace: u32,
    /// The user key.
    pub key: &'a [u8],
    /// The value (empty for deletes; the exclusive end key for range deletes).
    pub value: &'a [u8],
}

/// An ordered set of writes that is applied atomically: after a crash either all of it
/// is visible or none of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
    count: u32,
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty batch with room for `payload` bytes of keys and values (plus one
    /// record's framing) before it reallocates: a one-write batch sized this way
    /// costs a single allocation.
    pub fn with_capacity(payload: usize) -> Self {
        let mut rep = Vec::with_capacity(BATCH_HEADER_LEN + RECORD_FRAMING + payload);
        rep.resize(BATCH_HEADER_LEN, 0);
        WriteBatch { rep, count: 0 }
    }

    /// Reserves room for at least `payload` more bytes of operations, so a batch
    /// that is about to grow by many small writes does not reallocate for each.
    pub fn reserve(&mut self, payload: usize) {
        self.rep.reserve(payload);
    }

    /// Adds a put of `key` → `value` in the default keyspace.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.push(ValueKind::Value, 0, key.as_ref(), Some(value.as_ref()))
    }

    /// Adds a put of `key` → `value` that expires at `expiry_ms` (milliseconds since
    /// the Unix epoch), in the default keyspace.
    pub fn put_with_expiry(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expiry_ms: u64,
    ) -> &mut Self {
        let stored = crate::ttl::encode(expiry_ms, value.as_ref());
        self.push(ValueKind::ValueWithExpiry, 0, key.as_ref(), Some(&stored))
    }

    /// Adds a merge operand for `key` in the default keyspace (combined by the
    /// database's merge operator on read and in compaction).
    pub fn merge(&mut self, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) -> &mut Self {
        self.push(ValueKind::Merge, 0, key.as_ref(), Some(operand.as_ref()))
    }

    /// Adds a delete of `key` in the default keyspace.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.push(ValueKind::Delete, 0, key.as_ref(), None)
    }

    /// Adds a range delete of every key in `[start, end)` in the default keyspace
    /// (one range tombstone; see [`crate::range_del`]).
    pub fn delete_range(&mut self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> &mut Self {
        self.delete_range_in(0, start, end)
    }

    /// Adds a put of `key` → `value` in keyspace `ks`.
    pub fn put_in(&mut self, ks: u32, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.push(ValueKind::Value, ks, key.as_ref(), Some(value.as_ref()))
    }

    /// Adds a put that expires at `expiry_ms` (ms since the Unix epoch) in keyspace `ks`.
    pub fn put_with_expiry_in(
        &mut self,
        ks: u32,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expiry_ms: u64,
    ) -> &mut Self {
        let stored = crate::ttl::encode(expiry_ms, value.as_ref());
        self.push(ValueKind::ValueWithExpiry, ks, key.as_ref(), Some(&stored))
    }

    /// Adds a merge operand for `key` in keyspace `ks`.
    pub fn merge_in(
        &mut self,
        ks: u32,
        key: impl AsRef<[u8]>,
        operand: impl AsRef<[u8]>,
    ) -> &mut Self {
        self.push(ValueKind::Merge, ks, key.as_ref(), Some(operand.as_ref()))
    }

    /// Adds a delete of `key` in keyspace `ks`.
    pub fn delete_in(&mut self, ks: u32, key: impl AsRef<[u8]>) -> &mut Self {
        self.push(ValueKind::Delete, ks, key.as_ref(), None)
    }

    /// Adds a range delete of `[start, end)` in keyspace `ks`.
    pub fn delete_range_in(
        &mut self,
        ks: u32,
        start: impl AsRef<[u8]>,
        end: impl AsRef<[u8]>,
    ) -> &mut Self {
        self.push(
            ValueKind::RangeDelete,
            ks,
            start.as_ref(),
            Some(end.as_ref()),
        )
    }

    /// Adds a write of any kind to any keyspace.
    pub fn push(
        &mut self,
        kind: ValueKind,
        keyspace: u32,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> &mut Self {
        self.rep
            .reserve(RECORD_FRAMING + key.len() + value.map_or(0, <[u8]>::len));
        self.rep.push(kind as u8);
        put_varint32(&mut self.rep, keyspace);
        put_length_prefixed(&mut self.rep, key);
        if kind != ValueKind::Delete {
            put_length_prefixed(&mut self.rep, value.unwrap_or(&[]));
        }
        self.count += 1;
        self.write_count();
        self
    }

    /// Appends every write of `other` after the writes of `self`.
    pub fn append(&mut self, other: &WriteBatch) {
        self.rep
            .extend_from_slice(other.rep.get(BATCH_HEADER_LEN..).unwrap_or(&[]));
        self.count += other.count;
        self.write_count();
    }

    /// Number of writes.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True if the batch holds no writes.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded size in bytes (what the batch costs in the WAL).
    pub fn size_in_bytes(&self) -> usize {
        self.rep.len()
    }

    /// Removes every write.
    pub fn clear(&mut self) {
        self.rep.truncate(BATCH_HEADER_LEN);
        self.rep.fill(0);
        self.count = 0;
    }

    /// The seqno of the first write (set by the write path).
    pub fn seq(&self) -> SeqNo {
        self.rep
            .get(..8)
            .and_then(crate::coding::decode_fixed64)
            .unwrap_or(0)
    }

    /// Sets the seqno of the first write.
    pub fn set_seq(&mut self, seq: SeqNo) {
        if let Some(h) = self.rep.get_mut(..8) {
            h.copy_from_slice(&seq.to_le_bytes());
        }
    }

    /// The encoded batch.
    pub fn as_bytes(&self) -> &[u8] {
        &self.rep
    }

    /// Decodes and fully validates an encoded batch. Errors are
    /// [`Error::Corruption`] with the offset inside `data`; relocate them with
    /// [`Error::relocated`] when the batch came from a file.
    pub fn from_bytes(data: &[u8]) -> Result<WriteBatch> {
        let mut d = Decoder::new(data);
        let _seq = d
            .fixed64()
            .ok_or_else(|| Error::corruption("", 0, "write batch shorter than its header"))?;
        let count = d
            .fixed32()
            .ok_or_else(|| Error::corruption("", 0, "write batch shorter than its header"))?;
        let mut found = 0u32;
        while !d.is_empty() {
            decode_op(&mut d)?;
            found = found.saturating_add(1);
        }
        if found != count {
            return Err(Error::corruption(
                "",
                0,
                format!("write batch header says {count} records, found {found}"),
            ));
        }
        Ok(WriteBatch {
            rep: data.to_vec(),
            count,
        })
    }

    /// Iterates the writes in order.
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter {
            d: Decoder::new(self.rep.get(BATCH_HEADER_LEN..).unwrap_or(&[])),
        }
    }

    fn write_count(&mut self) {
        if let Some(dst) = self.rep.get_mut(8..BATCH_HEADER_LEN) {
            dst.copy_from_slice(&self.count.to_le_bytes());
        }
    }
}

fn decode_op<'a>(d: &mut Decoder<'a>) -> Result<BatchOp<'a>> {
    let at = (BATCH_HEADER_LEN + d.position()) as u64;
    let bad = |what: &str| Error::corruption("", at, format!("write batch record: {what}"));
    let kind_byte = d.u8().ok_or_else(|| bad("missing kind"))?;
    let kind = ValueKind::from_u8(kind_byte)
        .ok_or_else(|| bad(&format!("unknown kind byte {kind_byte:#04x}")))?;
    let keyspace = d.varint32().ok_or_else(|| bad("bad keyspace id"))?;
    let key = d.length_prefixed().ok_or_else(|| bad("truncated key"))?;
    let value = if kind == ValueKind::Delete {
        &[][..]
    } else {
        d.length_prefixed().ok_or_else(|| bad("truncated value"))?
    };
    Ok(BatchOp {
        kind,
        keyspace,
        key,
        value,
    })
}

/// Iterator over the writes of a [`WriteBatch`].
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    d: Decoder<'a>,
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = BatchOp<'a>;

    fn next(&mut self) -> Option<BatchOp<'a>> {
        if self.d.is_empty() {
            return None;
        }
        // Batches are validated on construction (from_bytes) or built by push, so a
        // decode failure cannot happen; stop rather than panic if it somehow did.
        decode_op(&mut self.d).ok()
    }
}

impl Error {
    /// Moves a corruption error found inside an embedded buffer to its real place:
    /// sets the file and adds `base_offset` to the offset. Other errors pass through.
    pub fn relocated(self, file: impl Into<std::path::PathBuf>, base_offset: u64) -> Error {
        match self {
            Error::Corruption { offset, detail, .. } => Error::Corruption {
                file: file.into(),
                offset: base_offset.saturating_add(offset),
                detail,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roundtrip_and_iter() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1").delete(b"k2").put(b"", b"");
        b.push(ValueKind::Merge, 7, b"m", Some(b"+1"));
        b.set_seq(42);
        assert_eq!(b.count(), 4);
        let d = WriteBatch::from_bytes(b.as_bytes()).unwrap();
        assert_eq!(d, b);
        assert_eq!(d.seq(), 42);
        let ops: Vec<_> = d.iter().collect();
        assert_eq!(ops.len(), 4);
        assert_eq!(
            ops[1],
            BatchOp {
                kind: ValueKind::Delete,
                keyspace: 0,
                key: b"k2",
                value: b""
            }
        );
        assert_eq!(ops[3].keyspace, 7);
    }

    #[test]
    fn clear_and_append() {
        let mut a = WriteBatch::new();
        a.put("a", "1");
        let mut b = WriteBatch::new();
        b.put("b", "2").delete("c");
        a.append(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(
            WriteBatch::from_bytes(a.as_bytes()).unwrap().iter().count(),
            3
        );
        a.clear();
        assert!(a.is_empty());
        assert_eq!(a, WriteBatch::new());
    }

    #[test]
    fn count_mismatch_is_corruption() {
        let mut b = WriteBatch::new();
        b.put("a", "1");
        let mut bytes = b.as_bytes().to_vec();
        bytes[8] = 2;
        assert!(WriteBatch::from_bytes(&bytes).unwrap_err().is_corruption());
    }

    proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AA1E),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

        #[test]
        fn decoding_garbage_never_panics(bytes: Vec<u8>) {
            if let Ok(b) = WriteBatch::from_bytes(&bytes) {
                prop_assert_eq!(b.iter().count() as u32, b.count());
            }
        }

        #[test]
        fn every_truncation_is_rejected(keys in proptest::collection::vec(".{0,8}", 1..5)) {
            let mut b = WriteBatch::new();
            for k in &keys { b.put(k, k); }
            let bytes = b.as_bytes();
            for cut in 0..bytes.len() {
                prop_assert!(WriteBatch::from_bytes(&bytes[..cut]).is_err());
            }
        }
    }
}
