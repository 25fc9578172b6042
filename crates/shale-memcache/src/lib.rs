//! ShaleDB's memcached front end.
//!
//! Speaks the memcached text protocol (`get`, `set`, `cas`, `incr`, …) and the
//! memcached 1.6 meta protocol (`mg`, `ms`, `md`, `ma`, `mn`, `me`) over a ShaleDB
//! keyspace. Items are stored as `docs/format/memcache.md` describes; expiring items
//! use the engine's TTL so they vanish and are reclaimed by compaction. Per-key
//! atomicity comes from a striped lock table held by every write. See
//! `docs/memcached.md` for what is supported and how it differs from memcached.

mod base64;
mod config;
mod connection;
mod exec;
mod frame;
mod item;
mod meta;
mod numbers;
mod request;
mod stats;
mod stats_report;
mod store;
mod text;

use std::sync::Arc;

pub use config::MemcacheConfig;
use shale_server::Context;
use store::Store;

/// What every connection of one front end shares.
#[derive(Debug)]
struct Shared {
    store: Arc<Store>,
    config: MemcacheConfig,
}

/// Serves memcached clients on `listener` until `ctx.shutdown` fires; returns once
/// every connection has answered what it had read, flushed and closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: Context,
    config: MemcacheConfig,
) -> std::io::Result<()> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let ks = ctx
        .db
        .keyspace(&config.keyspace)
        .map_err(std::io::Error::other)?;
    let store = Arc::new(Store::new(ctx.clone(), ks, config.lock_stripes));
    let shared = Arc::new(Shared { store, config });
    shale_server::serve_connections(
        listener,
        ctx,
        "memcache",
        b"SERVER_ERROR Too many open connections\r\n",
        move |stream, guard, ctx| connection::handle(stream, guard, ctx, Arc::clone(&shared)),
    )
    .await
}
