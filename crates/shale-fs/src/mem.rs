//! [`MemFs`]: an in-memory file system that can simulate a power loss.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::rng::SplitMix64;
use crate::{Error, FileLock, FileSystem, RandomAccessFile, Result, WritableFile};

/// Page size used by [`CrashPolicy::RandomPages`].
pub const CRASH_PAGE_SIZE: usize = 4096;

/// What a simulated power loss ([`MemFs::crash_with`], [`MemFs::crash_clone_with`])
/// does with the bytes of each file that `sync_data` had not made durable.
///
/// Whatever the policy, synced bytes always survive, and directory entries (creations,
/// renames, removals) that `sync_dir` had not made durable are undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrashPolicy {
    /// Every unsynced byte is lost: each file is cut back to its synced length (what
    /// [`MemFs::crash`] does).
    #[default]
    DropAllUnsynced,
    /// Each file keeps its synced part plus a random prefix (possibly empty, possibly
    /// all) of its unsynced tail: the kernel wrote back part of the dirty data, in order.
    KeepRandomPrefix,
    /// The unsynced tail is cut into [`CRASH_PAGE_SIZE`] pages (aligned to file
    /// offsets); each page independently survives or reads back as zeros, and the file
    /// keeps its full length: writeback happened out of order and the size was
    /// persisted (Pebble's harsh `CrashClone`).
    RandomPages,
}

/// The bytes of a file after a power loss under `policy`.
fn after_crash(i: &Inode, policy: CrashPolicy, rng: &mut SplitMix64) -> Vec<u8> {
    let synced = i.synced.min(i.data.len());
    let mut data = i.data.clone();
    match policy {
        CrashPolicy::DropAllUnsynced => data.truncate(synced),
        CrashPolicy::KeepRandomPrefix => {
            let unsynced = (data.len() - synced) as u64;
            let keep = rng.below(unsynced + 1) as usize;
            data.truncate(synced + keep);
        }
        CrashPolicy::RandomPages => {
            let mut start = synced;
            while start < data.len() {
                let end = ((start / CRASH_PAGE_SIZE + 1) * CRASH_PAGE_SIZE).min(data.len());
                if !rng.coin() {
                    data[start..end].fill(0);
                }
                start = end;
            }
        }
    }
    data
}

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    /// Length of the prefix made durable by `sync_data`.
    synced: usize,
}

type InodeRef = Arc<Mutex<Inode>>;

#[derive(Debug, Default)]
struct State {
    /// What a running process sees.
    live: BTreeMap<PathBuf, InodeRef>,
    /// The directory entries a power loss keeps (as of each directory's last sync).
    durable: BTreeMap<PathBuf, InodeRef>,
    dirs: BTreeSet<PathBuf>,
    locks: BTreeSet<PathBuf>,
}

/// An in-memory [`FileSystem`] for deterministic crash tests.
///
/// [`MemFs::crash`] simulates a power loss: every file is cut back to what
/// `sync_data` made durable, and every directory goes back to the entries it had at
/// its last `sync_dir`. Handles opened before the crash fail from then on (the process
/// that held them is gone), so a `Db` still running on the old state cannot write into
/// the recovered one. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
    generation: Arc<AtomicU64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the maps half-updated in a way that
    // matters for a test double; keep going rather than poison every later test step.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn not_found(op: &'static str, path: &Path) -> Error {
    Error::io(op, path, io::Error::from(io::ErrorKind::NotFound))
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

impl MemFs {
    /// An empty in-memory file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a power loss now; see the type docs. Same as
    /// [`crash_with`](MemFs::crash_with)`(CrashPolicy::DropAllUnsynced, _)`.
    pub fn crash(&self) {
        self.crash_with(CrashPolicy::DropAllUnsynced, 0);
    }

    /// Simulates a power loss now, deciding what happens to each file's unsynced tail
    /// with `policy`, driven by a generator seeded with `seed` (same seed, same state,
    /// same outcome). Every policy drops the directory entries that `sync_dir` had not
    /// made durable, and invalidates every handle opened before the crash.
    pub fn crash_with(&self, policy: CrashPolicy, seed: u64) {
        let mut st = lock(&self.state);
        self.generation.fetch_add(1, Ordering::SeqCst);
        st.live = st.durable.clone();
        let mut rng = SplitMix64::new(seed);
        let mut seen = BTreeSet::new();
        // Path order (and one visit per inode, even with hard links): deterministic.
        for inode in st.live.values() {
            if !seen.insert(Arc::as_ptr(inode)) {
                continue;
            }
            let mut i = lock(inode);
            let data = after_crash(&i, policy, &mut rng);
            i.synced = data.len();
            i.data = data;
        }
        st.locks.clear();
    }

