//! [`FaultFs`]: a [`FileSystem`] wrapper that injects I/O faults.
//!
//! It wraps any file system (usually a [`MemFs`]) and, per the [`Rule`]s it is given,
//! makes chosen operations fail the way a real disk does: `EIO` or `ENOSPC` on any
//! operation, short writes, bit flips in what a read returns, and a failed fsync that
//! silently loses the unsynced data (Linux "fsyncgate"). Torn writes and dropped
//! unsynced data at a power loss are [`MemFs::crash_with`]'s job.
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use shale_fs::{Effect, ErrorKind, FaultFs, FileSystem, MemFs, Op, Rule, Trigger};
//!
//! let mem = MemFs::new();
//! let fs = FaultFs::with_mem(&mem);
//! fs.create_dir_all(Path::new("/db")).unwrap();
//! // The 2nd append to any `.log` file fails with ENOSPC.
//! fs.add_rule(
//!     Rule::new(Op::Append, Effect::Error(ErrorKind::Enospc))
//!         .path(".log")
//!         .trigger(Trigger::Nth(2)),
//! );
//! let mut f = fs.create(Path::new("/db/000001.log")).unwrap();
//! f.append(b"one").unwrap();
//! assert!(f.append(b"two").is_err());
//! f.append(b"three").unwrap();
//! assert_eq!(fs.injected(), 1);
//! ```
//!
//! Every operation, faulty or not, is recorded in [`FaultFs::history`] (unless turned
//! off with [`FaultFs::set_history`]), so tests can assert what the code under test did
//! after a fault, e.g. that it never appended to a failed log again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::rng::SplitMix64;
use crate::{Error, FileLock, FileSystem, MemFs, RandomAccessFile, Result, WritableFile};

/// `EIO` on Linux.
pub const EIO: i32 = 5;
/// `ENOSPC` on Linux.
pub const ENOSPC: i32 = 28;

/// The kind of operation a [`Rule`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`FileSystem::create_dir_all`].
    CreateDir,
    /// [`FileSystem::create`].
    Create,
    /// [`FileSystem::open_append`] and [`FileSystem::open_read`].
    Open,
    /// [`RandomAccessFile::read_exact_at`] (also under [`FileSystem::read_all`]).
    Read,
    /// [`WritableFile::append`].
    Append,
    /// [`WritableFile::sync_data`].
    Sync,
    /// [`FileSystem::sync_dir`].
    SyncDir,
    /// [`FileSystem::rename`] (the path filter matches the source or the target).
    Rename,
    /// [`FileSystem::remove_file`].
    Remove,
    /// [`FileSystem::hard_link`] (the path filter matches the original or the link).
    HardLink,
    /// [`FileSystem::list`].
    List,
    /// [`FileSystem::file_size`].
    Stat,
    /// [`FileSystem::lock`].
    Lock,
    /// In a rule: every operation the rule's effect applies to. Never recorded.
    Any,
}

impl Op {
    /// The operation name used in injected errors (the same words `StdFs` uses).
    fn verb(self) -> &'static str {
        match self {
            Op::CreateDir => "create directory",
            Op::Create => "create",
            Op::Open => "open",
            Op::Read => "read",
            Op::Append => "write",
            Op::Sync => "fdatasync",
            Op::SyncDir => "fsync directory",
            Op::Rename => "rename",
            Op::Remove => "remove",
            Op::HardLink => "hard link",
            Op::List => "list",
            Op::Stat => "stat",
            Op::Lock => "lock",
            Op::Any => "I/O",
        }
    }
}

/// The error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `EIO`: an I/O error (bad sector, failed writeback, ...).
    Eio,
    /// `ENOSPC`: no space left on the device.
    Enospc,
}

impl ErrorKind {
    /// The Linux `errno` value.
    pub fn raw_os_error(self) -> i32 {
        match self {
            ErrorKind::Eio => EIO,
            ErrorKind::Enospc => ENOSPC,
        }
    }

    fn error(self, op: Op, path: &Path) -> Error {
        Error::io(
            op.verb(),
            path,
            io::Error::from_raw_os_error(self.raw_os_error()),
        )
    }
}

