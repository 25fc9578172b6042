//! One client connection: read, parse, run, reply — pipelined, with limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use shale_server::ClientGuard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use bytes::Bytes;

use crate::commands::{MAX_RUN, batchable, dispatch_spec, lookup, run_batch};
use crate::resp::{ParseLimits, Reply, next_command};
use crate::session::Session;
use crate::store::Server;

/// How long a closing connection may take to flush its last replies.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// Serves one connection until the client leaves, breaks a limit, or shutdown.
pub async fn handle(stream: TcpStream, guard: ClientGuard, srv: Arc<Server>) {
    let authed = srv.password().is_none();
    let mut sess = Session::new(guard, authed);
    let (mut rd, mut wr) = stream.into_split();
    let limits = Arc::clone(&srv.ctx.limits);
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out: Vec<u8> = Vec::new();
    let mut out_pos = 0usize;
    let mut need = 1usize;
    let mut closing = false;
    let idle = limits.idle_timeout();
    let mut deadline = idle.map(|d| tokio::time::Instant::now() + d);
    // One subscription to the shutdown signal for the connection's life: a new one
    // per pass of the loop would register and unregister with the signal's shared
    // waiter list on every request.
    let shutdown = srv.ctx.shutdown.wait();
    tokio::pin!(shutdown);
    loop {
        if out_pos == out.len() {
            out.clear();
            out_pos = 0;
            if closing {
                break;
            }
        }
        if out.len() - out_pos > limits.max_pending_output_bytes {
            tracing::debug!(
                id = sess.id(),
                "closing a client that does not read its replies"
            );
            // Drop everything: the client is not reading.
            crate::commands::transaction::clear(&srv, &mut sess);
            return;
        }
        if !closing && srv.ctx.shutdown.is_triggered() {
            closing = true;
            continue;
        }
        let pending = out.len() - out_pos;
        // Read in chunks of at least 4 KiB (never sized from a length header).
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(64 * 1024);
        }
        tokio::select! {
            r = wr.write(out.get(out_pos..).unwrap_or(&[])), if pending > 0 => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    srv.ctx.metrics.add_io(0, n as u64);
                    out_pos += n;
                }
            },
            r = rd.read_buf(&mut inbuf), if !closing => match r {
                Ok(0) | Err(_) => closing = true,
                Ok(n) => {
                    srv.ctx.metrics.add_io(n as u64, 0);
                    deadline = idle.map(|d| tokio::time::Instant::now() + d);
                    if inbuf.len() > limits.query_buffer_limit {
                        tracing::debug!(id = sess.id(), "closing a client over the query buffer limit");
                        break;
                    }
                    if inbuf.len() >= need {
                        let stop = srv.ctx.engine(|| {
                            process(&srv, &mut sess, &mut inbuf, &mut out, &mut need)
                        });
                        closing |= stop;
                    }
                }
            },
            _ = &mut shutdown, if !closing => closing = true,
            _ = sleep_until(deadline), if deadline.is_some() && !closing && pending == 0 => break,
        }
    }
    if closing && out_pos < out.len() {
        let rest = out.get(out_pos..).unwrap_or(&[]);
        let _ = tokio::time::timeout(FINAL_FLUSH, wr.write_all(rest)).await;
    }
    let _ = tokio::time::timeout(FINAL_FLUSH, wr.shutdown()).await;
    crate::commands::transaction::clear(&srv, &mut sess);
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Runs every complete command in `inbuf`, appending replies to `out`. Returns true
/// when the connection must close after flushing (QUIT, protocol error). `need`
/// becomes the bytes a partial command needs before parsing is worth retrying.
/// Public so that a benchmark can drive the whole command path without a socket
/// (`examples/pipeline.rs`).
pub fn process(
    srv: &Server,
    sess: &mut Session,
    inbuf: &mut BytesMut,
    out: &mut Vec<u8>,
    need: &mut usize,
) -> bool {
    let limits = &srv.ctx.limits;
    // Pipelined data commands waiting to run together (see `run_batch`).
    // Sized for a typical pipeline (`redis-benchmark -P 16`): a single command
    // costs the same one allocation, and a run of 16 no regrowth.
    let mut run: Vec<Vec<Bytes>> = Vec::with_capacity(16);
    loop {
        let pl = ParseLimits {
            max_args: limits.max_items_per_command,
            max_bulk: limits.max_request_bytes,
            unauthenticated: !sess.authed,
        };
        let args = match next_command(inbuf, pl) {
            Ok(Ok(args)) => args,
            Ok(Err(n)) => {
                *need = n;
                flush_run(srv, sess, &mut run, out);
                return false;
            }
            Err(e) => {
                flush_run(srv, sess, &mut run, out);
                // Redis counts a protocol error in `total_error_replies` too.
                srv.stats.count_error(&e.0);
                Reply::Error(e.0).encode(sess.proto, out);
                return true;
            }
        };
        *need = 1;
        if args.is_empty() {
            continue;
        }
        if batchable(sess, &args).is_some() {
            run.push(args);
            if run.len() >= MAX_RUN {
                flush_run(srv, sess, &mut run, out);
                if out.len() > limits.max_pending_output_bytes {
                    return false;
                }
            }
            continue;
        }
        flush_run(srv, sess, &mut run, out);
        answer(srv, sess, &args, out);
        if sess.close {
            return true;
        }
        if out.len() > limits.max_pending_output_bytes {
            return false;
        }
    }
}

/// Runs one command alone and encodes its reply; records its metrics unless MULTI
/// queued it (EXEC records it when it runs), as a rejected call if it was refused
/// before running, and counts an error reply. A command that may scan an unbounded
/// range runs through `Context::blocking` ([`crate::commands::Runs`]).
fn answer(srv: &Server, sess: &mut Session, args: &[Bytes], out: &mut Vec<u8>) {
    let started = Instant::now();
    let spec = args.first().and_then(|n| lookup(n));
    let d = if spec.is_some_and(|s| s.blocks(sess)) {
        srv.ctx.blocking(|| dispatch_spec(srv, sess, args, spec))
    } else {
        dispatch_spec(srv, sess, args, spec)
    };
    sess.guard.touch(d.name);
    d.reply.encode(sess.proto, out);
    srv.stats.count_reply(&d.reply);
    if d.rejected {
        srv.ctx.metrics.record_rejected("redis", d.name);
    } else if !d.queued {
        srv.ctx
            .metrics
            .record("redis", d.name, started.elapsed(), d.reply.is_error());
    }
}

/// Runs the pending pipelined commands: alone through `dispatch` when there is one
/// (same path as an unpipelined command), together through `run_batch` otherwise.
fn flush_run(srv: &Server, sess: &mut Session, run: &mut Vec<Vec<Bytes>>, out: &mut Vec<u8>) {
    match run.len() {
        0 => {}
        1 => answer(
            srv,
            sess,
            run.first().map_or(&[][..], |a| a.as_slice()),
            out,
        ),
        _ => {
            let mut cmds = Vec::with_capacity(run.len());
            cmds.extend(
                run.iter()
                    .filter_map(|args| batchable(sess, args).map(|spec| (spec, args.as_slice()))),
            );
            if let Some((spec, _)) = cmds.last() {
                sess.guard.touch(spec.name);
            }
            let replies = if cmds.iter().any(|(spec, _)| spec.blocks(sess)) {
                srv.ctx.blocking(|| run_batch(srv, sess, &cmds))
            } else {
                run_batch(srv, sess, &cmds)
            };
            for reply in replies {
                reply.encode(sess.proto, out);
            }
        }
    }
    run.clear();
}
