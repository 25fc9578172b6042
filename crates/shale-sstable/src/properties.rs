//! The properties block: facts about a table, recorded when it is built.
//!
//! Contents: a sequence of `(name, value)` pairs, each a varint length followed by the
//! bytes, names in strictly increasing bytewise order. Integer values are varints;
//! key values are raw internal keys; text values are UTF-8. Readers ignore names they
//! do not know (so later versions can add properties) and reject a block missing a
//! required one.
//!
//! Format version 2 adds `range_deletions` (required) and `range_del_block` (the
//! handle of the range-deletion block, present exactly when `range_deletions > 0`).
//! In a version 1 table both are unknown names and are ignored.

use shale_core::coding::{Decoder, put_length_prefixed, put_varint64};

use crate::footer::RANGE_DEL_FORMAT_VERSION;
use crate::format::{BlockHandle, Compression};

/// Facts about a table, stored in its properties block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableProperties {
    /// Number of point entries (the entries of the data blocks).
    pub num_entries: u64,
    /// Tombstones: point entries of kind `Delete` (or, in version 1 data blocks,
    /// `RangeDelete`) plus the range tombstones of the range-deletion block.
    pub num_deletions: u64,
    /// Number of range tombstones (the entries of the range-deletion block; 0 in
    /// version 1 tables).
    pub num_range_deletions: u64,
    /// Where the range-deletion block is (`None` when the table has no range
    /// tombstones).
    pub range_del_block: Option<BlockHandle>,
    /// Sum of the point entries' internal key lengths.
    pub raw_key_bytes: u64,
    /// Sum of the point entries' value lengths.
    pub raw_value_bytes: u64,
    /// Smallest internal key: the smallest point key or range tombstone start
    /// (`start`, seq, `RangeDelete`) (empty for an empty table).
    pub smallest_key: Vec<u8>,
    /// Largest internal key: the largest point key or range tombstone bound
    /// (`inclusive_upper_bound(end)`, 0, `RangeDelete`) (empty for an empty table).
    pub largest_key: Vec<u8>,
    /// Smallest seqno of any entry or range tombstone (0 for an empty table).
    pub smallest_seqno: u64,
    /// Largest seqno of any entry or range tombstone (0 for an empty table).
    pub largest_seqno: u64,
    /// Compression configured for data blocks (a block may still be stored raw).
    pub compression: Compression,
    /// Filter policy name, empty when the table has no filter.
    pub filter_policy: String,
    /// Bits per key the filter was built with (0 without a filter).
    pub filter_bits_per_key: u32,
    /// Creation time in seconds since the Unix epoch, as passed in the options.
    pub creation_time: u64,
    /// Number of data blocks.
    pub num_data_blocks: u64,
    /// Total bytes of data blocks, trailers included.
    pub data_size: u64,
    /// Bytes of the filter block, trailer included (0 without a filter).
    pub filter_size: u64,
}

// Names, in the sorted order they are written.
const COMPRESSION: &[u8] = b"compression";
const CREATION_TIME: &[u8] = b"creation_time";
const DATA_BLOCKS: &[u8] = b"data_blocks";
const DATA_SIZE: &[u8] = b"data_size";
const DELETIONS: &[u8] = b"deletions";
const ENTRIES: &[u8] = b"entries";
const FILTER_BITS: &[u8] = b"filter_bits_per_key";
const FILTER_POLICY: &[u8] = b"filter_policy";
const FILTER_SIZE: &[u8] = b"filter_size";
const LARGEST_KEY: &[u8] = b"largest_key";
const LARGEST_SEQNO: &[u8] = b"largest_seqno";
const RANGE_DEL_BLOCK: &[u8] = b"range_del_block";
const RANGE_DELETIONS: &[u8] = b"range_deletions";
const RAW_KEY_BYTES: &[u8] = b"raw_key_bytes";
const RAW_VALUE_BYTES: &[u8] = b"raw_value_bytes";
const SMALLEST_KEY: &[u8] = b"smallest_key";
const SMALLEST_SEQNO: &[u8] = b"smallest_seqno";

