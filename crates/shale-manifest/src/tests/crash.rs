//! Crash at every point: after each completed call, before every single file-system
//! operation inside a call (including roll-overs), and with the last record torn at
//! every byte. Recovery must give the state before or after the call — never an
//! error, never a mix.

use std::path::Path;
use std::sync::{Arc, Mutex};

use shale_core::Result;
use shale_fs::{FileLock, FileSystem, MemFs, RandomAccessFile, WritableFile};

use super::version_set::assert_same;
use super::{dir, new_fs, recover, workload_edit};
use crate::current::read_current;
use crate::state::State;
use crate::{VersionSet, manifest_path};

/// Wraps a MemFs and, while armed, takes a `crash_clone` before every operation that
/// changes anything (create, append, sync, rename, remove, directory sync).
#[derive(Debug, Clone)]
struct CrashPointFs {
    inner: MemFs,
    images: Arc<Mutex<Option<Vec<MemFs>>>>,
}

impl CrashPointFs {
    fn capture(&self) {
        if let Some(v) = self.images.lock().unwrap().as_mut() {
            v.push(self.inner.crash_clone());
        }
    }
    fn arm(&self) {
        *self.images.lock().unwrap() = Some(Vec::new());
    }
    fn take(&self) -> Vec<MemFs> {
        let images = self.images.lock().unwrap().take().unwrap_or_default();
        // The point after the last operation, too.
        let mut images = images;
        images.push(self.inner.crash_clone());
        images
    }
}

struct CrashPointFile {
    inner: Box<dyn WritableFile>,
    fs: CrashPointFs,
}

impl WritableFile for CrashPointFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.fs.capture();
        self.inner.append(data)
    }
    fn sync_data(&mut self) -> Result<()> {
        self.fs.capture();
        self.inner.sync_data()
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl FileSystem for CrashPointFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        self.capture();
        Ok(Box::new(CrashPointFile {
            inner: self.inner.create(path)?,
            fs: self.clone(),
        }))
    }
    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(CrashPointFile {
            inner: self.inner.open_append(path)?,
            fs: self.clone(),
        }))
    }
    fn open_read(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        self.inner.open_read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.capture();
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> Result<()> {
        self.capture();
        self.inner.remove_file(path)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> Result<()> {
        self.capture();
        self.inner.hard_link(original, link)
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
        self.capture();
        self.inner.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}

/// True if `got` is `a` or `b` (up to the next file number, see `assert_same`).
fn is_one_of(got: &State, a: &State, b: &State) -> bool {
    let same = |x: &State| {
        let mut g = got.clone();
        g.next_file_number = x.next_file_number;
        &g == x && got.next_file_number >= x.next_file_number
    };
    same(a) || same(b)
}

#[test]
fn crash_before_every_operation_and_after_every_call() {
    let fs = CrashPointFs {
        inner: new_fs(),
        images: Arc::new(Mutex::new(None)),
    };
    let mut vs = VersionSet::create_new(Arc::new(fs.clone()), dir(), 7).unwrap();
    vs.set_max_manifest_size(700);
    let mut rolls = 0;
    let mut points = 0;
    for i in 0..60 {
        let before = vs.state().clone();
        let e = workload_edit(&mut vs, i);
        let manifest_before = vs.manifest_file_number();
        fs.arm();
        vs.log_and_apply(e).unwrap();
        let images = fs.take();
        let after = vs.state().clone();
        if vs.manifest_file_number() != manifest_before {
            rolls += 1;
        }
        let last = images.len() - 1;
        for (k, image) in images.into_iter().enumerate() {
            points += 1;
            let got = recover(&image).unwrap_or_else(|e| panic!("step {i}, crash point {k}: {e}"));
            assert!(
                is_one_of(got.state(), &before, &after),
                "step {i}, crash point {k}: recovered a state that is neither before nor after"
            );
            if k == last {
                // After the call returned, the edit is durable.
                assert_same(got.state(), &after);
            }
            // Recovering again from the recovered image changes nothing.
            drop(got);
        }
    }
    assert!(rolls >= 3, "only {rolls} roll-overs");
    assert!(points > 150, "only {points} crash points");
}

#[test]
fn torn_last_record_at_every_byte() {
    let fs = new_fs();
    let mut vs = super::create(&fs);
    for i in 0..25 {
        let before = vs.state().clone();
        let e = workload_edit(&mut vs, i);
        let start = vs.manifest_size();
        vs.log_and_apply(e).unwrap();
        let after = vs.state().clone();
        let end = vs.manifest_size();
        let path = manifest_path(dir(), vs.manifest_file_number());
        for cut in start..=end {
            let image = fs.crash_clone();
            image.truncate(&path, cut as usize).unwrap();
            let got = recover(&image).unwrap_or_else(|e| panic!("step {i}, cut {cut}: {e}"));
            if cut == end {
                assert_same(got.state(), &after);
            } else {
                assert_same(got.state(), &before);
                assert!(
                    !got.recovery_notes().is_empty() || cut == start,
                    "cut {cut}"
                );
            }
            assert_eq!(
                read_current(&image, dir()).unwrap(),
                got.manifest_file_number()
            );
        }
    }
}

#[test]
fn recovery_survives_a_crash_during_recovery() {
    let fs = CrashPointFs {
        inner: new_fs(),
        images: Arc::new(Mutex::new(None)),
    };
    let mut vs = VersionSet::create_new(Arc::new(fs.clone()), dir(), 7).unwrap();
    for i in 0..20 {
        let e = workload_edit(&mut vs, i);
        vs.log_and_apply(e).unwrap();
    }
    let logged = vs.state().clone();
    drop(vs);
    fs.arm();
    let vs = VersionSet::recover(Arc::new(fs.clone()), dir(), 7).unwrap();
    assert_same(vs.state(), &logged);
    for (k, image) in fs.take().into_iter().enumerate() {
        let got = recover(&image).unwrap_or_else(|e| panic!("crash point {k}: {e}"));
        assert_same(got.state(), &logged);
    }
}
