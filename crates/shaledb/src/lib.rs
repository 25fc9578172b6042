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
//! The embedder features together — keyspaces, TTL, merges, range deletes,
//! transactions and checkpoints (the README's example, run as a test):
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use shaledb::{Db, Error, Int64Add, Options, WriteBatch, WriteOptions};
//!
//! # fn main() -> shaledb::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path().join("data"), Options {
//!     merge_operator: Some(Arc::new(Int64Add)),           // counters via merge
//!     ..Options::default()
//! })?;
//! db.put("user:1", "Ada")?;
//! let sessions = db.keyspace("sessions")?;                // its own tree, same WAL
//! sessions.put_with_ttl("9f2c", "{...}", Duration::from_secs(1800))?; // expires
//! let mut both = WriteBatch::new();                       // atomic across keyspaces
//! both.put_in(sessions.id(), "a1b2", "{...}").put("user:4", "Barbara");
//! db.write(both, &WriteOptions::default())?;
//! db.merge("visits", "1")?;
//! db.merge("visits", "1")?;
//! assert_eq!(db.get("visits")?.as_deref(), Some(&b"2"[..]));
//! db.delete_range("user:0".."user:2")?;                   // one range tombstone
//! assert_eq!(db.get("user:1")?, None);
//!
//! let mut tx = db.transaction();                          // optimistic, serializable
//! let n: i64 = tx.get_for_update("stock")?.map_or(0, |v| String::from_utf8_lossy(&v).parse().unwrap_or(0));
//! tx.put("stock", (n - 1).to_string())?;
//! match tx.commit() {
//!     Ok(()) | Err(Error::Conflict(_)) => {}             // on conflict: retry
//!     Err(e) => return Err(e),
//! }
//! db.checkpoint(dir.path().join("backup"))?;              // consistent copy
//! db.drop_keyspace("sessions")?;                          // drops its files
//! assert_eq!(db.list_keyspaces(), ["default"]);
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
mod tombstone_view;
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
