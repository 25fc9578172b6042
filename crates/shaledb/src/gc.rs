//! Deleting files nothing needs any more.
//!
//! A table file is live while any `Version` that lists it is alive — the current one,
//! or an older one pinned by a super version an iterator or `get` still holds — or
//! while it is the output of a flush or compaction still being written. A WAL is live
//! from the manifest's log number on. Everything else in the directory that is ours is
//! deleted: after each flush and compaction, and once on open (after recovery, never
//! before).

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};

use shale_manifest::Version;

use crate::db::DbInner;
use crate::filenames::{DAMAGED_WALS_KEPT, FileKind, parse_file_name, table_path, wal_path};
use crate::super_version::SuperVersion;
use crate::write_queue::lock;

/// Keeps a file number out of garbage collection while its table is being written.
pub(crate) struct PendingOutput<'a> {
    db: &'a DbInner,
    number: u64,
}

impl PendingOutput<'_> {
    pub(crate) fn number(&self) -> u64 {
        self.number
    }
}

impl Drop for PendingOutput<'_> {
    fn drop(&mut self) {
        lock(&self.db.pending_outputs).remove(&self.number);
    }
}

impl DbInner {
    /// Protects `number` from garbage collection until the guard is dropped.
    pub(crate) fn protect_output(&self, number: u64) -> PendingOutput<'_> {
        lock(&self.pending_outputs).insert(number);
        PendingOutput { db: self, number }
    }

    /// Remembers an installed version so its files stay live while it is referenced.
    pub(crate) fn track_version(&self, v: &Arc<Version>) {
        let mut live = lock(&self.live_versions);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(v));
    }

    /// Every table file some live version or running job needs.
    fn live_tables(&self) -> BTreeSet<u64> {
        let mut live: BTreeSet<u64> = lock(&self.pending_outputs).clone();
        let versions: Vec<Arc<Version>> = {
            let mut weak = lock(&self.live_versions);
            weak.retain(|w| w.strong_count() > 0);
            weak.iter().filter_map(Weak::upgrade).collect()
        };
        for v in versions {
            for level in v.levels() {
                live.extend(level.iter().map(|f| f.number));
            }
        }
        live
    }

    /// Drops a reader's super version; if it was the last reference to an outdated
    /// one, the files only it kept alive are deleted now (as RocksDB purges when the
    /// last reference to a super version goes), not at some later flush.
    pub(crate) fn release_super_version(&self, sv: Arc<SuperVersion>) {
        let last = Arc::strong_count(&sv) == 1;
        drop(sv);
        if last {
            self.delete_obsolete_files();
        }
    }

    /// Deletes every table and WAL of ours that nothing needs. Failures are logged
    /// and retried next time: a leftover file costs space, never correctness.
    pub(crate) fn delete_obsolete_files(&self) {
        self.collect_garbage(false);
    }

    /// Like [`Self::delete_obsolete_files`], and also old manifests and temp files of
    /// interrupted atomic replaces — only safe while nothing can roll the manifest.
    pub(crate) fn collect_garbage(&self, at_open: bool) {
        let _one_at_a_time = lock(&self.gc_lock);
        // List first: a file created after the listing is not considered at all, and
        // one created before it is either a protected pending output or in a version
        // by the time the live set is computed below.
        let names = match self.opts.fs.list(&self.path) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "listing the database directory for cleanup failed");
                return;
            }
        };
        let manifest = {
            let vs = lock(&self.versions);
            // After a failed manifest write the last edit may or may not be on disk:
            // keep every file until a reopen has settled which it was.
            if vs.is_poisoned() {
                return;
            }
            vs.manifest_file_number()
        };
        // From the memtables, not the manifest: a keyspace with nothing unflushed
        // needs no WAL, whatever log number the manifest last recorded for it (its
        // records in older WALs were all flushed, so a replay finds none of them).
        let min_log = self.min_log_number();
        let live = self.live_tables();
        let mut damaged: Vec<u64> = names
            .iter()
            .filter_map(|n| match parse_file_name(n) {
                Some(FileKind::DamagedWal(d)) => Some(d),
                _ => None,
            })
            .collect();
        damaged.sort_unstable_by(|a, b| b.cmp(a));
        let stale_damaged: BTreeSet<u64> = damaged.into_iter().skip(DAMAGED_WALS_KEPT).collect();
        let mut removed = 0;
        for name in names {
            let path = match parse_file_name(&name) {
                Some(FileKind::Table(n)) if !live.contains(&n) => {
                    self.tables.evict(n);
                    table_path(&self.path, n)
                }
                Some(FileKind::Wal(n)) if n < min_log => wal_path(&self.path, n),
                Some(FileKind::Manifest(n)) if at_open && n != manifest => self.path.join(&name),
                Some(FileKind::Temp) if at_open => self.path.join(&name),
                Some(FileKind::DamagedWal(n)) if at_open && stale_damaged.contains(&n) => {
                    self.path.join(&name)
                }
                _ => continue,
            };
            match self.opts.fs.remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, "could not delete obsolete file"),
            }
        }
        if removed > 0
            && let Err(e) = self.opts.fs.sync_dir(&self.path)
        {
            tracing::warn!(error = %e, "directory sync after cleanup failed");
        }
    }
}
