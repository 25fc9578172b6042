//! ShaleDB sorted string tables (SSTables): the immutable sorted files of the LSM.
//!
//! A table is a sequence of checksummed blocks followed by a fixed-size footer (the
//! format is described byte by byte in `docs/format/sstable.md`):
//!
//! ```text
//! [data block 0] ... [data block N-1] [filter block] [range-deletion block]
//!     [properties block] [index block] [footer]
//! ```
//!
//! Data blocks hold point entries only. Range tombstones (format version 2) live in
//! their own block, found through the `range_del_block` property, and are served as
//! [`shale_core::FragmentedTombstones`] by [`Table::range_tombstones`].
//!
//! * [`block`]: prefix-compressed entries with restart points, and their iterator.
//! * [`filter`]: the cache-line-blocked bloom filter over user keys.
//! * [`TableBuilder`] writes a table in one streaming pass with bounded memory;
//!   [`Table`] reads one with positional reads (many threads may share it), and
//!   [`TableIterator`] walks it under the shared `InternalIterator` contract.
//! * [`BlockCache`]: decoded data blocks shared by all tables of a database.
//! * [`dump()`] and [`check_file`]: the `shale dump-sst` / `shale check` back ends.
//!
//! Damaged input of any kind (truncation, bad magic, unknown version, flipped bits,
//! handles past the end, absurd lengths) yields `Error::Corruption` with the file and
//! the offset of the damaged unit: never a panic, an unbounded allocation, or wrong data.

pub mod block;
mod cache;
mod check;
mod compress;
pub mod dump;
pub mod filter;
mod footer;
mod format;
mod options;
mod properties;
mod range_del;
mod separator;
mod table;

#[doc(hidden)]
pub mod fuzzing;

pub use cache::BlockCache;
pub use check::check_file;
pub use dump::{DumpOptions, dump, dump_table};
pub use footer::{
    FOOTER_LEN, FORMAT_VERSION, Footer, MIN_FORMAT_VERSION, RANGE_DEL_FORMAT_VERSION, TABLE_MAGIC,
};
pub use format::{
    BLOCK_TRAILER_LEN, BlockHandle, Compression, block_checksum, mask_crc, unmask_crc,
};
pub use options::TableOptions;
pub use properties::TableProperties;
pub use separator::{short_successor, shortest_separator};
pub use table::{Table, TableBuilder, TableIterator, TableMeta};
