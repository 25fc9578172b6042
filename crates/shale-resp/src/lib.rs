//! ShaleDB's Redis front end.
//!
//! Speaks RESP2 and RESP3 (`HELLO 3`) and implements Redis's strings, generic key
//! commands, hashes and MULTI/EXEC/WATCH over the engine: Redis database `n` is the
//! engine keyspace `redis.n`; the byte layout is in `docs/format/resp.md`, the
//! supported commands in `docs/redis.md`. Every command is atomic: it holds lock
//! stripes for its keys and commits one `WriteBatch`.

pub mod commands;
mod config;
pub mod connection;
pub mod exec;
pub mod glob;
pub mod layout;
pub mod resp;
mod server;
pub mod session;
pub mod store;

pub use config::RedisConfig;
pub use server::serve;
#[doc(hidden)]
pub use server::serve_with_hooks;
