//! Core types shared by every ShaleDB engine crate.
//!
//! * [`key`]: sequence numbers, value kinds and the internal key format and order.
//! * [`batch`]: [`WriteBatch`], the unit of atomic writes and the WAL payload.
//! * [`error`]: the engine's [`Error`] enum, used across all engine crates.
//! * [`iter`]: the [`InternalIterator`] contract every source of entries implements,
//!   and the heap-based [`MergingIterator`] that combines them.
//! * [`coding`]: fixed-width and varint integer coding with checked decoding.

pub mod batch;
pub mod checksum;
pub mod coding;
pub mod error;
pub mod iter;
pub mod key;
pub mod merge;
pub mod range_del;
pub mod ttl;

pub use batch::{BatchOp, WriteBatch};
pub use error::{Error, Result};
pub use iter::{InternalIterator, MergingIterator, VecIterator};
pub use key::{
    InternalKey, LookupKey, MAX_KEY_SIZE, MAX_SEQNO, MAX_VALUE_SIZE, SeqNo, ValueKind,
    compare_internal_keys,
};
pub use merge::{Int64Add, MergeOperator, StringAppend};
pub use range_del::{FragmentedTombstones, RangeTombstone};
