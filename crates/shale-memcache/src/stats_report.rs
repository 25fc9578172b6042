//! The `stats` command's reply.

use std::io::Write as _;
use std::sync::atomic::Ordering;

use crate::exec::Env;
use crate::text::commands::VERSION;

/// Appends the reply to `stats [group]`.
pub fn stats(env: &Env<'_>, group: Option<&[u8]>, out: &mut Vec<u8>) {
    match group {
        None => general(env, out),
        Some(b"settings") => settings(env, out),
        Some(b"commands") => commands(env, out),
        Some(b"reset") => {
            for (_, c) in counters_mut(env) {
                c.store(0, Ordering::Relaxed);
            }
            out.extend_from_slice(b"RESET\r\n");
            return;
        }
        Some(b"items" | b"slabs" | b"sizes" | b"conns" | b"extstore") => {}
        Some(_) => {
            out.extend_from_slice(b"ERROR\r\n");
            return;
        }
    }
    out.extend_from_slice(b"END\r\n");
}

fn counters_mut<'a>(
    env: &'a Env<'_>,
) -> impl Iterator<Item = (&'static str, &'a std::sync::atomic::AtomicU64)> {
    let c = &env.store.counters;
    [
        ("cmd_get", &c.cmd_get),
        ("cmd_set", &c.cmd_set),
        ("cmd_flush", &c.cmd_flush),
        ("cmd_touch", &c.cmd_touch),
        ("cmd_meta", &c.cmd_meta),
        ("get_hits", &c.get_hits),
        ("get_misses", &c.get_misses),
        ("delete_misses", &c.delete_misses),
        ("delete_hits", &c.delete_hits),
        ("incr_misses", &c.incr_misses),
        ("incr_hits", &c.incr_hits),
        ("decr_misses", &c.decr_misses),
        ("decr_hits", &c.decr_hits),
        ("cas_misses", &c.cas_misses),
        ("cas_hits", &c.cas_hits),
        ("cas_badval", &c.cas_badval),
        ("touch_hits", &c.touch_hits),
        ("touch_misses", &c.touch_misses),
    ]
    .into_iter()
}

fn stat(out: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "STAT {name} {value}\r\n");
}

fn general(env: &Env<'_>, out: &mut Vec<u8>) {
    let ctx = env.ctx;
    let now_secs = env.store.now_ms().map_or(0, |ms| ms / 1000);
    let uptime = ctx.uptime().as_secs();
    stat(out, "pid", std::process::id());
    stat(out, "uptime", uptime);
    stat(out, "time", now_secs);
    stat(out, "version", VERSION);
    stat(out, "libevent", "none");
    stat(out, "pointer_size", usize::BITS);
    stat(out, "max_connections", ctx.limits.max_clients);
    stat(
        out,
        "curr_connections",
        ctx.clients.connected(Some("memcache")),
    );
    stat(out, "total_connections", ctx.metrics.connections_received());
    stat(
        out,
        "rejected_connections",
        ctx.metrics.connections_rejected(),
    );
    for (name, value) in env.store.counters.all() {
        if name != "total_items" {
            stat(out, name, value);
        }
    }
    stat(out, "bytes_read", ctx.metrics.bytes_read());
    stat(out, "bytes_written", ctx.metrics.bytes_written());
    stat(out, "limit_maxbytes", 0);
    stat(
        out,
        "threads",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let ks = env.store.keyspace();
    stat(out, "curr_items", ks.approximate_len());
    stat(
        out,
        "total_items",
        env.store.counters.total_items.load(Ordering::Relaxed),
    );
    stat(out, "bytes", ks.approximate_size(None, None));
}

fn settings(env: &Env<'_>, out: &mut Vec<u8>) {
    let c = env.config;
    let l = &env.ctx.limits;
    stat(out, "addr", &c.addr);
    stat(out, "maxconns", l.max_clients);
    stat(out, "item_size_max", c.item_size_max);
    stat(out, "keyspace", &c.keyspace);
    stat(out, "max_line_bytes", c.max_line_bytes);
    stat(out, "lock_stripes", c.lock_stripes);
    stat(out, "idle_timeout", l.idle_timeout_secs);
    stat(out, "cas_enabled", "yes");
    stat(out, "evictions", "off");
    stat(out, "sync_policy", env.ctx.sync_policy().name());
}

/// `stats commands` (ShaleDB's own group): per command, calls, errors and latency
/// percentiles in microseconds, from the server-wide metrics.
fn commands(env: &Env<'_>, out: &mut Vec<u8>) {
    for c in env.ctx.metrics.snapshot() {
        if c.protocol != "memcache" {
            continue;
        }
        let [p50, p95, p99, p999, max] = c.percentiles_micros;
        let name = &c.command;
        stat(out, &format!("{name}:calls"), c.calls);
        stat(out, &format!("{name}:errors"), c.errors);
        stat(out, &format!("{name}:usec"), c.total_micros);
        stat(out, &format!("{name}:p50_us"), p50);
        stat(out, &format!("{name}:p95_us"), p95);
        stat(out, &format!("{name}:p99_us"), p99);
        stat(out, &format!("{name}:p999_us"), p999);
        stat(out, &format!("{name}:max_us"), max);
    }
}
