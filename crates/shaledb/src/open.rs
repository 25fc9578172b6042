//! Opening a database directory.
//!
//! 1. Validate options; create the directory if allowed; take `LOCK`.
//! 2. Recover the manifest (`CURRENT` → `MANIFEST-N`), or create a new one. Every file
//!    number seen in the directory is marked used, so no new file can reuse the
//!    number of a file a crash left behind.
//! 3. Replay the WALs from the manifest's log number on into a memtable (per the
//!    recovery mode), writing it out as L0 tables whenever it fills.
//! 4. Start a new WAL, sync it and the directory, then record the recovered tables,
//!    the new log number and the last seqno in **one** manifest edit. Only after that
//!    edit is synced are the replayed WALs obsolete.
//! 5. Delete everything obsolete (old WALs, orphan tables of interrupted flushes and
//!    compactions, old manifests, temp files) — after recovery, never before.
//!
//! A crash anywhere before step 4's edit is durable leaves the old WALs in charge:
//! the next open replays them again (orphan tables are deleted). A crash after it
//! leaves the new state in charge.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use shale_core::{SeqNo, WriteBatch};
use shale_fs::FileSystem;
use shale_manifest::{FileMeta, VersionEdit, VersionSet};
use shale_memtable::MemTable;
use shale_sstable::BlockCache;
use shale_wal::{LogKind, LogReader, LogWriter};

use crate::db::DbInner;
use crate::filenames::{CURRENT_FILE, FileKind, LOCK_FILE, parse_file_name, wal_path};
use crate::flush::build_table;
use crate::options::Options;
use crate::super_version::SuperVersion;
use crate::table_cache::TableCache;
use crate::write_queue::WriteQueue;
use crate::{Error, Result};

pub(crate) fn open(path: &Path, opts: Options) -> Result<Arc<DbInner>> {
    opts.validate()?;
    let fs = Arc::clone(&opts.fs);
    if !fs.exists(path) {
        if !opts.create_if_missing {
            return Err(Error::NotFound(path.to_path_buf()));
        }
        fs.create_dir_all(path)?;
    }
    let lock = fs.lock(&path.join(LOCK_FILE))?;

    let names = fs.list(path)?;
    let kinds: Vec<FileKind> = names.iter().filter_map(|n| parse_file_name(n)).collect();
    let mut logs: Vec<u64> = kinds
        .iter()
        .filter_map(|k| match k {
            FileKind::Wal(n) => Some(*n),
            _ => None,
        })
        .collect();
    logs.sort_unstable();
    let exists = names.iter().any(|n| n == CURRENT_FILE) || !logs.is_empty();
    if exists && opts.error_if_exists {
        return Err(Error::Exists(format!(
            "a database already exists in {} (error_if_exists is set)",
            path.display()
        )));
    }
    if !exists && !opts.create_if_missing {
        return Err(Error::NotFound(path.join(CURRENT_FILE)));
    }
    let mut vs = if names.iter().any(|n| n == CURRENT_FILE) {
        VersionSet::recover(Arc::clone(&fs), path, opts.num_levels)?
    } else {
        VersionSet::create_new(Arc::clone(&fs), path, opts.num_levels)?
    };
    vs.set_max_manifest_size(opts.max_manifest_size);
    for k in &kinds {
        if let FileKind::Wal(n) | FileKind::Table(n) | FileKind::Manifest(n) = k {
            vs.mark_file_number_used(*n);
        }
    }

    let block_cache = Arc::new(BlockCache::new(opts.effective_block_cache_size()));
    let tables = Arc::new(TableCache::new(
        Arc::clone(&fs),
        path.to_path_buf(),
        block_cache,
        shale_sstable::TableOptions::default(),
        opts.memory_budget
            .map(|_| opts.effective_block_cache_size()),
    ));
    if opts.paranoid_checks {
        let version = vs.current(0);
        for level in version.levels() {
            for f in level {
                if let Some(e) = tables.get(f.number)?.verify().into_iter().next() {
                    return Err(e);
                }
            }
        }
    }

    let mut replay = Replay::new(&opts, path, &mut vs);
    let min_log = replay.vs.log_number(0);
    for &n in logs.iter().filter(|&&n| n >= min_log) {
        if !replay.log(n)? {
            break;
        }
    }
    replay.flush_memtable()?;
    let Replay {
        new_files,
        last_seq,
        notes,
        damaged,
        ..
    } = replay;

    // A fresh WAL for new writes; durable before the manifest points at it.
    let log_number = vs.new_file_number();
    let wal = LogWriter::create(
        fs.as_ref(),
        &wal_path(path, log_number),
        LogKind::Wal,
        log_number,
    )?;
    fs.sync_dir(path)?;
    vs.log_and_apply(VersionEdit {
        log_number: Some(log_number),
        last_seqno: Some(last_seq),
        new_files: new_files.into_iter().map(|f| (0, f)).collect(),
        ..Default::default()
    })?;
    // Logs whose replay dropped damage are kept (renamed, so never replayed or
    // deleted) for inspection with `shale dump-wal`.
    for n in damaged {
        let from = wal_path(path, n);
        let mut to = from.clone().into_os_string();
        to.push(".damaged");
        fs.rename(&from, Path::new(&to))?;
    }

    let version = vs.current(0);
    let inner = Arc::new(DbInner {
        path: path.to_path_buf(),
        sv: RwLock::new(Arc::new(SuperVersion {
            mem: Arc::new(MemTable::new()),
            log_number,
            imm: Vec::new(),
            version: Arc::clone(&version),
        })),
        versions: Mutex::new(vs),
        tables,
        visible_seq: AtomicU64::new(last_seq),
        writes: WriteQueue::new(wal, last_seq),
        snapshots: Default::default(),
        stats: Default::default(),
        bg: Default::default(),
        pending_outputs: Default::default(),
        live_versions: Default::default(),
        gc_lock: Default::default(),
        pacer: Default::default(),
        recovery_notes: notes,
        opts,
        _lock: lock,
    });
    inner.track_version(&version);
    inner.collect_garbage(true);
    Ok(inner)
}

