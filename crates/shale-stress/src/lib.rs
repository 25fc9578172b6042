//! `shale-stress`: the crash and stress tester of ShaleDB.
//!
//! * [`run`]: a multi-threaded random workload (puts, deletes, range deletes, batches
//!   spanning keyspaces, point reads, forward/reverse scans, snapshot reads) over
//!   several keyspaces of a tiny-buffer database, verifying every
//!   read and recording what it wrote in a crash-surviving [`expected_state`] file.
//! * [`crash`]: runs `run` as a child process, SIGKILLs it at seeded random moments,
//!   reopens the database and verifies all of it ([`verify`]).
//! * [`memfs_mode`]: the same workload in-process on `MemFs`, with simulated power
//!   losses under each `CrashPolicy` — at random instants and at named kill points of
//!   flushes, compactions and manifest writes (`shale_fs::KillPointFs`) — checked
//!   against a prefix-of-each-thread model.
//!
//! Extension points for engine features that do not exist yet (merge operators,
//! transactions, TTL) are marked `EXTENSION POINT` in
//! [`workload`], [`values`] and [`verify`].

// This crate is a test tool, not engine code: it keeps its expected-state file and
// inspects data directories with std::fs directly instead of through shale_fs.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod crash;
pub mod error;
pub mod expected_state;
pub mod file_checks;
pub mod memfs_mode;
pub mod options;
pub mod run;
pub mod values;
pub mod verify;
pub mod workload;

pub use error::{StressError, StressResult};

/// The summary counters every mode prints as its last line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Crash/recovery cycles completed.
    pub cycles: u64,
    /// Keys checked against the expected state, summed over all verifications.
    pub verified_keys: u64,
    /// Acknowledged (or, after power loss, synced) writes missing after recovery.
    pub lost: u64,
    /// Values, keys or states that were never written or are not allowed.
    pub unexpected: u64,
    /// Checksum/format problems, failed opens and engine errors.
    pub corrupt: u64,
}

impl Summary {
    /// True when nothing went wrong.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.unexpected == 0 && self.corrupt == 0
    }

    /// Adds `other`'s counters to this one.
    pub fn add(&mut self, other: &Summary) {
        self.cycles += other.cycles;
        self.verified_keys += other.verified_keys;
        self.lost += other.lost;
        self.unexpected += other.unexpected;
        self.corrupt += other.corrupt;
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cycles={} verified_keys={} lost={} unexpected={} corrupt={}",
            self.cycles, self.verified_keys, self.lost, self.unexpected, self.corrupt
        )
    }
}
