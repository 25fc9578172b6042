//! [`BlockIter`]: an [`InternalIterator`] over one block, forward and reverse.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use shale_core::coding::Decoder;
use shale_core::key::TRAILER_LEN;
use shale_core::{Error, InternalIterator, Result, compare_internal_keys};

use super::Block;

/// Bytes per cache line on the machines we run on, the stride of
/// [`BlockIter::touch_interval`].
const CACHE_LINE: usize = 64;

/// One entry of the current restart interval, remembered for reverse iteration.
#[derive(Debug, Clone, Copy)]
struct RevEntry {
    key_end: usize,
    value_off: usize,
    value_len: usize,
    offset: usize,
    next_off: usize,
}

/// Decodes the header of the entry at `p` (entries end at `limit`): returns
/// `(shared, non_shared, value_len, key_delta_start)`, with every length checked to
/// fit before `limit`.
#[inline]
pub(super) fn decode_entry(
    data: &[u8],
    p: usize,
    limit: usize,
) -> Option<(usize, usize, usize, usize)> {
    let src = data.get(p..limit)?;
    let (shared, non_shared, value_len, header_len) = match src {
        [a, b, c, ..] if (a | b | c) < 0x80 => (*a as usize, *b as usize, *c as usize, 3),
        _ => {
            let mut d = Decoder::new(src);
            let s = d.varint32()? as usize;
            let n = d.varint32()? as usize;
            let v = d.varint32()? as usize;
            (s, n, v, d.position())
        }
    };
    let needed = header_len.checked_add(non_shared)?.checked_add(value_len)?;
    if needed > src.len() {
        return None;
    }
    Some((shared, non_shared, value_len, p + header_len))
}

/// Iterates one [`Block`] under the shared [`InternalIterator`] contract.
///
/// The block and the file path are owned by default (an iterator that outlives
/// the call that made it); a point lookup borrows both (`BlockIter<&Block, &Path>`)
/// and so touches no reference count shared with other threads.
///
/// Forward steps decode one entry each. Reverse steps decode the whole restart
/// interval before the current entry once and then walk it backwards from memory
/// (Pebble's approach), so a reverse scan costs about the same as a forward one.
/// Damage found while decoding becomes an [`Error::Corruption`] naming the file and
/// the block's offset.
pub struct BlockIter<B = Block, P = Arc<Path>> {
    block: B,
    file: P,
    block_offset: u64,
    /// Offset of the current entry.
    current: usize,
    /// Offset of the entry after the current one.
    next_off: usize,
    /// Restart interval holding the current entry.
    restart_index: usize,
    /// Offset of the restart point after `restart_index` (`usize::MAX` for the
    /// last interval), kept so a forward step decodes no restart offset.
    next_restart: usize,
    key: Vec<u8>,
    value_off: usize,
    value_len: usize,
    valid: bool,
    err: Option<Error>,
    rev: Vec<RevEntry>,
    rev_keys: Vec<u8>,
    /// Position in `rev` when the current entry came from the reverse cache.
    rev_pos: Option<usize>,
}

impl<B, P> std::fmt::Debug for BlockIter<B, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockIter")
            .field("block_offset", &self.block_offset)
            .field("current", &self.current)
            .field("valid", &self.valid)
            .field("err", &self.err)
            .finish()
    }
}

impl<B: Borrow<Block>, P: AsRef<Path>> BlockIter<B, P> {
    /// An unpositioned iterator over `block`, which was read from `file` at
    /// `block_offset` (used in error reports).
    pub fn new(block: B, file: P, block_offset: u64) -> Self {
        BlockIter {
            block,
            file,
            block_offset,
            current: 0,
            next_off: 0,
            restart_index: 0,
            next_restart: usize::MAX,
            // Room for a typical key up front: one allocation, no regrowth mid-seek.
            key: Vec::with_capacity(64),
            value_off: 0,
            value_len: 0,
            valid: false,
            err: None,
            rev: Vec::new(),
            rev_keys: Vec::new(),
            rev_pos: None,
        }
    }

    /// The block being iterated.
    pub fn block(&self) -> &Block {
        self.block.borrow()
    }

    /// Offset in the file of the block being iterated.
    pub fn block_offset(&self) -> u64 {
        self.block_offset
    }

