//! A FileSystem wrapper that fails syncs on demand.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shale_core::{Error, Result};
use shale_fs::{FileLock, FileSystem, MemFs, RandomAccessFile, WritableFile};

/// Wraps a MemFs; while `fail_sync` is set, every `sync_data` fails with EIO.
#[derive(Debug, Clone)]
pub(crate) struct FailFs {
    pub(crate) inner: MemFs,
    pub(crate) fail_sync: Arc<AtomicBool>,
}

impl FailFs {
    pub(crate) fn new(inner: MemFs) -> Self {
        FailFs {
            inner,
            fail_sync: Arc::new(AtomicBool::new(false)),
        }
    }
}

struct FailFile {
    inner: Box<dyn WritableFile>,
    fail_sync: Arc<AtomicBool>,
}

impl WritableFile for FailFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.inner.append(data)
    }
    fn sync_data(&mut self) -> Result<()> {
        if self.fail_sync.load(Ordering::SeqCst) {
            return Err(Error::io(
                "sync",
                "injected",
                std::io::Error::other("injected sync failure"),
            ));
        }
        self.inner.sync_data()
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
}

impl FileSystem for FailFs {
    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(FailFile {
            inner: self.inner.create(path)?,
            fail_sync: self.fail_sync.clone(),
        }))
    }
    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(FailFile {
            inner: self.inner.open_append(path)?,
            fail_sync: self.fail_sync.clone(),
        }))
    }
    fn open_read(&self, path: &Path) -> Result<Arc<dyn RandomAccessFile>> {
        self.inner.open_read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> Result<()> {
        self.inner.remove_file(path)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> Result<()> {
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
        self.inner.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}
