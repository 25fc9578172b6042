//! What ShaleDB's network front ends share.
//!
//! Each protocol crate (`shale-resp`, `shale-memcache`, and the HTTP ones) owns its
//! wire format and command semantics; this crate owns everything around them that
//! must behave the same whatever the protocol: the [`Context`] handed to every
//! connection (the [`shaledb::Db`], [`Limits`], [`SyncPolicy`], [`Metrics`], the
//! [`Clients`] registry and the [`Shutdown`] signal), the accept loop with its
//! client limit and graceful drain ([`serve_connections`]), the background WAL
//! syncer for `everysec`, the backoff between retries of a conflicting
//! transaction ([`ConflictRetry`]), and the admin HTTP endpoint (`/metrics`, `/health`).

mod admin;
mod clients;
mod context;
mod durability;
mod limits;
mod listener;
mod metrics;
mod retry;
mod shutdown;

pub use admin::serve_admin;
pub use clients::{ClientGuard, ClientInfo, Clients};
pub use context::Context;
pub use durability::{SyncPolicy, spawn_wal_syncer};
pub use limits::Limits;
pub use listener::serve_connections;
pub use metrics::{CommandSnapshot, Metrics, RunRecorder, StatsMark};
pub use retry::{ConflictRetry, MAX_CONFLICT_ATTEMPTS};
pub use shutdown::Shutdown;