/// Every property version 1 writes (and every version requires), in order.
const REQUIRED: [&[u8]; 15] = [
    COMPRESSION,
    CREATION_TIME,
    DATA_BLOCKS,
    DATA_SIZE,
    DELETIONS,
    ENTRIES,
    FILTER_BITS,
    FILTER_POLICY,
    FILTER_SIZE,
    LARGEST_KEY,
    LARGEST_SEQNO,
    RAW_KEY_BYTES,
    RAW_VALUE_BYTES,
    SMALLEST_KEY,
    SMALLEST_SEQNO,
];

fn varint(v: u64) -> Vec<u8> {
    let mut b = Vec::new();
    put_varint64(&mut b, v);
    b
}

fn parse_varint(v: &[u8]) -> Option<u64> {
    let mut d = Decoder::new(v);
    let n = d.varint64()?;
    d.is_empty().then_some(n)
}

impl TableProperties {
    /// Encodes the properties block contents (format version 2: `range_deletions`
    /// always, `range_del_block` when set).
    pub fn encode(&self) -> Vec<u8> {
        let range_del_block = self.range_del_block.map(|h| {
            let mut v = Vec::with_capacity(BlockHandle::MAX_ENCODED_LEN);
            h.encode_to(&mut v);
            v
        });
        let pairs: [(&[u8], Option<Vec<u8>>); 17] = [
            (
                COMPRESSION,
                Some(self.compression.name().as_bytes().to_vec()),
            ),
            (CREATION_TIME, Some(varint(self.creation_time))),
            (DATA_BLOCKS, Some(varint(self.num_data_blocks))),
            (DATA_SIZE, Some(varint(self.data_size))),
            (DELETIONS, Some(varint(self.num_deletions))),
            (ENTRIES, Some(varint(self.num_entries))),
            (
                FILTER_BITS,
                Some(varint(u64::from(self.filter_bits_per_key))),
            ),
            (FILTER_POLICY, Some(self.filter_policy.as_bytes().to_vec())),
            (FILTER_SIZE, Some(varint(self.filter_size))),
            (LARGEST_KEY, Some(self.largest_key.clone())),
            (LARGEST_SEQNO, Some(varint(self.largest_seqno))),
            (RANGE_DEL_BLOCK, range_del_block),
            (RANGE_DELETIONS, Some(varint(self.num_range_deletions))),
            (RAW_KEY_BYTES, Some(varint(self.raw_key_bytes))),
            (RAW_VALUE_BYTES, Some(varint(self.raw_value_bytes))),
            (SMALLEST_KEY, Some(self.smallest_key.clone())),
            (SMALLEST_SEQNO, Some(varint(self.smallest_seqno))),
        ];
        let mut out = Vec::new();
        for (name, value) in pairs {
            if let Some(value) = value {
                put_length_prefixed(&mut out, name);
                put_length_prefixed(&mut out, &value);
            }
        }
        out
    }

    /// Decodes the properties block of a table of format `version`: version 1 treats
    /// the range-deletion properties as unknown (ignored); later versions require
    /// `range_deletions`, and `range_del_block` exactly when it is not 0. On damage
    /// returns what is wrong.
    pub fn decode_for_version(data: &[u8], version: u32) -> Result<TableProperties, String> {
        if version < RANGE_DEL_FORMAT_VERSION {
            return Self::decode_inner(data, false);
        }
        let p = Self::decode_inner(data, true)?;
        if !contains(data, RANGE_DELETIONS) {
            return Err("missing properties: range_deletions".into());
        }
        if p.range_del_block.is_some() != (p.num_range_deletions > 0) {
            return Err(format!(
                "range_deletions = {} but the range_del_block property is {}",
                p.num_range_deletions,
                if p.range_del_block.is_some() {
                    "present"
                } else {
                    "absent"
                }
            ));
        }
        if p.num_range_deletions > p.num_deletions {
            return Err(format!(
                "range_deletions = {} exceeds deletions = {}",
                p.num_range_deletions, p.num_deletions
            ));
        }
        Ok(p)
    }

    /// Decodes properties block contents, requiring the version 1 set and reading
    /// the version 2 ones when present; on damage returns what is wrong. Table readers
    /// use [`TableProperties::decode_for_version`].
    pub fn decode(data: &[u8]) -> Result<TableProperties, String> {
        Self::decode_inner(data, true)
    }