    /// A new, independent file system holding what a power loss now would leave; this
    /// one is untouched (Pebble's `CrashClone`). Same as
    /// [`crash_clone_with`](MemFs::crash_clone_with)`(CrashPolicy::DropAllUnsynced, _)`.
    pub fn crash_clone(&self) -> MemFs {
        self.crash_clone_with(CrashPolicy::DropAllUnsynced, 0)
    }

    /// Like [`crash_clone`](MemFs::crash_clone), with what survives of each file's
    /// unsynced tail decided by `policy` and `seed` (see [`crash_with`](MemFs::crash_with)).
    pub fn crash_clone_with(&self, policy: CrashPolicy, seed: u64) -> MemFs {
        let st = lock(&self.state);
        let mut rng = SplitMix64::new(seed);
        let mut copies: BTreeMap<*const Mutex<Inode>, InodeRef> = BTreeMap::new();
        let mut durable = BTreeMap::new();
        for (path, inode) in &st.durable {
            let copy = copies
                .entry(Arc::as_ptr(inode))
                .or_insert_with(|| {
                    let data = after_crash(&lock(inode), policy, &mut rng);
                    let synced = data.len();
                    Arc::new(Mutex::new(Inode { data, synced }))
                })
                .clone();
            durable.insert(path.clone(), copy);
        }
        MemFs {
            state: Arc::new(Mutex::new(State {
                live: durable.clone(),
                durable,
                dirs: st.dirs.clone(),
                locks: BTreeSet::new(),
            })),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Drops the unsynced tail of the live file at `path` at once: the file is cut back
    /// to the length its last successful `sync_data` made durable. This is what Linux
    /// may do to a file whose fsync failed ("fsyncgate": the dirty pages are marked
    /// clean and their data is gone); `FaultFs` uses it for `Effect::FsyncGate`.
    pub fn drop_unsynced(&self, path: &Path) -> Result<()> {
        let st = lock(&self.state);
        let inode = st
            .live
            .get(path)
            .ok_or_else(|| not_found("drop unsynced data", path))?;
        let mut i = lock(inode);
        let keep = i.synced;
        i.data.truncate(keep);
        Ok(())
    }

    /// Bytes of the live file at `path` that a power loss now would keep under
    /// [`CrashPolicy::DropAllUnsynced`] (for tests).
    pub fn synced_len(&self, path: &Path) -> Result<u64> {
        let st = lock(&self.state);
        let inode = st.live.get(path).ok_or_else(|| not_found("stat", path))?;
        Ok(lock(inode).synced as u64)
    }

    /// Total bytes held by live files (for tests).
    pub fn live_bytes(&self) -> u64 {
        let st = lock(&self.state);
        st.live.values().map(|i| lock(i).data.len() as u64).sum()
    }

    /// Overwrites bytes of an existing file in place, durable at once (for corruption
    /// tests: simulates media damage).
    pub fn corrupt(&self, path: &Path, offset: usize, bytes: &[u8]) -> Result<()> {
        let st = lock(&self.state);
        let inode = st
            .live
            .get(path)
            .ok_or_else(|| not_found("corrupt", path))?;
        let mut i = lock(inode);
        let end = offset.saturating_add(bytes.len());
        if end > i.data.len() {
            return Err(Error::invalid("corrupt: range past end of file"));
        }
        i.data[offset..end].copy_from_slice(bytes);
        Ok(())
    }

    /// Cuts an existing file to `len` bytes, durable at once (for torn-tail tests).
    pub fn truncate(&self, path: &Path, len: usize) -> Result<()> {
        let st = lock(&self.state);
        let inode = st
            .live
            .get(path)
            .ok_or_else(|| not_found("truncate", path))?;
        let mut i = lock(inode);
        i.data.truncate(len);
        i.synced = i.synced.min(len);
        Ok(())
    }

    fn stale(&self, generation: u64, path: &Path) -> Result<()> {
        if self.generation.load(Ordering::SeqCst) == generation {
            Ok(())
        } else {
            Err(Error::io(
                "use handle after simulated crash",
                path,
                io::Error::other("stale file handle"),
            ))
        }
    }
}

struct MemWritable {
    fs: MemFs,
    inode: InodeRef,
    path: PathBuf,
    generation: u64,
}

impl WritableFile for MemWritable {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.fs.stale(self.generation, &self.path)?;
        lock(&self.inode).data.extend_from_slice(data);
        Ok(())
    }

    fn sync_data(&mut self) -> Result<()> {
        self.fs.stale(self.generation, &self.path)?;
        let mut i = lock(&self.inode);
        i.synced = i.data.len();
        Ok(())
    }

    fn len(&self) -> u64 {
        lock(&self.inode).data.len() as u64
    }
}

struct MemReadable {
    inode: InodeRef,
    path: PathBuf,
}

impl RandomAccessFile for MemReadable {
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let i = lock(&self.inode);
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| i.data.get(start..start.checked_add(buf.len())?));
        match src {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(Error::io(
                "read",
                &self.path,
                io::Error::from(io::ErrorKind::UnexpectedEof),
            )),
        }
    }

    fn len(&self) -> u64 {
        lock(&self.inode).data.len() as u64
    }
}