/// When a [`Rule`] fires, counting only the operations it matches (op kind and path),
/// from the moment it is added, while the [`FaultFs`] is enabled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// On every matching operation.
    Always,
    /// On the `n`-th matching operation only (`Nth(1)`: the next one); 0 never fires.
    Nth(u64),
    /// Once: lets `n` matching operations through, then fires on the next one
    /// (the same as `Nth(n + 1)`).
    OnceAfter(u64),
    /// Lets `n` matching operations through, then fires on every one after them
    /// (a disk that fills up or dies and stays that way).
    AlwaysAfter(u64),
    /// On each matching operation with probability `p` (0.0 ..= 1.0), drawn from the
    /// [`FaultFs`]'s seeded generator (see [`FaultFs::set_seed`]).
    Probability(f64),
}

/// What a fired [`Rule`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The operation fails with this error; the inner file system is not called.
    Error(ErrorKind),
    /// Appends only: the first half of the data (rounded down) is appended to the inner
    /// file, then the append fails with this error. Matches no other operation.
    ShortWrite(ErrorKind),
    /// Reads only: the read succeeds but one bit of the returned buffer, chosen by the
    /// seeded generator, is flipped. Matches no other operation (nor empty reads).
    BitFlipOnRead,
    /// Syncs only: the sync fails with `EIO` **and** the file's unsynced data is
    /// silently dropped ([`MemFs::drop_unsynced`], when the `FaultFs` was built with
    /// [`FaultFs::with_mem`]; other inner file systems only get the error); the next
    /// sync of the same handle then succeeds whatever the rules say. This is how Linux
    /// reports a failed writeback once and marks the pages clean ("fsyncgate"): code
    /// that retries the fsync believes lost data is durable.
    FsyncGate,
}

impl Effect {
    fn applies_to(self, op: Op) -> bool {
        match self {
            Effect::Error(_) => true,
            Effect::ShortWrite(_) => op == Op::Append,
            Effect::BitFlipOnRead => op == Op::Read,
            Effect::FsyncGate => op == Op::Sync,
        }
    }
}

/// One fault-injection rule: which operations ([`Op`] and an optional path filter),
/// when ([`Trigger`]) and what happens ([`Effect`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The operation kind; [`Op::Any`] for every kind the effect applies to.
    pub op: Op,
    /// Only paths whose text contains this string match (e.g. `".log"`, `"MANIFEST"`,
    /// a file name); `None` matches every path.
    pub path: Option<String>,
    /// When the rule fires.
    pub trigger: Trigger,
    /// What happens when it does.
    pub effect: Effect,
}

impl Rule {
    /// A rule for every `op` on every path, firing always; narrow it with
    /// [`path`](Rule::path) and [`trigger`](Rule::trigger).
    pub fn new(op: Op, effect: Effect) -> Rule {
        Rule {
            op,
            path: None,
            trigger: Trigger::Always,
            effect,
        }
    }

    /// Shorthand for `Rule::new(op, Effect::Error(kind))`.
    pub fn error(op: Op, kind: ErrorKind) -> Rule {
        Rule::new(op, Effect::Error(kind))
    }

    /// Restricts the rule to paths containing `filter` (a substring or a file-name
    /// suffix such as `".log"`).
    pub fn path(mut self, filter: impl Into<String>) -> Rule {
        self.path = Some(filter.into());
        self
    }

    /// Sets when the rule fires.
    pub fn trigger(mut self, trigger: Trigger) -> Rule {
        self.trigger = trigger;
        self
    }

    fn matches(&self, op: Op, path: &Path, other: Option<&Path>) -> bool {
        if !(self.op == op || self.op == Op::Any) || !self.effect.applies_to(op) {
            return false;
        }
        match &self.path {
            None => true,
            Some(filter) => std::iter::once(path)
                .chain(other)
                .any(|p| p.to_string_lossy().contains(filter.as_str())),
        }
    }
}

/// Identifies a rule added with [`FaultFs::add_rule`], to remove it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId(u64);

/// A fault that was injected, as recorded in [`OpRecord::fault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The operation failed with this error without reaching the inner file system.
    Error(ErrorKind),
    /// An append wrote `written` of its bytes, then failed with `kind`.
    ShortWrite {
        /// The error returned.
        kind: ErrorKind,
        /// Bytes that reached the inner file.
        written: usize,
    },
    /// A read returned data with one bit flipped.
    BitFlip {
        /// File offset of the damaged byte.
        offset: u64,
        /// The flipped bit (0 = least significant).
        bit: u8,
    },
    /// A sync failed with `EIO` and the file's unsynced bytes were dropped.
    FsyncGate {
        /// Bytes dropped (0 if the inner file system is not a `MemFs` we can reach).
        dropped: u64,
    },
}