/// WAL replay state: the memtable being refilled and the tables written from it.
struct Replay<'a> {
    fs: Arc<dyn FileSystem>,
    dir: &'a Path,
    opts: &'a Options,
    vs: &'a mut VersionSet,
    mem: Arc<MemTable>,
    new_files: Vec<FileMeta>,
    last_seq: SeqNo,
    notes: Vec<String>,
    /// Logs whose replay dropped something.
    damaged: Vec<u64>,
}

impl<'a> Replay<'a> {
    fn new(opts: &'a Options, dir: &'a Path, vs: &'a mut VersionSet) -> Self {
        Replay {
            fs: Arc::clone(&opts.fs),
            dir,
            opts,
            last_seq: vs.last_seqno(),
            vs,
            mem: Arc::new(MemTable::new()),
            new_files: Vec::new(),
            notes: Vec::new(),
            damaged: Vec::new(),
        }
    }

    /// Replays WAL `n`; false if the recovery mode says to stop here.
    fn log(&mut self, n: u64) -> Result<bool> {
        let path = wal_path(self.dir, n);
        let mut reader = LogReader::open(
            self.fs.as_ref(),
            &path,
            LogKind::Wal,
            self.opts.wal_recovery_mode,
        )?;
        while let Some((offset, payload)) = reader.next_record()? {
            let batch = WriteBatch::from_bytes(&payload).map_err(|e| e.relocated(&path, offset))?;
            let first = batch.seq();
            for (i, op) in batch.iter().enumerate() {
                self.mem.add(first + i as u64, op.kind, op.key, op.value);
            }
            if batch.count() > 0 {
                self.last_seq = self.last_seq.max(first + u64::from(batch.count()) - 1);
            }
            if self.mem.approximate_memory_usage() >= self.opts.effective_write_buffer_size() {
                self.flush_memtable()?;
            }
        }
        if !reader.dropped().is_empty() {
            self.damaged.push(n);
        }
        for d in reader.dropped() {
            self.notes.push(format!(
                "{}: dropped {} bytes at offset {}: {}",
                path.display(),
                d.bytes,
                d.offset,
                d.reason
            ));
        }
        if reader.stopped_early() {
            self.notes.push(format!(
                "{}: point-in-time recovery stopped here; later logs are discarded",
                path.display()
            ));
            return Ok(false);
        }
        Ok(true)
    }

    /// Writes the replayed memtable to an L0 table (recorded in the final edit).
    fn flush_memtable(&mut self) -> Result<()> {
        if self.mem.is_empty() {
            return Ok(());
        }
        let number = self.vs.new_file_number();
        let table_opts = crate::db::table_options_for(self.opts);
        if let Some(meta) = build_table(
            self.fs.as_ref(),
            self.dir,
            number,
            table_opts,
            Box::new(self.mem.iter()),
            crate::merge::OutputFilter {
                snapshots: Vec::new(),
                now_ms: self.opts.clock.now_ms(),
                merge: self.opts.merge_operator.clone(),
                compaction_filter: self.opts.compaction_filter.clone(),
                bottommost: false,
            },
        )? {
            self.new_files.push(meta);
        }
        self.fs.sync_dir(self.dir)?;
        self.mem = Arc::new(MemTable::new());
        Ok(())
    }
}
