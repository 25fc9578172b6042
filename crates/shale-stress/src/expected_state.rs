//! The expected state: per key, the last acknowledged write and the write in flight.
//!
//! Each key has a 16-byte slot `[acked: u64 LE][pending: u64 LE]` of *words*:
//!
//! * a word is `generation << 1 | 1` for a put of `value_bytes(key, generation)`,
//!   `generation << 1` for a delete; word 0 is "never written" (absent);
//! * `pending` holds the last word handed to the engine; its top bit
//!   ([`IN_FLIGHT`]) is set from just before the write is issued until it is
//!   acknowledged. Its generation also keeps generations increasing per key even when
//!   a write was lost, so a value is never reused.
//!
//! The writer of a key stores `pending | IN_FLIGHT` before the write and
//! `acked = pending, pending` (flag cleared) after the acknowledgement, each as one
//! whole-slot store. With a file, every store is one 16-byte `pwrite` at a 16-aligned
//! offset after a 16-byte header: it never straddles a page, so a killed process
//! leaves every slot either before or after the store, never torn. (The file is not
//! fsynced: it must survive the stress process being killed, not a power loss.)

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{StressError, StressResult};

/// Top bit of a pending word: the write is issued but not yet acknowledged.
pub const IN_FLIGHT: u64 = 1 << 63;
/// Bytes of the file header (magic + number of keys + reserved).
pub const HEADER_LEN: u64 = 16;
/// Bytes of one key's slot.
pub const SLOT_LEN: u64 = 16;
/// Magic number that starts an expected-state file (format version 1).
pub const MAGIC: &[u8; 8] = b"SHSTRES1";

/// The generation of `word` (0 for "never written").
pub fn generation(word: u64) -> u64 {
    (word & !IN_FLIGHT) >> 1
}

/// True if `word` (flag ignored) is a put, false for a delete or "never written".
pub fn is_put(word: u64) -> bool {
    word & 1 == 1
}

/// The word of a put (`put = true`) or delete at `generation`.
pub fn make_word(generation: u64, put: bool) -> u64 {
    (generation << 1) | u64::from(put)
}

/// What a read of the key shows if `word` is its latest write: `Some(generation)` of
/// the value, or `None` (absent).
pub fn observed_of(word: u64) -> Option<u64> {
    is_put(word).then(|| generation(word))
}

/// One key's slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot {
    /// The last acknowledged write's word.
    pub acked: u64,
    /// The last issued write's word, with [`IN_FLIGHT`] while unacknowledged.
    pub pending: u64,
}

impl Slot {
    /// True while a write of this key is issued but not acknowledged.
    pub fn in_flight(&self) -> bool {
        self.pending & IN_FLIGHT != 0
    }

    /// The highest generation ever assigned to this key.
    pub fn max_generation(&self) -> u64 {
        generation(self.acked).max(generation(self.pending))
    }

    /// True if a read returning `observed` is allowed by this slot (the acknowledged
    /// write, or the in-flight one).
    pub fn allows(&self, observed: Option<u64>) -> bool {
        observed_of(self.acked) == observed
            || (self.in_flight() && observed_of(self.pending & !IN_FLIGHT) == observed)
    }

    fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.acked.to_le_bytes());
        b[8..].copy_from_slice(&self.pending.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Slot {
        let word = |r: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(r);
            u64::from_le_bytes(w)
        };
        Slot {
            acked: word(&b[..8]),
            pending: word(&b[8..16]),
        }
    }
}

/// The expected state of every key, in memory (atomics, readable by every thread) and,
/// optionally, mirrored slot by slot into a file that survives the process.
#[derive(Debug)]
pub struct ExpectedState {
    acked: Vec<AtomicU64>,
    pending: Vec<AtomicU64>,
    file: Option<(File, PathBuf)>,
}

impl ExpectedState {
    /// An in-memory state of `num_keys` never-written keys.
    pub fn in_memory(num_keys: u32) -> Self {
        Self::from_slots(&vec![Slot::default(); num_keys as usize], None)
    }

    /// An in-memory state holding `slots`.
    pub fn from_slots(slots: &[Slot], file: Option<(File, PathBuf)>) -> Self {
        ExpectedState {
            acked: slots.iter().map(|s| AtomicU64::new(s.acked)).collect(),
            pending: slots.iter().map(|s| AtomicU64::new(s.pending)).collect(),
            file,
        }
    }

