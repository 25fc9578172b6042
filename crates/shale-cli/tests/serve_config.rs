//! `shale serve` as a process: how settings are resolved (flags over the config
//! file) and settings changed at runtime.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests write config files directly

mod serve_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serve_support::{Conn, Server, http_get};

/// The value of an unlabelled counter or gauge on the admin `/metrics` page (0 if
/// absent).
fn metric(admin: SocketAddr, name: &str) -> f64 {
    let (status, body) = http_get(admin, "/metrics");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// Polls `cond` until it holds; panics with `what` after `limit`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server started with `appendfsync no` and switched to `everysec` by `CONFIG SET`
/// fsyncs the WAL in the background from then on, without any further write.
#[test]
fn config_set_appendfsync_everysec_starts_background_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--protocols",
            "redis",
            "--redis",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--appendfsync",
            "no",
        ],
    );
    let admin = server.addr("admin");
    let mut c = Conn::connect(server.addr("redis"));
    c.redis(&["CONFIG", "SET", "appendfsync", "everysec"]);
    assert_eq!(c.reply(), "+OK");
    c.redis(&["SET", "k", "v"]);
    assert_eq!(c.reply(), "+OK");
    wait_until("a background WAL sync", Duration::from_secs(20), || {
        metric(admin, "shale_wal_background_syncs_total") >= 1.0
    });
}

/// Command-line flags override the config file: an engine setting (the global
/// `--write-buffer-size` over `[engine] write_buffer_size`) and front-end ones
/// (`--redis` over `[redis] addr`, `--appendfsync` over `[server] appendfsync`).
#[test]
fn flags_override_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    // The file's Redis address is taken: binding it would fail the start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = dir.path().join("shale.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nprotocols = [\"redis\"]\nappendfsync = \"always\"\n\
             [engine]\nwrite_buffer_size = 268435456\n\
             [redis]\naddr = \"{}\"\n",
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--write-buffer-size",
            "65536",
            "--config",
            cfg.to_str().unwrap(),
            "--redis",
            "127.0.0.1:0",
            "--appendfsync",
            "no",
            "--admin",
            "127.0.0.1:0",
        ],
    );
    let redis = server.addr("redis");
    assert_ne!(redis, taken.local_addr().unwrap());
    let admin = server.addr("admin");
    let mut c = Conn::connect(redis);
    c.redis(&["CONFIG", "GET", "appendfsync"]);
    assert_eq!(c.line(), "*2");
    assert_eq!(c.reply(), "appendfsync");
    assert_eq!(c.reply(), "no");
    // 64 KiB memtables (the flag), not 256 MiB (the file): 512 KiB of writes flush.
    let value = "x".repeat(1024);
    for i in 0..512 {
        c.redis(&["SET", &format!("k{i}"), &value]);
        assert_eq!(c.reply(), "+OK");
    }
    wait_until("a memtable flush", Duration::from_secs(20), || {
        metric(admin, "shale_engine_flushes_total") >= 1.0
    });
}
