//! [`KillPointFs`]: named kill points for crash tests.
//!
//! A [`FileSystem`] wrapper that gives every place where the engine changes files a
//! name, a [`Site`] written `<file type>.<op>` (`wal.append`, `sst.sync`,
//! `current.rename`, `manifest.sync_dir`, ...), counts how often each site is hit, and
//! at a chosen hit captures a *crash image*: what a power loss (or `kill -9`, with
//! [`CrashPolicy::KeepRandomPrefix`] keeping everything) at that instant would leave,
//! taken with [`MemFs::crash_clone_with`] from the [`MemFs`] underneath. The wrapped
//! process keeps running untouched, so one run of a workload yields crash images at as
//! many points as wanted; each image is then opened and checked on its own.
//!
//! # Sites
//!
//! The file type comes from the file name ([`FileType::of`]): `wal` (`*.log`), `sst`
//! (`*.sst`), `manifest` (`MANIFEST-*`), `current` (`CURRENT` and its temporary file
//! `CURRENT*.dbtmp`), `other` (`LOCK`, `*.log.damaged`, anything else). The operations
//! ([`FileOp`]):
//!
//! | op | hit by |
//! |---|---|
//! | `create` | [`FileSystem::create`] |
//! | `open_append` | [`FileSystem::open_append`] |
//! | `append` | [`WritableFile::append`] of a file opened through this wrapper |
//! | `sync` | [`WritableFile::sync_data`] |
//! | `close` | dropping a [`WritableFile`] (the engine has no explicit close) |
//! | `rename` | [`FileSystem::rename`], named after the *source* file's type |
//! | `hard_link` | [`FileSystem::hard_link`], named after the new link's type |
//! | `remove` | [`FileSystem::remove_file`] |
//! | `sync_dir` | [`FileSystem::sync_dir`], see below |
//!
//! A directory sync has no file of its own: it is named after what it makes durable.
//! The wrapper remembers, per directory, the file types of the entries created,
//! renamed, linked or removed since that directory's last sync; a `sync_dir` hits
//! `<type>.sync_dir` once for each of them (so the directory sync that follows the
//! rename of `CURRENT` is `current.sync_dir`, the one after a flush created a table is
//! `sst.sync_dir`, the one after file deletion `wal.sync_dir`/`sst.sync_dir`/...), and
//! `dir.sync_dir` if nothing was pending. All sites of one operation share its
//! [`KillPoint::op_seq`].
//!
//! Reads, listings, `create_dir_all` and `lock` change nothing a crash could lose and
//! are not sites.
//!
//! # Moments and hits
//!
//! Each operation fires its sites twice: [`Moment::Before`] (the process dies just
//! before the operation: it never happened) and [`Moment::After`] (it completed, even
//! if it returned an error, and nothing after it happened). Hits are counted per site
//! from 1 at `Before`; the `After` of the same operation carries the same hit number.
//! With several engine threads, other threads' operations may be in progress while an
//! image is taken: an image is always a state a real crash could leave, but which
//! state can vary between runs unless the workload is single-threaded.
//!
//! # Capturing
//!
//! * [`KillPointFs::arm`]: capture an image at the `n`th hit of a site; collect them
//!   with [`KillPointFs::take_captures`].
//! * [`KillPointFs::set_observer`]: a callback run at every hit (both moments), on the
//!   thread doing the operation, with no lock of the wrapper held. It can record
//!   counts, take images ([`KillPoint::crash_image`]) at whatever hits it chooses, and
//!   read the caller's own state (e.g. how many writes were acknowledged) at exactly
//!   the same instant.
//!
//! ```
//! use std::path::Path;
//! use shale_fs::{CrashPolicy, FileOp, FileSystem, FileType, KillPointFs, MemFs, Moment, Site};
//!
//! # fn main() -> shale_fs::Result<()> {
//! let kp = KillPointFs::new(MemFs::new());
//! kp.create_dir_all(Path::new("/db"))?;
//! let wal_sync = Site::new(FileType::Wal, FileOp::Sync);
//! kp.arm(wal_sync, 2, Moment::Before, CrashPolicy::DropAllUnsynced, 0);
//! let mut f = kp.create(Path::new("/db/000001.log"))?;
//! f.append(b"one")?;
//! f.sync_data()?;
//! f.append(b"two")?;
//! f.sync_data()?; // hit 2 of wal.sync: the image is taken just before it
//! assert_eq!(kp.hit_count(wal_sync), 2);
//! let captures = kp.take_captures();
//! assert_eq!(captures.len(), 1);
//! // Power loss before the second sync: only the first append was durable (and the
//! // file's name never was: no directory sync).
//! assert!(!captures[0].image.exists(Path::new("/db/000001.log")));
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::{
    CrashPolicy, Error, FileLock, FileSystem, MemFs, RandomAccessFile, Result, WritableFile,
};

