//! Small shared pieces of the on-disk format: block handles, the block trailer with its
//! masked crc32c, and the compression types. See `docs/format/sstable.md`.

use shale_core::coding::{Decoder, put_varint64};

pub use shale_core::checksum::{mask_crc, unmask_crc};

/// Bytes after every block: one compression type byte and a masked crc32c (LE).
pub const BLOCK_TRAILER_LEN: usize = 5;

/// Where a block lives in the file: its offset and the size of its stored contents
/// (without the 5-byte trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct BlockHandle {
    /// Offset of the first byte of the block.
    pub offset: u64,
    /// Length of the stored (possibly compressed) contents, trailer excluded.
    pub size: u64,
}

impl BlockHandle {
    /// Largest encoded length of a handle (two 10-byte varints).
    pub const MAX_ENCODED_LEN: usize = 20;

    /// Appends the handle as two varints: offset, then size.
    pub fn encode_to(&self, dst: &mut Vec<u8>) {
        put_varint64(dst, self.offset);
        put_varint64(dst, self.size);
    }

    /// Decodes a handle that must fill `src` exactly; `None` on any damage.
    pub fn decode_exact(src: &[u8]) -> Option<BlockHandle> {
        let mut d = Decoder::new(src);
        let offset = d.varint64()?;
        let size = d.varint64()?;
        d.is_empty().then_some(BlockHandle { offset, size })
    }

    /// Offset just past this block's trailer, or `None` on overflow.
    pub fn end_with_trailer(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_LEN as u64)
    }
}

/// The masked crc32c stored in a block trailer: over the stored contents, then the
/// compression type byte.
pub fn block_checksum(contents: &[u8], type_byte: u8) -> u32 {
    mask_crc(crc32c::crc32c_append(
        crc32c::crc32c(contents),
        &[type_byte],
    ))
}

/// How a block's contents are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Compression {
    /// Stored as is (type byte 0).
    None,
    /// LZ4 block format via `lz4_flex`, prefixed with the uncompressed length as a
    /// varint (type byte 1). Used only when it saves at least 1/8 of the block.
    #[default]
    Lz4,
}

impl Compression {
    /// The type byte written in block trailers.
    pub fn type_byte(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
        }
    }

    /// Decodes a trailer type byte; `None` for unknown types.
    pub fn from_type_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            _ => None,
        }
    }

    /// The name used in the properties block and in dumps.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
        }
    }

    /// Parses a name written by [`Compression::name`].
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"none" => Some(Compression::None),
            b"lz4" => Some(Compression::Lz4),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_roundtrip() {
        for crc in [0u32, 1, 0xdead_beef, u32::MAX, 0x8000_0000] {
            assert_eq!(unmask_crc(mask_crc(crc)), crc);
            assert_ne!(mask_crc(crc), crc);
        }
    }

    #[test]
    fn handle_roundtrip_and_damage() {
        let h = BlockHandle {
            offset: 1 << 40,
            size: 4096,
        };
        let mut buf = Vec::new();
        h.encode_to(&mut buf);
        assert_eq!(BlockHandle::decode_exact(&buf), Some(h));
        for cut in 0..buf.len() {
            assert_eq!(BlockHandle::decode_exact(&buf[..cut]), None);
        }
        buf.push(0);
        assert_eq!(BlockHandle::decode_exact(&buf), None);
        let huge = BlockHandle {
            offset: u64::MAX,
            size: 1,
        };
        assert_eq!(huge.end_with_trailer(), None);
    }
}
