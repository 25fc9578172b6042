//! MULTI/EXEC/WATCH semantics and atomicity under concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::*;

fn e(s: &str) -> V {
    V::E(s.into())
}

#[test]
fn multi_exec_discard_errors() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["EXEC"]), e("ERR EXEC without MULTI"));
    assert_eq!(c.cmd(&["DISCARD"]), e("ERR DISCARD without MULTI"));
    assert_eq!(c.cmd(&["MULTI"]), V::ok());
    assert_eq!(c.cmd(&["MULTI"]), e("ERR MULTI calls can not be nested"));
    assert_eq!(c.cmd(&["SET", "a", "1"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["INCR", "a"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["HSET", "a", "f", "v"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["GET", "a"]), V::S("QUEUED".into()));
    assert_eq!(
        c.cmd(&["WATCH", "a"]),
        e("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(
        c.cmd(&["EXEC"]),
        V::A(vec![
            V::ok(),
            V::I(2),
            e("WRONGTYPE Operation against a key holding the wrong kind of value"),
            V::b("2"),
        ])
    );
    // A bad command while queueing aborts the whole transaction.
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "3"]);
    assert_eq!(
        c.cmd(&["GET"]),
        e("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.cmd(&["EXEC"]),
        e("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.cmd(&["GET", "a"]), V::b("2"));
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "4"]);
    assert_eq!(c.cmd(&["DISCARD"]), V::ok());
    assert_eq!(c.cmd(&["GET", "a"]), V::b("2"));
    // SELECT inside MULTI applies to the commands after it, and stays.
    c.cmd(&["MULTI"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "in2", "x"]);
    assert_eq!(c.cmd(&["EXEC"]), V::A(vec![V::ok(), V::ok()]));
    assert_eq!(c.cmd(&["GET", "in2"]), V::b("x"));
    c.cmd(&["SELECT", "0"]);
    assert_eq!(c.cmd(&["GET", "in2"]), V::Nil);
}

#[test]
fn exec_reads_its_own_writes() {
    let s = TestServer::start();
    let mut c = s.conn();
    c.cmd(&["MSET", "b", "1", "d", "2"]);
    c.cmd(&["HSET", "h", "old", "x"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["DEL", "b"]);
    c.cmd(&["SET", "c", "3"]);
    c.cmd(&["DEL", "h"]);
    c.cmd(&["HSET", "h", "new", "y"]);
    c.cmd(&["KEYS", "*"]);
    c.cmd(&["DBSIZE"]);
    c.cmd(&["HGETALL", "h"]);
    c.cmd(&["SCAN", "0", "COUNT", "100"]);
    c.cmd(&["FLUSHDB"]);
    c.cmd(&["SET", "z", "after"]);
    c.cmd(&["KEYS", "*"]);
    let r = c.cmd(&["EXEC"]).items();
    assert_eq!(r[5], V::arr(&["a", "c", "d", "h"]));
    assert_eq!(r[6], V::I(4));
    assert_eq!(r[7], V::arr(&["new", "y"]));
    assert_eq!(r[8].items()[1], V::arr(&["a", "c", "d", "h"]));
    assert_eq!(r[11], V::arr(&["z"]));
    assert_eq!(c.cmd(&["KEYS", "*"]), V::arr(&["z"]));
    assert_eq!(c.cmd(&["HGETALL", "h"]), V::A(vec![]));
}

/// Scans inside a transaction order the overlay once and keep that order up to
/// date through later writes, point deletes and range deletes (a hash of more than
/// 64 fields is cleared with one range delete).
#[test]
fn scans_in_a_transaction_see_writes_made_after_the_first_scan() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut big: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..70 {
        big.push(format!("f{i:02}"));
        big.push(i.to_string());
    }
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    c.cmd(&["MULTI"]);
    c.cmd(&["HSET", "h", "b", "2"]);
    c.cmd(&["HGETALL", "h"]);
    c.cmd(&["HSET", "h", "a", "1", "c", "3"]);
    c.cmd(&["HGETALL", "h"]);
    c.cmd(&["HDEL", "h", "b"]);
    c.cmd(&["HKEYS", "h"]);
    c.cmd(&big);
    c.cmd(&["HLEN", "big"]);
    c.cmd(&["DEL", "big"]);
    c.cmd(&["HSET", "big", "z", "9"]);
    c.cmd(&["HGETALL", "big"]);
    c.cmd(&["KEYS", "*"]);
    let r = c.cmd(&["EXEC"]).items();
    assert_eq!(r[1], V::arr(&["b", "2"]));
    assert_eq!(r[3], V::arr(&["a", "1", "b", "2", "c", "3"]));
    assert_eq!(r[5], V::arr(&["a", "c"]));
    assert_eq!(r[6], V::I(70));
    assert_eq!(r[7], V::I(70));
    assert_eq!(r[10], V::arr(&["z", "9"]));
    let mut keys = r[11].items();
    keys.sort_by_key(|k| k.text());
    assert_eq!(keys, vec![V::b("big"), V::b("h")]);
    assert_eq!(c.cmd(&["HGETALL", "big"]), V::arr(&["z", "9"]));
    assert_eq!(c.cmd(&["HKEYS", "h"]), V::arr(&["a", "c"]));
}

#[test]
fn watch_aborts_when_another_client_writes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut other = s.conn();
    c.cmd(&["SET", "balance", "100"]);
    assert_eq!(c.cmd(&["WATCH", "balance"]), V::ok());
    assert_eq!(other.cmd(&["INCRBY", "balance", "5"]), V::I(105));
    c.cmd(&["MULTI"]);
    c.cmd(&["DECRBY", "balance", "10"]);
    assert_eq!(c.cmd(&["EXEC"]), V::NilA);
    assert_eq!(c.cmd(&["GET", "balance"]), V::b("105"));
    // Unchanged watched key: EXEC runs. A write that changes nothing does not count.
    c.cmd(&["WATCH", "balance", "other"]);
    assert_eq!(other.cmd(&["SET", "balance", "1", "NX"]), V::Nil);
    c.cmd(&["MULTI"]);
    c.cmd(&["DECRBY", "balance", "10"]);
    assert_eq!(c.cmd(&["EXEC"]), V::A(vec![V::I(95)]));
    // UNWATCH forgets; FLUSHDB touches existing watched keys.
    c.cmd(&["WATCH", "balance"]);
    c.cmd(&["UNWATCH"]);
    other.cmd(&["SET", "balance", "0"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "balance"]);
    assert_eq!(c.cmd(&["EXEC"]), V::A(vec![V::b("0")]));
    c.cmd(&["WATCH", "balance"]);
    other.cmd(&["FLUSHDB"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "balance"]);
    assert_eq!(c.cmd(&["EXEC"]), V::NilA);
    // Deleting a watched hash through another DB's client does not touch DB 0.
    c.cmd(&["WATCH", "h"]);
    other.cmd(&["SELECT", "1"]);
    other.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["HSET", "h", "g", "w"]);
    assert_eq!(c.cmd(&["EXEC"]), V::A(vec![V::I(1)]));
}

