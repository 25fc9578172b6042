//! The listener side: [`serve`] runs the Redis front end on a TCP listener.

use std::sync::Arc;

use shale_server::{Context, serve_connections};
use tokio::net::TcpListener;

use crate::RedisConfig;
use crate::store::{Server, TestHooks};

/// Serves Redis clients on `listener` until `ctx.shutdown` fires; returns once
/// every connection has answered the commands it had read and closed.
pub async fn serve(
    listener: TcpListener,
    ctx: Context,
    config: RedisConfig,
) -> std::io::Result<()> {
    serve_with_hooks(listener, ctx, config, TestHooks::default()).await
}

/// [`serve`] with test callbacks.
#[doc(hidden)]
pub async fn serve_with_hooks(
    listener: TcpListener,
    ctx: Context,
    config: RedisConfig,
    hooks: TestHooks,
) -> std::io::Result<()> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut srv = Server::new(ctx.clone(), config);
    srv.hooks = hooks;
    let srv = Arc::new(srv);
    serve_connections(
        listener,
        ctx,
        "redis",
        b"-ERR max number of clients reached\r\n",
        move |stream, guard, _ctx| {
            let srv = Arc::clone(&srv);
            async move { crate::connection::handle(stream, guard, srv).await }
        },
    )
    .await
}