/// One operation seen by a [`FaultFs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    /// The operation (never [`Op::Any`]).
    pub op: Op,
    /// The file or directory (the source of a rename or hard link).
    pub path: PathBuf,
    /// The target of a rename or hard link.
    pub other: Option<PathBuf>,
    /// The fault injected into this operation, if any.
    pub fault: Option<Fault>,
}

#[derive(Debug)]
struct ActiveRule {
    id: RuleId,
    rule: Rule,
    /// Matching operations counted so far.
    seen: u64,
}

impl ActiveRule {
    /// Counts one matching operation; true if the rule fires on it.
    fn fires(&mut self, rng: &mut SplitMix64) -> bool {
        self.seen += 1;
        let n = self.seen;
        match self.rule.trigger {
            Trigger::Always => true,
            Trigger::Nth(k) => n == k,
            Trigger::OnceAfter(k) => n == k.saturating_add(1),
            Trigger::AlwaysAfter(k) => n > k,
            Trigger::Probability(p) => rng.next_f64() < p,
        }
    }
}

#[derive(Debug)]
struct State {
    enabled: bool,
    rules: Vec<ActiveRule>,
    next_id: u64,
    rng: SplitMix64,
    injected: u64,
    record_history: bool,
    history: Vec<OpRecord>,
}

/// A [`FileSystem`] that forwards to an inner one and injects faults per its
/// [`Rule`]s; see the module docs.
///
/// Clones share the rules, the generator, the counters and the history. Files opened
/// through it are wrapped too, so their appends, syncs and reads are subject to the
/// rules. Rules are checked in the order they were added: every rule that matches an
/// operation counts it (and a `Probability` rule draws from the generator), and the
/// first one that fires decides the fault.
#[derive(Debug, Clone)]
pub struct FaultFs {
    inner: Arc<dyn FileSystem>,
    /// Reached for [`Effect::FsyncGate`] (set by [`FaultFs::with_mem`]).
    mem: Option<MemFs>,
    state: Arc<Mutex<State>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The seed used until [`FaultFs::set_seed`] is called.
const DEFAULT_SEED: u64 = 0x5EED_FA17;

impl FaultFs {
    /// Wraps `inner`, enabled, with no rules (so it forwards everything unchanged).
    /// [`Effect::FsyncGate`] can drop data only with [`FaultFs::with_mem`].
    pub fn new(inner: Arc<dyn FileSystem>) -> FaultFs {
        FaultFs {
            inner,
            mem: None,
            state: Arc::new(Mutex::new(State {
                enabled: true,
                rules: Vec::new(),
                next_id: 0,
                rng: SplitMix64::new(DEFAULT_SEED),
                injected: 0,
                record_history: true,
                history: Vec::new(),
            })),
        }
    }

    /// Wraps a [`MemFs`] (sharing its state); an [`Effect::FsyncGate`] then really drops
    /// the unsynced data of the file whose sync failed.
    pub fn with_mem(mem: &MemFs) -> FaultFs {
        FaultFs {
            mem: Some(mem.clone()),
            ..FaultFs::new(Arc::new(mem.clone()))
        }
    }

    /// The wrapped file system.
    pub fn inner(&self) -> &Arc<dyn FileSystem> {
        &self.inner
    }

    /// Reseeds the generator behind [`Trigger::Probability`] and [`Effect::BitFlipOnRead`].
    pub fn set_seed(&self, seed: u64) {
        lock(&self.state).rng = SplitMix64::new(seed);
    }

    /// Adds a rule (checked after the existing ones); its trigger counts from now.
    pub fn add_rule(&self, rule: Rule) -> RuleId {
        let mut st = lock(&self.state);
        let id = RuleId(st.next_id);
        st.next_id += 1;
        st.rules.push(ActiveRule { id, rule, seen: 0 });
        id
    }

