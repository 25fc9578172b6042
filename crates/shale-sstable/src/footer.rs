//! The fixed-size footer at the end of every table.
//!
//! ```text
//! offset  size  field
//!  0       8    index block offset        u64 LE
//!  8       8    index block size          u64 LE
//! 16       8    filter block offset       u64 LE   (offset 0 and size 0: no filter)
//! 24       8    filter block size         u64 LE
//! 32       8    properties block offset   u64 LE
//! 40       8    properties block size     u64 LE
//! 48       4    masked crc32c of bytes 0..48 followed by bytes 52..56
//! 52       4    format version            u32 LE   (1 or 2)
//! 56       8    magic                     89 53 48 41 4c 45 53 54  ("\x89SHALEST")
//! ```
//!
//! Version and magic sit at fixed distances from the end so a future version can
//! change everything before them. Versions 1 and 2 share this footer; version 2 adds
//! the range-deletion block, located through the `range_del_block` property (the
//! footer has no free slot, and the properties block's crc covers the handle).

use std::path::Path;

use shale_core::coding::{decode_fixed32, decode_fixed64, put_fixed32, put_fixed64};
use shale_core::{Error, Result};

use crate::format::{BlockHandle, mask_crc};

/// Size of the footer in bytes.
pub const FOOTER_LEN: usize = 64;
/// The last 8 bytes of every table file.
pub const TABLE_MAGIC: [u8; 8] = [0x89, b'S', b'H', b'A', b'L', b'E', b'S', b'T'];
/// The format version this crate writes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this crate reads (it reads every version up to
/// [`FORMAT_VERSION`]).
pub const MIN_FORMAT_VERSION: u32 = 1;
/// The first format version with a range-deletion block.
pub const RANGE_DEL_FORMAT_VERSION: u32 = 2;

/// The decoded footer: where the index, filter and properties blocks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The index block.
    pub index: BlockHandle,
    /// The filter block, if the table has one.
    pub filter: Option<BlockHandle>,
    /// The properties block.
    pub properties: BlockHandle,
    /// The table format version.
    pub format_version: u32,
}

pub(crate) fn footer_crc(buf: &[u8; FOOTER_LEN]) -> u32 {
    let crc = crc32c::crc32c(&buf[..48]);
    mask_crc(crc32c::crc32c_append(crc, &buf[52..56]))
}

impl Footer {
    /// Encodes the footer (always [`FOOTER_LEN`] bytes).
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut v = Vec::with_capacity(FOOTER_LEN);
        let filter = self.filter.unwrap_or_default();
        for h in [self.index, filter, self.properties] {
            put_fixed64(&mut v, h.offset);
            put_fixed64(&mut v, h.size);
        }
        put_fixed32(&mut v, 0);
        put_fixed32(&mut v, self.format_version);
        v.extend_from_slice(&TABLE_MAGIC);
        let mut buf = [0u8; FOOTER_LEN];
        buf.copy_from_slice(&v);
        let crc = footer_crc(&buf);
        buf[48..52].copy_from_slice(&crc.to_le_bytes());
        buf
    }

    /// Decodes the footer of a `file_len`-byte table at `path`: checks magic, version
    /// and checksum, and that every handle lies inside the file before the footer.
    pub fn decode(buf: &[u8; FOOTER_LEN], path: &Path, file_len: u64) -> Result<Footer> {
        let at = file_len.saturating_sub(FOOTER_LEN as u64);
        let corrupt = |detail: String| Error::corruption(path, at, detail);
        if buf[56..] != TABLE_MAGIC {
            return Err(corrupt(format!(
                "bad table magic {:02x?} (not a ShaleDB table, or truncated)",
                &buf[56..]
            )));
        }
        let version = decode_fixed32(&buf[52..]).unwrap_or(0);
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(corrupt(format!(
                "unknown table format version {version} (this build reads \
                 {MIN_FORMAT_VERSION} to {FORMAT_VERSION})"
            )));
        }
        let stored = decode_fixed32(&buf[48..]).unwrap_or(0);
        let actual = footer_crc(buf);
        if stored != actual {
            return Err(corrupt(format!(
                "footer checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
            )));
        }
        let handle = |i: usize| BlockHandle {
            offset: decode_fixed64(&buf[16 * i..]).unwrap_or(0),
            size: decode_fixed64(&buf[16 * i + 8..]).unwrap_or(0),
        };
        let (index, filter, properties) = (handle(0), handle(1), handle(2));
        let filter = (filter != BlockHandle::default()).then_some(filter);
        for (name, h) in [
            ("index", Some(index)),
            ("filter", filter),
            ("properties", Some(properties)),
        ] {
            let Some(h) = h else { continue };
            if h.end_with_trailer().is_none_or(|end| end > at) {
                return Err(corrupt(format!(
                    "{name} block handle (offset {}, size {}) points past the table data \
                     ({at} bytes)",
                    h.offset, h.size
                )));
            }
        }
        Ok(Footer {
            index,
            filter,
            properties,
            format_version: version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_every_bit_flip() {
        let f = Footer {
            index: BlockHandle {
                offset: 5000,
                size: 300,
            },
            filter: Some(BlockHandle {
                offset: 4000,
                size: 900,
            }),
            properties: BlockHandle {
                offset: 4905,
                size: 90,
            },
            format_version: FORMAT_VERSION,
        };
        let buf = f.encode();
        let p = Path::new("x.sst");
        assert_eq!(Footer::decode(&buf, p, 5400).unwrap(), f);
        // The index would end past the data area of a shorter file.
        assert!(Footer::decode(&buf, p, 5300).unwrap_err().is_corruption());
        for i in 0..FOOTER_LEN {
            for bit in 0..8 {
                let mut bad = buf;
                bad[i] ^= 1 << bit;
                let err = Footer::decode(&bad, p, 5400).unwrap_err();
                assert!(matches!(err, Error::Corruption { offset: 5336, .. }));
            }
        }
    }

    #[test]
    fn reads_version_1_and_rejects_unknown_versions() {
        let mut f = Footer {
            index: BlockHandle { offset: 0, size: 8 },
            filter: None,
            properties: BlockHandle {
                offset: 13,
                size: 20,
            },
            format_version: 1,
        };
        assert_eq!(Footer::decode(&f.encode(), Path::new("x"), 200).unwrap(), f);
        for v in [0, FORMAT_VERSION + 1, u32::MAX] {
            f.format_version = v;
            let err = Footer::decode(&f.encode(), Path::new("x"), 200).unwrap_err();
            assert!(
                err.to_string().contains("unknown table format version"),
                "{err}"
            );
        }
    }

    #[test]
    fn no_filter() {
        let f = Footer {
            index: BlockHandle { offset: 0, size: 8 },
            filter: None,
            properties: BlockHandle {
                offset: 13,
                size: 20,
            },
            format_version: FORMAT_VERSION,
        };
        assert_eq!(Footer::decode(&f.encode(), Path::new("x"), 200).unwrap(), f);
    }
}