/// The kind of file a [`Site`] is about, from its name (see [`FileType::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileType {
    /// A write-ahead log, `NNNNNN.log`.
    Wal,
    /// A table, `NNNNNN.sst`.
    Sst,
    /// A manifest, `MANIFEST-NNNNNN`.
    Manifest,
    /// `CURRENT`, or its temporary file `CURRENT*.dbtmp`.
    Current,
    /// A directory sync that had no pending entry change to make durable.
    Dir,
    /// Anything else (`LOCK`, `NNNNNN.log.damaged`, other temporary files, ...).
    Other,
}

impl FileType {
    /// Every file type, in order.
    pub const ALL: [FileType; 6] = [
        FileType::Wal,
        FileType::Sst,
        FileType::Manifest,
        FileType::Current,
        FileType::Dir,
        FileType::Other,
    ];

    /// The type of the file at `path`, from its name. Never [`FileType::Dir`].
    pub fn of(path: &Path) -> FileType {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if name == "CURRENT" || (name.starts_with("CURRENT") && name.ends_with(".dbtmp")) {
            FileType::Current
        } else if name.starts_with("MANIFEST-") {
            FileType::Manifest
        } else if name.ends_with(".log") {
            FileType::Wal
        } else if name.ends_with(".sst") {
            FileType::Sst
        } else {
            FileType::Other
        }
    }

    /// The name used in site names: `wal`, `sst`, `manifest`, `current`, `dir`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            FileType::Wal => "wal",
            FileType::Sst => "sst",
            FileType::Manifest => "manifest",
            FileType::Current => "current",
            FileType::Dir => "dir",
            FileType::Other => "other",
        }
    }
}

/// The operation of a [`Site`] (see the [module docs](self) for what hits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileOp {
    /// Creating (or truncating) a file for writing.
    Create,
    /// Opening an existing file to append to it.
    OpenAppend,
    /// Appending bytes.
    Append,
    /// `sync_data` of a file.
    Sync,
    /// Dropping a writable file handle.
    Close,
    /// Renaming a file (named after the source's type).
    Rename,
    /// Creating a hard link (named after the link's type).
    HardLink,
    /// Removing a file.
    Remove,
    /// Syncing a directory (named after the pending entry changes it makes durable).
    SyncDir,
}

impl FileOp {
    /// Every operation, in order.
    pub const ALL: [FileOp; 9] = [
        FileOp::Create,
        FileOp::OpenAppend,
        FileOp::Append,
        FileOp::Sync,
        FileOp::Close,
        FileOp::Rename,
        FileOp::HardLink,
        FileOp::Remove,
        FileOp::SyncDir,
    ];

    /// The name used in site names: `create`, `open_append`, `append`, `sync`,
    /// `close`, `rename`, `hard_link`, `remove`, `sync_dir`.
    pub fn name(self) -> &'static str {
        match self {
            FileOp::Create => "create",
            FileOp::OpenAppend => "open_append",
            FileOp::Append => "append",
            FileOp::Sync => "sync",
            FileOp::Close => "close",
            FileOp::Rename => "rename",
            FileOp::HardLink => "hard_link",
            FileOp::Remove => "remove",
            FileOp::SyncDir => "sync_dir",
        }
    }
}

/// A named kill point: an operation on a type of file, displayed and parsed as
/// `<file type>.<op>` (e.g. `manifest.sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// The kind of file operated on.
    pub file: FileType,
    /// The operation.
    pub op: FileOp,
}

