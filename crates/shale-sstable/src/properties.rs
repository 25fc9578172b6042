//! The properties block: facts about a table, recorded when it is built.
//!
//! Contents: a sequence of `(name, value)` pairs, each a varint length followed by the
//! bytes, names in strictly increasing bytewise order. Integer values are varints;
//! key values are raw internal keys; text values are UTF-8. Readers ignore names they
//! do not know (so later versions can add properties) and reject a block missing a
//! required one.

use shale_core::coding::{Decoder, put_length_prefixed, put_varint64};

use crate::format::Compression;

/// Facts about a table, stored in its properties block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableProperties {
    /// Number of entries.
    pub num_entries: u64,
    /// Entries that are tombstones (`Delete` or `RangeDelete`).
    pub num_deletions: u64,
    /// Sum of internal key lengths.
    pub raw_key_bytes: u64,
    /// Sum of value lengths.
    pub raw_value_bytes: u64,
    /// Smallest internal key (empty for an empty table).
    pub smallest_key: Vec<u8>,
    /// Largest internal key (empty for an empty table).
    pub largest_key: Vec<u8>,
    /// Smallest seqno of any entry (0 for an empty table).
    pub smallest_seqno: u64,
    /// Largest seqno of any entry (0 for an empty table).
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
const RAW_KEY_BYTES: &[u8] = b"raw_key_bytes";
const RAW_VALUE_BYTES: &[u8] = b"raw_value_bytes";
const SMALLEST_KEY: &[u8] = b"smallest_key";
const SMALLEST_SEQNO: &[u8] = b"smallest_seqno";

/// Every property this version writes (and requires), in order.
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
    /// Encodes the properties block contents.
    pub fn encode(&self) -> Vec<u8> {
        let pairs: [(&[u8], Vec<u8>); 15] = [
            (COMPRESSION, self.compression.name().as_bytes().to_vec()),
            (CREATION_TIME, varint(self.creation_time)),
            (DATA_BLOCKS, varint(self.num_data_blocks)),
            (DATA_SIZE, varint(self.data_size)),
            (DELETIONS, varint(self.num_deletions)),
            (ENTRIES, varint(self.num_entries)),
            (FILTER_BITS, varint(u64::from(self.filter_bits_per_key))),
            (FILTER_POLICY, self.filter_policy.as_bytes().to_vec()),
            (FILTER_SIZE, varint(self.filter_size)),
            (LARGEST_KEY, self.largest_key.clone()),
            (LARGEST_SEQNO, varint(self.largest_seqno)),
            (RAW_KEY_BYTES, varint(self.raw_key_bytes)),
            (RAW_VALUE_BYTES, varint(self.raw_value_bytes)),
            (SMALLEST_KEY, self.smallest_key.clone()),
            (SMALLEST_SEQNO, varint(self.smallest_seqno)),
        ];
        let mut out = Vec::new();
        for (name, value) in pairs {
            put_length_prefixed(&mut out, name);
            put_length_prefixed(&mut out, &value);
        }
        out
    }

    /// Decodes properties block contents; on damage returns what is wrong.
    pub fn decode(data: &[u8]) -> Result<TableProperties, String> {
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
        };
        let enc = p.encode();
        assert_eq!(TableProperties::decode(&enc).unwrap(), p);
        for cut in 0..enc.len() {
            assert!(TableProperties::decode(&enc[..cut]).is_err());
        }
        // An unknown (later) property in order is ignored.
        let mut extra = Vec::new();
        put_length_prefixed(&mut extra, b"zzz_future");
        put_length_prefixed(&mut extra, b"1");
        let mut with_extra = enc.clone();
        with_extra.extend_from_slice(&extra);
        assert_eq!(TableProperties::decode(&with_extra).unwrap(), p);
    }
}