    fn decode_inner(data: &[u8], range_dels: bool) -> Result<TableProperties, String> {
        let mut p = TableProperties::default();
        let mut d = Decoder::new(data);
        let mut last: Option<&[u8]> = None;
        let mut seen = 0usize;
        while !d.is_empty() {
            let at = d.position();
            let (Some(name), Some(value)) = (d.length_prefixed(), d.length_prefixed()) else {
                return Err(format!("truncated property at block offset {at}"));
            };
            if last.is_some_and(|l| l >= name) {
                return Err(format!(
                    "property {:?} out of order",
                    String::from_utf8_lossy(name)
                ));
            }
            last = Some(name);
            let bad = || format!("bad value for property {:?}", String::from_utf8_lossy(name));
            let int = || parse_varint(value).ok_or_else(bad);
            match name {
                COMPRESSION => {
                    p.compression = Compression::from_name(value).ok_or_else(bad)?;
                }
                CREATION_TIME => p.creation_time = int()?,
                DATA_BLOCKS => p.num_data_blocks = int()?,
                DATA_SIZE => p.data_size = int()?,
                DELETIONS => p.num_deletions = int()?,
                ENTRIES => p.num_entries = int()?,
                FILTER_BITS => {
                    p.filter_bits_per_key = u32::try_from(int()?).map_err(|_| bad())?;
                }
                FILTER_POLICY => {
                    p.filter_policy = String::from_utf8(value.to_vec()).map_err(|_| bad())?;
                }
                FILTER_SIZE => p.filter_size = int()?,
                LARGEST_KEY => p.largest_key = value.to_vec(),
                LARGEST_SEQNO => p.largest_seqno = int()?,
                RANGE_DEL_BLOCK if range_dels => {
                    p.range_del_block = Some(BlockHandle::decode_exact(value).ok_or_else(bad)?);
                    continue; // optional
                }
                RANGE_DELETIONS if range_dels => {
                    p.num_range_deletions = int()?;
                    continue; // required only from version 2 on
                }
                RAW_KEY_BYTES => p.raw_key_bytes = int()?,
                RAW_VALUE_BYTES => p.raw_value_bytes = int()?,
                SMALLEST_KEY => p.smallest_key = value.to_vec(),
                SMALLEST_SEQNO => p.smallest_seqno = int()?,
                _ => continue, // a property from a later version
            }
            seen += 1;
        }
        if seen != REQUIRED.len() {
            let missing: Vec<_> = REQUIRED
                .iter()
                .filter(|n| !contains(data, n))
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            return Err(format!("missing properties: {}", missing.join(", ")));
        }
        Ok(p)
    }

    /// The properties as `(name, printable value)` pairs, for dumps.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let key = |k: &[u8]| {
            if k.is_empty() {
                String::new()
            } else {
                crate::dump::format_internal_key(k, crate::dump::DumpOptions::default())
            }
        };
        vec![
            ("entries", self.num_entries.to_string()),
            ("deletions", self.num_deletions.to_string()),
            ("range_deletions", self.num_range_deletions.to_string()),
            (
                "range_del_block",
                self.range_del_block.map_or_else(
                    || "none".to_string(),
                    |h| format!("offset {} size {}", h.offset, h.size),
                ),
            ),
            ("raw_key_bytes", self.raw_key_bytes.to_string()),
            ("raw_value_bytes", self.raw_value_bytes.to_string()),
            ("smallest_key", key(&self.smallest_key)),
            ("largest_key", key(&self.largest_key)),
            ("smallest_seqno", self.smallest_seqno.to_string()),
            ("largest_seqno", self.largest_seqno.to_string()),
            ("compression", self.compression.name().to_string()),
            ("filter_policy", self.filter_policy.clone()),
            ("filter_bits_per_key", self.filter_bits_per_key.to_string()),
            ("filter_size", self.filter_size.to_string()),
            ("data_blocks", self.num_data_blocks.to_string()),
            ("data_size", self.data_size.to_string()),
            ("creation_time", self.creation_time.to_string()),
        ]
    }
}

