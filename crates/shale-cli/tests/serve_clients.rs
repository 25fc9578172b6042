//! The real Redis and memcached clients against the `shale serve` binary on port 0:
//! redis-cli (RESP2, RESP3 and `--pipe`), redis-benchmark, redis-py in RESP2 and
//! RESP3 (`crates/shale-resp/tests/py/redis_clients.py`) and pymemcache
//! (`crates/shale-memcache/tests/py/memcache_clients.py`).
//! `scripts/install-test-deps.sh` installs every client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod serve_support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serve_support::{Conn, REDIS_AND_MEMCACHE, Server};

const INSTALL_HINT: &str = "run `bash scripts/install-test-deps.sh`";

/// Starts `shale serve` with both front ends on free ports.
fn start(dir: &std::path::Path) -> Server {
    Server::start(dir, &REDIS_AND_MEMCACHE)
}

/// Panics with the install hint unless `tool` runs.
fn require_tool(tool: &str, probe: &[&str]) {
    let ok = Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "`{tool}` is needed by this test: {INSTALL_HINT}");
}

/// Panics with the install hint unless python3 can import `module`.
fn require_python_module(module: &str) {
    require_tool("python3", &["-c", &format!("import {module}")]);
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "redis-cli {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts a client script exited 0 and printed `expected`.
fn assert_script(what: &str, out: &Output, expected: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(expected),
        "{what} failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
}

#[test]
fn redis_cli_against_shale_serve() {
    require_tool("redis-cli", &["--version"]);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let port = server.addr("redis").port();
    assert_eq!(cli(port, &["PING"]), "PONG\n");
    assert_eq!(cli(port, &["SET", "k", "hello world"]), "OK\n");
    assert_eq!(cli(port, &["GET", "k"]), "hello world\n");
    assert_eq!(cli(port, &["-r", "5", "INCR", "n"]), "1\n2\n3\n4\n5\n");
    assert_eq!(cli(port, &["HSET", "h", "a", "1"]), "1\n");
    assert_eq!(cli(port, &["HGETALL", "h"]), "a\n1\n");
    // RESP3: the map reply is printed as key and value.
    assert_eq!(cli(port, &["-3", "HGETALL", "h"]), "a 1\n");
    assert!(cli(port, &["INFO", "server"]).contains("redis_version:7.0.15"));
    // --pipe: mass insertion of raw RESP.
    let mut input = Vec::new();
    for i in 0..1000 {
        let key = format!("pipe:{i}");
        input.extend(format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len()).bytes());
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 1000"), "{text}");
    assert_eq!(cli(port, &["DBSIZE"]), "1003\n");
}

#[test]
fn redis_py_resp2_and_resp3_against_shale_serve() {
    require_python_module("redis");
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shale-resp/tests/py/redis_clients.py"
    );
    let out = Command::new("python3")
        .args([script, &server.addr("redis").port().to_string()])
        .output()
        .unwrap();
    assert_script("redis_clients.py", &out, "ok\n");
}

#[test]
fn redis_benchmark_against_shale_serve() {
    require_tool("redis-benchmark", &["--version"]);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let redis = server.addr("redis");
    let out = Command::new("redis-benchmark")
        .args(["-p", &redis.port().to_string(), "-q", "-n", "20000"])
        .args(["-t", "set,get,incr,mset,hset", "-P", "16"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{text}\n{err}");
    for t in ["SET", "GET", "INCR", "MSET", "HSET"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(t) && l.contains("requests per second")),
            "no result for {t}:\n{text}\n{err}"
        );
    }
    assert!(
        !text.to_lowercase().contains("error") && !err.to_lowercase().contains("error"),
        "{text}\n{err}"
    );
    // Every INCR of the benchmark was applied, none twice.
    let mut c = Conn::connect(redis);
    assert_eq!(c.call(&["GET", "counter:__rand_int__"]), "20000");
}

#[test]
fn pymemcache_against_shale_serve() {
    require_python_module("pymemcache");
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let memcache = server.addr("memcache");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shale-memcache/tests/py/memcache_clients.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(memcache.ip().to_string())
        .arg(memcache.port().to_string())
        .output()
        .unwrap();
    assert_script("memcache_clients.py", &out, "OK");
}
