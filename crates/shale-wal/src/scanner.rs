//! The physical layer of the reader: walks a log file block by block and yields
//! fragments, zero padding and damaged regions. It knows nothing about logical records
//! or recovery modes (see `reader.rs`).

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use shale_core::Result;
use shale_fs::RandomAccessFile;

use crate::format::{BLOCK_SIZE, FRAGMENT_HEADER_SIZE, FragmentHeader, FragmentType};

/// A fragment whose header and checksum are valid.
#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    /// File offset of the fragment header.
    pub offset: u64,
    /// Its type.
    pub kind: FragmentType,
    /// Where its payload sits in the scanner's current block ([`Scanner::bytes`]).
    pub payload: Range<usize>,
}

impl Fragment {
    /// File offset just past the fragment.
    pub fn end(&self) -> u64 {
        self.offset + (FRAGMENT_HEADER_SIZE + self.payload.len()) as u64
    }
}

/// A region the scanner could not read as a fragment. The scanner resumes at `end`.
#[derive(Debug, Clone)]
pub(crate) struct Damage {
    /// Where the damage was found.
    pub offset: u64,
    /// Where reading resumes: the end of the block (or of the file), because a damaged
    /// header's length cannot be trusted.
    pub end: u64,
    /// What was wrong.
    pub reason: String,
    /// For a checksum mismatch: the fragment's type and length (for `dump`).
    pub bad_crc: Option<(FragmentType, usize)>,
}

/// One step of the physical walk.
#[derive(Debug, Clone)]
pub(crate) enum Physical {
    /// A valid fragment.
    Fragment(Fragment),
    /// Zero bytes closing a block whose remaining space could not hold a header.
    Padding {
        /// File offset of the padding.
        offset: u64,
        /// Its length (up to 6; less if the file ends inside it).
        len: u64,
    },
    /// A region that is not a valid fragment.
    Damage(Damage),
    /// The end of the file.
    Eof,
}

/// Reads a log file one block at a time (never the whole file).
pub(crate) struct Scanner {
    file: Arc<dyn RandomAccessFile>,
    path: PathBuf,
    /// File size, fixed when the scanner was opened.
    file_len: u64,
    /// The loaded block (shorter than a block only for the file's last block).
    block: Vec<u8>,
    /// File offset of `block[0]`, if a block is loaded.
    block_start: Option<u64>,
    /// Next file offset to read.
    pos: u64,
}

impl Scanner {
    /// Scans `file` from offset 0.
    pub fn new(file: Arc<dyn RandomAccessFile>, path: PathBuf) -> Scanner {
        let file_len = file.len();
        Scanner {
            file,
            path,
            file_len,
            block: Vec::new(),
            block_start: None,
            pos: 0,
        }
    }

