//! Data and index blocks: sorted internal keys with prefix compression and restart
//! points.
//!
//! ```text
//! entry*   : varint32 shared | varint32 non_shared | varint32 value_len
//!            | key_delta[non_shared] | value[value_len]
//! restart* : fixed32 offset of an entry stored with shared == 0
//! fixed32  : number of restarts
//! ```
//!
//! [`Block::new`] validates the restart array once (count fits, first restart is 0,
//! offsets strictly increasing and inside the entry area), so the iterator can binary
//! search it without further checks. Entries are validated as they are decoded.

mod builder;
mod iter;

pub use builder::BlockBuilder;
pub use iter::BlockIter;

use bytes::Bytes;
use shale_core::coding::decode_fixed32;

/// An immutable, decoded (decompressed) block whose restart array has been validated.
#[derive(Clone)]
pub struct Block {
    data: Bytes,
    restarts_offset: usize,
    num_restarts: usize,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("len", &self.data.len())
            .field("restarts_offset", &self.restarts_offset)
            .field("num_restarts", &self.num_restarts)
            .finish()
    }
}

impl Block {
    /// Parses a block's contents; on damage returns a description of what is wrong.
    pub fn new(data: Bytes) -> Result<Block, String> {
        let len = data.len();
        let num_restarts = len
            .checked_sub(4)
            .and_then(|at| data.get(at..))
            .and_then(decode_fixed32)
            .ok_or_else(|| format!("block of {len} bytes is too short for a restart count"))?
            as usize;
        let restarts_offset = num_restarts
            .checked_mul(4)
            .and_then(|n| n.checked_add(4))
            .and_then(|n| len.checked_sub(n))
            .ok_or_else(|| {
                format!("block claims {num_restarts} restart points but has only {len} bytes")
            })?;
        let block = Block {
            data,
            restarts_offset,
            num_restarts,
        };
        if restarts_offset > 0 {
            if num_restarts == 0 {
                return Err("block has entries but no restart points".into());
            }
            let mut prev = None;
            for i in 0..num_restarts {
                let r = block.restart_point(i);
                let ok = match prev {
                    None => r == 0,
                    Some(p) => r > p && r < restarts_offset,
                };
                if !ok {
                    return Err(format!("restart point {i} has bad offset {r}"));
                }
                prev = Some(r);
            }
        }
        Ok(block)
    }

    /// The block's decoded contents.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Size of the decoded contents in bytes.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// True if the block holds no entries.
    pub fn is_empty(&self) -> bool {
        self.restarts_offset == 0
    }

    /// Number of restart points.
    pub fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// The full key stored at restart point `i`, if that entry is well formed (an
    /// entry at a restart point shares nothing with the one before).
    pub(crate) fn restart_key(&self, i: usize) -> Option<&[u8]> {
        let p = self.restart_point(i);
        let (shared, non_shared, _, key_start) =
            iter::decode_entry(&self.data, p, self.restarts_offset)?;
        if shared != 0 {
            return None;
        }
        self.data.get(key_start..key_start + non_shared)
    }

    /// Offset of restart point `i`; validated in [`Block::new`], 0 if out of range.
    pub(crate) fn restart_point(&self, i: usize) -> usize {
        i.checked_mul(4)
            .and_then(|o| o.checked_add(self.restarts_offset))
            .and_then(|o| self.data.get(o..))
            .and_then(decode_fixed32)
            .map_or(0, |v| v as usize)
    }
}

#[cfg(test)]
mod tests;
