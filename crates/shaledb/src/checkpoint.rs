//! [`Db::checkpoint`]: a consistent, openable copy of a live database.
//!
//! 1. Inside the write queue (a validated empty write, so no write is in flight) the
//!    current super version and the last seqno `S` are captured: together they hold
//!    exactly the writes up to `S`.
//! 2. Outside the queue (writers carry on): every table of the captured version is
//!    hard-linked into the checkpoint directory (copied when linking fails, e.g. across
//!    file systems); the captured memtables' entries with seqno ≤ `S` are written as one
//!    new level-0 table. The captured super version keeps those files from deletion.
//! 3. A fresh MANIFEST records exactly those files, with last seqno `S` and no WAL to
//!    replay; then `CURRENT` is written. The checkpoint is complete when the call
//!    returns; opening it gives the database as it was at `S`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use shale_core::iter::BoxedIterator;
use shale_core::{InternalIterator, MergingIterator, Result, SeqNo};
use shale_fs::FileSystem;
use shale_manifest::{VersionEdit, VersionSet};

use crate::Error;
use crate::db::Db;
use crate::filenames::table_path;
use crate::flush::build_table;
use crate::keyspace::Ks;
use crate::super_version::SuperVersion;
use crate::write_queue::lock;
use shale_manifest::DEFAULT_KEYSPACE as DEFAULT_KEYSPACE_ID;

/// What the write queue captures: every keyspace's super version, and the seqno they
/// hold up to.
type Captured = (Vec<(Arc<Ks>, Arc<SuperVersion>)>, SeqNo);

/// Copy chunk for tables that cannot be hard-linked.
const COPY_CHUNK: u64 = 1 << 20;

impl Db {
    /// Writes a consistent copy of the database — every keyspace — as of now, into
    /// the new directory `dir` (it must not exist, or be empty), without stopping
    /// writers. Tables are hard-linked where the file system allows, copied
    /// otherwise. Returns the seqno the checkpoint holds every write up to. Open it
    /// with [`Db::open`].
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<SeqNo> {
        let dir = dir.as_ref();
        let inner = &self.inner;
        let fs = inner.opts.fs.as_ref();
        if fs.exists(dir) && !fs.list(dir)?.is_empty() {
            return Err(Error::Exists(format!(
                "checkpoint directory {} exists and is not empty",
                dir.display()
            )));
        }
        let captured: Arc<Mutex<Option<Captured>>> = Arc::default();
        let slot = Arc::clone(&captured);
        inner.commit_validated(
            shale_core::WriteBatch::new(),
            false,
            Box::new(move |db| {
                let svs = db
                    .all_keyspaces()
                    .into_iter()
                    .map(|ks| {
                        let sv = ks.super_version();
                        (ks, sv)
                    })
                    .collect();
                *lock(&slot) = Some((svs, db.visible_seq()));
                Ok(())
            }),
        )?;
        let (svs, seq) = lock(&captured)
            .take()
            .ok_or_else(|| Error::invalid("checkpoint capture did not run"))?;
        fs.create_dir_all(dir)?;
        let result = self.write_checkpoint(dir, &svs, seq);
        for (_, sv) in svs {
            inner.release_super_version(sv);
        }
        result.map(|()| seq)
    }

