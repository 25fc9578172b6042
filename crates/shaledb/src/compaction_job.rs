//! Running one compaction picked by `shale_compaction`: merge the input tables, drop
//! what no snapshot can see, write new tables split at the right places, and record
//! the swap in the manifest in one edit.

use std::sync::Arc;

use shale_compaction::Compaction;
use shale_core::iter::BoxedIterator;
use shale_core::{FragmentedTombstones, MergingIterator};
use shale_manifest::{FileMeta, VersionEdit};
use shale_sstable::TableBuilder;

use crate::db::DbInner;
use crate::filenames::table_path;
use crate::flush::file_meta;
use crate::keyspace::Ks;
use crate::level_iter::LevelIterator;
use crate::{Error, Result};

impl DbInner {
    /// Runs compaction `c` to completion (or to the first error, leaving nothing
    /// referenced by the manifest that is not complete and synced).
    pub(crate) fn run_compaction(&self, ks: &Ks, c: &Compaction) -> Result<()> {
        let mut edit = VersionEdit::default();
        for f in &c.inputs {
            edit.deleted_files.push((c.level, f.number));
        }
        if let Some(last) = c
            .inputs
            .iter()
            .map(|f| &f.largest)
            .max_by(|a, b| shale_core::compare_internal_keys(a, b))
        {
            edit.compact_pointers.push((c.level, last.clone()));
        }

        if c.trivial_move {
            for f in &c.inputs {
                edit.new_files.push((c.output_level, FileMeta::clone(f)));
            }
            self.log_and_apply(ks, edit, None)?;
            self.stats.record_compaction(c.output_level, 0, 0, true);
            tracing::info!(
                level = c.level,
                output_level = c.output_level,
                files = c.inputs.len(),
                "trivial move"
            );
            return Ok(());
        }

        for f in &c.output_inputs {
            edit.deleted_files.push((c.output_level, f.number));
        }
        let read_bytes: u64 = c.input_files().map(|f| f.size).sum();
        let (outputs, _guards) = self.write_compaction_outputs(ks, c)?;
        let written: u64 = outputs.iter().map(|m| m.size).sum();
        if !outputs.is_empty() {
            self.opts.fs.sync_dir(&self.path)?;
        }
        let n_out = outputs.len();
        for m in outputs {
            edit.new_files.push((c.output_level, m));
        }
        self.log_and_apply(ks, edit, None)?;
        self.stats
            .record_compaction(c.output_level, read_bytes, written, false);
        tracing::info!(
            level = c.level,
            output_level = c.output_level,
            inputs = c.inputs.len() + c.output_inputs.len(),
            outputs = n_out,
            read_bytes,
            written,
            "compaction finished"
        );
        self.delete_obsolete_files();
        Ok(())
    }

    fn compaction_input(&self, c: &Compaction) -> Result<BoxedIterator> {
        let mut children: Vec<BoxedIterator> = Vec::new();
        if c.level == 0 {
            for f in &c.inputs {
                children.push(Box::new(
                    self.tables.get(f.number)?.iter_with_fill_cache(false),
                ));
            }
        } else {
            children.push(Box::new(LevelIterator::without_cache_fill(
                c.inputs.clone(),
                Arc::clone(&self.tables),
            )));
        }
        if !c.output_inputs.is_empty() {
            children.push(Box::new(LevelIterator::without_cache_fill(
                c.output_inputs.clone(),
                Arc::clone(&self.tables),
            )));
        }
        Ok(Box::new(MergingIterator::new(children)))
    }

    /// The range tombstones of every input table of `c`.
    fn compaction_tombstones(&self, c: &Compaction) -> Result<Option<Arc<FragmentedTombstones>>> {
        let mut sets = Vec::new();
        for f in c.input_files() {
            sets.extend(self.tables.get(f.number)?.range_tombstones());
        }
        Ok(crate::range_del_filter::union(sets))
    }

    /// Writes the compaction's output tables; on error, removes what it wrote.
    ///
    /// Range tombstones are cut at the file boundaries: a file ending with user key
    /// `k` covers the key space up to `k ‖ 0x00` (exclusive) and the next starts
    /// there, so the files of a level partition the tombstones without gaps or
    /// overlaps.
    fn write_compaction_outputs(
        &self,
        ks: &Ks,
        c: &Compaction,
    ) -> Result<(Vec<FileMeta>, Vec<crate::gc::PendingOutput<'_>>)> {
        let filter = crate::merge::OutputFilter::for_ks(self, ks, c.bottommost)
            .with_tombstones(self.compaction_tombstones(c)?);
        let tombstones = filter.output_tombstones();
        let mut it = filter.apply(self.compaction_input(c)?);
        let table_options = ks.options().table_options();
        let mut splitter = c.output_splitter();
        let mut outputs: Vec<FileMeta> = Vec::new();
        let mut guards = Vec::new();
        let mut current: Option<(u64, TableBuilder)> = None;
        // The current file's share of the key space starts here (None: unbounded).
        let mut lower: Option<Vec<u8>> = None;
        let mut last_user_key: Vec<u8> = Vec::new();
        let result = (|| -> Result<()> {
            let mut new_file = || -> Result<(u64, TableBuilder)> {
                let number = self.new_file_number();
                guards.push(self.protect_output(number));
                let path = table_path(&self.path, number);
                let file = self.opts.fs.create(&path)?;
                Ok((number, TableBuilder::new(file, path, table_options)))
            };
            let finish = |number: u64,
                          mut b: TableBuilder,
                          lo: Option<&[u8]>,
                          hi: Option<&[u8]>|
             -> Result<FileMeta> {
                for t in tombstones.clipped(lo, hi) {
                    b.add_range_tombstone(&t)?;
                }
                Ok(file_meta(number, &b.finish()?))
            };
            it.seek_to_first();
            while it.valid() {
                if self.is_shutting_down() {
                    return Err(Error::invalid("compaction interrupted by shutdown"));
                }
                // Every key goes through the splitter, so it never cuts between two
                // versions of one user key.
                let size = current
                    .as_ref()
                    .map_or(0, |(_, b)| b.estimated_size().max(1));
                if splitter.should_start_new_file(it.key(), size)
                    && let Some((number, b)) = current.take()
                {
                    let upper = [last_user_key.as_slice(), &[0]].concat();
                    outputs.push(finish(number, b, lower.as_deref(), Some(&upper))?);
                    lower = Some(upper);
                }
                if current.is_none() {
                    current = Some(new_file()?);
                }
                if let Some((_, b)) = current.as_mut() {
                    b.add(it.key(), it.value())?;
                }
                last_user_key.clear();
                last_user_key.extend_from_slice(shale_core::key::user_key(it.key()));
                it.next();
            }
            it.status()?;
            if current.is_none() && !tombstones.clipped(lower.as_deref(), None).is_empty() {
                current = Some(new_file()?);
            }
            if let Some((number, b)) = current.take() {
                outputs.push(finish(number, b, lower.as_deref(), None)?);
            }
            Ok(())
        })();
        if let Err(e) = result {
            drop(current);
            for g in &guards {
                let _ = self
                    .opts
                    .fs
                    .remove_file(&table_path(&self.path, g.number()));
            }
            return Err(e);
        }
        Ok((outputs, guards))
    }
}
