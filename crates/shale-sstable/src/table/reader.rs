//! [`Table`]: an open table file, read with positional reads from many threads.

use std::borrow::Borrow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use shale_core::key::{parse_internal_key, user_key};
use shale_core::{
    Error, FragmentedTombstones, InternalIterator, RangeTombstone, Result, SeqNo, ValueKind,
};
use shale_fs::RandomAccessFile;

use crate::block::{Block, BlockIter};
use crate::cache::BlockCache;
use crate::compress::read_block;
use crate::filter::{BloomFilter, filter_hash};
use crate::footer::{FOOTER_LEN, Footer};
use crate::format::BlockHandle;
use crate::options::TableOptions;
use crate::properties::TableProperties;
use crate::range_del::{decode_range_del_block, fragmented_memory};
use crate::table::index_heads::IndexHeads;
use crate::table::iter::TableIterator;

/// An open, immutable table.
///
/// `open` reads and checks the footer, index, filter, properties and range-deletion
/// blocks; the index, the filter and the range tombstones (fragmented) stay pinned in
/// memory for the table's lifetime. Point reads and iterators see point entries only;
/// range tombstones are served by [`Table::range_tombstones`]. Data blocks are read on
/// demand, through the shared [`BlockCache`] when there is one. Every block's checksum
/// is verified on every read from the file.
pub struct Table {
    file: Arc<dyn RandomAccessFile>,
    path: Arc<Path>,
    file_number: u64,
    file_size: u64,
    footer: Footer,
    index: Block,
    /// A compact search array over `index` for point lookups (`None` when the block
    /// is not one an array can describe).
    index_heads: Option<IndexHeads>,
    filter: Option<BloomFilter>,
    properties: TableProperties,
    range_dels: Option<Arc<FragmentedTombstones>>,
    range_dels_memory: usize,
    cache: Option<Arc<BlockCache>>,
    cache_id: u64,
    fill_cache: bool,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("file_number", &self.file_number)
            .field("file_size", &self.file_size)
            .field("footer", &self.footer)
            .finish()
    }
}

impl Table {
    /// Opens the table in `file` (found at `path`, numbered `file_number`), reading
    /// and checking its footer, index, filter, properties and range-deletion blocks.
    pub fn open(
        file: Arc<dyn RandomAccessFile>,
        path: PathBuf,
        file_number: u64,
        cache: Option<Arc<BlockCache>>,
        options: TableOptions,
    ) -> Result<Arc<Table>> {
        let path: Arc<Path> = Arc::from(path);
        let file_size = file.len();
        if file_size < FOOTER_LEN as u64 {
            return Err(Error::corruption(
                &*path,
                0,
                format!("file of {file_size} bytes is too short to be a table"),
            ));
        }
        let footer_at = file_size - FOOTER_LEN as u64;
        let mut buf = [0u8; FOOTER_LEN];
        file.read_exact_at(footer_at, &mut buf)?;
        let footer = Footer::decode(&buf, &path, file_size)?;

        let read = |h: BlockHandle| read_block(&*file, &path, h, footer_at, footer_at);
        let index = Block::new(read(footer.index)?).map_err(|d| {
            Error::corruption(&*path, footer.index.offset, format!("index block: {d}"))
        })?;
        let filter =
            match footer.filter {
                Some(h) => Some(BloomFilter::new(read(h)?).map_err(|d| {
                    Error::corruption(&*path, h.offset, format!("filter block: {d}"))
                })?),
                None => None,
            };
        let props_data = read(footer.properties)?;
        let properties = TableProperties::decode_for_version(&props_data, footer.format_version)
            .map_err(|d| {
                Error::corruption(
                    &*path,
                    footer.properties.offset,
                    format!("properties block: {d}"),
                )
            })?;
        let range_dels = match properties.range_del_block {
            Some(_) => {
                let list = read_range_dels(&*file, &path, &footer, &properties)?;
                Some(Arc::new(FragmentedTombstones::new(list)))
            }
            None => None,
        };
        let range_dels_memory = range_dels.as_deref().map_or(0, fragmented_memory);
        let cache_id = cache.as_ref().map_or(0, |c| c.new_cache_id());
        let index_heads = IndexHeads::build(&index);
        Ok(Arc::new(Table {
            file,
            path,
            file_number,
            file_size,
            footer,
            index,
            index_heads,
            filter,
            properties,
            range_dels,
            range_dels_memory,
            cache,
            cache_id,
            fill_cache: options.fill_cache,
        }))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file number given to `open`.
    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The decoded footer.
    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    /// The properties recorded when the table was built.
    pub fn properties(&self) -> &TableProperties {
        &self.properties
    }

    /// The table's range tombstones, fragmented, or `None` when it has none (always
    /// for format version 1). Pinned at open: an `Arc` clone.
    pub fn range_tombstones(&self) -> Option<Arc<FragmentedTombstones>> {
        self.range_dels.clone()
    }

    /// Reads the range-deletion block from the file again (bypassing everything
    /// pinned) and returns the tombstones as stored: sorted by start, then seqno
    /// descending. Empty when the table has none. For dumps, checks and compaction
    /// inputs that want the stored form rather than the fragments.
    pub fn read_range_tombstones(&self) -> Result<Vec<RangeTombstone>> {
        if self.properties.range_del_block.is_none() {
            return Ok(Vec::new());
        }
        read_range_dels(&*self.file, &self.path, &self.footer, &self.properties)
    }

    /// Bytes of memory pinned by this open table (index and filter blocks, the
    /// index's search array, the properties and the fragmented range tombstones),
    /// for the memory budget. Cached
    /// data blocks are not included.
    pub fn memory_usage(&self) -> usize {
        self.range_dels_memory
            + self.index.size()
            + self
                .index_heads
                .as_ref()
                .map_or(0, IndexHeads::memory_usage)
            + self.filter.as_ref().map_or(0, BloomFilter::size)
            + self.properties.smallest_key.len()
            + self.properties.largest_key.len()
            + std::mem::size_of::<Self>()
    }

    /// False only if the table certainly has no entry for `user_key` (bloom filter);
    /// always true for a table without a filter.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.may_contain_hash(filter_hash(user_key))
    }

