//! The accept loop every TCP front end runs.

use std::future::Future;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::{ClientGuard, Context};

/// Accepts connections on `listener` until shutdown, hands each to `handler` with
/// its registration, and returns once every connection has finished.
///
/// A connection beyond `max_clients` is sent `reject` (the protocol's own error
/// line) and closed. Handlers must watch `ctx.shutdown`: answer what they have
/// read, then return.
pub async fn serve_connections<F, Fut>(
    listener: TcpListener,
    ctx: Context,
    protocol: &'static str,
    reject: &'static [u8],
    handler: F,
) -> std::io::Result<()>
where
    F: Fn(TcpStream, ClientGuard, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.wait() => break,
            r = listener.accept() => r,
        };
        let (mut stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: the listener stays usable,
                // so back off briefly instead of spinning or giving up.
                warn!(%protocol, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(addr);
        ctx.metrics.connection_received();
        match ctx
            .clients
            .register(protocol, addr, local, ctx.limits.max_clients)
        {
            Some(guard) => {
                debug!(%protocol, %addr, id = guard.id(), "client connected");
                tracker.spawn(handler(stream, guard, ctx.clone()));
            }
            None => {
                ctx.metrics.connection_rejected();
                tracker.spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        let _ = stream.write_all(reject).await;
                        let _ = stream.shutdown().await;
                    })
                    .await;
                });
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    Ok(())
}
