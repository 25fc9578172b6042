#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, clippy::panic)]
//! The text protocol's commands against an in-process server.

mod common;

use std::time::Duration;

use common::{Client, START_MS, Server};

#[test]
fn storage_commands_and_replies() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("get nothing\r\n", "END\r\n");
    c.roundtrip("set a 5 0 3\r\nabc\r\n", "STORED\r\n");
    c.roundtrip("get a\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n");
    c.roundtrip("add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    c.roundtrip("add b 1 0 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("replace c 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    c.roundtrip("replace b 2 0 2\r\nyy\r\n", "STORED\r\n");
    c.roundtrip("append a 9 0 2\r\nde\r\n", "STORED\r\n");
    c.roundtrip("prepend a 9 0 2\r\nzz\r\n", "STORED\r\n");
    c.roundtrip("append nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    c.roundtrip(
        "get a b c\r\n",
        "VALUE a 5 7\r\nzzabcde\r\nVALUE b 2 2\r\nyy\r\nEND\r\n",
    );
    c.roundtrip("set empty 0 0 0\r\n\r\n", "STORED\r\n");
    c.roundtrip("get empty\r\n", "VALUE empty 0 0\r\n\r\nEND\r\n");
    c.roundtrip("delete a\r\n", "DELETED\r\n");
    c.roundtrip("delete a\r\n", "NOT_FOUND\r\n");
    c.roundtrip("delete b 0\r\n", "DELETED\r\n");
    c.roundtrip(
        "delete b 5\r\n",
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
    );
    c.roundtrip("touch empty 100\r\n", "TOUCHED\r\n");
    c.roundtrip("touch nope 100\r\n", "NOT_FOUND\r\n");
    c.roundtrip("version\r\n", "VERSION 1.6.18-shale\r\n");
    c.roundtrip("verbosity 1\r\n", "OK\r\n");
    c.roundtrip("bogus\r\n", "ERROR\r\n");
    c.roundtrip("GET a\r\n", "ERROR\r\n");
    c.roundtrip("set k 0 0\r\n", "ERROR\r\n");
    c.roundtrip("\r\n", "ERROR\r\n");
    // Flags are 32-bit; memcached truncates, and so do we.
    c.roundtrip("set f 4294967297 0 1\r\na\r\n", "STORED\r\n");
    c.roundtrip("get f\r\n", "VALUE f 1 1\r\na\r\nEND\r\n");
    c.roundtrip(
        "set f -1 0 1\r\na\r\n",
        "CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    // Key limits.
    let long = "k".repeat(251);
    c.roundtrip(
        format!("get {long}\r\n"),
        "CLIENT_ERROR bad command line format\r\n",
    );
    let ok = "k".repeat(250);
    c.roundtrip(format!("set {ok} 0 0 1\r\nv\r\n"), "STORED\r\n");
    c.roundtrip(
        "get bad\x01key\r\n",
        "CLIENT_ERROR bad command line format\r\n",
    );
    // The largest key flush_all must cover: 250 bytes of 0xff.
    let mut top = b"set ".to_vec();
    top.extend_from_slice(&[0xff; 250]);
    top.extend_from_slice(b" 0 0 1\r\nv\r\n");
    c.roundtrip(top, "STORED\r\n");
    c.roundtrip("flush_all\r\n", "OK\r\n");
    c.roundtrip(format!("get {ok} f\r\n"), "END\r\n");
    let mut get_top = b"get ".to_vec();
    get_top.extend_from_slice(&[0xff; 250]);
    get_top.extend_from_slice(b"\r\n");
    c.roundtrip(get_top, "END\r\n");
    c.roundtrip(
        "flush_all x\r\n",
        "CLIENT_ERROR invalid exptime argument\r\n",
    );
    c.roundtrip("quit\r\n", "");
    assert!(c.read_to_close().is_empty());
}

#[test]
fn noreply_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.send(
        "set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nreplace a 0 0 1 noreply\r\n3\r\n\
         append a 0 0 1 noreply\r\n4\r\nprepend a 0 0 1 noreply\r\n5\r\nincr a 10 noreply\r\n\
         touch a 0 noreply\r\nset b 0 0 1 noreply\r\nx\r\ndelete b noreply\r\n\
         verbosity 1 noreply\r\nflush_all 0 noreply\r\nset c 0 0 3 noreply\r\nabcde\r\n",
    );
    // The bad data chunk is hidden by noreply; the leftover "de" is a command.
    c.expect("ERROR\r\n");
    c.roundtrip("get a b\r\n", "END\r\n");
    // Errors are hidden by noreply too, as memcached does.
    c.roundtrip(
        "incr k abc noreply\r\nset k 0 0 x noreply\r\ntouch k x noreply\r\ndelete k 5 noreply\r\n\
         set k 0 0 1 noreply\r\na\r\nincr k 1 noreply\r\nflush_all x noreply\r\nverbosity x noreply\r\nmn\r\n",
        "MN\r\n",
    );
    c.send("set a 0 0 2 noreply\r\n53\r\nincr a 10 noreply\r\n");
    c.roundtrip("get a\r\n", "VALUE a 0 2\r\n63\r\nEND\r\n");
    let (_, _, cas) = c.gets("a").unwrap();
    c.send(format!("cas a 0 0 1 {cas} noreply\r\nz\r\n"));
    c.roundtrip("get a\r\n", "VALUE a 0 1\r\nz\r\nEND\r\n");
}

#[test]
fn cas_and_gets() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("cas a 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n");
    c.roundtrip("set a 0 0 1\r\nx\r\n", "STORED\r\n");
    let (_, _, cas1) = c.gets("a").unwrap();
    c.roundtrip(format!("cas a 0 0 1 {}\r\ny\r\n", cas1 + 1), "EXISTS\r\n");
    c.roundtrip(format!("cas a 3 0 1 {cas1}\r\ny\r\n"), "STORED\r\n");
    let (flags, data, cas2) = c.gets("a").unwrap();
    assert_eq!((flags, data.as_slice()), (3, &b"y"[..]));
    assert!(cas2 > cas1);
    c.roundtrip(format!("cas a 0 0 1 {cas1}\r\nz\r\n"), "EXISTS\r\n");
    // touch and gat keep the CAS; incr changes it.
    c.roundtrip("touch a 100\r\n", "TOUCHED\r\n");
    assert_eq!(c.gets("a").unwrap().2, cas2);
    c.roundtrip(
        "gats 0 a\r\n",
        format!("VALUE a 3 1 {cas2}\r\ny\r\nEND\r\n"),
    );
    c.roundtrip("gat 0 a zz\r\n", "VALUE a 3 1\r\ny\r\nEND\r\n");
    c.roundtrip("gat x a\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    c.roundtrip(
        "cas a 0 0 1 x\r\ny\r\n",
        "CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
}

/// Two connections race `gets` + `cas` increments on one key: every successful cas
/// must count exactly once.
#[test]
fn cas_race_between_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server
        .client()
        .roundtrip("set n 0 0 1\r\n0\r\n", "STORED\r\n");
    let per_thread = 200;
    let addr = server.addr;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut stored = 0;
                let mut exists = 0;
                while stored < per_thread {
                    let (_, data, cas) = c.gets("n").unwrap();
                    let n: u64 = String::from_utf8(data).unwrap().parse().unwrap();
                    let v = (n + 1).to_string();
                    c.send(format!("cas n 0 0 {} {cas}\r\n{v}\r\n", v.len()));
                    match c.line().as_str() {
                        "STORED\r\n" => stored += 1,
                        "EXISTS\r\n" => exists += 1,
                        other => panic!("unexpected {other}"),
                    }
                }
                exists
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (_, data, _) = server.client().gets("n").unwrap();
    assert_eq!(data, (2 * per_thread).to_string().into_bytes());
}