    /// Removes a rule; false if it was already removed.
    pub fn remove_rule(&self, id: RuleId) -> bool {
        let mut st = lock(&self.state);
        let before = st.rules.len();
        st.rules.retain(|r| r.id != id);
        st.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear_rules(&self) {
        lock(&self.state).rules.clear();
    }

    /// Makes the next `op` (of any path) fail with `kind`, once.
    pub fn fail_next(&self, op: Op, kind: ErrorKind) -> RuleId {
        self.add_rule(Rule::error(op, kind).trigger(Trigger::Nth(1)))
    }

    /// Turns injection on or off. While off, every operation is forwarded unchanged
    /// and no rule counts it (operations are still recorded in the history).
    pub fn set_enabled(&self, enabled: bool) {
        lock(&self.state).enabled = enabled;
    }

    /// True unless [`set_enabled(false)`](FaultFs::set_enabled) was called.
    pub fn is_enabled(&self) -> bool {
        lock(&self.state).enabled
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        lock(&self.state).injected
    }

    /// The operations a fault was injected into, in order (recorded even when the
    /// history is turned off).
    pub fn faults(&self) -> Vec<OpRecord> {
        let st = lock(&self.state);
        st.history
            .iter()
            .filter(|r| r.fault.is_some())
            .cloned()
            .collect()
    }

    /// Every operation seen, in order, with the fault injected into it if any
    /// ([`FileSystem::exists`] is not recorded: it cannot fail).
    pub fn history(&self) -> Vec<OpRecord> {
        lock(&self.state).history.clone()
    }

    /// Forgets the recorded history (the [`injected`](FaultFs::injected) count stays).
    pub fn clear_history(&self) {
        lock(&self.state).history.clear();
    }

    /// Turns recording of fault-free operations on (the default) or off; injected
    /// faults are always recorded.
    pub fn set_history(&self, on: bool) {
        lock(&self.state).record_history = on;
    }

    /// Counts `op` against the rules and returns the effect to inject, if any.
    fn decide(&self, op: Op, path: &Path, other: Option<&Path>) -> Option<Effect> {
        let mut st = lock(&self.state);
        if !st.enabled {
            return None;
        }
        let State { rules, rng, .. } = &mut *st;
        let mut chosen = None;
        for r in rules.iter_mut() {
            if r.rule.matches(op, path, other) && r.fires(rng) && chosen.is_none() {
                chosen = Some(r.rule.effect);
            }
        }
        chosen
    }

    fn record(&self, op: Op, path: &Path, other: Option<&Path>, fault: Option<Fault>) {
        let mut st = lock(&self.state);
        if fault.is_some() {
            st.injected += 1;
        } else if !st.record_history {
            return;
        }
        st.history.push(OpRecord {
            op,
            path: path.to_path_buf(),
            other: other.map(Path::to_path_buf),
            fault,
        });
    }

    /// The common path of operations whose only possible fault is an error: decide,
    /// record, then either fail or run `f` on the inner file system.
    fn run<T>(
        &self,
        op: Op,
        path: &Path,
        other: Option<&Path>,
        f: impl FnOnce(&dyn FileSystem) -> Result<T>,
    ) -> Result<T> {
        match self.decide(op, path, other) {
            Some(Effect::Error(kind)) => {
                self.record(op, path, other, Some(Fault::Error(kind)));
                Err(kind.error(op, path))
            }
            // The other effects never match these operations.
            _ => {
                self.record(op, path, other, None);
                f(self.inner.as_ref())
            }
        }
    }

    fn flip_bit(&self, offset: u64, buf: &mut [u8]) -> Fault {
        let bits = (buf.len() as u64).saturating_mul(8);
        let at = lock(&self.state).rng.below(bits);
        let byte = (at / 8) as usize;
        let bit = (at % 8) as u8;
        if let Some(b) = buf.get_mut(byte) {
            *b ^= 1 << bit;
        }
        Fault::BitFlip {
            offset: offset + byte as u64,
            bit,
        }
    }
}

struct FaultWritable {
    fs: FaultFs,
    inner: Box<dyn WritableFile>,
    path: PathBuf,
    /// An fsyncgate error was reported on this handle: the next sync succeeds.
    gate_reported: bool,
}

impl WritableFile for FaultWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let (fs, path) = (&self.fs, self.path.as_path());
        match fs.decide(Op::Append, path, None) {
            Some(Effect::Error(kind)) => {
                fs.record(Op::Append, path, None, Some(Fault::Error(kind)));
                Err(kind.error(Op::Append, path))
            }
            Some(Effect::ShortWrite(kind)) => {
                let written = data.len() / 2;
                fs.record(
                    Op::Append,
                    path,
                    None,
                    Some(Fault::ShortWrite { kind, written }),
                );
                if let Some(prefix) = data.get(..written).filter(|p| !p.is_empty()) {
                    self.inner.append(prefix)?;
                }
                Err(kind.error(Op::Append, path))
            }
            _ => {
                fs.record(Op::Append, path, None, None);
                self.inner.append(data)
            }
        }
    }

