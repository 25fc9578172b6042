//! [`Arena`]: append-only storage for the memtable's keys and values.
//!
//! Entries are copied back to back into chunks; each entry is a `Bytes` slice of its
//! chunk (`BytesMut::split_to` + `freeze`, no copy and no allocation), and a chunk is
//! freed when its last entry is dropped, i.e. with the memtable and the last iterator
//! over it. Chunks grow with the memtable: a quarter of what the arena holds so far,
//! between [`MIN_CHUNK`] and [`MAX_CHUNK`], so a small memtable (a 4 KiB
//! `write_buffer_size` is allowed) does not count a megabyte it never fills and a
//! large one allocates a chunk per ~8,000 typical entries. An entry too big for a
//! chunk (at least [`OWN_ALLOCATION_MIN`] bytes, or over a quarter of the chunk size)
//! gets an exact allocation of its own, which also bounds the tail a chunk can waste
//! when it is retired. So the first entries of a memtable (the first ~16 of
//! db_bench's 132 bytes) get their own allocations, one per entry instead of a
//! chunk nobody may fill, and chunks take over from there.

use bytes::{Bytes, BytesMut};
use shale_core::SeqNo;
use shale_core::key::{TRAILER_LEN, pack_trailer};

use crate::entry::Entry;

/// The smallest chunk.
pub(crate) const MIN_CHUNK: usize = 256;
/// The largest chunk.
pub(crate) const MAX_CHUNK: usize = 1 << 20;
/// Entries at least this long always get their own allocation. Values from `get` are
/// copied out of shared chunks (see [`Entry::detached_value`]), so this also caps
/// that copy.
pub(crate) const OWN_ALLOCATION_MIN: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Arena {
    /// The unused tail of the current chunk (always empty: only its capacity is used).
    chunk: BytesMut,
    /// Bytes allocated so far: every chunk in full, and every own allocation.
    allocated: usize,
}

impl Arena {
    /// Copies the entry `(user_key, seq, kind) → value` into the arena. Returns the
    /// entry and the bytes this call allocated (0 when it fit in the current chunk).
    pub(crate) fn store(
        &mut self,
        user_key: &[u8],
        seq: SeqNo,
        kind: u8,
        value: &[u8],
    ) -> (Entry, usize) {
        let key_len = user_key.len() + TRAILER_LEN;
        let len = key_len + value.len();
        let trailer = pack_trailer(seq, kind).to_le_bytes();
        let chunk_size = (self.allocated / 4).clamp(MIN_CHUNK, MAX_CHUNK);
        if len >= OWN_ALLOCATION_MIN || len > chunk_size / 4 {
            let mut own = Vec::with_capacity(len);
            own.extend_from_slice(user_key);
            own.extend_from_slice(&trailer);
            own.extend_from_slice(value);
            self.allocated += own.capacity();
            let allocated = own.capacity();
            return (Entry::new(Bytes::from(own), key_len, false), allocated);
        }
        let mut allocated = 0;
        if self.chunk.capacity() < len {
            // Retire the current chunk (its entries keep it alive) for a new one.
            self.chunk = BytesMut::with_capacity(chunk_size);
            allocated = self.chunk.capacity();
            self.allocated += allocated;
        }
        // Fits in the capacity left, so these never reallocate.
        self.chunk.extend_from_slice(user_key);
        self.chunk.extend_from_slice(&trailer);
        self.chunk.extend_from_slice(value);
        let data = self.chunk.split_to(len).freeze();
        (Entry::new(data, key_len, true), allocated)
    }

    /// Bytes allocated so far.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.allocated
    }
}
