//! `INFO stats` counters and `CONFIG RESETSTAT`, checked against a real
//! redis-server: the same commands sent to both must move `keyspace_hits` and
//! `keyspace_misses` by the same amounts, alone, pipelined and inside MULTI/EXEC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::redis::RealRedis;
use common::*;

/// One `field:value` line of an INFO reply.
fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in INFO: {info}"))
        .trim()
        .parse()
        .unwrap()
}

fn hits_misses(c: &mut Conn) -> (u64, u64) {
    let info = c.cmd(&["INFO", "stats"]).text();
    (
        info_field(&info, "keyspace_hits"),
        info_field(&info, "keyspace_misses"),
    )
}

/// The data every case starts from.
fn setup(c: &mut Conn) {
    for cmd in [
        &["FLUSHALL"][..],
        &["SET", "s", "v"],
        &["SET", "n", "5"],
        &["HSET", "h", "f", "v", "g", "w"],
        &["SELECT", "0"],
    ] {
        let r = c.cmd(cmd);
        assert!(!matches!(r, V::E(_)), "{cmd:?}: {r:?}");
    }
}

/// How a case's commands are sent.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// One at a time, each reply read before the next command.
    Alone,
    /// All in one write (ShaleDB runs them as one `run_batch`).
    Pipelined,
    /// Inside MULTI ... EXEC.
    Multi,
}

/// Runs `cmds` on `c` after `setup`; returns the (hits, misses) they added.
fn delta(c: &mut Conn, cmds: &[&[&str]], mode: Mode) -> (u64, u64) {
    setup(c);
    let before = hits_misses(c);
    match mode {
        Mode::Alone => {
            for cmd in cmds {
                c.cmd(cmd);
            }
        }
        Mode::Pipelined => {
            let mut buf = Vec::new();
            for cmd in cmds {
                let a: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
                buf.extend(frame(&a));
            }
            c.send(&buf);
            for _ in cmds {
                c.read();
            }
        }
        Mode::Multi => {
            assert_eq!(c.cmd(&["MULTI"]), V::ok());
            for cmd in cmds {
                assert_eq!(c.cmd(cmd), V::S("QUEUED".into()), "{cmd:?}");
            }
            let r = c.cmd(&["EXEC"]);
            assert!(matches!(r, V::A(_)), "EXEC: {r:?}");
        }
    }
    let after = hits_misses(c);
    (after.0 - before.0, after.1 - before.1)
}

