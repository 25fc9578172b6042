//! ShaleDB: an embedded, durable, LSM-tree key-value store.
//!
//! ```
//! use shaledb::{Db, Options, WriteBatch, WriteOptions};
//!
//! # fn main() -> shaledb::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put("user:1", r#"{"name":"Ada"}"#)?;
//! assert_eq!(db.get("user:1")?.as_deref(), Some(&br#"{"name":"Ada"}"#[..]));
//!
//! let mut batch = WriteBatch::new();
//! batch.put("user:2", "Grace").delete("user:1");
//! db.write(batch, &WriteOptions::synced())?; // atomic, durable on return
//!
//! for item in db.prefix("user:") {
//!     let (key, value) = item?;
//!     println!("{key:?} = {value:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! Durability: a write is acknowledged once it is in the write-ahead log handed to the
//! OS (survives a process crash); with [`WriteOptions::sync`] also after an fsync
//! (survives power loss). Concurrent writers share WAL writes and fsyncs (group commit).

mod background;
mod checkpoint;
mod clock;
mod compaction_filter;
mod compaction_job;
mod conflict;
mod db;
mod filenames;
mod flush;
mod gc;
mod iter;
mod keyspace;
mod keyspace_options;
mod level_iter;
mod merge;
mod open;
mod options;
mod range_del_filter;
mod snapshot;
mod stall;
mod stats;
mod super_version;
mod table_cache;
mod transaction;
mod write_queue;

pub use bytes::Bytes;
pub use clock::{Clock, ManualClock, SystemClock};
pub use compaction_filter::{CompactionFilter, FilterDecision};
pub use db::Db;
pub use iter::DbIterator;
pub use keyspace::{DEFAULT_KEYSPACE, Keyspace};
pub use keyspace_options::{KeyspaceOptions, MAX_KEYSPACE_NAME_LEN};
pub use options::{Options, WriteOptions};
pub use shale_core::{
    Error, Int64Add, MAX_KEY_SIZE, MAX_VALUE_SIZE, MergeOperator, Result, StringAppend, WriteBatch,
};
pub use shale_fs::{FileSystem, MemFs, StdFs};
pub use shale_sstable::Compression;
pub use shale_wal::RecoveryMode;
pub use snapshot::Snapshot;
pub use stats::{LevelStats, Stats};
pub use transaction::{CasMismatch, Transaction};