    /// The current value as a zero-copy slice of the block (empty when invalid).
    pub fn value_bytes(&self) -> Bytes {
        let data = &self.block.borrow().data;
        match self.value_off.checked_add(self.value_len) {
            Some(end) if self.valid && end <= data.len() => data.slice(self.value_off..end),
            _ => Bytes::new(),
        }
    }

    /// Offset inside the block of the current entry.
    pub fn entry_offset(&self) -> usize {
        self.current
    }

    fn corrupt(&mut self, detail: String) {
        if self.err.is_none() {
            self.err = Some(Error::corruption(
                self.file.as_ref(),
                self.block_offset,
                format!("block at offset {}: {detail}", self.block_offset),
            ));
        }
        self.invalidate();
    }

    fn invalidate(&mut self) {
        self.valid = false;
        self.rev_pos = None;
    }

    /// The full key stored at restart point `i`, if it is well formed.
    fn restart_key(&self, i: usize) -> Option<&[u8]> {
        self.block.borrow().restart_key(i)
    }

    /// Decodes the entry at `p` on top of the previous key in `self.key`.
    fn parse_at(&mut self, p: usize) -> bool {
        let limit = self.block.borrow().restarts_offset;
        if p >= limit {
            self.invalidate();
            return false;
        }
        let Some((shared, non_shared, value_len, key_start)) =
            decode_entry(&self.block.borrow().data, p, limit)
        else {
            self.corrupt(format!("bad entry header at block offset {p}"));
            return false;
        };
        if shared > self.key.len() {
            self.corrupt(format!(
                "entry at block offset {p} shares {shared} bytes with a {}-byte key",
                self.key.len()
            ));
            return false;
        }
        let Some(delta) = self
            .block
            .borrow()
            .data
            .get(key_start..key_start + non_shared)
        else {
            self.corrupt(format!("entry at block offset {p} overruns the block"));
            return false;
        };
        self.key.truncate(shared);
        self.key.extend_from_slice(delta);
        if self.key.len() < TRAILER_LEN {
            self.corrupt(format!(
                "entry at block offset {p} has a {}-byte key, shorter than the trailer",
                self.key.len()
            ));
            return false;
        }
        self.value_off = key_start + non_shared;
        self.value_len = value_len;
        self.current = p;
        self.next_off = key_start + non_shared + value_len;
        self.valid = true;
        true
    }

    fn seek_to_restart(&mut self, i: usize) {
        self.key.clear();
        self.restart_index = i;
        self.next_off = self.block.borrow().restart_point(i);
        self.next_restart = self.restart_after(i);
    }

    /// Loads one byte of each [`CACHE_LINE`] of the restart interval about to be
    /// scanned, before the scan. The scan's own loads wait on each other (an entry's
    /// lengths say where the next one starts); these do not, so their cache misses
    /// overlap instead of coming one after another.
    fn touch_interval(&self) {
        let block = self.block.borrow();
        let data = block.data();
        let end = self.next_restart.min(block.restarts_offset);
        // The line holding the first entry is loaded by the scan itself.
        for p in (self.next_off + CACHE_LINE..end).step_by(CACHE_LINE) {
            std::hint::black_box(data.get(p).copied());
        }
    }

    /// Offset of the restart point after interval `i`, `usize::MAX` if none.
    fn restart_after(&self, i: usize) -> usize {
        let block = self.block.borrow();
        if i + 1 < block.num_restarts {
            block.restart_point(i + 1)
        } else {
            usize::MAX
        }
    }

    /// Decodes the entry after the current one, tracking the restart interval.
    fn advance(&mut self) -> bool {
        let p = self.next_off;
        while self.next_restart <= p {
            self.restart_index += 1;
            self.next_restart = self.restart_after(self.restart_index);
            // Entries at restart points share nothing; enforcing it keeps forward and
            // reverse decoding of a damaged block consistent.
            self.key.clear();
        }
        self.parse_at(p)
    }

