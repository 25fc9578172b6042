//! The accept side of `serve`: every HTTP connection is registered in the shared
//! client registry as a `riak` client (so `max_clients` and the admin endpoint's
//! client counts cover it), and connections beyond the limit get a 503.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use shale_server::{ClientGuard, Context};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Sent to a connection over `max_clients` before closing it.
const REJECT: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 30\r\nConnection: close\r\n\r\nmax number of clients reached\n";

/// A `TcpListener` that registers each connection as a `riak` client.
pub struct ClientListener {
    inner: TcpListener,
    ctx: Context,
}

impl ClientListener {
    /// Wraps `inner`; connections are registered in `ctx.clients`.
    pub fn new(inner: TcpListener, ctx: Context) -> Self {
        ClientListener { inner, ctx }
    }
}

/// A connection and its registration (dropped together when the connection ends).
pub struct Tracked {
    stream: TcpStream,
    _guard: ClientGuard,
}

impl axum::serve::Listener for ClientListener {
    type Io = Tracked;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Tracked, SocketAddr) {
        loop {
            let (mut stream, addr) = match self.inner.accept().await {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "riak: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let local = stream.local_addr().unwrap_or(addr);
            self.ctx.metrics.connection_received();
            let max = self.ctx.limits.max_clients;
            match self.ctx.clients.register("riak", addr, local, max) {
                Some(guard) => {
                    return (
                        Tracked {
                            stream,
                            _guard: guard,
                        },
                        addr,
                    );
                }
                None => {
                    self.ctx.metrics.connection_rejected();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            let _ = stream.write_all(REJECT).await;
                            let _ = stream.shutdown().await;
                        })
                        .await;
                    });
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