struct MemLock {
    fs: MemFs,
    path: PathBuf,
    generation: u64,
}

impl FileLock for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        if self.fs.generation.load(Ordering::SeqCst) == self.generation {
            lock(&self.fs.state).locks.remove(&self.path);
        }
    }
}

impl FileSystem for MemFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let mut st = lock(&self.state);
        for d in dir.ancestors() {
            st.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let mut st = lock(&self.state);
        if !st.dirs.contains(&parent(path)) {
            return Err(not_found("create", path));
        }
        // Like O_TRUNC: an existing file is emptied in place (its old contents are gone
        // even if a crash follows).
        let inode = st.live.entry(path.to_path_buf()).or_default().clone();
        *lock(&inode) = Inode::default();
        Ok(Box::new(MemWritable {
            fs: self.clone(),
            inode,
            path: path.to_path_buf(),
            generation: self.generation.load(Ordering::SeqCst),
        }))
    }

    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        let st = lock(&self.state);
        let inode = st
            .live
            .get(path)
            .ok_or_else(|| not_found("open for append", path))?
            .clone();
        Ok(Box::new(MemWritable {
            fs: self.clone(),
            inode,
            path: path.to_path_buf(),
            generation: self.generation.load(Ordering::SeqCst),
        }))
    }

    fn open_read(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        let st = lock(&self.state);
        let inode = st
            .live
            .get(path)
            .ok_or_else(|| not_found("open", path))?
            .clone();
        Ok(Arc::new(MemReadable {
            inode,
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut st = lock(&self.state);
        let inode = st
            .live
            .remove(from)
            .ok_or_else(|| not_found("rename", from))?;
        st.live.insert(to.to_path_buf(), inode);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        let mut st = lock(&self.state);
        st.live
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found("remove", path))
    }

    fn hard_link(&self, original: &Path, link: &Path) -> Result<()> {
        let mut st = lock(&self.state);
        let inode = st
            .live
            .get(original)
            .ok_or_else(|| not_found("hard link", original))?
            .clone();
        if st.live.contains_key(link) {
            return Err(Error::io(
                "hard link",
                link,
                io::Error::from(io::ErrorKind::AlreadyExists),
            ));
        }
        st.live.insert(link.to_path_buf(), inode);
        Ok(())
    }

    fn list(&self, dir: &Path) -> Result<Vec<String>> {
        let st = lock(&self.state);
        if !st.dirs.contains(dir) {
            return Err(not_found("list", dir));
        }
        let files = st.live.keys().filter(|p| p.parent() == Some(dir));
        let dirs = st.dirs.iter().filter(|p| p.parent() == Some(dir));
        let mut names: Vec<String> = files
            .chain(dirs)
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        let st = lock(&self.state);
        st.live.contains_key(path) || st.dirs.contains(path)
    }

    fn file_size(&self, path: &Path) -> Result<u64> {
        let st = lock(&self.state);
        let inode = st.live.get(path).ok_or_else(|| not_found("stat", path))?;
        Ok(lock(inode).data.len() as u64)
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut st = lock(&self.state);
        if !st.dirs.contains(dir) {
            return Err(not_found("fsync directory", dir));
        }
        let in_dir = |p: &PathBuf| p.parent() == Some(dir);
        st.durable.retain(|p, _| !in_dir(p));
        let entries: Vec<_> = st
            .live
            .iter()
            .filter(|(p, _)| in_dir(p))
            .map(|(p, i)| (p.clone(), i.clone()))
            .collect();
        st.durable.extend(entries);
        Ok(())
    }

    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        let mut st = lock(&self.state);
        if !st.locks.insert(path.to_path_buf()) {
            return Err(Error::Locked {
                path: path.to_path_buf(),
            });
        }
        st.live.entry(path.to_path_buf()).or_default();
        Ok(Box::new(MemLock {
            fs: self.clone(),
            path: path.to_path_buf(),
            generation: self.generation.load(Ordering::SeqCst),
        }))
    }
}