#[test]
fn concurrent_commands_are_atomic() {
    let s = TestServer::start();
    let threads = 8;
    let per = 200;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let addr = s.addr;
            scope.spawn(move || {
                let mut c = Conn::connect(addr);
                for i in 0..per {
                    assert!(matches!(c.cmd(&["INCR", "plain"]), V::I(_)));
                    assert!(matches!(c.cmd(&["HINCRBY", "h", "n", "1"]), V::I(_)));
                    c.cmd(&["APPEND", "log", "x"]);
                    // Optimistic increment with WATCH, retried until it commits.
                    loop {
                        c.cmd(&["WATCH", "w"]);
                        let cur = match c.cmd(&["GET", "w"]) {
                            V::B(b) => String::from_utf8(b).unwrap().parse::<i64>().unwrap(),
                            _ => 0,
                        };
                        c.cmd(&["MULTI"]);
                        c.cmd(&["SET", "w", &(cur + 1).to_string()]);
                        c.cmd(&["SET", &format!("t{t}:{i}"), "done"]);
                        if c.cmd(&["EXEC"]) != V::NilA {
                            break;
                        }
                    }
                }
            });
        }
    });
    let mut c = s.conn();
    let total = (threads * per) as i64;
    assert_eq!(c.cmd(&["GET", "plain"]), V::b(&total.to_string()));
    assert_eq!(c.cmd(&["HGET", "h", "n"]), V::b(&total.to_string()));
    assert_eq!(c.cmd(&["STRLEN", "log"]), V::I(total));
    assert_eq!(c.cmd(&["GET", "w"]), V::b(&total.to_string()));
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(total + 4));
}

/// `calls=` of `cmdstat_<name>` in `INFO commandstats` (0 if absent).
fn calls(c: &mut Conn, name: &str) -> u64 {
    let info = c.cmd(&["INFO", "commandstats"]).text();
    let prefix = format!("cmdstat_{name}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

/// A command queued by MULTI counts once in `INFO commandstats`, when EXEC runs it;
/// one discarded never does. MULTI, EXEC and DISCARD count themselves. Compared
/// with a real redis-server.
#[test]
fn queued_commands_count_once_in_commandstats() {
    let real = common::redis::RealRedis::start();
    let s = TestServer::start();
    let mut counts = Vec::new();
    for addr in [real.addr, s.addr] {
        let mut c = Conn::connect(addr);
        for cmd in [
            &["MULTI"][..],
            &["SET", "a", "1"],
            &["INCR", "n"],
            &["GET", "a"],
            &["EXEC"],
            &["MULTI"],
            &["SET", "b", "2"],
            &["DISCARD"],
        ] {
            c.cmd(cmd);
        }
        // A pipelined transaction.
        let mut pipeline = Vec::new();
        for cmd in [&["MULTI"][..], &["SET", "a", "2"], &["GET", "a"], &["EXEC"]] {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            pipeline.extend(frame(&args));
        }
        c.send(&pipeline);
        for _ in 0..4 {
            c.read();
        }
        let names = ["set", "incr", "get", "multi", "exec", "discard"];
        counts.push(names.map(|n| (n, calls(&mut c, n))));
    }
    assert_eq!(
        counts[0],
        [
            ("set", 2),
            ("incr", 1),
            ("get", 2),
            ("multi", 3),
            ("exec", 2),
            ("discard", 1)
        ],
        "redis-server"
    );
    assert_eq!(counts[1], counts[0], "ours vs redis-server");
}
