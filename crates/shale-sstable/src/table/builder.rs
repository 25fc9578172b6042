//! [`TableBuilder`]: writes a table from sorted entries, streaming.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use shale_core::key::{make_internal_key, parse_internal_key};
use shale_core::range_del::{compare_tombstones, inclusive_upper_bound};
use shale_core::{Error, RangeTombstone, Result, ValueKind, compare_internal_keys};
use shale_fs::WritableFile;

use crate::block::BlockBuilder;
use crate::compress::encode_block;
use crate::filter::{FILTER_POLICY_NAME, FilterBuilder};
use crate::footer::{FORMAT_VERSION, Footer};
use crate::format::{BlockHandle, Compression};
use crate::options::TableOptions;
use crate::properties::TableProperties;
use crate::range_del::encode_range_del_block;
use crate::separator::{short_successor, shortest_separator};

/// Index blocks store every key in full, so a seek binary-searches straight to it.
const INDEX_RESTART_INTERVAL: usize = 1;

/// What a finished table holds, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMeta {
    /// Size of the file in bytes.
    pub file_size: u64,
    /// Number of point entries (range tombstones are counted in
    /// `properties.num_range_deletions`).
    pub num_entries: u64,
    /// Smallest internal key over point keys and range tombstone starts
    /// (`start`, seq, `RangeDelete`) (empty for an empty table).
    pub smallest_key: Vec<u8>,
    /// Largest internal key over point keys and range tombstone bounds
    /// (`inclusive_upper_bound(end)`, 0, `RangeDelete`) (empty for an empty table).
    pub largest_key: Vec<u8>,
    /// Smallest seqno of a point entry or range tombstone (0 for an empty table).
    pub smallest_seqno: u64,
    /// Largest seqno of a point entry or range tombstone (0 for an empty table).
    pub largest_seqno: u64,
    /// Everything recorded in the properties block.
    pub properties: TableProperties,
}

/// Builds a table from point entries added in strictly increasing internal-key order,
/// and range tombstones added in any order (interleaved with the entries or not).
///
/// Memory stays bounded whatever the table size: the current data block, the index
/// entries (one short key per block), 8 bytes of filter hash per distinct user key,
/// and the range tombstones (kept until `finish` writes them in one block).
/// `finish` syncs the file; dropping the builder or calling `abandon` leaves a partial
/// file for the caller to delete.
pub struct TableBuilder {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    opts: TableOptions,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    filter: Option<FilterBuilder>,
    /// Handle of the last flushed data block, waiting for the next key to pick its
    /// index separator.
    pending_handle: Option<BlockHandle>,
    last_key: Vec<u8>,
    offset: u64,
    props: TableProperties,
    /// Range tombstones, in the order added; sorted at `finish`.
    range_dels: Vec<RangeTombstone>,
    /// Key and value bytes of `range_dels` as stored, for the size estimate.
    range_del_bytes: u64,
    scratch: Vec<u8>,
    /// A failed write or sync: the file's state is unknown, so the builder is done.
    failed: Option<Error>,
}

impl std::fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableBuilder")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("entries", &self.props.num_entries)
            .finish()
    }
}

