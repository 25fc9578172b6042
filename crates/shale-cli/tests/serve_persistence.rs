//! `shale serve` keeps what it acknowledged: across `kill -9` under every fsync
//! policy, and across a graceful SIGTERM in the middle of a pipeline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::disallowed_methods)] // the test lists the data directory

mod serve_support;

use std::time::Duration;

use serve_support::{Conn, REDIS_AND_MEMCACHE, Server};

const BOTH: [&str; 6] = REDIS_AND_MEMCACHE;

fn start(dir: &std::path::Path, policy: &str) -> Server {
    let mut args = BOTH.to_vec();
    args.extend(["--appendfsync", policy]);
    Server::start(dir, &args)
}

fn memcache_get(c: &mut Conn, key: &str) -> Option<String> {
    c.send(format!("get {key}\r\n").as_bytes());
    let head = c.line();
    if head == "END" {
        return None;
    }
    assert!(head.starts_with(&format!("VALUE {key} ")), "{head}");
    let value = c.line();
    assert_eq!(c.line(), "END");
    Some(value)
}

#[test]
fn acknowledged_writes_survive_kill_9_under_every_policy() {
    for policy in ["always", "everysec", "no"] {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path(), policy);
        let mut r = Conn::connect(server.addr("redis"));
        let mut m = Conn::connect(server.addr("memcache"));
        for i in 0..300 {
            assert_eq!(r.call(&["SET", &format!("k{i}"), &format!("v{i}")]), "+OK");
            m.send(format!("set m{i} 7 0 {}\r\nmv{i}\r\n", 2 + i.to_string().len()).as_bytes());
            assert_eq!(m.line(), "STORED");
        }
        assert_eq!(
            r.call(&["HSET", "user:1", "name", "Ada", "lang", "en"]),
            ":2"
        );
        for _ in 0..5 {
            r.call(&["INCR", "visits"]);
        }
        assert_eq!(r.call(&["SET", "session", "s", "EX", "100000"]), "+OK");
        assert_eq!(r.call(&["DEL", "k7"]), ":1");
        server.kill9();

        let server = start(dir.path(), policy);
        let mut r = Conn::connect(server.addr("redis"));
        let mut m = Conn::connect(server.addr("memcache"));
        for i in 0..300 {
            let want = if i == 7 {
                "(nil)".to_string()
            } else {
                format!("v{i}")
            };
            assert_eq!(r.call(&["GET", &format!("k{i}")]), want, "{policy}: k{i}");
            assert_eq!(
                memcache_get(&mut m, &format!("m{i}")),
                Some(format!("mv{i}")),
                "{policy}"
            );
        }
        assert_eq!(r.call(&["HGET", "user:1", "lang"]), "en");
        assert_eq!(r.call(&["GET", "visits"]), "5");
        let ttl: i64 = r.call(&["TTL", "session"])[1..].parse().unwrap();
        assert!((99_000..=100_000).contains(&ttl), "{policy}: ttl {ttl}");
        server.signal("TERM");
        assert!(server.wait(Duration::from_secs(30)).success());
    }
}

#[test]
fn sigterm_answers_what_was_read_then_flushes_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "no");
    let mut r = Conn::connect(server.addr("redis"));
    let mut pipeline = Vec::new();
    for i in 0..2000 {
        let (k, v) = (format!("p{i}"), format!("value-{i}"));
        pipeline.extend(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .bytes(),
        );
    }
    r.send(&pipeline);
    assert_eq!(r.reply(), "+OK", "the server is working on the pipeline");
    server.signal("TERM");
    // Every reply that arrives is +OK; the connection then closes.
    let mut acknowledged = 1;
    while acknowledged < 2000 {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(r.reader(), &mut line).unwrap_or(0);
        if n == 0 {
            break;
        }
        assert_eq!(line, "+OK\r\n");
        acknowledged += 1;
    }
    let status = server.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");

    // Everything acknowledged is there; it was flushed to tables, not only logged.
    let server = start(dir.path(), "no");
    let mut r = Conn::connect(server.addr("redis"));
    for i in 0..acknowledged {
        assert_eq!(r.call(&["GET", &format!("p{i}")]), format!("value-{i}"));
    }
    let tables = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sst")
        })
        .count();
    assert!(tables > 0, "shutdown flushed the memtable");
}
