//! Engine failures become `-ERR` replies; the server neither hangs nor panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use std::sync::Arc;

use common::*;
use shale_fs::{ErrorKind, FaultFs, MemFs, Op, Rule};

#[test]
fn failed_wal_write_poisons_into_errors_not_hangs() {
    let mem = MemFs::new();
    let fs = Arc::new(FaultFs::with_mem(&mem));
    let s = TestServer::with(Setup {
        fs: Some(fs.clone()),
        ..Setup::default()
    });
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), V::ok());
    let rule = fs.add_rule(Rule::error(Op::Append, ErrorKind::Eio).path(".log"));
    let r = c.cmd(&["SET", "k", "w"]);
    assert!(matches!(&r, V::E(m) if m.starts_with("ERR ")), "{r:?}");
    fs.remove_rule(rule);
    // The Db is poisoned now: writes keep failing with an error, reads still work.
    let r = c.cmd(&["INCR", "n"]);
    assert!(matches!(&r, V::E(m) if m.starts_with("ERR ")), "{r:?}");
    let mut multi = s.conn();
    multi.cmd(&["MULTI"]);
    multi.cmd(&["SET", "a", "1"]);
    assert!(matches!(multi.cmd(&["EXEC"]), V::E(m) if m.starts_with("ERR ")));
    assert_eq!(c.cmd(&["GET", "k"]), V::b("v"));
    let mut other = s.conn();
    assert_eq!(other.cmd(&["PING"]), V::S("PONG".into()));
}

/// A database of layout 1 first used after the Db was poisoned cannot get its hash
/// markers and layout key written: it is still read, and refuses writes like the
/// others (docs/format/resp.md).
#[test]
fn a_layout_1_database_is_read_after_poisoning() {
    let mem = MemFs::new();
    {
        let opts = shaledb::Options::with_fs(Arc::new(mem.clone()));
        let db = shaledb::Db::open("/db", opts).unwrap();
        let mut string = vec![1u8, b's'];
        string.extend_from_slice(&0u64.to_le_bytes());
        string.extend_from_slice(b"old");
        db.keyspace("redis.5").unwrap().put(b"kk", &string).unwrap();
    }
    let fs = Arc::new(FaultFs::with_mem(&mem));
    let s = TestServer::with(Setup {
        fs: Some(fs.clone()),
        ..Setup::default()
    });
    let mut c = s.conn();
    fs.add_rule(Rule::error(Op::Append, ErrorKind::Eio).path(".log"));
    let r = c.cmd(&["SET", "k", "w"]);
    assert!(matches!(&r, V::E(m) if m.starts_with("ERR ")), "{r:?}");
    assert_eq!(c.cmd(&["SELECT", "5"]), V::ok());
    assert_eq!(c.cmd(&["GET", "k"]), V::b("old"));
    let r = c.cmd(&["SET", "k", "v"]);
    assert!(matches!(&r, V::E(m) if m.contains("read-only")), "{r:?}");
    assert_eq!(c.cmd(&["GET", "k"]), V::b("old"));
}

/// A failed WAL write poisons the Db; the admin `/health` endpoint then answers 503
/// (docs/serve.md), not only after background errors.
#[test]
fn health_answers_503_after_a_failed_wal_write() {
    let mem = MemFs::new();
    let fs = Arc::new(FaultFs::with_mem(&mem));
    let s = TestServer::with(Setup {
        fs: Some(fs.clone()),
        ..Setup::default()
    });
    let admin = s.admin();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "k", "v"]), V::ok());
    assert_eq!(http_get(admin, "/health"), (200, "OK\n".to_string()));
    let rule = fs.add_rule(Rule::error(Op::Append, ErrorKind::Eio).path(".log"));
    let r = c.cmd(&["SET", "k", "w"]);
    assert!(matches!(&r, V::E(m) if m.starts_with("ERR ")), "{r:?}");
    fs.remove_rule(rule);
    let (status, body) = http_get(admin, "/health");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("ERROR: writes refused until restart: "),
        "{body}"
    );
    // Still refused after the fault is gone: the Db stays poisoned until reopened.
    let r = c.cmd(&["SET", "k", "x"]);
    assert!(matches!(&r, V::E(m) if m.contains("read-only")), "{r:?}");
    assert_eq!(http_get(admin, "/health").0, 503);
    assert_eq!(c.cmd(&["GET", "k"]), V::b("v"));
}
