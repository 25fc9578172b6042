//! The accept side of `serve`: every HTTP connection is registered in the shared
//! client registry as a `riak` client (so `max_clients` and the admin endpoint's
//! client counts cover it), connections beyond the limit get a 503, and a
//! connection idle for `idle_timeout_secs` (no byte either way) is closed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use shale_server::{ClientGuard, Context};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

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

/// A connection and its registration (dropped together when the connection ends),
/// closed after `idle_timeout_secs` without a byte read or written.
pub struct Tracked {
    stream: TcpStream,
    _guard: ClientGuard,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
}

impl Tracked {
    /// Pushes the idle deadline back after traffic.
    fn active(&mut self) {
        if let Some((d, sleep)) = &mut self.idle {
            sleep.as_mut().reset(Instant::now() + *d);
        }
    }

    /// True once the connection has been idle too long.
    fn expired(&mut self, cx: &mut TaskContext<'_>) -> bool {
        match &mut self.idle {
            Some((_, sleep)) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "idle timeout")
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
                    let idle = self
                        .ctx
                        .limits
                        .idle_timeout()
                        .map(|d| (d, Box::pin(tokio::time::sleep(d))));
                    return (
                        Tracked {
                            stream,
                            _guard: guard,
                            idle,
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
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                self.active();
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        if r.is_ready() {
            self.active();
        }
        r
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
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            self.active();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