    fn write_checkpoint(
        &self,
        dir: &Path,
        svs: &[(Arc<Ks>, Arc<SuperVersion>)],
        seq: SeqNo,
    ) -> Result<()> {
        let inner = &self.inner;
        let fs = inner.opts.fs.as_ref();
        let mut vs =
            VersionSet::create_new(Arc::clone(&inner.opts.fs), dir, inner.opts.num_levels)?;
        // The captured tables, under their own numbers.
        let mut edits = Vec::new();
        for (ks, sv) in svs {
            let mut edit = VersionEdit::for_keyspace(ks.id);
            if ks.id != DEFAULT_KEYSPACE_ID {
                edit.add_keyspace = Some((ks.id, ks.name.clone()));
                edit.max_keyspace_id = Some(ks.id);
            }
            for (level, files) in sv.version.levels().iter().enumerate() {
                for f in files {
                    link_or_copy(
                        fs,
                        &table_path(&inner.path, f.number),
                        &table_path(dir, f.number),
                    )?;
                    edit.new_files.push((level, (**f).clone()));
                    vs.mark_file_number_used(f.number);
                }
            }
            edits.push(edit);
        }
        // Each keyspace's captured memtables, cut at `seq`, as one L0 table.
        for ((ks, sv), edit) in svs.iter().zip(&mut edits) {
            let mut mems: Vec<BoxedIterator> = vec![Box::new(sv.mem.iter())];
            mems.extend(
                sv.imm
                    .iter()
                    .map(|i| Box::new(i.mem.iter()) as BoxedIterator),
            );
            let upto: BoxedIterator = Box::new(UpTo {
                inner: MergingIterator::new(mems),
                seq,
            });
            // The memtables' range tombstones up to `seq`.
            let mem_tombstones = {
                let all: Vec<_> = std::iter::once(&sv.mem)
                    .chain(sv.imm.iter().map(|i| &i.mem))
                    .filter_map(|m| m.range_tombstones())
                    .collect();
                let upto: Vec<_> = all
                    .iter()
                    .flat_map(|t| t.tombstones())
                    .filter(|t| t.seq <= seq)
                    .collect();
                (!upto.is_empty()).then(|| Arc::new(shale_core::FragmentedTombstones::new(upto)))
            };
            let opts = ks.options();
            let number = vs.new_file_number();
            if let Some(meta) = build_table(
                fs,
                dir,
                number,
                opts.table_options(),
                upto,
                crate::merge::OutputFilter {
                    snapshots: Vec::new(),
                    now_ms: inner.opts.clock.now_ms(),
                    merge: opts.merge_operator.clone(),
                    compaction_filter: None,
                    bottommost: false,
                    tombstones: None,
                }
                .with_tombstones(mem_tombstones),
            )? {
                edit.new_files.push((0, meta));
            }
        }
        fs.sync_dir(dir)?;
        let log_number = vs.new_file_number();
        for mut edit in edits {
            edit.log_number = Some(log_number);
            edit.last_seqno = Some(seq);
            vs.log_and_apply(edit)?;
        }
        Ok(())
    }
}

/// Hard-links `from` to `to`, or copies it (synced) if the link fails.
fn link_or_copy(fs: &dyn FileSystem, from: &Path, to: &Path) -> Result<()> {
    if fs.hard_link(from, to).is_ok() {
        return Ok(());
    }
    let src = fs.open_read(from)?;
    let mut dst = fs.create(to)?;
    let len = src.len();
    let mut offset = 0;
    let mut buf = Vec::new();
    while offset < len {
        let n = (len - offset).min(COPY_CHUNK);
        buf.resize(n as usize, 0);
        src.read_exact_at(offset, &mut buf)?;
        dst.append(&buf)?;
        offset += n;
    }
    dst.sync_data()
}

/// The entries of an iterator with seqno at most `seq`: a view of the captured
/// memtables as of the checkpoint.
struct UpTo {
    inner: MergingIterator,
    seq: SeqNo,
}

impl UpTo {
    fn newer(&self) -> bool {
        self.inner.valid() && shale_core::key::seqno_of(self.inner.key()) > self.seq
    }

    fn skip_forward(&mut self) {
        while self.newer() {
            self.inner.next();
        }
    }

    fn skip_backward(&mut self) {
        while self.newer() {
            self.inner.prev();
        }
    }
}

impl InternalIterator for UpTo {
    fn valid(&self) -> bool {
        self.inner.valid()
    }
    fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
        self.skip_forward();
    }
    fn seek_to_last(&mut self) {
        self.inner.seek_to_last();
        self.skip_backward();
    }
    fn seek(&mut self, target: &[u8]) {
        self.inner.seek(target);
        self.skip_forward();
    }
    fn seek_for_prev(&mut self, target: &[u8]) {
        self.inner.seek_for_prev(target);
        self.skip_backward();
    }
    fn next(&mut self) {
        self.inner.next();
        self.skip_forward();
    }
    fn prev(&mut self) {
        self.inner.prev();
        self.skip_backward();
    }
    fn key(&self) -> &[u8] {
        self.inner.key()
    }
    fn value(&self) -> &[u8] {
        self.inner.value()
    }
    fn status(&self) -> Result<()> {
        self.inner.status()
    }
}
