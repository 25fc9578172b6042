//! The stored form of a block: optional LZ4 compression and the 5-byte trailer, and
//! reading a block back from a file with every check applied.

use std::path::Path;

use bytes::Bytes;
use shale_core::coding::{Decoder, decode_fixed32, put_varint64};
use shale_core::{Error, Result};
use shale_fs::RandomAccessFile;

use crate::format::{BLOCK_TRAILER_LEN, BlockHandle, Compression, block_checksum};

/// The largest ratio LZ4 can reach: one input byte of a match-length run expands to at
/// most 255 output bytes. A claimed uncompressed size above `255 * n + 64` for `n`
/// compressed bytes is therefore damage, and is rejected before anything is allocated.
const LZ4_MAX_RATIO: u64 = 255;

/// Encodes `raw` for storage: fills `out` with the stored contents followed by the
/// trailer, and returns the compression actually used (raw when LZ4 would not save at
/// least 1/8 of the block).
pub(crate) fn encode_block(raw: &[u8], compression: Compression, out: &mut Vec<u8>) -> Compression {
    out.clear();
    let mut used = Compression::None;
    if compression == Compression::Lz4 {
        put_varint64(out, raw.len() as u64);
        let header = out.len();
        out.resize(
            header + lz4_flex::block::get_maximum_output_size(raw.len()),
            0,
        );
        if let Ok(n) = lz4_flex::block::compress_into(raw, &mut out[header..]) {
            let stored = header + n;
            if stored <= raw.len() - raw.len() / 8 {
                out.truncate(stored);
                used = Compression::Lz4;
            }
        }
    }
    if used == Compression::None {
        out.clear();
        out.extend_from_slice(raw);
    }
    let type_byte = used.type_byte();
    let crc = block_checksum(out, type_byte);
    out.push(type_byte);
    out.extend_from_slice(&crc.to_le_bytes());
    used
}

/// Checks the trailer of `stored` (contents + trailer, as read from `file` at
/// `offset`) and returns the decoded contents.
pub(crate) fn decode_block(mut stored: Vec<u8>, file: &Path, offset: u64) -> Result<Bytes> {
    let corrupt = |detail: String| Error::corruption(file, offset, detail);
    let Some(size) = stored.len().checked_sub(BLOCK_TRAILER_LEN) else {
        return Err(corrupt("block shorter than its trailer".into()));
    };
    let type_byte = stored.get(size).copied().unwrap_or(0);
    let stored_crc = stored.get(size + 1..).and_then(decode_fixed32).unwrap_or(0);
    let contents = stored.get(..size).unwrap_or(&[]);
    let actual = block_checksum(contents, type_byte);
    if actual != stored_crc {
        return Err(corrupt(format!(
            "block checksum mismatch: stored {stored_crc:#010x}, computed {actual:#010x} \
             over {size} bytes"
        )));
    }
    match Compression::from_type_byte(type_byte) {
        Some(Compression::None) => {
            stored.truncate(size);
            Ok(Bytes::from(stored))
        }
        Some(Compression::Lz4) => decompress_lz4(contents).map_err(corrupt),
        None => Err(corrupt(format!(
            "unknown block compression type {type_byte}"
        ))),
    }
}

fn decompress_lz4(contents: &[u8]) -> std::result::Result<Bytes, String> {
    let mut d = Decoder::new(contents);
    let claimed = d
        .varint64()
        .ok_or("lz4 block: bad uncompressed length varint")?;
    let body = d.remaining();
    let cap = (body.len() as u64)
        .saturating_mul(LZ4_MAX_RATIO)
        .saturating_add(64);
    if claimed > cap {
        return Err(format!(
            "lz4 block claims {claimed} uncompressed bytes from {} compressed (at most {cap})",
            body.len()
        ));
    }
    let len = usize::try_from(claimed).map_err(|_| "lz4 block: length overflows usize")?;
    let mut out = vec![0u8; len];
    match lz4_flex::block::decompress_into(body, &mut out) {
        Ok(n) if n == len => Ok(Bytes::from(out)),
        Ok(n) => Err(format!("lz4 block decoded to {n} bytes, expected {len}")),
        Err(e) => Err(format!("lz4 block: {e}")),
    }
}

/// Reads, checks and decodes the block at `handle`. Blocks must end by `limit` (the
/// start of the footer); a handle pointing elsewhere is reported at `referrer`, the
/// offset of the block or footer that holds the handle.
pub(crate) fn read_block(
    file: &dyn RandomAccessFile,
    path: &Path,
    handle: BlockHandle,
    limit: u64,
    referrer: u64,
) -> Result<Bytes> {
    let end = handle.end_with_trailer();
    let len = match end {
        Some(end) if end <= limit => usize::try_from(handle.size)
            .ok()
            .and_then(|s| s.checked_add(BLOCK_TRAILER_LEN)),
        _ => None,
    };
    let Some(len) = len else {
        return Err(Error::corruption(
            path,
            referrer,
            format!(
                "block handle (offset {}, size {}) points past the end of the table data \
                 ({limit} bytes)",
                handle.offset, handle.size
            ),
        ));
    };
    let mut buf = vec![0u8; len];
    file.read_exact_at(handle.offset, &mut buf)?;
    decode_block(buf, path, handle.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(raw: &[u8], c: Compression) -> Compression {
        let mut out = Vec::new();
        let used = encode_block(raw, c, &mut out);
        let back = decode_block(out, Path::new("t"), 0).unwrap();
        assert_eq!(&back[..], raw);
        used
    }

    #[test]
    fn compresses_only_when_worth_it() {
        let compressible = vec![7u8; 4096];
        assert_eq!(roundtrip(&compressible, Compression::Lz4), Compression::Lz4);
        assert_eq!(
            roundtrip(&compressible, Compression::None),
            Compression::None
        );
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert_eq!(roundtrip(&random, Compression::Lz4), Compression::None);
        assert_eq!(roundtrip(&[], Compression::Lz4), Compression::None);
    }

    #[test]
    fn huge_claimed_length_is_corruption() {
        let mut contents = Vec::new();
        put_varint64(&mut contents, u64::MAX / 2);
        contents.extend_from_slice(&[0x10, b'a']);
        let crc = block_checksum(&contents, 1);
        contents.push(1);
        contents.extend_from_slice(&crc.to_le_bytes());
        let err = decode_block(contents, Path::new("t"), 77).unwrap_err();
        assert!(matches!(err, Error::Corruption { offset: 77, .. }), "{err}");
    }

    #[test]
    fn every_bit_flip_detected() {
        let raw: Vec<u8> = (0..300u32).map(|i| (i % 17) as u8).collect();
        for c in [Compression::None, Compression::Lz4] {
            let mut good = Vec::new();
            encode_block(&raw, c, &mut good);
            for i in 0..good.len() {
                for bit in 0..8 {
                    let mut bad = good.clone();
                    bad[i] ^= 1 << bit;
                    assert!(decode_block(bad, Path::new("t"), 0).is_err());
                }
            }
        }
    }
}
