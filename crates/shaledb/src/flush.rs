//! Writing a frozen memtable (or any sorted stream) into a level-0 table.

use shale_core::iter::BoxedIterator;
use std::path::Path;

use shale_fs::FileSystem;
use shale_manifest::FileMeta;
use shale_sstable::{TableBuilder, TableOptions};

use crate::Result;
use crate::db::DbInner;
use crate::filenames::table_path;
use crate::keyspace::Ks;
use crate::merge::OutputFilter;

/// Writes every entry `input` yields, through `filter` (versions no snapshot can
/// see, expired values, collapsible merge operands), into table `number` of `dir`,
/// synced. Returns `None` if nothing
/// survived (no file is left behind then, nor on error).
pub(crate) fn build_table(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    opts: TableOptions,
    input: BoxedIterator,
    filter: OutputFilter,
) -> Result<Option<FileMeta>> {
    let path = table_path(dir, number);
    let tombstones = filter.output_tombstones();
    let mut it = filter.apply(input);
    it.seek_to_first();
    if !it.valid() && tombstones.is_empty() {
        it.status()?;
        return Ok(None);
    }
    let file = fs.create(&path)?;
    let mut builder = TableBuilder::new(file, &path, opts);
    let result = (|| {
        while it.valid() {
            builder.add(it.key(), it.value())?;
            it.next();
        }
        it.status()?;
        for t in tombstones.tombstones() {
            builder.add_range_tombstone(&t)?;
        }
        builder.finish()
    })();
    match result {
        Ok(meta) => Ok(Some(file_meta(number, &meta))),
        Err(e) => {
            let _ = fs.remove_file(&path);
            Err(e)
        }
    }
}

impl DbInner {
    /// Flushes `ks`'s oldest frozen memtable to L0 and records it in the manifest;
    /// the WALs no keyspace needs any more become obsolete.
    pub(crate) fn flush_oldest_immutable(&self, ks: &Ks) -> Result<bool> {
        // Take what the flush needs and let the super version go at once: holding it
        // would keep every file it references alive past this flush's cleanup.
        let (imm, next_log) = {
            let sv = ks.super_version();
            let Some(imm) = sv.imm.last().cloned() else {
                return Ok(false);
            };
            // The WAL of the next newer memtable: everything older is in this flush.
            let next_log = sv
                .imm
                .iter()
                .rev()
                .nth(1)
                .map_or(sv.log_number, |newer| newer.log_number);
            (imm, next_log)
        };
        let number = self.new_file_number();
        let _pending = self.protect_output(number);
        let meta = build_table(
            self.opts.fs.as_ref(),
            &self.path,
            number,
            ks.options().table_options(),
            Box::new(imm.mem.iter()),
            OutputFilter::for_ks(self, ks, false).with_tombstones(imm.mem.range_tombstones()),
        )?;
        let written = meta.as_ref().map_or(0, |m| m.size);
        self.opts.fs.sync_dir(&self.path)?;

        let mut edit = shale_manifest::VersionEdit {
            log_number: Some(next_log),
            ..Default::default()
        };
        if let Some(meta) = meta {
            edit.new_files.push((0, meta));
        }
        self.log_and_apply(ks, edit, Some(&imm))?;
        self.stats.record_flush(written);
        tracing::info!(keyspace = %ks.name, file = number, bytes = written, "flushed memtable to L0");
        self.delete_obsolete_files();
        Ok(true)
    }
}

/// The manifest's record of a finished table.
pub(crate) fn file_meta(number: u64, m: &shale_sstable::TableMeta) -> FileMeta {
    FileMeta {
        number,
        size: m.file_size,
        smallest: m.smallest_key.clone(),
        largest: m.largest_key.clone(),
        smallest_seqno: m.smallest_seqno,
        largest_seqno: m.largest_seqno,
        num_entries: m.num_entries,
        num_deletions: m.properties.num_deletions,
    }
}