impl Site {
    /// The site of `op` on a file of type `file`.
    pub const fn new(file: FileType, op: FileOp) -> Site {
        Site { file, op }
    }

    /// Every combination of file type and operation (most are never hit: e.g. there
    /// is no `dir.append`).
    pub fn all() -> impl Iterator<Item = Site> {
        FileType::ALL
            .into_iter()
            .flat_map(|file| FileOp::ALL.into_iter().map(move |op| Site { file, op }))
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.file.name(), self.op.name())
    }
}

impl FromStr for Site {
    type Err = Error;

    /// Parses `<file type>.<op>`, e.g. `current.rename`.
    fn from_str(s: &str) -> Result<Site> {
        Site::all()
            .find(|site| site.to_string() == s)
            .ok_or_else(|| Error::invalid(format!("unknown kill point site {s:?}")))
    }
}

/// When, relative to its operation, a site fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Moment {
    /// Just before the operation: a crash here means it never happened.
    Before,
    /// Just after it (whatever it returned): a crash here keeps its effect and nothing
    /// that followed.
    After,
}

/// One hit of a site, as seen by an observer ([`KillPointFs::set_observer`]).
pub struct KillPoint<'a> {
    /// The site hit.
    pub site: Site,
    /// Which hit of `site` this is, counting from 1 (the same at both moments of one
    /// operation).
    pub hit: u64,
    /// Before or after the operation.
    pub moment: Moment,
    /// A number shared by every site of one operation (a directory sync can hit
    /// several), increasing with each operation.
    pub op_seq: u64,
    /// The file (or, for `sync_dir`, the directory) operated on; for `rename` the
    /// source and for `hard_link` the new link.
    pub path: &'a Path,
    mem: &'a MemFs,
}

impl KillPoint<'_> {
    /// What a power loss at this instant would leave, as an independent file system
    /// (see [`MemFs::crash_clone_with`]).
    pub fn crash_image(&self, policy: CrashPolicy, seed: u64) -> MemFs {
        self.mem.crash_clone_with(policy, seed)
    }
}

impl fmt::Debug for KillPoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillPoint")
            .field("site", &self.site.to_string())
            .field("hit", &self.hit)
            .field("moment", &self.moment)
            .field("op_seq", &self.op_seq)
            .field("path", &self.path)
            .finish()
    }
}

/// A crash image taken at an armed kill point ([`KillPointFs::arm`]).
#[derive(Debug, Clone)]
pub struct Capture {
    /// The site.
    pub site: Site,
    /// Its hit number.
    pub hit: u64,
    /// Before or after the operation.
    pub moment: Moment,
    /// The file or directory operated on.
    pub path: PathBuf,
    /// The policy the image was taken with.
    pub policy: CrashPolicy,
    /// What a power loss at that instant would leave.
    pub image: MemFs,
}

/// An observer callback, see [`KillPointFs::set_observer`].
pub type Observer = dyn Fn(&KillPoint<'_>) + Send + Sync;

#[derive(Debug, Clone, Copy)]
struct Arm {
    site: Site,
    hit: u64,
    moment: Moment,
    policy: CrashPolicy,
    seed: u64,
}

#[derive(Default)]
struct Shared {
    hits: Mutex<BTreeMap<Site, u64>>,
    /// Per directory: file types of entry changes not yet made durable by `sync_dir`.
    pending_dir: Mutex<BTreeMap<PathBuf, BTreeSet<FileType>>>,
    armed: Mutex<Vec<Arm>>,
    captures: Mutex<Vec<Capture>>,
    observer: RwLock<Option<Arc<Observer>>>,
    op_seq: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Test instrumentation: a panic in an observer must not wedge every later test step.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A [`FileSystem`] wrapper with named kill points; see the [module docs](self).
///
/// Clones share the hit counters, armed points, captures and observer.
#[derive(Clone)]
pub struct KillPointFs {
    inner: Arc<dyn FileSystem>,
    mem: MemFs,
    shared: Arc<Shared>,
}

impl fmt::Debug for KillPointFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillPointFs")
            .field("inner", &self.inner)
            .field("hits", &self.hits().len())
            .finish()
    }
}

