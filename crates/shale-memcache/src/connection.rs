//! One client connection: read, frame, execute in batches, write, with limits.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use shale_server::{ClientGuard, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::exec::{Env, Next, execute};
use crate::frame::{self, FrameLimits, Parsed};
use crate::{Shared, request::Request};

/// Most requests run in one `ctx.engine` call before the connection looks at its
/// socket again.
const MAX_BATCH: usize = 1024;
/// How long a connection may take to deliver its last replies after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Longest multi-key get line (the framer rescans an incomplete line on every
/// read, so this also bounds that work).
const MAX_GET_LINE: usize = 4 * 1024 * 1024;
/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// Serves one connection until the client leaves, breaks a limit, or shutdown.
pub async fn handle(stream: TcpStream, guard: ClientGuard, ctx: Context, shared: Arc<Shared>) {
    let (mut rd, mut wr) = stream.into_split();
    let limits = FrameLimits {
        max_line: shared.config.max_line_bytes,
        max_get_line: ctx
            .limits
            .max_request_bytes
            .min(ctx.limits.query_buffer_limit)
            .min(MAX_GET_LINE)
            .max(shared.config.max_line_bytes),
        item_size_max: shared
            .config
            .item_size_max
            .min(ctx.limits.max_request_bytes),
        max_keys: ctx.limits.max_items_per_command,
    };
    let idle = ctx.limits.idle_timeout();
    let max_out = ctx.limits.max_pending_output_bytes;
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::new();
    let mut written = 0usize;
    let mut swallow = 0usize;
    let mut closing = false;
    let mut eof = false;
    let mut last_activity = Instant::now();
    let mut grace: Option<Instant> = None;
    // One subscription to the shutdown signal for the connection's life, not one
    // per request (each registers with the signal's shared waiter list).
    let shutdown = ctx.shutdown.wait();
    tokio::pin!(shutdown);
    loop {
        let mut more_ready = false;
        if !closing {
            let d = swallow.min(inbuf.len());
            inbuf.advance(d);
            swallow -= d;
            let mut batch: Vec<Request> = Vec::new();
            let mut fatal = None;
            while swallow == 0 {
                if batch.len() >= MAX_BATCH {
                    more_ready = true;
                    break;
                }
                match frame::parse(&inbuf, &limits) {
                    Parsed::Incomplete => break,
                    Parsed::Fatal(msg) => {
                        fatal = Some(msg);
                        break;
                    }
                    Parsed::Frame {
                        consumed,
                        mut request,
                        data,
                        swallow: sw,
                    } => {
                        let bytes = inbuf.split_to(consumed.min(inbuf.len())).freeze();
                        if let Some(r) = data {
                            request.set_data(bytes.slice(r));
                        }
                        batch.push(request);
                        let d = sw.min(inbuf.len());
                        inbuf.advance(d);
                        swallow = sw - d;
                    }
                }
            }
            if !batch.is_empty() {
                let env = Env {
                    store: &shared.store,
                    ctx: &ctx,
                    config: &shared.config,
                    wo: ctx.write_options(),
                };
                let quit = ctx.engine(|| {
                    for request in batch {
                        guard.touch(request.name());
                        if execute(&env, request, &mut out) == Next::Close {
                            return true;
                        }
                    }
                    false
                });
                if quit {
                    closing = true;
                    more_ready = false;
                }
            }
            if let Some(msg) = fatal {
                out.extend_from_slice(msg);
                closing = true;
                more_ready = false;
            }
            if eof {
                closing = true;
            }
            if inbuf.len() > ctx.limits.query_buffer_limit {
                return;
            }
        }
        if out.len() - written > max_out {
            // A client that sends but does not read: drop it.
            return;
        }
        if closing && written == out.len() {
            let _ = wr.shutdown().await;
            return;
        }
        if more_ready && written == out.len() {
            continue;
        }
        if closing && grace.is_none() {
            grace = Some(Instant::now() + SHUTDOWN_GRACE);
        }
        let deadline = match (idle, grace) {
            (_, Some(g)) => Some(g),
            (Some(i), None) => Some(last_activity + i),
            (None, None) => None,
        };
        if inbuf.capacity() - inbuf.len() < READ_CHUNK / 4 {
            inbuf.reserve(READ_CHUNK);
        }
        let want_read = !closing && !more_ready;
        let want_write = written < out.len();
        tokio::select! {
            r = rd.read_buf(&mut inbuf), if want_read => match r {
                Ok(0) => eof = true,
                Ok(n) => {
                    ctx.metrics.add_io(n as u64, 0);
                    last_activity = Instant::now();
                }
                Err(_) => return,
            },
            w = wr.write(out.get(written..).unwrap_or_default()), if want_write => match w {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    ctx.metrics.add_io(0, n as u64);
                    written += n;
                    if written == out.len() {
                        out.clear();
                        written = 0;
                    }
                    if idle.is_some() && grace.is_none() {
                        last_activity = Instant::now();
                    }
                }
            },
            _ = &mut shutdown, if !closing => closing = true,
            _ = sleep_until(deadline), if deadline.is_some() => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