    fn sync_data(&mut self) -> Result<()> {
        let (fs, path) = (&self.fs, self.path.as_path());
        if std::mem::take(&mut self.gate_reported) {
            // Linux reports a writeback error once; this sync "succeeds".
            fs.record(Op::Sync, path, None, None);
            return self.inner.sync_data();
        }
        match fs.decide(Op::Sync, path, None) {
            Some(Effect::Error(kind)) => {
                fs.record(Op::Sync, path, None, Some(Fault::Error(kind)));
                Err(kind.error(Op::Sync, path))
            }
            Some(Effect::FsyncGate) => {
                let mut dropped = 0;
                if let Some(mem) = &fs.mem {
                    let before = mem.file_size(path).unwrap_or(0);
                    let synced = mem.synced_len(path).unwrap_or(before);
                    if mem.drop_unsynced(path).is_ok() {
                        dropped = before.saturating_sub(synced);
                    }
                }
                fs.record(Op::Sync, path, None, Some(Fault::FsyncGate { dropped }));
                self.gate_reported = true;
                Err(ErrorKind::Eio.error(Op::Sync, path))
            }
            _ => {
                fs.record(Op::Sync, path, None, None);
                self.inner.sync_data()
            }
        }
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

struct FaultReadable {
    fs: FaultFs,
    inner: Arc<dyn RandomAccessFile>,
    path: PathBuf,
}

impl RandomAccessFile for FaultReadable {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let (fs, path) = (&self.fs, self.path.as_path());
        let effect = if buf.is_empty() {
            None
        } else {
            fs.decide(Op::Read, path, None)
        };
        match effect {
            Some(Effect::Error(kind)) => {
                fs.record(Op::Read, path, None, Some(Fault::Error(kind)));
                Err(kind.error(Op::Read, path))
            }
            Some(Effect::BitFlipOnRead) => {
                let result = self.inner.read_exact_at(offset, buf);
                let fault = result.is_ok().then(|| fs.flip_bit(offset, buf));
                fs.record(Op::Read, path, None, fault);
                result
            }
            _ => {
                fs.record(Op::Read, path, None, None);
                self.inner.read_exact_at(offset, buf)
            }
        }
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl FileSystem for FaultFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.run(Op::CreateDir, dir, None, |fs| fs.create_dir_all(dir))
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let inner = self.run(Op::Create, path, None, |fs| fs.create(path))?;
        Ok(Box::new(FaultWritable {
            fs: self.clone(),
            inner,
            path: path.to_path_buf(),
            gate_reported: false,
        }))
    }

    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let inner = self.run(Op::Open, path, None, |fs| fs.open_append(path))?;
        Ok(Box::new(FaultWritable {
            fs: self.clone(),
            inner,
            path: path.to_path_buf(),
            gate_reported: false,
        }))
    }

    fn open_read(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        let inner = self.run(Op::Open, path, None, |fs| fs.open_read(path))?;
        Ok(Arc::new(FaultReadable {
            fs: self.clone(),
            inner,
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.run(Op::Rename, from, Some(to), |fs| fs.rename(from, to))
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        self.run(Op::Remove, path, None, |fs| fs.remove_file(path))
    }

    fn hard_link(&self, original: &Path, link: &Path) -> Result<()> {
        self.run(Op::HardLink, original, Some(link), |fs| {
            fs.hard_link(original, link)
        })
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        self.run(Op::List, dir, None, |fs| fs.list(dir))
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }

    fn file_size(&self, path: &Path) -> Result<u64> {
        self.run(Op::Stat, path, None, |fs| fs.file_size(path))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.run(Op::SyncDir, dir, None, |fs| fs.sync_dir(dir))
    }

    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        // A lock has no operations of its own: the inner guard is returned as is.
        self.run(Op::Lock, path, None, |fs| fs.lock(path))
    }
}

#[cfg(test)]
mod tests;