    /// [`Table::may_contain`] for a key whose [`filter_hash`] is already known.
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.may_contain_hash(hash))
    }

    /// Point lookup (point entries only; range tombstones are not consulted). `lookup`
    /// is an internal seek key such as
    /// `LookupKey::new(user_key, snapshot_seq).internal_key()`: returns the first entry
    /// whose internal key is `>= lookup` if its user key equals the lookup's, i.e. the
    /// newest version visible at the snapshot (which may be a tombstone: check the
    /// key's kind). Consults the bloom filter before the index.
    pub fn get(&self, lookup: &[u8]) -> Result<Option<(Vec<u8>, Bytes)>> {
        self.find(lookup, filter_hash(user_key(lookup)), |key, _, value| {
            Ok((key.to_vec(), value))
        })
    }

    /// [`Table::get`] for a lookup whose [`filter_hash`] the caller computed (a
    /// lookup that probes several tables hashes its key once), answering with the
    /// found entry's seqno and kind instead of a copy of its key.
    pub fn get_hashed(
        &self,
        lookup: &[u8],
        hash: u64,
    ) -> Result<Option<(SeqNo, ValueKind, Bytes)>> {
        self.find(lookup, hash, |key, offset, value| {
            let p = parse_internal_key(key).ok_or_else(|| {
                Error::corruption(&*self.path, offset, "entry with a malformed key")
            })?;
            Ok((p.seq, p.kind, value))
        })
    }

    /// The point lookup behind [`get`](Self::get) and [`get_hashed`](Self::get_hashed):
    /// `found` gets the entry's internal key, its block's offset and its value.
    fn find<R>(
        &self,
        lookup: &[u8],
        hash: u64,
        found: impl FnOnce(&[u8], u64, Bytes) -> Result<R>,
    ) -> Result<Option<R>> {
        let ukey = user_key(lookup);
        if !self.may_contain_hash(hash) {
            return Ok(None);
        }
        // Borrowed iterators: no reference count shared with other readers changes.
        let mut index = BlockIter::new(&self.index, &*self.path, self.footer.index.offset);
        self.seek_index(&mut index, lookup);
        if !index.valid() {
            index.status()?;
            return Ok(None);
        }
        let handle = self.decode_handle(index.value())?;
        let block = self.read_data_block(handle, self.fill_cache)?;
        let mut it = BlockIter::new(&block, &*self.path, handle.offset);
        it.seek(lookup);
        if it.valid() && user_key(it.key()) == ukey {
            return found(it.key(), handle.offset, it.value_bytes()).map(Some);
        }
        it.status()?;
        Ok(None)
    }

    /// Seeks `index`, an iterator over this table's index block, to the first entry
    /// `>= target`: through the search array when there is one.
    pub(crate) fn seek_index<B: Borrow<Block>, P: AsRef<Path>>(
        &self,
        index: &mut BlockIter<B, P>,
        target: &[u8],
    ) {
        match self
            .index_heads
            .as_ref()
            .and_then(|h| h.lower_bound(&self.index, target))
        {
            Some(i) => index.seek_to_restart_point(i),
            None => index.seek(target),
        }
    }

    /// A two-level iterator over every point entry.
    pub fn iter(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self), self.fill_cache)
    }

    /// Like [`Table::iter`], choosing whether blocks it reads enter the cache.
    pub fn iter_with_fill_cache(self: &Arc<Self>, fill_cache: bool) -> TableIterator {
        TableIterator::new(Arc::clone(self), fill_cache)
    }

    /// An iterator over the pinned index block (separator key → encoded handle).
    pub fn index_iter(&self) -> BlockIter {
        BlockIter::new(
            self.index.clone(),
            Arc::clone(&self.path),
            self.footer.index.offset,
        )
    }

    /// Decodes an index entry's value.
    pub(crate) fn decode_handle(&self, value: &[u8]) -> Result<BlockHandle> {
        BlockHandle::decode_exact(value).ok_or_else(|| {
            Error::corruption(
                &*self.path,
                self.footer.index.offset,
                "index block: bad block handle".to_string(),
            )
        })
    }

    /// Reads a data block, through the cache when there is one.
    pub(crate) fn read_data_block(&self, handle: BlockHandle, fill_cache: bool) -> Result<Block> {
        if let Some(c) = &self.cache
            && let Some(b) = c.get(self.cache_id, handle.offset)
        {
            return Ok(b);
        }
        let block = self.read_data_block_uncached(handle)?;
        if fill_cache && let Some(c) = &self.cache {
            c.insert(self.cache_id, handle.offset, block.clone());
        }
        Ok(block)
    }

    /// Reads and checks a data block from the file, bypassing the cache.
    pub(crate) fn read_data_block_uncached(&self, handle: BlockHandle) -> Result<Block> {
        let limit = self.file_size - FOOTER_LEN as u64;
        let data = read_block(
            &*self.file,
            &self.path,
            handle,
            limit,
            self.footer.index.offset,
        )?;
        Block::new(data)
            .map_err(|d| Error::corruption(&*self.path, handle.offset, format!("data block: {d}")))
    }

    /// The path shared with block iterators.
    pub(crate) fn shared_path(&self) -> &Arc<Path> {
        &self.path
    }

    /// The pinned filter, if any.
    pub(crate) fn filter(&self) -> Option<&BloomFilter> {
        self.filter.as_ref()
    }

    /// Reads every block from the file (bypassing the cache) and checks every
    /// checksum and structural invariant; returns every problem found (empty when the
    /// table is sound). Used by `shale check`.
    pub fn verify(&self) -> Vec<Error> {
        crate::check::verify_table(self)
    }
}

/// Reads, checks and parses the range-deletion block named by `props` (which must
/// have one): a handle outside the table data is reported at the properties block
/// (which holds it), damage inside the block at the block, and a count that
/// disagrees with `range_deletions` at the properties block.
fn read_range_dels(
    file: &dyn RandomAccessFile,
    path: &Arc<Path>,
    footer: &Footer,
    props: &TableProperties,
) -> Result<Vec<RangeTombstone>> {
    let props_at = footer.properties.offset;
    let Some(h) = props.range_del_block else {
        return Ok(Vec::new());
    };
    let footer_at = file.len().saturating_sub(FOOTER_LEN as u64);
    let data = read_block(file, path, h, footer_at, props_at)?;
    let list = decode_range_del_block(data, path, h.offset)?;
    if list.len() as u64 != props.num_range_deletions {
        return Err(Error::corruption(
            &**path,
            props_at,
            format!(
                "properties say range_deletions = {}, the range-deletion block has {}",
                props.num_range_deletions,
                list.len()
            ),
        ));
    }
    Ok(list)
}