    /// Decodes restart interval `r` up to (not including) `limit` into the reverse
    /// cache and positions at its last entry.
    fn fill_rev(&mut self, r: usize, limit: usize) {
        self.rev.clear();
        self.rev_keys.clear();
        self.rev_pos = None;
        self.seek_to_restart(r);
        while self.next_off < limit {
            let p = self.next_off;
            if !self.parse_at(p) {
                return;
            }
            self.rev_keys.extend_from_slice(&self.key);
            self.rev.push(RevEntry {
                key_end: self.rev_keys.len(),
                value_off: self.value_off,
                value_len: self.value_len,
                offset: self.current,
                next_off: self.next_off,
            });
        }
        match self.rev.len().checked_sub(1) {
            Some(last) => self.load_rev(last),
            None => self.invalidate(),
        }
    }

    fn load_rev(&mut self, i: usize) {
        let Some(&e) = self.rev.get(i) else {
            self.invalidate();
            return;
        };
        let start = i
            .checked_sub(1)
            .and_then(|j| self.rev.get(j))
            .map_or(0, |p| p.key_end);
        self.key.clear();
        self.key
            .extend_from_slice(self.rev_keys.get(start..e.key_end).unwrap_or(&[]));
        self.value_off = e.value_off;
        self.value_len = e.value_len;
        self.current = e.offset;
        self.next_off = e.next_off;
        self.valid = true;
        self.rev_pos = Some(i);
    }
}

impl<B: Borrow<Block>, P: AsRef<Path>> BlockIter<B, P> {
    /// Positions at the entry stored at restart point `i` (invalid past the last),
    /// for a caller that found the entry it wants by other means than `seek`.
    pub(crate) fn seek_to_restart_point(&mut self, i: usize) {
        self.invalidate();
        if self.err.is_some() || i >= self.block.borrow().num_restarts {
            return;
        }
        self.seek_to_restart(i);
        self.advance();
    }
}

impl<B: Borrow<Block>, P: AsRef<Path>> InternalIterator for BlockIter<B, P> {
    fn valid(&self) -> bool {
        self.valid && self.err.is_none()
    }

    fn seek_to_first(&mut self) {
        self.invalidate();
        if self.err.is_some() || self.block.borrow().is_empty() {
            return;
        }
        self.seek_to_restart(0);
        self.advance();
    }

    fn seek_to_last(&mut self) {
        self.invalidate();
        if self.err.is_some() || self.block.borrow().is_empty() {
            return;
        }
        let block = self.block.borrow();
        let (last, end) = (block.num_restarts - 1, block.restarts_offset);
        self.fill_rev(last, end);
    }

    fn seek(&mut self, target: &[u8]) {
        self.invalidate();
        if self.err.is_some() || self.block.borrow().is_empty() {
            return;
        }
        // Last restart point whose key is < target (or restart 0).
        let mut left = 0;
        let mut right = self.block.borrow().num_restarts - 1;
        while left < right {
            let mid = left + (right - left).div_ceil(2);
            match self.restart_key(mid) {
                Some(k) if compare_internal_keys(k, target) == Ordering::Less => left = mid,
                Some(_) => right = mid - 1,
                None => {
                    let at = self.block.borrow().restart_point(mid);
                    self.corrupt(format!("bad entry at restart point {mid} (offset {at})"));
                    return;
                }
            }
        }
        self.seek_to_restart(left);
        self.touch_interval();
        while self.advance() {
            if compare_internal_keys(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.seek(target);
        if self.err.is_some() {
            return;
        }
        if !self.valid {
            self.seek_to_last();
        } else if compare_internal_keys(&self.key, target) == Ordering::Greater {
            self.prev();
        }
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        self.rev_pos = None;
        self.advance();
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(pos) = self.rev_pos
            && pos > 0
        {
            self.load_rev(pos - 1);
            return;
        }
        let original = self.current;
        let mut r = self.restart_index;
        while self.block.borrow().restart_point(r) >= original {
            if r == 0 {
                self.invalidate();
                return;
            }
            r -= 1;
        }
        self.fill_rev(r, original);
    }

    fn key(&self) -> &[u8] {
        if self.valid() { &self.key } else { &[] }
    }

    fn value(&self) -> &[u8] {
        if !self.valid() {
            return &[];
        }
        self.value_off
            .checked_add(self.value_len)
            .and_then(|end| self.block.borrow().data.get(self.value_off..end))
            .unwrap_or(&[])
    }

    fn status(&self) -> Result<()> {
        match &self.err {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}