impl KillPointFs {
    /// Kill points over `mem`; crash images are clones of `mem`.
    pub fn new(mem: MemFs) -> Self {
        Self::wrap(Arc::new(mem.clone()), mem)
    }

    /// Kill points over `inner`, any file system that keeps its data in `mem` (e.g. a
    /// `FaultFs` over `mem`); crash images are clones of `mem`.
    pub fn wrap(inner: Arc<dyn FileSystem>, mem: MemFs) -> Self {
        KillPointFs {
            inner,
            mem,
            shared: Arc::new(Shared::default()),
        }
    }

    /// The `MemFs` crash images are taken from.
    pub fn mem(&self) -> &MemFs {
        &self.mem
    }

    /// Hits so far of every site hit at least once.
    pub fn hits(&self) -> BTreeMap<Site, u64> {
        lock(&self.shared.hits).clone()
    }

    /// Hits so far of `site`.
    pub fn hit_count(&self, site: Site) -> u64 {
        lock(&self.shared.hits).get(&site).copied().unwrap_or(0)
    }

    /// Captures a crash image under `policy` (seeded with `seed`) at hit `hit` (from 1)
    /// of `site`, at `moment`. Fires once; collect it with
    /// [`take_captures`](Self::take_captures). Arming a hit that already happened has
    /// no effect.
    pub fn arm(&self, site: Site, hit: u64, moment: Moment, policy: CrashPolicy, seed: u64) {
        lock(&self.shared.armed).push(Arm {
            site,
            hit,
            moment,
            policy,
            seed,
        });
    }

    /// Removes every armed point that has not fired.
    pub fn disarm_all(&self) {
        lock(&self.shared.armed).clear();
    }

    /// The images captured at armed points so far (in the order taken), leaving none.
    pub fn take_captures(&self) -> Vec<Capture> {
        std::mem::take(&mut *lock(&self.shared.captures))
    }

    /// Calls `observer` at every hit of every site, before and after the operation, on
    /// the thread doing it, with no lock of this wrapper held (it may use the wrapper,
    /// e.g. [`hit_count`](Self::hit_count)). Replaces any previous observer.
    pub fn set_observer(&self, observer: impl Fn(&KillPoint<'_>) + Send + Sync + 'static) {
        let observer: Arc<Observer> = Arc::new(observer);
        *self
            .shared
            .observer
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(observer);
    }

    /// Removes the observer.
    pub fn clear_observer(&self) {
        *self
            .shared
            .observer
            .write()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Counts a hit of each of `sites` and returns their hit numbers.
    fn count(&self, sites: &[Site]) -> Vec<(Site, u64)> {
        let mut hits = lock(&self.shared.hits);
        sites
            .iter()
            .map(|&site| {
                let n = hits.entry(site).or_insert(0);
                *n += 1;
                (site, *n)
            })
            .collect()
    }

    fn fire(&self, hits: &[(Site, u64)], moment: Moment, op_seq: u64, path: &Path) {
        for &(site, hit) in hits {
            let fired: Vec<Arm> = {
                let mut armed = lock(&self.shared.armed);
                let (fired, rest) = armed
                    .drain(..)
                    .partition(|a| a.site == site && a.hit == hit && a.moment == moment);
                *armed = rest;
                fired
            };
            for a in fired {
                let image = self.mem.crash_clone_with(a.policy, a.seed);
                lock(&self.shared.captures).push(Capture {
                    site,
                    hit,
                    moment,
                    path: path.to_path_buf(),
                    policy: a.policy,
                    image,
                });
            }
            let observer = self
                .shared
                .observer
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(observer) = observer {
                observer(&KillPoint {
                    site,
                    hit,
                    moment,
                    op_seq,
                    path,
                    mem: &self.mem,
                });
            }
        }
    }

    /// Runs `op` between the `Before` and `After` moments of `sites`.
    fn around<T>(&self, sites: &[Site], path: &Path, op: impl FnOnce() -> T) -> T {
        let op_seq = self.shared.op_seq.fetch_add(1, Ordering::SeqCst);
        let hits = self.count(sites);
        self.fire(&hits, Moment::Before, op_seq, path);
        let r = op();
        self.fire(&hits, Moment::After, op_seq, path);
        r
    }

    /// Remembers that an entry of type `ty` in `path`'s directory changed.
    fn dir_changed(&self, path: &Path, ty: FileType) {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        lock(&self.shared.pending_dir)
            .entry(dir)
            .or_default()
            .insert(ty);
    }

    fn writable(&self, path: &Path, inner: Box<dyn WritableFile>) -> Box<dyn WritableFile> {
        Box::new(KillPointFile {
            fs: self.clone(),
            inner: Some(inner),
            path: path.to_path_buf(),
            file: FileType::of(path),
        })
    }
}

/// A writable file whose appends, syncs and close are kill points.
struct KillPointFile {
    fs: KillPointFs,
    /// `None` only while being dropped.
    inner: Option<Box<dyn WritableFile>>,
    path: PathBuf,
    file: FileType,
}

impl KillPointFile {
    fn inner(&mut self) -> Result<&mut Box<dyn WritableFile>> {
        self.inner
            .as_mut()
            .ok_or_else(|| Error::invalid("kill point file used after close"))
    }
}

impl WritableFile for KillPointFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        let site = Site::new(self.file, FileOp::Append);
        let fs = self.fs.clone();
        let path = self.path.clone();
        fs.around(&[site], &path, || self.inner()?.append(data))
    }