impl TableBuilder {
    /// Starts a table written to `file` (an empty, newly created file at `path`).
    pub fn new(file: Box<dyn WritableFile>, path: impl Into<PathBuf>, opts: TableOptions) -> Self {
        let opts = opts.sanitized();
        let filter =
            (opts.bloom_bits_per_key > 0).then(|| FilterBuilder::new(opts.bloom_bits_per_key));
        let props = TableProperties {
            compression: opts.compression,
            filter_policy: if filter.is_some() {
                FILTER_POLICY_NAME.to_string()
            } else {
                String::new()
            },
            filter_bits_per_key: if filter.is_some() {
                opts.bloom_bits_per_key
            } else {
                0
            },
            creation_time: opts.creation_time,
            smallest_seqno: u64::MAX,
            ..TableProperties::default()
        };
        TableBuilder {
            file,
            path: path.into(),
            data_block: BlockBuilder::new(opts.block_restart_interval),
            index_block: BlockBuilder::new(INDEX_RESTART_INTERVAL),
            filter,
            pending_handle: None,
            last_key: Vec::new(),
            offset: 0,
            props,
            range_dels: Vec::new(),
            range_del_bytes: 0,
            scratch: Vec::new(),
            failed: None,
            opts,
        }
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a point entry. `ikey` must be a well-formed internal key greater than
    /// every key added before, and not of kind `RangeDelete` (use
    /// [`TableBuilder::add_range_tombstone`]); otherwise this returns
    /// [`Error::InvalidArgument`] and the builder is unchanged. After an I/O error
    /// every call returns that error.
    pub fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let Some(parsed) = parse_internal_key(ikey) else {
            return Err(Error::invalid(format!(
                "table {}: malformed internal key ({} bytes)",
                self.path.display(),
                ikey.len()
            )));
        };
        if parsed.kind == ValueKind::RangeDelete {
            return Err(Error::invalid(format!(
                "table {}: a RangeDelete is not a point entry (use add_range_tombstone)",
                self.path.display()
            )));
        }
        if u32::try_from(ikey.len()).is_err() || u32::try_from(value.len()).is_err() {
            return Err(Error::invalid(format!(
                "table {}: key or value longer than 4 GiB",
                self.path.display()
            )));
        }
        let first = self.props.num_entries == 0;
        if !first && compare_internal_keys(ikey, &self.last_key) != Ordering::Greater {
            return Err(Error::invalid(format!(
                "table {}: keys out of order: {:?} added after {:?}",
                self.path.display(),
                crate::dump::escape(ikey),
                crate::dump::escape(&self.last_key),
            )));
        }

        if let Some(handle) = self.pending_handle.take() {
            let sep = shortest_separator(&self.last_key, ikey);
            self.add_index_entry(&sep, handle);
        }
        if let Some(f) = &mut self.filter
            && (first || parsed.user_key != shale_core::key::user_key(&self.last_key))
        {
            f.add_key(parsed.user_key);
        }

        let p = &mut self.props;
        if first {
            p.smallest_key = ikey.to_vec();
        }
        p.num_entries += 1;
        if parsed.kind == ValueKind::Delete {
            p.num_deletions += 1;
        }
        p.raw_key_bytes += ikey.len() as u64;
        p.raw_value_bytes += value.len() as u64;
        p.smallest_seqno = p.smallest_seqno.min(parsed.seq);
        p.largest_seqno = p.largest_seqno.max(parsed.seq);

        self.last_key.clear();
        self.last_key.extend_from_slice(ikey);
        self.data_block.add(ikey, value);
        if self.data_block.estimated_size() >= self.opts.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Adds a range tombstone, in any order relative to other tombstones and to point
    /// entries. An empty range (`start >= end`) or one whose keys do not fit the block
    /// format returns [`Error::InvalidArgument`] and the builder is unchanged; an exact
    /// duplicate of an earlier tombstone is stored once. After an I/O error every call
    /// returns that error.
    pub fn add_range_tombstone(&mut self, t: &RangeTombstone) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if t.is_empty() {
            return Err(Error::invalid(format!(
                "table {}: empty range tombstone {:?}..{:?} (start must be < end)",
                self.path.display(),
                crate::dump::escape(&t.start),
                crate::dump::escape(&t.end),
            )));
        }
        let key_len = t.start.len() + shale_core::key::TRAILER_LEN;
        if u32::try_from(key_len).is_err() || u32::try_from(t.end.len()).is_err() {
            return Err(Error::invalid(format!(
                "table {}: range tombstone bound longer than 4 GiB",
                self.path.display()
            )));
        }
        if t.seq > shale_core::MAX_SEQNO {
            return Err(Error::invalid(format!(
                "table {}: range tombstone seqno {} out of range",
                self.path.display(),
                t.seq
            )));
        }
        self.range_del_bytes += (key_len + t.end.len()) as u64;
        self.range_dels.push(t.clone());
        Ok(())
    }

    /// Range tombstones added so far (duplicates included).
    pub fn num_range_tombstones(&self) -> usize {
        self.range_dels.len()
    }

    fn add_index_entry(&mut self, key: &[u8], handle: BlockHandle) {
        let mut v = Vec::with_capacity(BlockHandle::MAX_ENCODED_LEN);
        handle.encode_to(&mut v);
        self.index_block.add(key, &v);
    }

    fn flush_data_block(&mut self) -> Result<()> {
        if self.data_block.is_empty() {
            return Ok(());
        }
        let compression = self.opts.compression;
        let contents = self.data_block.finish();
        encode_block(contents, compression, &mut self.scratch);
        self.data_block.reset();
        let handle = self.write_scratch()?;
        self.pending_handle = Some(handle);
        self.props.num_data_blocks += 1;
        Ok(())
    }

    /// Appends the encoded block in `scratch` (contents + trailer) to the file.
    fn write_scratch(&mut self) -> Result<BlockHandle> {
        let handle = BlockHandle {
            offset: self.offset,
            size: (self.scratch.len() - crate::format::BLOCK_TRAILER_LEN) as u64,
        };
        if let Err(e) = self.file.append(&self.scratch) {
            self.failed = Some(e.clone());
            return Err(e);
        }
        self.offset += self.scratch.len() as u64;
        Ok(handle)
    }

    fn write_raw_block(
        &mut self,
        contents: &[u8],
        compression: Compression,
    ) -> Result<BlockHandle> {
        encode_block(contents, compression, &mut self.scratch);
        self.write_scratch()
    }