/// (commands, hits, misses) after `setup`, as Redis 7.0 counts them (the real
/// server checks the table too).
#[rustfmt::skip]
const CASES: &[(&[&[&str]], u64, u64)] = &[
    (&[&["GET", "s"]], 1, 0),
    (&[&["GET", "nokey"]], 0, 1),
    (&[&["GET", "h"]], 1, 0), // WRONGTYPE still found the key
    (&[&["MGET", "s", "nokey", "h", "s"]], 3, 1),
    (&[&["GETEX", "s"]], 1, 0),
    (&[&["GETEX", "nokey", "PERSIST"]], 0, 1),
    (&[&["GETEX", "s", "EX", "bad"]], 1, 0), // looked up before the time is parsed
    (&[&["GETEX", "s", "BOGUS"]], 0, 0),     // syntax error first
    (&[&["GETDEL", "s"]], 1, 0),
    (&[&["GETDEL", "nokey"]], 0, 1),
    (&[&["GETSET", "s", "x"]], 1, 0),
    (&[&["SET", "s", "x", "GET"]], 1, 0),
    (&[&["SET", "nokey", "x", "GET"]], 0, 1),
    (&[&["SET", "s", "x", "GET", "EX", "0"]], 0, 0),
    (&[&["SET", "s", "x"], &["SET", "s", "x", "NX"], &["SETNX", "s", "x"]], 0, 0),
    (&[&["MSETNX", "s", "x"], &["APPEND", "s", "x"], &["INCR", "n"]], 0, 0),
    (&[&["INCRBYFLOAT", "n", "1"], &["SETRANGE", "s", "0", "a"], &["DECRBY", "n", "2"]], 0, 0),
    (&[&["STRLEN", "s"], &["STRLEN", "nokey"], &["STRLEN", "h"]], 2, 1),
    (&[&["GETRANGE", "s", "0", "1"], &["SUBSTR", "nokey", "0", "1"]], 1, 1),
    (&[&["EXISTS", "s", "nokey", "s"]], 2, 1),
    (&[&["TYPE", "s"], &["TYPE", "nokey"]], 1, 1),
    (&[&["TTL", "s"], &["PTTL", "nokey"], &["EXPIRETIME", "h"], &["PEXPIRETIME", "s"]], 3, 1),
    (&[&["PERSIST", "s"], &["EXPIRE", "s", "100"], &["DEL", "s", "nokey"], &["UNLINK", "n"]], 0, 0),
    (&[&["RENAME", "s", "t"], &["RENAME", "nokey", "t"], &["RENAMENX", "t", "u"]], 0, 0),
    (&[&["COPY", "s", "t"], &["COPY", "nokey", "t"], &["COPY", "h", "n", "REPLACE"]], 2, 1),
    (&[&["KEYS", "*"], &["SCAN", "0"], &["RANDOMKEY"], &["DBSIZE"]], 0, 0),
    (&[&["SCAN", "0", "TYPE", "string"]], 3, 0), // one lookup per key scanned
    (&[&["SCAN", "0", "MATCH", "s*", "TYPE", "hash"]], 1, 0),
    (&[&["HGET", "h", "f"], &["HGET", "h", "nof"], &["HGET", "nokey", "f"], &["HGET", "s", "f"]], 3, 1),
    (&[&["HMGET", "h", "f", "x"], &["HMGET", "nokey", "f", "g"]], 1, 1),
    (&[&["HGETALL", "h"], &["HGETALL", "nokey"], &["HKEYS", "h"], &["HVALS", "nokey"]], 2, 2),
    (&[&["HEXISTS", "h", "f"], &["HLEN", "h"], &["HLEN", "nokey"], &["HSTRLEN", "h", "f"]], 3, 1),
    (&[&["HSET", "h", "f", "v"], &["HSETNX", "h", "f", "v"], &["HDEL", "h", "f"]], 0, 0),
    (&[&["HINCRBY", "h", "i", "1"], &["HINCRBYFLOAT", "h", "i", "1"], &["HMSET", "h", "a", "b"]], 0, 0),
    (&[&["HSCAN", "h", "0"], &["HSCAN", "nokey", "0", "COUNT", "0"], &["HSCAN", "h", "0", "COUNT", "0"]], 2, 1),
    (&[&["HRANDFIELD", "h"], &["HRANDFIELD", "h", "2"], &["HRANDFIELD", "nokey", "-3", "WITHVALUES"]], 2, 1),
    (&[&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"], &["HRANDFIELD", "h", "1", "x"]], 0, 0),
    (&[&["SELECT", "1"], &["GET", "s"], &["SELECT", "0"], &["GET", "s"]], 1, 1),
    (&[&["FLUSHDB"], &["INFO", "keyspace"]], 0, 0),
];

/// A command of `cmds` that MULTI refuses to queue or that cannot be pipelined
/// with the same meaning; such cases only run alone.
fn alone_only(cmds: &[&[&str]]) -> bool {
    cmds.iter().any(|c| matches!(c[0], "WATCH" | "MULTI"))
}

#[test]
fn keyspace_hits_and_misses_match_real_redis() {
    let redis = RealRedis::start();
    let ours = TestServer::start();
    let mut real = Conn::connect(redis.addr);
    let mut mine = ours.conn();
    for &(cmds, hits, misses) in CASES {
        for mode in [Mode::Alone, Mode::Pipelined, Mode::Multi] {
            if alone_only(cmds) && !matches!(mode, Mode::Alone) {
                continue;
            }
            let want = (hits, misses);
            let r = delta(&mut real, cmds, mode);
            assert_eq!(
                r, want,
                "redis-server disagrees with the table: {cmds:?} {mode:?}"
            );
            let m = delta(&mut mine, cmds, mode);
            assert_eq!(m, want, "ShaleDB: {cmds:?} {mode:?}");
        }
    }
}

/// INFO inside a transaction sees the lookups made before it in the same EXEC.
#[test]
fn info_inside_exec_counts_earlier_reads() {
    let s = TestServer::start();
    let mut c = s.conn();
    setup(&mut c);
    let (h0, m0) = hits_misses(&mut c);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "s"]);
    c.cmd(&["GET", "nokey"]);
    c.cmd(&["INFO", "stats"]);
    let r = c.cmd(&["EXEC"]).items();
    let info = r[2].text();
    assert_eq!(info_field(&info, "keyspace_hits"), h0 + 1);
    assert_eq!(info_field(&info, "keyspace_misses"), m0 + 1);
}