    fn sync_data(&mut self) -> Result<()> {
        let site = Site::new(self.file, FileOp::Sync);
        let fs = self.fs.clone();
        let path = self.path.clone();
        fs.around(&[site], &path, || self.inner()?.sync_data())
    }

    fn len(&self) -> u64 {
        self.inner.as_ref().map_or(0, |f| f.len())
    }
}

impl Drop for KillPointFile {
    fn drop(&mut self) {
        let site = Site::new(self.file, FileOp::Close);
        let fs = self.fs.clone();
        let path = self.path.clone();
        fs.around(&[site], &path, || drop(self.inner.take()));
    }
}

impl FileSystem for KillPointFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.inner.create_dir_all(dir)
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let ty = FileType::of(path);
        let existed = self.inner.exists(path);
        let f = self.around(&[Site::new(ty, FileOp::Create)], path, || {
            self.inner.create(path)
        })?;
        if !existed {
            self.dir_changed(path, ty);
        }
        Ok(self.writable(path, f))
    }

    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let site = Site::new(FileType::of(path), FileOp::OpenAppend);
        let f = self.around(&[site], path, || self.inner.open_append(path))?;
        Ok(self.writable(path, f))
    }

    fn open_read(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        self.inner.open_read(path)
    }

    fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        self.inner.read_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let (src, dst) = (FileType::of(from), FileType::of(to));
        let r = self.around(&[Site::new(src, FileOp::Rename)], from, || {
            self.inner.rename(from, to)
        });
        if r.is_ok() {
            self.dir_changed(from, src);
            self.dir_changed(to, dst);
        }
        r
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        let ty = FileType::of(path);
        let r = self.around(&[Site::new(ty, FileOp::Remove)], path, || {
            self.inner.remove_file(path)
        });
        if r.is_ok() {
            self.dir_changed(path, ty);
        }
        r
    }

    fn hard_link(&self, original: &Path, link: &Path) -> Result<()> {
        let ty = FileType::of(link);
        let r = self.around(&[Site::new(ty, FileOp::HardLink)], link, || {
            self.inner.hard_link(original, link)
        });
        if r.is_ok() {
            self.dir_changed(link, ty);
        }
        r
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }

    fn file_size(&self, path: &Path) -> Result<u64> {
        self.inner.file_size(path)
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let pending = lock(&self.shared.pending_dir)
            .remove(dir)
            .unwrap_or_default();
        let sites: Vec<Site> = if pending.is_empty() {
            vec![Site::new(FileType::Dir, FileOp::SyncDir)]
        } else {
            pending
                .iter()
                .map(|&t| Site::new(t, FileOp::SyncDir))
                .collect()
        };
        let r = self.around(&sites, dir, || self.inner.sync_dir(dir));
        if r.is_err() && !pending.is_empty() {
            // Still not durable: the next directory sync is about them too.
            lock(&self.shared.pending_dir)
                .entry(dir.to_path_buf())
                .or_default()
                .extend(pending);
        }
        r
    }

    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(s: &str) -> Site {
        s.parse().unwrap()
    }

    #[test]
    fn file_types_from_names() {
        let cases = [
            ("/db/000012.log", FileType::Wal),
            ("/db/000007.sst", FileType::Sst),
            ("/db/MANIFEST-000003", FileType::Manifest),
            ("/db/CURRENT", FileType::Current),
            ("/db/CURRENT.dbtmp", FileType::Current),
            ("/db/LOCK", FileType::Other),
            ("/db/000012.log.damaged", FileType::Other),
            ("/db/OPTIONS.dbtmp", FileType::Other),
        ];
        for (path, ty) in cases {
            assert_eq!(FileType::of(Path::new(path)), ty, "{path}");
        }
    }

    #[test]
    fn site_names_roundtrip() {
        let all: Vec<Site> = Site::all().collect();
        assert_eq!(all.len(), FileType::ALL.len() * FileOp::ALL.len());
        for s in all {
            assert_eq!(site(&s.to_string()), s);
        }
        assert_eq!(
            site("current.sync_dir"),
            Site::new(FileType::Current, FileOp::SyncDir)
        );
        assert!("wal.fsync".parse::<Site>().is_err());
        assert!("wal".parse::<Site>().is_err());
    }

    /// Every operation of an atomic CURRENT replace and a WAL's life is named and
    /// counted, before and after, with sync_dir named after what it makes durable.
    #[test]
    fn counts_and_names_every_operation() {
        let kp = KillPointFs::new(MemFs::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        kp.set_observer(move |p| {
            lock(&s2).push(format!("{:?} {} #{}", p.moment, p.site, p.hit));
        });
        let dir = Path::new("/db");
        kp.create_dir_all(dir).unwrap();
        kp.sync_dir(dir).unwrap();
        {
            let mut wal = kp.create(&dir.join("000001.log")).unwrap();
            wal.append(b"a").unwrap();
            wal.append(b"b").unwrap();
            wal.sync_data().unwrap();
            assert_eq!(wal.len(), 2);
        }
        crate::write_file_atomic(&kp, &dir.join("CURRENT"), b"MANIFEST-000002\n").unwrap();
        kp.remove_file(&dir.join("000001.log")).unwrap();
        kp.sync_dir(dir).unwrap();
        let got = lock(&seen).clone();
        let want: Vec<String> = [
            "dir.sync_dir #1",
            "wal.create #1",
            "wal.append #1",
            "wal.append #2",
            "wal.sync #1",
            "wal.close #1",
            "current.create #1",
            "current.append #1",
            "current.sync #1",
            "current.close #1",
            "current.rename #1",
            // The WAL's creation and CURRENT's replace are both made durable here.
            "wal.sync_dir #1",
            "current.sync_dir #1",
            "wal.remove #1",
            "wal.sync_dir #2",
        ]
        .iter()
        .flat_map(|s| [format!("Before {s}"), format!("After {s}")])
        .collect();
        // A multi-site sync_dir fires every Before, then every After.
        let mut want = want;
        let i = want
            .iter()
            .position(|s| s == "After wal.sync_dir #1")
            .unwrap();
        want.swap(i, i + 1);
        assert_eq!(got, want);
        assert_eq!(kp.hit_count(site("wal.append")), 2);
        assert_eq!(kp.hit_count(site("current.rename")), 1);
        assert_eq!(kp.hit_count(site("manifest.sync")), 0);
        assert_eq!(kp.hits().values().sum::<u64>(), 15);
    }

    #[test]
    fn armed_points_capture_before_and_after() {
        let mem = MemFs::new();
        let kp = KillPointFs::new(mem.clone());
        let dir = Path::new("/db");
        let path = dir.join("000001.log");
        kp.create_dir_all(dir).unwrap();
        let sync = site("wal.sync");
        kp.arm(sync, 2, Moment::Before, CrashPolicy::DropAllUnsynced, 0);
        kp.arm(sync, 2, Moment::After, CrashPolicy::DropAllUnsynced, 0);
        kp.arm(
            site("wal.sync_dir"),
            1,
            Moment::After,
            CrashPolicy::default(),
            0,
        );
        kp.arm(sync, 9, Moment::Before, CrashPolicy::default(), 0); // never reached
        let mut f = kp.create(&path).unwrap();
        f.append(b"one").unwrap();
        f.sync_data().unwrap();
        kp.sync_dir(dir).unwrap();
        f.append(b"two").unwrap();
        f.sync_data().unwrap();
        drop(f);
        let caps = kp.take_captures();
        let summary: Vec<_> = caps
            .iter()
            .map(|c| (c.site.to_string(), c.hit, c.moment))
            .collect();
        assert_eq!(
            summary,
            [
                ("wal.sync_dir".to_string(), 1, Moment::After),
                ("wal.sync".to_string(), 2, Moment::Before),
                ("wal.sync".to_string(), 2, Moment::After),
            ]
        );
        let contents = |m: &MemFs| m.read_all(&path).unwrap();
        assert_eq!(contents(&caps[0].image), b"one");
        assert_eq!(contents(&caps[1].image), b"one");
        assert_eq!(contents(&caps[2].image), b"onetwo");
        assert!(kp.take_captures().is_empty());
        // The live file system is untouched by captures.
        assert_eq!(mem.read_all(&path).unwrap(), b"onetwo");
    }

    #[test]
    fn rename_link_and_failed_ops_are_named() {
        let kp = KillPointFs::new(MemFs::new());
        let dir = Path::new("/db");
        kp.create_dir_all(dir).unwrap();
        drop(kp.create(&dir.join("000005.log")).unwrap());
        kp.rename(&dir.join("000005.log"), &dir.join("000005.log.damaged"))
            .unwrap();
        drop(kp.create(&dir.join("000006.sst")).unwrap());
        kp.hard_link(&dir.join("000006.sst"), &dir.join("000007.sst"))
            .unwrap();
        let mut f = kp.open_append(&dir.join("000007.sst")).unwrap();
        f.append(b"x").unwrap();
        drop(f);
        // A failing operation is still a hit, and makes nothing pending.
        assert!(kp.remove_file(&dir.join("MANIFEST-000001")).is_err());
        kp.sync_dir(dir).unwrap();
        let hits: Vec<String> = kp.hits().iter().map(|(s, n)| format!("{s}={n}")).collect();
        assert_eq!(
            hits,
            [
                "wal.create=1",
                "wal.close=1",
                "wal.rename=1",
                "wal.sync_dir=1",
                "sst.create=1",
                "sst.open_append=1",
                "sst.append=1",
                "sst.close=2",
                "sst.hard_link=1",
                "sst.sync_dir=1",
                "manifest.remove=1",
                "other.sync_dir=1",
            ]
        );
    }

    #[test]
    fn observer_can_take_images_and_be_cleared() {
        let kp = KillPointFs::new(MemFs::new());
        let images = Arc::new(Mutex::new(Vec::new()));
        let i2 = images.clone();
        kp.set_observer(move |p| {
            if p.site.op == FileOp::Sync && p.moment == Moment::After {
                lock(&i2).push(p.crash_image(CrashPolicy::DropAllUnsynced, 0));
            }
        });
        let dir = Path::new("/d");
        kp.create_dir_all(dir).unwrap();
        let path = dir.join("MANIFEST-000001");
        let mut f = kp.create(&path).unwrap();
        kp.sync_dir(dir).unwrap();
        f.append(b"edit").unwrap();
        f.sync_data().unwrap();
        kp.clear_observer();
        f.append(b"more").unwrap();
        f.sync_data().unwrap();
        let images = lock(&images);
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].read_all(&path).unwrap(), b"edit");
        assert_eq!(kp.hit_count(site("manifest.sync")), 2);
    }
}