/// Concurrent `incr`s and `append`s from several connections: none is lost.
#[test]
fn incr_and_append_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.client().roundtrip(
        "set n 0 0 1\r\n0\r\nset s 0 0 0\r\n\r\n",
        "STORED\r\nSTORED\r\n",
    );
    let addr = server.addr;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                for _ in 0..250 {
                    c.send("incr n 1\r\nappend s 0 0 1\r\nx\r\n");
                    let n: u64 = c.line().trim_end().parse().unwrap();
                    assert!(n >= 1);
                    c.expect("STORED\r\n");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.client();
    c.roundtrip("get n\r\n", "VALUE n 0 4\r\n1000\r\nEND\r\n");
    c.roundtrip(
        "get s\r\n",
        format!("VALUE s 0 1000\r\n{}\r\nEND\r\n", "x".repeat(1000)),
    );
}

#[test]
fn incr_decr_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("incr n 1\r\n", "NOT_FOUND\r\n");
    c.roundtrip("set n 7 0 20\r\n18446744073709551615\r\n", "STORED\r\n");
    c.roundtrip("incr n 2\r\n", "1\r\n");
    // In-place update pads with spaces to the old length, like memcached.
    c.roundtrip(
        "get n\r\n",
        "VALUE n 7 20\r\n1                   \r\nEND\r\n",
    );
    c.roundtrip("decr n 5\r\n", "0\r\n");
    c.roundtrip("set n 0 0 3\r\n100\r\n", "STORED\r\n");
    c.roundtrip("decr n 1\r\n", "99\r\n");
    c.roundtrip("get n\r\n", "VALUE n 0 3\r\n99 \r\nEND\r\n");
    c.roundtrip("incr n 1\r\n", "100\r\n");
    c.roundtrip("incr n 900\r\n", "1000\r\n");
    c.roundtrip("get n\r\n", "VALUE n 0 4\r\n1000\r\nEND\r\n");
    c.roundtrip("incr n 18446744073709551615\r\n", "999\r\n");
    c.roundtrip(
        "incr n 18446744073709551616\r\n",
        "CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    c.roundtrip(
        "incr n -1\r\n",
        "CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    c.roundtrip(
        "incr n abc\r\n",
        "CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    c.roundtrip("set s 0 0 2\r\nab\r\n", "STORED\r\n");
    c.roundtrip(
        "incr s 1\r\n",
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    c.roundtrip("set s 0 0 0\r\n\r\n", "STORED\r\n");
    c.roundtrip(
        "decr s 1\r\n",
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    c.roundtrip("incr k\r\n", "ERROR\r\n");
}

#[test]
fn expiry_with_the_engine_clock() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("set neg 0 -1 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("get neg\r\n", "END\r\n");
    c.roundtrip("add neg 0 0 1\r\ny\r\n", "STORED\r\n");
    c.roundtrip("set past 0 2592001 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("get past\r\n", "END\r\n");
    let future = START_MS / 1000 + 20;
    c.roundtrip(format!("set abs 0 {future} 1\r\nx\r\n"), "STORED\r\n");
    c.roundtrip("set rel 0 10 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("set forever 0 0 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("mg rel t v\r\n", "VA 1 t10\r\nx\r\n");
    server.clock.advance(Duration::from_secs(9));
    c.roundtrip(
        "get rel abs\r\n",
        "VALUE rel 0 1\r\nx\r\nVALUE abs 0 1\r\nx\r\nEND\r\n",
    );
    c.roundtrip("touch rel 60\r\n", "TOUCHED\r\n");
    server.clock.advance(Duration::from_secs(30));
    c.roundtrip("get rel abs\r\n", "VALUE rel 0 1\r\nx\r\nEND\r\n");
    server.clock.advance(Duration::from_secs(31));
    c.roundtrip(
        "get rel abs forever\r\n",
        "VALUE forever 0 1\r\nx\r\nEND\r\n",
    );
    c.roundtrip("touch forever -1\r\n", "TOUCHED\r\n");
    c.roundtrip("get forever\r\n", "END\r\n");
    c.roundtrip("set g 0 0 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("gat -1 g\r\n", "VALUE g 0 1\r\nx\r\nEND\r\n");
    c.roundtrip("get g\r\n", "END\r\n");
}

#[test]
fn delayed_flush_all() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("set a 0 0 1\r\nx\r\n", "STORED\r\n");
    // A delayed flush that a later immediate flush supersedes.
    c.roundtrip("flush_all 1\r\n", "OK\r\n");
    c.roundtrip("get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n");
    // Delayed flushes run on the real clock: wait for its effect with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        c.send("get a\r\n");
        if c.line() == "END\r\n" {
            break;
        }
        c.read_n(3);
        c.expect("END\r\n");
        assert!(
            std::time::Instant::now() < deadline,
            "delayed flush never ran"
        );
        std::thread::yield_now();
    }
    c.roundtrip("set a 0 0 1\r\ny\r\n", "STORED\r\n");
    c.roundtrip("get a\r\n", "VALUE a 0 1\r\ny\r\nEND\r\n");
}

#[test]
fn stats_report() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("set a 0 0 1\r\nx\r\n", "STORED\r\n");
    c.roundtrip("get a b\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n");
    c.send("stats\r\n");
    let mut stats = std::collections::BTreeMap::new();
    loop {
        let l = c.line();
        if l == "END\r\n" {
            break;
        }
        let parts: Vec<&str> = l.trim_end().splitn(3, ' ').collect();
        assert_eq!(parts[0], "STAT");
        stats.insert(parts[1].to_string(), parts[2].to_string());
    }
    for k in [
        "pid",
        "uptime",
        "time",
        "version",
        "curr_connections",
        "total_connections",
        "curr_items",
        "bytes",
    ] {
        assert!(stats.contains_key(k), "missing {k}");
    }
    assert_eq!(stats["cmd_get"], "2");
    assert_eq!(stats["get_hits"], "1");
    assert_eq!(stats["get_misses"], "1");
    assert_eq!(stats["cmd_set"], "1");
    assert_eq!(stats["curr_connections"], "1");
    assert_eq!(stats["time"], (START_MS / 1000).to_string());
    c.send("stats settings\r\n");
    let mut found = false;
    loop {
        let l = c.line();
        found |= l == "STAT item_size_max 1048576\r\n";
        if l == "END\r\n" {
            break;
        }
    }
    assert!(found);
    c.send("stats commands\r\n");
    let mut lines = Vec::new();
    loop {
        let l = c.line();
        if l == "END\r\n" {
            break;
        }
        lines.push(l);
    }
    assert!(
        lines.iter().any(|l| l.starts_with("STAT get:calls ")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("STAT get:p99_us ")),
        "{lines:?}"
    );
    c.roundtrip("stats reset\r\n", "RESET\r\n");
    c.roundtrip("stats nonsense\r\n", "ERROR\r\n");
    let snap = server.ctx.metrics.snapshot();
    let calls = |cmd: &str| {
        snap.iter()
            .find(|s| s.protocol == "memcache" && s.command == cmd)
            .map_or(0, |s| s.calls)
    };
    assert_eq!(calls("get"), 1);
    assert_eq!(calls("set"), 1);
    assert_eq!(calls("stats"), 5);
    assert_eq!(calls("unknown"), 0);
    c.roundtrip("frobnicate\r\n", "ERROR\r\n");
    let snap = server.ctx.metrics.snapshot();
    let unknown = snap
        .iter()
        .find(|s| s.protocol == "memcache" && s.command == "unknown")
        .unwrap();
    assert_eq!((unknown.calls, unknown.errors), (1, 1));
}

#[test]
fn persists_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cas = {
        let mut server = Server::start(dir.path());
        let mut c = server.client();
        c.roundtrip("set keep 42 0 5\r\nhello\r\n", "STORED\r\n");
        c.roundtrip("set ttl 0 100 1\r\nx\r\n", "STORED\r\n");
        c.roundtrip("set gone 0 0 1\r\nx\r\n", "STORED\r\n");
        c.roundtrip("delete gone\r\n", "DELETED\r\n");
        let cas = c.gets("keep").unwrap().2;
        drop(c);
        server.stop();
        cas
    };
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("get keep gone\r\n", "VALUE keep 42 5\r\nhello\r\nEND\r\n");
    // The expiry is absolute, so it survives the restart.
    c.roundtrip("mg ttl t v\r\n", "VA 1 t100\r\nx\r\n");
    server.clock.advance(Duration::from_secs(100));
    c.roundtrip("mg ttl t v\r\n", "EN\r\n");
    assert_eq!(c.gets("keep").unwrap().2, cas);
    c.roundtrip("set other 0 0 1\r\nx\r\n", "STORED\r\n");
    assert!(
        c.gets("other").unwrap().2 > cas,
        "CAS uniques never repeat across restarts"
    );
}
