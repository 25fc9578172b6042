//! Constants and codecs of the physical log format: blocks, fragment headers, the
//! masked crc32c, and the file header record. See `docs/format/wal.md`.

use shale_core::coding::{Decoder, put_fixed32, put_fixed64};

use crate::LogKind;

pub use shale_core::checksum::{mask_crc, unmask_crc};

/// Size of a block; fragment headers never cross a block boundary.
pub const BLOCK_SIZE: usize = 32 * 1024;

/// Size of a fragment header: masked crc32c (4) + length (2) + type (1).
pub const FRAGMENT_HEADER_SIZE: usize = 7;

/// The largest payload one fragment can carry (a fragment alone in a block).
pub const MAX_FRAGMENT_PAYLOAD: usize = BLOCK_SIZE - FRAGMENT_HEADER_SIZE;

/// The on-disk format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Length of the file header record's payload: magic (8) + version (4) + file number (8).
pub const FILE_HEADER_PAYLOAD_LEN: usize = 20;

/// Length of the whole file header record (fragment header + payload) at offset 0.
pub const FILE_HEADER_RECORD_LEN: usize = FRAGMENT_HEADER_SIZE + FILE_HEADER_PAYLOAD_LEN;

/// The type byte of a fragment: where it sits in its logical record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FragmentType {
    /// A whole logical record in one fragment.
    Full = 1,
    /// The first fragment of a record split over several.
    First = 2,
    /// A fragment strictly inside a split record.
    Middle = 3,
    /// The last fragment of a split record.
    Last = 4,
}

impl FragmentType {
    /// Decodes a type byte; `None` for 0 (zero padding / preallocated space) and for
    /// bytes no version of the format uses.
    pub fn from_u8(b: u8) -> Option<FragmentType> {
        match b {
            1 => Some(FragmentType::Full),
            2 => Some(FragmentType::First),
            3 => Some(FragmentType::Middle),
            4 => Some(FragmentType::Last),
            _ => None,
        }
    }

    /// Upper-case name as printed by `dump`.
    pub fn name(self) -> &'static str {
        match self {
            FragmentType::Full => "FULL",
            FragmentType::First => "FIRST",
            FragmentType::Middle => "MIDDLE",
            FragmentType::Last => "LAST",
        }
    }
}

/// The crc32c a fragment header stores (before masking): over the type byte, then the
/// payload.
pub fn fragment_crc(kind: u8, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload)
}

/// Appends one fragment (header + payload) to `dst`. `payload` must fit in a block.
pub fn put_fragment(dst: &mut Vec<u8>, kind: FragmentType, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_FRAGMENT_PAYLOAD);
    let crc = mask_crc(fragment_crc(kind as u8, payload));
    put_fixed32(dst, crc);
    // Fits: callers never pass more than MAX_FRAGMENT_PAYLOAD (< 65536) bytes.
    dst.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    dst.push(kind as u8);
    dst.extend_from_slice(payload);
}

/// A decoded (not yet verified) fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    /// The stored, masked crc.
    pub masked_crc: u32,
    /// Payload length.
    pub len: usize,
    /// The raw type byte.
    pub kind: u8,
}

impl FragmentHeader {
    /// Decodes the 7 header bytes at the start of `src`; `None` if `src` is shorter.
    pub fn decode(src: &[u8]) -> Option<FragmentHeader> {
        let mut d = Decoder::new(src);
        let masked_crc = d.fixed32()?;
        let len_bytes: [u8; 2] = d.bytes(2)?.try_into().ok()?;
        let kind = d.u8()?;
        Some(FragmentHeader {
            masked_crc,
            len: usize::from(u16::from_le_bytes(len_bytes)),
            kind,
        })
    }

    /// True if `payload` matches the stored checksum.
    pub fn crc_matches(&self, payload: &[u8]) -> bool {
        unmask_crc(self.masked_crc) == fragment_crc(self.kind, payload)
    }
}

/// The decoded payload of the file header record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    /// What the file holds.
    pub kind: LogKind,
    /// Format version.
    pub version: u32,
    /// The file's number (the `N` of `N.log` / `MANIFEST-N`).
    pub file_number: u64,
}

/// Encodes the file header record's payload.
pub fn encode_file_header(kind: LogKind, file_number: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(FILE_HEADER_PAYLOAD_LEN);
    v.extend_from_slice(kind.magic());
    put_fixed32(&mut v, FORMAT_VERSION);
    put_fixed64(&mut v, file_number);
    v
}

/// Decodes and checks a file header record's payload for a file expected to be
/// `expected`. The error is a human-readable reason (the caller adds file and offset).
pub fn parse_file_header(payload: &[u8], expected: LogKind) -> Result<FileHeader, String> {
    let mut d = Decoder::new(payload);
    let not_ours = || format!("not a ShaleDB {} file: bad magic number", expected.name());
    let magic = d.bytes(8).ok_or_else(not_ours)?;
    let kind = match LogKind::from_magic(magic) {
        Some(k) if k == expected => k,
        Some(k) => {
            return Err(format!(
                "not a ShaleDB {} file: it is a ShaleDB {}",
                expected.name(),
                k.name()
            ));
        }
        None => return Err(not_ours()),
    };
    let version = d
        .fixed32()
        .ok_or_else(|| "file header record too short for its version field".to_string())?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "unsupported {} format version {version} (this build reads version {FORMAT_VERSION})",
            expected.name()
        ));
    }
    let file_number = d.fixed64().filter(|_| d.is_empty()).ok_or_else(|| {
        format!(
            "file header record has {} payload bytes, version {FORMAT_VERSION} has {FILE_HEADER_PAYLOAD_LEN}",
            payload.len()
        )
    })?;
    Ok(FileHeader {
        kind,
        version,
        file_number,
    })
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
        // LevelDB's `((crc >> 15) | (crc << 17)) + 0xa282ead8`, computed by hand.
        assert_eq!(mask_crc(0x1234_5678), 0x4f73_0f40);
    }

    #[test]
    fn crc32c_known_value() {
        // RFC 3720 test vector: 32 bytes of zeros.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn fragment_header_roundtrip() {
        let mut buf = Vec::new();
        put_fragment(&mut buf, FragmentType::First, b"hello");
        assert_eq!(buf.len(), FRAGMENT_HEADER_SIZE + 5);
        let h = FragmentHeader::decode(&buf).unwrap();
        assert_eq!((h.len, h.kind), (5, 2));
        assert!(h.crc_matches(b"hello"));
        assert!(!h.crc_matches(b"hellp"));
        assert!(FragmentHeader::decode(&buf[..6]).is_none());
    }

    #[test]
    fn file_header_checks() {
        let p = encode_file_header(LogKind::Wal, 42);
        assert_eq!(p.len(), FILE_HEADER_PAYLOAD_LEN);
        let h = parse_file_header(&p, LogKind::Wal).unwrap();
        assert_eq!((h.kind, h.version, h.file_number), (LogKind::Wal, 1, 42));
        let e = parse_file_header(&p, LogKind::Manifest).unwrap_err();
        assert!(e.contains("it is a ShaleDB WAL"), "{e}");
        let mut v9 = p.clone();
        v9[8] = 9;
        assert!(
            parse_file_header(&v9, LogKind::Wal)
                .unwrap_err()
                .contains("version 9")
        );
        assert!(parse_file_header(b"SHALEW", LogKind::Wal).is_err());
        assert!(parse_file_header(&p[..19], LogKind::Wal).is_err());
        assert!(parse_file_header(b"NOTSHALE\x01\0\0\0", LogKind::Wal).is_err());
    }
}
