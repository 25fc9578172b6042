//! ShaleDB's Riak KV 2.x HTTP API front end.
//!
//! Serves Riak's object, bucket, key-listing, bucket-properties and
//! secondary-index endpoints (see `docs/riak.md`) from one ShaleDB keyspace
//! (layout in `docs/format/riak.md`). One node, one version per key: writes are
//! last-write-wins and siblings are never kept, whatever `allow_mult` says.
//!
//! ```no_run
//! # async fn run(ctx: shale_server::Context) -> std::io::Result<()> {
//! let config = shale_riak::RiakConfig::default();
//! let listener = tokio::net::TcpListener::bind(&config.addr).await?;
//! shale_riak::serve(listener, ctx, config).await
//! # }
//! ```

mod base64;
mod conditional;
mod config;
mod layout;
mod listener;
mod object;
mod reply;
mod routes;
mod store;
mod vclock;

pub use config::RiakConfig;
pub use routes::router;

/// Serves the Riak HTTP API on `listener` until `ctx.shutdown` fires, then lets
/// in-flight requests finish and returns. Each connection counts as a `riak`
/// client against `ctx.limits.max_clients` (beyond it: 503 and close).
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: shale_server::Context,
    config: RiakConfig,
) -> std::io::Result<()> {
    let shutdown = ctx.shutdown.clone();
    let ctx_for_listener = ctx.clone();
    let app = router(ctx, config);
    axum::serve(
        listener::ClientListener::new(listener, ctx_for_listener),
        app,
    )
    .with_graceful_shutdown(async move { shutdown.wait().await })
    .await
}