    /// Opens the file at `path`, creating it for `num_keys` keys if missing; an existing
    /// file must be for the same number of keys.
    pub fn open_file(path: &Path, num_keys: u32) -> StressResult<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let expected_len = HEADER_LEN + SLOT_LEN * u64::from(num_keys);
        let len = file.metadata()?.len();
        if len == 0 {
            let mut header = [0u8; HEADER_LEN as usize];
            header[..8].copy_from_slice(MAGIC);
            header[8..12].copy_from_slice(&num_keys.to_le_bytes());
            file.write_all_at(&header, 0)?;
            file.set_len(expected_len)?;
        }
        let mut buf = vec![0u8; expected_len as usize];
        let short = file.metadata()?.len() != expected_len;
        if short || file.read_exact_at(&mut buf, 0).is_err() {
            return Err(StressError::Usage(format!(
                "{}: expected-state file is not for {num_keys} keys (size {})",
                path.display(),
                file.metadata()?.len()
            )));
        }
        let keys_in_file = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
        if &buf[..8] != MAGIC || keys_in_file != num_keys {
            return Err(StressError::Usage(format!(
                "{}: not an expected-state file for {num_keys} keys",
                path.display()
            )));
        }
        let slots: Vec<Slot> = buf[HEADER_LEN as usize..]
            .chunks_exact(SLOT_LEN as usize)
            .map(Slot::decode)
            .collect();
        Ok(Self::from_slots(&slots, Some((file, path.to_path_buf()))))
    }

    /// Number of keys.
    pub fn num_keys(&self) -> u32 {
        self.acked.len() as u32
    }

    /// The slot of key `k` (two loads: only the key's owner sees it exactly).
    pub fn slot(&self, k: u32) -> Slot {
        let i = k as usize;
        Slot {
            acked: self.acked[i].load(Ordering::SeqCst),
            pending: self.pending[i].load(Ordering::SeqCst),
        }
    }

    /// Every slot.
    pub fn slots(&self) -> Vec<Slot> {
        (0..self.num_keys()).map(|k| self.slot(k)).collect()
    }

    /// Stores `slot` for key `k` (in memory first, then one `pwrite` to the file).
    pub fn store(&self, k: u32, slot: Slot) -> StressResult<()> {
        let i = k as usize;
        // Pending first: a concurrent reader that sees the new acked word also sees a
        // pending generation at least as high.
        self.pending[i].store(slot.pending, Ordering::SeqCst);
        self.acked[i].store(slot.acked, Ordering::SeqCst);
        if let Some((f, _)) = &self.file {
            f.write_all_at(&slot.encode(), HEADER_LEN + SLOT_LEN * u64::from(k))?;
        }
        Ok(())
    }

    /// The word for the next write of key `k` (a fresh generation).
    pub fn next_word(&self, k: u32, put: bool) -> u64 {
        make_word(self.slot(k).max_generation() + 1, put)
    }

    /// Marks `word` as in flight for key `k`, before the write is issued.
    pub fn begin(&self, k: u32, word: u64) -> StressResult<()> {
        let s = self.slot(k);
        self.store(
            k,
            Slot {
                acked: s.acked,
                pending: word | IN_FLIGHT,
            },
        )
    }

    /// Marks the in-flight write of key `k` as acknowledged.
    pub fn commit(&self, k: u32) -> StressResult<()> {
        let word = self.slot(k).pending & !IN_FLIGHT;
        self.store(
            k,
            Slot {
                acked: word,
                pending: word,
            },
        )
    }

    /// Path of the backing file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(_, p)| p.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        let w = make_word(5, true);
        assert_eq!(generation(w), 5);
        assert!(is_put(w));
        assert_eq!(observed_of(w), Some(5));
        assert_eq!(observed_of(make_word(6, false)), None);
        assert_eq!(observed_of(0), None);
        let s = Slot {
            acked: w,
            pending: make_word(6, false) | IN_FLIGHT,
        };
        assert!(s.in_flight() && s.allows(Some(5)) && s.allows(None) && !s.allows(Some(6)));
        assert_eq!(s.max_generation(), 6);
    }
}