    /// Bytes the file would have if the current block were flushed now (excluding the
    /// filter, index and footer, including the range tombstones' keys and ends);
    /// callers cut files when this reaches their target.
    pub fn estimated_size(&self) -> u64 {
        self.offset + self.data_block.estimated_size() as u64 + self.range_del_bytes
    }

    /// Point entries added so far.
    pub fn num_entries(&self) -> u64 {
        self.props.num_entries
    }

    /// Bytes of heap memory held (current block, index, filter hashes, range
    /// tombstones).
    pub fn memory_usage(&self) -> usize {
        self.range_dels.capacity() * std::mem::size_of::<RangeTombstone>()
            + self.range_del_bytes as usize
            + self.data_block.memory_usage()
            + self.index_block.memory_usage()
            + self.filter.as_ref().map_or(0, FilterBuilder::memory_usage)
            + self.scratch.capacity()
            + self.last_key.capacity()
    }

    /// Writes the last data block, the filter, range-deletion (when there are range
    /// tombstones), properties and index blocks and the footer, syncs the file, and
    /// describes the finished table.
    pub fn finish(mut self) -> Result<TableMeta> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.flush_data_block()?;
        if let Some(handle) = self.pending_handle.take() {
            let succ = short_successor(&self.last_key);
            self.add_index_entry(&succ, handle);
        }
        self.props.data_size = self.offset;
        if self.props.num_entries > 0 {
            self.props.largest_key = self.last_key.clone();
        }
        let range_dels = self.sorted_range_dels();
        self.account_range_dels(&range_dels);
        if self.props.num_entries == 0 && range_dels.is_empty() {
            self.props.smallest_seqno = 0;
        }

        let filter_handle = match self.filter.take() {
            Some(f) => {
                let data = f.finish();
                let h = self.write_raw_block(&data, Compression::None)?;
                self.props.filter_size = self.offset - h.offset;
                Some(h)
            }
            None => None,
        };
        if !range_dels.is_empty() {
            let data = encode_range_del_block(&range_dels);
            let h = self.write_raw_block(&data, Compression::None)?;
            self.props.range_del_block = Some(h);
        }
        let props_data = self.props.encode();
        let props_handle = self.write_raw_block(&props_data, Compression::None)?;
        let index_contents = self.index_block.finish().to_vec();
        let index_handle = self.write_raw_block(&index_contents, self.opts.compression)?;
        let footer = Footer {
            index: index_handle,
            filter: filter_handle,
            properties: props_handle,
            format_version: FORMAT_VERSION,
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(&footer.encode());
        self.file.append(&self.scratch)?;
        self.offset += self.scratch.len() as u64;
        self.file.sync_data()?;

        let p = self.props;
        Ok(TableMeta {
            file_size: self.offset,
            num_entries: p.num_entries,
            smallest_key: p.smallest_key.clone(),
            largest_key: p.largest_key.clone(),
            smallest_seqno: p.smallest_seqno,
            largest_seqno: p.largest_seqno,
            properties: p,
        })
    }

    /// The range tombstones in block order (start, then seq descending), without
    /// exact duplicates.
    fn sorted_range_dels(&mut self) -> Vec<RangeTombstone> {
        let mut v = std::mem::take(&mut self.range_dels);
        v.sort_by(compare_tombstones);
        v.dedup();
        v
    }

    /// Folds the range tombstones into the counts, seqnos and key range.
    fn account_range_dels(&mut self, range_dels: &[RangeTombstone]) {
        let p = &mut self.props;
        let n = range_dels.len() as u64;
        p.num_range_deletions = n;
        p.num_deletions += n;
        let mut extend = |key: Vec<u8>, smallest: bool| {
            let (slot, keep_if) = if smallest {
                (&mut p.smallest_key, Ordering::Less)
            } else {
                (&mut p.largest_key, Ordering::Greater)
            };
            if slot.is_empty() || compare_internal_keys(&key, slot) == keep_if {
                *slot = key;
            }
        };
        // Sorted by start then seq descending: the first gives the smallest key.
        if let Some(first) = range_dels.first() {
            extend(
                make_internal_key(&first.start, first.seq, ValueKind::RangeDelete),
                true,
            );
        }
        if let Some(end) = range_dels.iter().map(|t| &t.end).max() {
            extend(
                make_internal_key(inclusive_upper_bound(end), 0, ValueKind::RangeDelete),
                false,
            );
        }
        for t in range_dels {
            p.smallest_seqno = p.smallest_seqno.min(t.seq);
            p.largest_seqno = p.largest_seqno.max(t.seq);
        }
    }

    /// Gives up on the table without finishing or syncing it; the caller removes the
    /// partial file.
    pub fn abandon(self) {}
}
