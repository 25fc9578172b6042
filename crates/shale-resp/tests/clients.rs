//! Real clients against the in-process server: redis-cli, redis-py (RESP2 and
//! RESP3) and redis-benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use std::io::Write;
use std::process::{Command, Stdio};

use common::redis::require_tool;
use common::*;

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "redis-cli {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn redis_cli() {
    require_tool("redis-cli");
    let s = TestServer::start();
    let port = s.addr.port();
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
        input.extend(frame(&[b"SET", format!("pipe:{i}").as_bytes(), b"v"]));
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
fn redis_py_resp2_and_resp3() {
    require_tool("python3");
    let ok = Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .unwrap()
        .success();
    assert!(
        ok,
        "the Python `redis` package is missing: run `bash scripts/install-test-deps.sh`"
    );
    let s = TestServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/redis_clients.py");
    let out = Command::new("python3")
        .args([script, &s.addr.port().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redis_clients.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
}

#[test]
fn redis_benchmark_runs_clean() {
    require_tool("redis-benchmark");
    let s = TestServer::start();
    let out = Command::new("redis-benchmark")
        .args(["-p", &s.addr.port().to_string(), "-q", "-n", "20000"])
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
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "counter:__rand_int__"]), V::b("20000"));
}