    /// The file size the scanner works with.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Bytes of the current block (for a [`Fragment::payload`] range).
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        self.block.get(range).unwrap_or(&[])
    }

    /// Moves the read position (used to resume after a damaged file header).
    pub fn skip_to(&mut self, pos: u64) {
        self.pos = pos.min(self.file_len);
    }

    /// The first `n` bytes of the file (at most one block; fewer if the file is shorter).
    pub fn prefix(&mut self, n: usize) -> Result<&[u8]> {
        self.load_block(0)?;
        Ok(self.block.get(..n.min(self.block.len())).unwrap_or(&[]))
    }

    fn load_block(&mut self, block_start: u64) -> Result<()> {
        if self.block_start == Some(block_start) {
            return Ok(());
        }
        self.block_start = None;
        read_block(&*self.file, self.file_len, block_start, &mut self.block)?;
        self.block_start = Some(block_start);
        Ok(())
    }

    /// The next physical item at the read position.
    pub fn next(&mut self) -> Result<Physical> {
        let pos = self.pos;
        if pos >= self.file_len {
            return Ok(Physical::Eof);
        }
        let block_start = pos - pos % BLOCK_SIZE as u64;
        self.load_block(block_start)?;
        let at = (pos - block_start) as usize;
        let loaded_end = block_start + self.block.len() as u64;
        let rest = self.block.get(at..).unwrap_or(&[]);
        let space = BLOCK_SIZE - at;

        let damage = |reason: String| Damage {
            offset: pos,
            end: loaded_end,
            reason,
            bad_crc: None,
        };
        if space < FRAGMENT_HEADER_SIZE {
            self.pos = loaded_end;
            return Ok(if rest.iter().all(|&b| b == 0) {
                Physical::Padding {
                    offset: pos,
                    len: rest.len() as u64,
                }
            } else {
                Physical::Damage(damage(format!(
                    "non-zero bytes in the {space}-byte trailer of a block (must be zero padding)"
                )))
            });
        }
        let Some(h) = FragmentHeader::decode(rest) else {
            self.pos = loaded_end;
            let reason = if rest.iter().all(|&b| b == 0) {
                format!("zero-filled region of {} bytes at end of file", rest.len())
            } else {
                format!(
                    "file ends inside a fragment header ({} of {FRAGMENT_HEADER_SIZE} bytes present)",
                    rest.len()
                )
            };
            return Ok(Physical::Damage(damage(reason)));
        };
        let outcome = check_fragment(&h, rest, space);
        match outcome {
            Ok(kind) => {
                let start = at + FRAGMENT_HEADER_SIZE;
                let f = Fragment {
                    offset: pos,
                    kind,
                    payload: start..start + h.len,
                };
                self.pos = f.end();
                Ok(Physical::Fragment(f))
            }
            Err(Invalid { reason, bad_crc }) => {
                self.pos = loaded_end;
                Ok(Physical::Damage(Damage {
                    bad_crc: bad_crc.map(|kind| (kind, h.len)),
                    ..damage(reason)
                }))
            }
        }
    }

    /// The offset of the first valid fragment (known type, length inside its block,
    /// matching checksum) that starts at or after `from`, trying every byte position.
    /// Used to tell a torn tail (nothing valid follows) from damage in the middle.
    pub fn valid_fragment_from(&self, from: u64) -> Result<Option<u64>> {
        let mut block_start = from - from % BLOCK_SIZE as u64;
        let mut at = (from - block_start) as usize;
        let mut buf = Vec::new();
        while block_start < self.file_len {
            let block: &[u8] = if self.block_start == Some(block_start) {
                &self.block
            } else {
                read_block(&*self.file, self.file_len, block_start, &mut buf)?;
                &buf
            };
            while at + FRAGMENT_HEADER_SIZE <= block.len() {
                let rest = block.get(at..).unwrap_or(&[]);
                if let Some(h) = FragmentHeader::decode(rest)
                    && check_fragment(&h, rest, BLOCK_SIZE - at).is_ok()
                {
                    return Ok(Some(block_start + at as u64));
                }
                at += 1;
            }
            block_start += BLOCK_SIZE as u64;
            at = 0;
        }
        Ok(None)
    }
}

/// Reads the block starting at `block_start` into `buf` (shorter at the end of file).
fn read_block(
    file: &dyn RandomAccessFile,
    file_len: u64,
    block_start: u64,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let n = file_len.saturating_sub(block_start).min(BLOCK_SIZE as u64) as usize;
    buf.clear();
    buf.resize(n, 0);
    file.read_exact_at(block_start, buf)
}

/// Why bytes are not a valid fragment.
struct Invalid {
    reason: String,
    /// Set (to the fragment's type) when only the checksum is wrong.
    bad_crc: Option<FragmentType>,
}

impl From<String> for Invalid {
    fn from(reason: String) -> Self {
        Invalid {
            reason,
            bad_crc: None,
        }
    }
}

/// Checks a decoded header against the bytes that follow it (`rest` starts at the
/// header; `space` is what is left of the block from the header on). Returns the type,
/// or why this is not a valid fragment.
fn check_fragment(h: &FragmentHeader, rest: &[u8], space: usize) -> Result<FragmentType, Invalid> {
    if h.kind == 0 && h.len == 0 && h.masked_crc == 0 {
        let zeros = rest.iter().take_while(|&&b| b == 0).count();
        return Err(format!(
            "zero-filled region ({zeros} zero bytes; preallocated or never-written space)"
        )
        .into());
    }
    let kind = FragmentType::from_u8(h.kind)
        .ok_or_else(|| format!("unknown fragment type {} (length {})", h.kind, h.len))?;
    let name = kind.name();
    let room = space - FRAGMENT_HEADER_SIZE;
    if h.len > room {
        return Err(format!(
            "bad {name} fragment length {}: only {room} bytes left in its block",
            h.len
        )
        .into());
    }
    let Some(payload) = rest.get(FRAGMENT_HEADER_SIZE..FRAGMENT_HEADER_SIZE + h.len) else {
        let present = rest.len() - FRAGMENT_HEADER_SIZE;
        return Err(format!(
            "{name} fragment truncated: header says {} payload bytes, file ends after {present}",
            h.len
        )
        .into());
    };
    if !h.crc_matches(payload) {
        return Err(Invalid {
            reason: format!("checksum mismatch in {name} fragment (length {})", h.len),
            bad_crc: Some(kind),
        });
    }
    Ok(kind)
}
