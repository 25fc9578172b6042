#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, clippy::panic)]
//! Limits, pipelining and hostile input: the server stays up and other clients are
//! unaffected.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Server, http_get};
use shale_memcache::MemcacheConfig;
use shale_server::Limits;
use shaledb::MemFs;

#[test]
fn pipelined_commands_answer_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    let mut req = String::new();
    let mut want = String::new();
    for i in 0..3000 {
        req.push_str(&format!(
            "set k{i} {i} 0 {}\r\nv{i}\r\nget k{i}\r\n",
            format!("v{i}").len()
        ));
        want.push_str(&format!(
            "STORED\r\nVALUE k{i} {i} {}\r\nv{i}\r\nEND\r\n",
            format!("v{i}").len()
        ));
    }
    req.push_str("mn\r\n");
    want.push_str("MN\r\n");
    // Write from another thread so a full socket buffer cannot deadlock the test.
    let mut w = c.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(req.as_bytes()).unwrap());
    c.expect(want);
    writer.join().unwrap();
}

#[test]
fn bad_data_chunks_do_not_desynchronise() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    // Too much data: the declared bytes + 2 are consumed, the rest is a command.
    c.roundtrip(
        "set k 0 0 3\r\nabcde\r\nget k\r\n",
        "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
    );
    // Too little data: the next command line is taken as data.
    c.roundtrip(
        "set k 0 0 5\r\nab\r\nget k\r\n",
        "CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    // A length that truncates to 0 as a 32-bit int, like memcached.
    c.roundtrip(
        "set k 0 0 4294967296\r\nabc\r\n",
        "CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    c.roundtrip(
        "set k 0 0 2147483648\r\n",
        "CLIENT_ERROR bad command line format\r\n",
    );
    c.roundtrip(
        "set k 0 0 -1\r\n",
        "CLIENT_ERROR bad command line format\r\n",
    );
    c.roundtrip(
        "set k 0 0 99999999999999999999\r\n",
        "CLIENT_ERROR bad command line format\r\n",
    );
    // Garbage, including NULs and high bytes.
    c.roundtrip(b"\x00\xff\xfe garbage\r\n", "ERROR\r\n");
    c.roundtrip("set k 0 0 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("get k\r\n", "VALUE k 0 1\r\nx\r\nEND\r\n");
}

#[test]
fn values_over_item_size_max_are_refused_and_swallowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = MemcacheConfig {
        item_size_max: 4096,
        ..MemcacheConfig::default()
    };
    let server = Server::start_with(dir.path(), Limits::default(), config);
    let mut c = server.client();
    let ok = "x".repeat(4096);
    c.roundtrip(format!("set big 0 0 4096\r\n{ok}\r\n"), "STORED\r\n");
    c.roundtrip(
        "get big\r\n",
        format!("VALUE big 0 4096\r\n{ok}\r\nEND\r\n"),
    );
    let too_big = "y".repeat(5000);
    // A too-large set removes the old item (as memcached does) and its data is
    // discarded, not parsed as commands.
    c.roundtrip(
        format!("set big 0 0 5000\r\n{too_big}\r\nget big\r\n"),
        "SERVER_ERROR object too large for cache\r\nEND\r\n",
    );
    c.roundtrip(
        format!("ms big 5000 T0\r\n{too_big}\r\nmn\r\n"),
        "SERVER_ERROR object too large for cache\r\nMN\r\n",
    );
    c.roundtrip("append big 0 0 1\r\nz\r\n", "NOT_STORED\r\n");
    c.roundtrip(
        format!("set big 0 0 4000\r\n{}\r\n", &ok[..4000]),
        "STORED\r\n",
    );
    c.roundtrip(
        format!("append big 0 0 200\r\n{}\r\n", &ok[..200]),
        "SERVER_ERROR out of memory storing object\r\n",
    );
    // A huge declared length is swallowed as it streams in, never buffered.
    c.send("set huge 0 0 1000000000\r\n");
    c.expect("SERVER_ERROR object too large for cache\r\n");
    let mut other = server.client();
    other.roundtrip(
        "get big\r\n",
        format!("VALUE big 0 4000\r\n{}\r\nEND\r\n", &ok[..4000]),
    );
}

