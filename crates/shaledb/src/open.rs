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

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use shale_core::{SeqNo, WriteBatch};
use shale_fs::FileSystem;
use shale_manifest::{DEFAULT_KEYSPACE as DEFAULT_KEYSPACE_ID, FileMeta, VersionEdit, VersionSet};
use shale_memtable::MemTable;
use shale_sstable::BlockCache;
use shale_wal::{LogKind, LogReader, LogWriter};

use crate::db::DbInner;
use crate::filenames::{CURRENT_FILE, FileKind, LOCK_FILE, parse_file_name, wal_path};
use crate::flush::build_table;
use crate::keyspace::Ks;
use crate::keyspace_options::KeyspaceOptions;
use crate::options::Options;
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
        for (id, _) in vs.keyspaces() {
            let version = vs.current(id);
            for level in version.levels() {
                for f in level {
                    if let Some(e) = tables.get(f.number)?.verify().into_iter().next() {
                        return Err(e);
                    }
                }
            }
        }
    }

    let mut replay = Replay::new(&opts, path, &mut vs);
    let min_log = replay
        .keyspaces
        .values()
        .map(|k| k.log_number)
        .min()
        .unwrap_or(0);
    for &n in logs.iter().filter(|&&n| n >= min_log) {
        if !replay.log(n)? {
            break;
        }
    }
    let ids: Vec<u32> = replay.keyspaces.keys().copied().collect();
    for id in ids {
        replay.flush_memtable(id)?;
    }
    let Replay {
        keyspaces: replayed,
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
    // One edit per keyspace: its replayed tables and its new log number together, so
    // a crash between two edits leaves each keyspace either replayed-and-recorded or
    // still to be replayed from the old WALs (deleted only after all edits).
    for (id, ks) in &replayed {
        vs.log_and_apply(VersionEdit {
            keyspace: *id,
            log_number: Some(log_number),
            last_seqno: Some(last_seq),
            new_files: ks.new_files.iter().cloned().map(|f| (0, f)).collect(),
            ..Default::default()
        })?;
    }
    // Logs whose replay dropped damage are kept (renamed, so never replayed or
    // deleted) for inspection with `shale dump-wal`.
    for n in damaged {
        let from = wal_path(path, n);
        let mut to = from.clone().into_os_string();
        to.push(".damaged");
        fs.rename(&from, Path::new(&to))?;
    }

    let mut keyspaces = BTreeMap::new();
    for (id, name) in vs.keyspaces() {
        let ks_opts = opts.keyspace_options_for(&name);
        let ks = Arc::new(Ks::new(id, name, ks_opts, vs.current(id), log_number));
        keyspaces.insert(id, ks);
    }
    let default_ks = keyspaces
        .get(&DEFAULT_KEYSPACE_ID)
        .cloned()
        .ok_or_else(|| Error::corruption(path.join(CURRENT_FILE), 0, "no default keyspace"))?;
    let versions: Vec<_> = keyspaces.values().map(|k| k.current_version()).collect();
    let inner = Arc::new(DbInner {
        path: path.to_path_buf(),
        default_ks,
        keyspaces: RwLock::new(keyspaces),
        wal_number: AtomicU64::new(log_number),
        wal_sizes: Default::default(),
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
    for v in &versions {
        inner.track_version(v);
    }
    inner.collect_garbage(true);
    Ok(inner)
}

/// One keyspace's replay: the memtable being refilled and the tables written from it.
struct ReplayedKeyspace {
    /// WALs before this one hold nothing unflushed for the keyspace.
    log_number: u64,
    opts: KeyspaceOptions,
    mem: Arc<MemTable>,
    new_files: Vec<FileMeta>,
}

/// WAL replay state.
struct Replay<'a> {
    fs: Arc<dyn FileSystem>,
    dir: &'a Path,
    opts: &'a Options,
    vs: &'a mut VersionSet,
    keyspaces: BTreeMap<u32, ReplayedKeyspace>,
    last_seq: SeqNo,
    notes: Vec<String>,
    /// Logs whose replay dropped something.
    damaged: Vec<u64>,
}

impl<'a> Replay<'a> {
    fn new(opts: &'a Options, dir: &'a Path, vs: &'a mut VersionSet) -> Self {
        let keyspaces = vs
            .keyspaces()
            .into_iter()
            .map(|(id, name)| {
                let ks = ReplayedKeyspace {
                    log_number: vs.log_number(id),
                    opts: opts.keyspace_options_for(&name),
                    mem: Arc::new(MemTable::new()),
                    new_files: Vec::new(),
                };
                (id, ks)
            })
            .collect();
        Replay {
            fs: Arc::clone(&opts.fs),
            dir,
            opts,
            last_seq: vs.last_seqno(),
            vs,
            keyspaces,
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
                // Records of dropped keyspaces, and of keyspaces that flushed past
                // this WAL, are skipped.
                if let Some(ks) = self.keyspaces.get(&op.keyspace)
                    && n >= ks.log_number
                {
                    ks.mem.add(first + i as u64, op.kind, op.key, op.value);
                }
            }
            if batch.count() > 0 {
                self.last_seq = self.last_seq.max(first + u64::from(batch.count()) - 1);
            }
            let full: Vec<u32> = self
                .keyspaces
                .iter()
                .filter(|(_, k)| {
                    k.mem.approximate_memory_usage()
                        >= self
                            .opts
                            .budgeted_write_buffer_size(k.opts.write_buffer_size)
                })
                .map(|(id, _)| *id)
                .collect();
            for id in full {
                self.flush_memtable(id)?;
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

    /// Writes keyspace `id`'s replayed memtable to an L0 table (recorded in the final
    /// edit).
    fn flush_memtable(&mut self, id: u32) -> Result<()> {
        let Some(ks) = self.keyspaces.get_mut(&id) else {
            return Ok(());
        };
        if ks.mem.is_empty() {
            return Ok(());
        }
        let number = self.vs.new_file_number();
        if let Some(meta) = build_table(
            self.fs.as_ref(),
            self.dir,
            number,
            ks.opts.table_options(),
            Box::new(ks.mem.iter()),
            crate::merge::OutputFilter {
                snapshots: Vec::new(),
                now_ms: self.opts.clock.now_ms(),
                merge: ks.opts.merge_operator.clone(),
                compaction_filter: ks.opts.compaction_filter.clone(),
                bottommost: false,
                tombstones: None,
            }
            .with_tombstones(ks.mem.range_tombstones()),
        )? {
            ks.new_files.push(meta);
        }
        self.fs.sync_dir(self.dir)?;
        ks.mem = Arc::new(MemTable::new());
        Ok(())
    }
}