fn contains(data: &[u8], name: &[u8]) -> bool {
    let mut d = Decoder::new(data);
    while let (Some(n), Some(_)) = (d.length_prefixed(), d.length_prefixed()) {
        if n == name {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let p = TableProperties {
            num_entries: 10,
            num_deletions: 2,
            raw_key_bytes: 300,
            raw_value_bytes: 4000,
            smallest_key: b"a\0\0\0\0\0\0\0\0".to_vec(),
            largest_key: b"z\x01\0\0\0\0\0\0\0".to_vec(),
            smallest_seqno: 3,
            largest_seqno: 99,
            compression: Compression::Lz4,
            filter_policy: "shale.blocked_bloom.v1".into(),
            filter_bits_per_key: 10,
            creation_time: 1_700_000_000,
            num_data_blocks: 2,
            data_size: 5000,
            filter_size: 77,
            num_range_deletions: 0,
            range_del_block: None,
        };
        let enc = p.encode();
        assert_eq!(TableProperties::decode(&enc).unwrap(), p);
        assert_eq!(TableProperties::decode_for_version(&enc, 2).unwrap(), p);
        for cut in 0..enc.len() {
            assert!(TableProperties::decode_for_version(&enc[..cut], 2).is_err());
        }
        // An unknown (later) property in order is ignored.
        let mut extra = Vec::new();
        put_length_prefixed(&mut extra, b"zzz_future");
        put_length_prefixed(&mut extra, b"1");
        let mut with_extra = enc.clone();
        with_extra.extend_from_slice(&extra);
        assert_eq!(TableProperties::decode(&with_extra).unwrap(), p);
    }

    fn with_range_dels() -> TableProperties {
        TableProperties {
            num_deletions: 5,
            num_range_deletions: 3,
            range_del_block: Some(BlockHandle {
                offset: 700,
                size: 41,
            }),
            smallest_key: b"a\x03\x02\0\0\0\0\0\0".to_vec(),
            largest_key: b"z\x03\0\0\0\0\0\0\0".to_vec(),
            ..TableProperties::default()
        }
    }

    #[test]
    fn range_deletion_properties() {
        let p = with_range_dels();
        let enc = p.encode();
        assert!(contains(&enc, RANGE_DEL_BLOCK) && contains(&enc, RANGE_DELETIONS));
        assert_eq!(TableProperties::decode_for_version(&enc, 2).unwrap(), p);
        // Version 1 does not know these names: ignored.
        let v1 = TableProperties::decode_for_version(&enc, 1).unwrap();
        assert_eq!(v1.num_range_deletions, 0);
        assert_eq!(v1.range_del_block, None);
        // A count without a block, a block without a count, more range deletions
        // than deletions: rejected in version 2.
        for bad in [
            TableProperties {
                range_del_block: None,
                ..with_range_dels()
            },
            TableProperties {
                num_range_deletions: 0,
                ..with_range_dels()
            },
            TableProperties {
                num_deletions: 2,
                ..with_range_dels()
            },
        ] {
            let enc = bad.encode();
            assert!(TableProperties::decode_for_version(&enc, 2).is_err());
        }
    }

    #[test]
    fn version_2_requires_range_deletions_and_a_valid_handle() {
        // A version 1 block (no range_deletions) is incomplete for version 2.
        let v1_props = TableProperties::default();
        let mut enc = Vec::new();
        let full = v1_props.encode();
        let mut d = Decoder::new(&full);
        while let (Some(n), Some(v)) = (d.length_prefixed(), d.length_prefixed()) {
            if n != RANGE_DELETIONS {
                put_length_prefixed(&mut enc, n);
                put_length_prefixed(&mut enc, v);
            }
        }
        assert!(TableProperties::decode_for_version(&enc, 1).is_ok());
        let err = TableProperties::decode_for_version(&enc, 2).unwrap_err();
        assert!(err.contains("range_deletions"), "{err}");
        // A garbage handle is damage in version 2, an ignored unknown in version 1.
        let mut garbage = Vec::new();
        let mut d = Decoder::new(&full);
        while let (Some(n), Some(v)) = (d.length_prefixed(), d.length_prefixed()) {
            if n == RANGE_DELETIONS {
                put_length_prefixed(&mut garbage, RANGE_DEL_BLOCK);
                put_length_prefixed(&mut garbage, b"\xff\xff");
            }
            put_length_prefixed(&mut garbage, n);
            put_length_prefixed(&mut garbage, v);
        }
        assert!(TableProperties::decode_for_version(&garbage, 1).is_ok());
        let err = TableProperties::decode_for_version(&garbage, 2).unwrap_err();
        assert!(err.contains("range_del_block"), "{err}");
    }
}