#[test]
fn long_lines_close_the_connection_but_not_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut bystander = server.client();
    bystander.roundtrip("set b 0 0 1\r\nx\r\n", "STORED\r\n");
    let mut c = server.client();
    c.send("x".repeat(5000));
    assert_eq!(c.read_to_close(), b"CLIENT_ERROR line too long\r\n");
    let mut c = server.client();
    c.send(format!("set {} 0 0 1\r\n", "k".repeat(3000)));
    assert_eq!(c.read_to_close(), b"CLIENT_ERROR line too long\r\n");
    // A long multi-get line is fine.
    let mut c = server.client();
    let keys: Vec<String> = (0..1000).map(|i| format!("key{i}")).collect();
    c.roundtrip(
        format!("get {} b\r\n", keys.join(" ")),
        "VALUE b 0 1\r\nx\r\nEND\r\n",
    );
    bystander.roundtrip("get b\r\n", "VALUE b 0 1\r\nx\r\nEND\r\n");
}

#[test]
fn truncated_request_then_disconnect() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    {
        let mut c = server.client();
        c.send("set k 0 0 10\r\nabc");
    }
    {
        let mut c = server.client();
        c.send("get k k k");
    }
    let mut c = server.client();
    c.roundtrip("get k\r\n", "END\r\n");
}

#[test]
fn a_client_that_never_reads_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_pending_output_bytes: 1 << 20,
        ..Limits::default()
    };
    let server = Server::start_with(dir.path(), limits, MemcacheConfig::default());
    let mut setup = server.client();
    let value = "v".repeat(100_000);
    setup.roundtrip(format!("set big 0 0 100000\r\n{value}\r\n"), "STORED\r\n");
    let mut hog = std::net::TcpStream::connect(server.addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = "get big\r\n".repeat(1000);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut closed = false;
    while Instant::now() < deadline {
        if hog.write_all(req.as_bytes()).is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the server kept a client that never reads");
    let _ = hog.read(&mut [0u8; 16]);
    setup.roundtrip("get nothing\r\n", "END\r\n");
}

#[test]
fn idle_connections_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        idle_timeout_secs: 1,
        ..Limits::default()
    };
    let server = Server::start_with(dir.path(), limits, MemcacheConfig::default());
    let mut c = server.client();
    c.roundtrip("version\r\n", "VERSION 1.6.18-shale\r\n");
    let started = Instant::now();
    assert!(c.read_to_close().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn shutdown_answers_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("set a 0 0 1\r\nx\r\n", "STORED\r\n");
    server.stop();
    assert!(c.read_to_close().is_empty());
}

#[test]
fn max_clients_rejects_with_a_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_clients: 1,
        ..Limits::default()
    };
    let server = Server::start_with(dir.path(), limits, MemcacheConfig::default());
    let mut first = server.client();
    first.roundtrip("version\r\n", "VERSION 1.6.18-shale\r\n");
    let mut second = server.client();
    assert_eq!(
        second.read_to_close(),
        b"SERVER_ERROR Too many open connections\r\n"
    );
    first.roundtrip("get x\r\n", "END\r\n");
}

#[test]
fn one_mebibyte_values_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    let value: String = (0..1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut w = c.stream.try_clone().unwrap();
    let req = format!("set big 0 0 1048576\r\n{value}\r\nget big\r\n");
    let writer = std::thread::spawn(move || w.write_all(req.as_bytes()).unwrap());
    c.expect(format!(
        "STORED\r\nVALUE big 0 1048576\r\n{value}\r\nEND\r\n"
    ));
    writer.join().unwrap();
    c.roundtrip(
        "set big 0 0 1048577\r\n",
        "SERVER_ERROR object too large for cache\r\n",
    );
}

/// A write the engine fails (the disk goes away under it) poisons the Db: writes
/// answer `SERVER_ERROR` from then on and the admin `/health` answers 503.
#[test]
fn health_answers_503_after_a_failed_wal_write() {
    let mem = MemFs::new();
    let server = Server::start_on(mem.clone());
    let admin = server.admin();
    let mut c = server.client();
    c.roundtrip("set k 0 0 1\r\na\r\n", "STORED\r\n");
    assert_eq!(http_get(admin, "/health"), (200, "OK\n".to_string()));
    // A power cut under the running Db: its open WAL handle fails from now on.
    mem.crash();
    c.send("set k 0 0 1\r\nb\r\n");
    let reply = c.line();
    assert!(reply.starts_with("SERVER_ERROR "), "{reply}");
    let (status, body) = http_get(admin, "/health");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("ERROR: writes refused until restart: "),
        "{body}"
    );
    c.send("ms k 1\r\nc\r\n");
    let reply = c.line();
    assert!(reply.contains("read-only"), "{reply}");
    c.roundtrip("get k\r\n", "VALUE k 0 1\r\na\r\nEND\r\n");
}
