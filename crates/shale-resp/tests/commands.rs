//! Command families over raw RESP: strings, keys, hashes, expiry with the engine's
//! manual clock, SCAN, SELECT, AUTH, CONFIG, INFO, persistence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use shale_resp::RedisConfig;

fn e(s: &str) -> V {
    V::E(s.into())
}

#[test]
fn strings() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "k", "v", "NX"]), V::ok());
    assert_eq!(c.cmd(&["SET", "k", "w", "NX"]), V::Nil);
    assert_eq!(c.cmd(&["SET", "k", "w", "XX", "GET"]), V::b("v"));
    assert_eq!(c.cmd(&["SET", "k", "x", "NX", "XX"]), e("ERR syntax error"));
    assert_eq!(
        c.cmd(&["SET", "k", "x", "EX", "0"]),
        e("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        c.cmd(&["SET", "k", "x", "EX", "y"]),
        e("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["GET"]),
        e("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(c.cmd(&["APPEND", "k", "yz"]), V::I(3));
    assert_eq!(c.cmd(&["GETRANGE", "k", "1", "-1"]), V::b("yz"));
    assert_eq!(c.cmd(&["SETRANGE", "k", "5", "!"]), V::I(6));
    assert_eq!(c.cmd(&["GET", "k"]), V::B(b"wyz\0\0!".to_vec()));
    assert_eq!(c.cmd(&["STRLEN", "k"]), V::I(6));
    assert_eq!(
        c.cmd(&["INCR", "k"]),
        e("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["INCRBY", "n", "9223372036854775807"]),
        V::I(i64::MAX)
    );
    assert_eq!(
        c.cmd(&["INCR", "n"]),
        e("ERR increment or decrement would overflow")
    );
    assert_eq!(c.cmd(&["DECRBY", "m", "5"]), V::I(-5));
    assert_eq!(c.cmd(&["DECR", "m"]), V::I(-6));
    assert_eq!(c.cmd(&["INCRBYFLOAT", "f", "0.1"]), V::b("0.1"));
    assert_eq!(c.cmd(&["INCRBYFLOAT", "f", "0.2"]), V::b("0.3"));
    assert_eq!(
        c.cmd(&["INCRBYFLOAT", "f", "x"]),
        e("ERR value is not a valid float")
    );
    assert_eq!(c.cmd(&["MSET", "a", "1", "b", "2"]), V::ok());
    assert_eq!(
        c.cmd(&["MSET", "a", "1", "b"]),
        e("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        c.cmd(&["MGET", "a", "b", "nope"]),
        V::A(vec![V::b("1"), V::b("2"), V::Nil])
    );
    assert_eq!(c.cmd(&["MSETNX", "a", "9", "c", "3"]), V::I(0));
    assert_eq!(c.cmd(&["MSETNX", "c", "3", "d", "4"]), V::I(1));
    assert_eq!(c.cmd(&["GETSET", "c", "33"]), V::b("3"));
    assert_eq!(c.cmd(&["GETDEL", "c"]), V::b("33"));
    assert_eq!(c.cmd(&["GETDEL", "c"]), V::Nil);
    assert_eq!(c.cmd(&["SETNX", "c", "1"]), V::I(1));
    assert_eq!(c.cmd(&["SETNX", "c", "2"]), V::I(0));
    c.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(
        c.cmd(&["GET", "h"]),
        e("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    // SET replaces a hash (and its fields are gone).
    assert_eq!(c.cmd(&["SET", "h", "s"]), V::ok());
    assert_eq!(c.cmd(&["HSET", "h2", "f", "v"]), V::I(1));
    assert_eq!(
        c.cmd(&["UNKNOWNCMD", "a", "b"]),
        e("ERR unknown command 'UNKNOWNCMD', with args beginning with: 'a' 'b' ")
    );
    // A value larger than the request limit is refused by the parser.
    let big = "x".repeat(1000);
    assert_eq!(c.cmd(&["SET", "big", &big]), V::ok());
}

#[test]
fn expiry_follows_the_engine_clock() {
    let s = TestServer::with(Setup {
        manual_clock: true,
        ..Setup::default()
    });
    let clock = s.clock.clone().unwrap();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "k", "v", "EX", "10"]), V::ok());
    assert_eq!(c.cmd(&["TTL", "k"]), V::I(10));
    assert_eq!(c.cmd(&["PTTL", "k"]), V::I(10_000));
    assert_eq!(c.cmd(&["EXPIRETIME", "k"]), V::I(1_700_000_000 + 10));
    assert_eq!(c.cmd(&["PEXPIRETIME", "k"]), V::I(1_700_000_010_000));
    clock.advance(Duration::from_millis(9_999));
    assert_eq!(c.cmd(&["PTTL", "k"]), V::I(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "100", "GT"]), V::I(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "50", "GT"]), V::I(0));
    assert_eq!(c.cmd(&["EXPIRE", "k", "50", "LT"]), V::I(1));
    assert_eq!(c.cmd(&["EXPIRE", "k", "50", "NX"]), V::I(0));
    assert_eq!(
        c.cmd(&["EXPIRE", "k", "50", "NX", "XX"]),
        e("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    clock.advance(Duration::from_secs(50));
    assert_eq!(c.cmd(&["GET", "k"]), V::Nil);
    assert_eq!(c.cmd(&["TTL", "k"]), V::I(-2));
    assert_eq!(c.cmd(&["EXISTS", "k"]), V::I(0));
    // A hash that expires leaves no fields behind when recreated.
    c.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(c.cmd(&["PEXPIRE", "h", "5"]), V::I(1));
    clock.advance(Duration::from_millis(5));
    assert_eq!(c.cmd(&["HGETALL", "h"]), V::A(vec![]));
    assert_eq!(c.cmd(&["HSET", "h", "c", "3"]), V::I(1));
    assert_eq!(c.cmd(&["HGETALL", "h"]), V::arr(&["c", "3"]));
    assert_eq!(c.cmd(&["HLEN", "h"]), V::I(1));
    // SETEX / PSETEX / GETEX / PERSIST / KEEPTTL / EXAT in the past.
    assert_eq!(c.cmd(&["SETEX", "s", "5", "v"]), V::ok());
    assert_eq!(c.cmd(&["SET", "s", "w", "KEEPTTL"]), V::ok());
    assert_eq!(c.cmd(&["TTL", "s"]), V::I(5));
    assert_eq!(c.cmd(&["GETEX", "s", "PERSIST"]), V::b("w"));
    assert_eq!(c.cmd(&["TTL", "s"]), V::I(-1));
    assert_eq!(c.cmd(&["PSETEX", "s", "1500", "v"]), V::ok());
    assert_eq!(c.cmd(&["PERSIST", "s"]), V::I(1));
    assert_eq!(c.cmd(&["PERSIST", "s"]), V::I(0));
    assert_eq!(c.cmd(&["SET", "p", "v", "EXAT", "1000"]), V::ok());
    assert_eq!(c.cmd(&["EXISTS", "p"]), V::I(0));
    assert_eq!(c.cmd(&["SET", "q", "v"]), V::ok());
    assert_eq!(c.cmd(&["EXPIREAT", "q", "1000"]), V::I(1));
    assert_eq!(c.cmd(&["EXISTS", "q"]), V::I(0));
    assert_eq!(c.cmd(&["INCR", "cnt"]), V::I(1));
    assert_eq!(c.cmd(&["EXPIRE", "cnt", "100"]), V::I(1));
    assert_eq!(c.cmd(&["INCR", "cnt"]), V::I(2));
    assert_eq!(c.cmd(&["TTL", "cnt"]), V::I(100), "INCR keeps the TTL");
    // A watched key that expires before EXEC aborts it (Redis 7.0).
    c.cmd(&["SET", "w", "v", "PX", "100"]);
    c.cmd(&["WATCH", "w", "absent"]);
    clock.advance(Duration::from_millis(100));
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), V::NilA);
    c.cmd(&["WATCH", "absent"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), V::A(vec![V::S("PONG".into())]));
    assert_eq!(c.cmd(&["SET", "far", "v"]), V::ok());
    assert_eq!(c.cmd(&["PEXPIREAT", "far", "9223372036854775807"]), V::I(1));
    assert_eq!(
        c.cmd(&["TTL", "far"]),
        V::I((i64::MAX - 1_700_000_060_000) / 1000 + 1)
    );
    c.cmd(&["DEL", "far"]);
    let info = c.cmd(&["INFO", "keyspace"]).text();
    assert!(info.contains("db0:keys=3,expires=1,avg_ttl=0"), "{info}");
}

#[test]
fn keys_rename_copy_type() {
    let s = TestServer::start();
    let mut c = s.conn();
    c.cmd(&["MSET", "user:1", "a", "user:2", "b", "other", "c"]);
    c.cmd(&["HSET", "user:h", "f", "v"]);
    let mut keys: Vec<String> = c
        .cmd(&["KEYS", "user:*"])
        .items()
        .iter()
        .map(V::text)
        .collect();
    keys.sort();
    assert_eq!(keys, ["user:1", "user:2", "user:h"]);
    assert_eq!(c.cmd(&["KEYS", "user:[1-1]"]), V::arr(&["user:1"]));
    assert_eq!(c.cmd(&["TYPE", "user:h"]), V::S("hash".into()));
    assert_eq!(c.cmd(&["TYPE", "user:1"]), V::S("string".into()));
    assert_eq!(c.cmd(&["TYPE", "none"]), V::S("none".into()));
    assert_eq!(c.cmd(&["RENAME", "user:h", "hh"]), V::ok());
    assert_eq!(c.cmd(&["HGET", "hh", "f"]), V::b("v"));
    assert_eq!(c.cmd(&["HGET", "user:h", "f"]), V::Nil);
    assert_eq!(c.cmd(&["RENAME", "nope", "x"]), e("ERR no such key"));
    assert_eq!(c.cmd(&["RENAMENX", "user:1", "user:2"]), V::I(0));
    assert_eq!(c.cmd(&["COPY", "hh", "hh2"]), V::I(1));
    assert_eq!(c.cmd(&["HGETALL", "hh2"]), V::arr(&["f", "v"]));
    assert_eq!(c.cmd(&["COPY", "user:1", "hh2"]), V::I(0));
    assert_eq!(c.cmd(&["COPY", "user:1", "hh2", "REPLACE"]), V::I(1));
    assert_eq!(c.cmd(&["GET", "hh2"]), V::b("a"));
    assert_eq!(c.cmd(&["DEL", "hh", "hh2", "missing"]), V::I(2));
    assert_eq!(c.cmd(&["EXISTS", "user:1", "user:1", "hh"]), V::I(2));
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(3));
    let rk = c.cmd(&["RANDOMKEY"]).text();
    assert!(["user:1", "user:2", "other"].contains(&rk.as_str()), "{rk}");
    assert_eq!(c.cmd(&["FLUSHDB"]), V::ok());
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(0));
    assert_eq!(c.cmd(&["RANDOMKEY"]), V::Nil);
}

#[test]
fn hashes() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["HSET", "h", "a", "1", "b", "2"]), V::I(2));
    assert_eq!(c.cmd(&["HSET", "h", "a", "10", "c", "3"]), V::I(1));
    assert_eq!(
        c.cmd(&["HSET", "h", "a"]),
        e("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(c.cmd(&["HMSET", "h", "d", "4"]), V::ok());
    assert_eq!(c.cmd(&["HSETNX", "h", "d", "5"]), V::I(0));
    assert_eq!(c.cmd(&["HLEN", "h"]), V::I(4));
    assert_eq!(
        c.cmd(&["HMGET", "h", "a", "zz", "d"]),
        V::A(vec![V::b("10"), V::Nil, V::b("4")])
    );
    assert_eq!(c.cmd(&["HKEYS", "h"]), V::arr(&["a", "b", "c", "d"]));
    assert_eq!(c.cmd(&["HVALS", "h"]), V::arr(&["10", "2", "3", "4"]));
    assert_eq!(c.cmd(&["HEXISTS", "h", "a"]), V::I(1));
    assert_eq!(c.cmd(&["HSTRLEN", "h", "a"]), V::I(2));
    assert_eq!(c.cmd(&["HINCRBY", "h", "a", "5"]), V::I(15));
    assert_eq!(c.cmd(&["HINCRBY", "h", "new", "5"]), V::I(5));
    assert_eq!(c.cmd(&["HINCRBYFLOAT", "h", "a", "0.5"]), V::b("15.5"));
    assert_eq!(
        c.cmd(&["HINCRBY", "h", "a", "1"]),
        e("ERR hash value is not an integer")
    );
    assert_eq!(c.cmd(&["HDEL", "h", "a", "b", "zz"]), V::I(2));
    assert_eq!(c.cmd(&["HLEN", "h"]), V::I(3));
    let f = c.cmd(&["HRANDFIELD", "h"]).text();
    assert!(["c", "d", "new"].contains(&f.as_str()));
    assert_eq!(c.cmd(&["HRANDFIELD", "h", "10"]).items().len(), 3);
    assert_eq!(c.cmd(&["HRANDFIELD", "h", "-7"]).items().len(), 7);
    assert_eq!(
        c.cmd(&["HRANDFIELD", "h", "2", "WITHVALUES"]).items().len(),
        4
    );
    assert_eq!(c.cmd(&["HDEL", "h", "c", "d", "new"]), V::I(3));
    assert_eq!(c.cmd(&["EXISTS", "h"]), V::I(0));
    c.cmd(&["SET", "s", "x"]);
    assert_eq!(
        c.cmd(&["HGET", "s", "f"]),
        e("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    // HSCAN walks every field exactly once.
    for i in 0..250 {
        c.cmd(&["HSET", "big", &format!("f{i:03}"), &i.to_string()]);
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let r = c.cmd(&["HSCAN", "big", &cursor, "COUNT", "7"]).items();
        cursor = r[0].text();
        for pair in r[1].items().chunks(2) {
            assert!(seen.insert(pair[0].text()));
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 250);
}

#[test]
fn scan_returns_every_key_present_throughout_despite_writes() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut w = s.conn();
    for i in 0..500 {
        c.cmd(&["SET", &format!("stable:{i:04}"), "v"]);
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        // Concurrent churn: other keys come and go, before and after the cursor.
        w.cmd(&["SET", &format!("churn:{round}"), "x"]);
        w.cmd(&["DEL", &format!("churn:{}", round / 2)]);
        w.cmd(&["SET", &format!("a-early:{round}"), "x"]);
        let r = c
            .cmd(&["SCAN", &cursor, "COUNT", "13", "MATCH", "stable:*"])
            .items();
        cursor = r[0].text();
        for k in r[1].items() {
            seen.insert(k.text());
        }
        round += 1;
        if cursor == "0" {
            break;
        }
        assert!(round < 10_000);
    }
    assert_eq!(seen.len(), 500);
    let typed = c
        .cmd(&["SCAN", "0", "COUNT", "100000", "TYPE", "hash"])
        .items();
    assert_eq!(typed[1], V::A(vec![]));
    assert_eq!(c.cmd(&["SCAN", "abc"]), e("ERR invalid cursor"));
}

/// Found by the differential test against Redis 7.0.
#[test]
fn scan_arguments_are_checked_in_redis_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    let empty = V::A(vec![V::b("0"), V::A(vec![])]);
    // HSCAN checks the cursor, then the key, then the options: a missing key is an
    // empty scan whatever the options, a string is WRONGTYPE.
    assert_eq!(c.cmd(&["HSCAN", "nokey", "0", "COUNT", "0"]), empty);
    assert_eq!(c.cmd(&["HSCAN", "nokey", "0", "BAD"]), empty);
    assert_eq!(c.cmd(&["HSCAN", "nokey", "x"]), e("ERR invalid cursor"));
    c.cmd(&["SET", "s", "x"]);
    assert_eq!(
        c.cmd(&["HSCAN", "s", "0", "COUNT", "0"]),
        e("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    c.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(
        c.cmd(&["HSCAN", "h", "0", "COUNT", "0"]),
        e("ERR syntax error")
    );
    // Redis reads cursors with strtoul: 0 may be spelled several ways.
    for zero in ["0", "", "00", "+0", "-0"] {
        let r = c.cmd(&["SCAN", zero, "COUNT", "100"]).items();
        assert_eq!(r[0], V::b("0"), "SCAN {zero:?}");
        let keys: BTreeSet<String> = r[1].items().iter().map(V::text).collect();
        assert_eq!(keys, BTreeSet::from(["h".into(), "s".into()]), "{zero:?}");
        assert_eq!(
            c.cmd(&["HSCAN", "h", zero]),
            V::A(vec![V::b("0"), V::arr(&["f", "v"])])
        );
    }
    for bad in ["+", "-", " 0", "0 ", "0x0"] {
        assert_eq!(c.cmd(&["SCAN", bad]), e("ERR invalid cursor"), "{bad:?}");
    }
}

/// Found by the differential test against Redis 7.0.
#[test]
fn config_get_names_parameters_like_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    // An exact name comes back spelled as asked; each parameter once, for the
    // first argument that names it; a pattern gives the parameter's own name.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "MAXMEMORY"]),
        V::arr(&["MAXMEMORY", "0"])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "DATABASES", "dat*"]),
        V::arr(&["DATABASES", "16"])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "DAT*", "Databases"]),
        V::arr(&["databases", "16"])
    );
    // The port is the one the server listens on (the configuration says 6379 here).
    let port = s.addr.port().to_string();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "Port", "PORT"]),
        V::arr(&["Port", &port])
    );
}

/// Found by the differential test against Redis 7.0: an unknown subcommand or a
/// wrong argument count is refused before the command runs or is queued.
#[test]
fn subcommand_errors_come_before_queueing() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        c.cmd(&["CONFIG"]),
        e("ERR wrong number of arguments for 'config' command")
    );
    for (cmd, err) in [
        (
            &["CONFIG", "GET"][..],
            "ERR wrong number of arguments for 'config|get' command",
        ),
        (
            &["CONFIG", "RESETSTAT", "x"],
            "ERR wrong number of arguments for 'config|resetstat' command",
        ),
        (
            &["config", "nosuch"],
            "ERR unknown subcommand 'nosuch'. Try CONFIG HELP.",
        ),
        (
            &["COMMAND", "COUNT", "x"],
            "ERR wrong number of arguments for 'command|count' command",
        ),
        (
            &["COMMAND", "FOO"],
            "ERR unknown subcommand 'FOO'. Try COMMAND HELP.",
        ),
        (
            &["CLIENT", "ID", "x"],
            "ERR wrong number of arguments for 'client|id' command",
        ),
    ] {
        assert_eq!(c.cmd(cmd), e(err), "{cmd:?}");
        assert_eq!(c.cmd(&["MULTI"]), V::ok());
        assert_eq!(c.cmd(&["SET", "a", "1"]), V::S("QUEUED".into()));
        assert_eq!(c.cmd(cmd), e(err), "{cmd:?} in MULTI");
        assert_eq!(
            c.cmd(&["EXEC"]),
            e("EXECABORT Transaction discarded because of previous errors.")
        );
        assert_eq!(c.cmd(&["GET", "a"]), V::Nil);
    }
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), V::ok());
    assert!(c.cmd(&["COMMAND", "COUNT"]).int() > 60);
}

#[test]
fn select_isolates_databases() {
    let s = TestServer::start();
    let mut c = s.conn();
    c.cmd(&["SET", "k", "zero"]);
    assert_eq!(c.cmd(&["SELECT", "1"]), V::ok());
    assert_eq!(c.cmd(&["GET", "k"]), V::Nil);
    c.cmd(&["SET", "k", "one"]);
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(1));
    assert_eq!(c.cmd(&["SELECT", "16"]), e("ERR DB index is out of range"));
    assert_eq!(
        c.cmd(&["SELECT", "x"]),
        e("ERR value is not an integer or out of range")
    );
    let mut other = s.conn();
    assert_eq!(other.cmd(&["GET", "k"]), V::b("zero"));
    assert_eq!(c.cmd(&["FLUSHDB"]), V::ok());
    assert_eq!(other.cmd(&["GET", "k"]), V::b("zero"));
    c.cmd(&["SET", "k", "one"]);
    assert_eq!(other.cmd(&["FLUSHALL"]), V::ok());
    assert_eq!(c.cmd(&["GET", "k"]), V::Nil);
    assert_eq!(other.cmd(&["GET", "k"]), V::Nil);
}

#[test]
fn auth_and_config() {
    let s = TestServer::with(Setup {
        config: RedisConfig {
            requirepass: Some("secret".into()),
            ..RedisConfig::default()
        },
        ..Setup::default()
    });
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "k"]), e("NOAUTH Authentication required."));
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]),
        e("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(c.cmd(&["AUTH", "default", "secret"]), V::ok());
    assert_eq!(c.cmd(&["SET", "k", "v"]), V::ok());
    let mut h = s.conn();
    assert!(
        matches!(h.cmd(&["HELLO", "3"]), V::E(m) if m.starts_with("NOAUTH HELLO must be called"))
    );
    assert!(matches!(
        h.cmd(&["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me"]),
        V::Map(_)
    ));
    assert_eq!(h.cmd(&["CLIENT", "GETNAME"]), V::b("me"));
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "requirepass"]),
        V::A(vec![V::b("requirepass"), V::b("secret")])
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendfsync", "always"]), V::ok());
    assert_eq!(s.ctx.sync_policy(), shale_server::SyncPolicy::Always);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendfsync"]),
        V::arr(&["appendfsync", "always"])
    );
    assert!(matches!(
        c.cmd(&["CONFIG", "SET", "appendfsync", "bogus"]),
        V::E(_)
    ));
    assert_eq!(c.cmd(&["CONFIG", "GET", "nonexistent"]), V::A(vec![]));
    assert_eq!(c.cmd(&["CONFIG", "GET", "save"]), V::arr(&["save", ""]));
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "databases"]),
        V::arr(&["databases", "16"])
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "requirepass", ""]), V::ok());
    let mut open = s.conn();
    assert_eq!(open.cmd(&["GET", "k"]), V::b("v"));
    // Unauthenticated clients get Redis's tight frame limits.
    c.cmd(&["CONFIG", "SET", "requirepass", "x"]);
    let mut u = s.conn();
    u.send(b"*20\r\n");
    assert_eq!(
        u.read(),
        e("ERR Protocol error: unauthenticated multibulk length")
    );
}

#[test]
fn server_and_connection_commands() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["PING", "hi"]), V::b("hi"));
    assert_eq!(c.cmd(&["ECHO", "x"]), V::b("x"));
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "worker"]), V::ok());
    assert_eq!(
        c.cmd(&["CLIENT", "SETNAME", "bad name"]),
        e("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    let id = c.cmd(&["CLIENT", "ID"]).int();
    let list = c.cmd(&["CLIENT", "LIST"]).text();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=worker"),
        "{list}"
    );
    assert_eq!(c.cmd(&["TIME"]).items().len(), 2);
    let info = c.cmd(&["INFO"]).text();
    for field in [
        "redis_version:7.0.15",
        "connected_clients:1",
        "# Keyspace",
        "# Persistence",
        "# Memory",
    ] {
        assert!(info.contains(field), "INFO lacks {field}");
    }
    assert!(
        !info.contains("# Commandstats"),
        "not in the default set, as in Redis"
    );
    let stats = c.cmd(&["INFO", "commandstats", "latencystats"]).text();
    assert!(stats.contains("cmdstat_time:calls=1,usec="), "{stats}");
    assert!(
        stats.contains("latency_percentiles_usec_info:p50="),
        "{stats}"
    );
    let n = c.cmd(&["COMMAND", "COUNT"]).int();
    assert!(n > 60);
    assert_eq!(c.cmd(&["COMMAND"]).items().len() as i64, n);
    assert!(matches!(c.cmd(&["COMMAND", "DOCS", "get"]), V::A(v) if v.len() == 2));
    assert_eq!(c.cmd(&["QUIT"]), V::ok());
    assert!(c.closed());
    let snap = s.ctx.metrics.snapshot();
    assert!(
        snap.iter()
            .any(|m| m.protocol == "redis" && m.command == "ping" && m.calls == 1)
    );
    let mut d = s.conn();
    d.cmd(&["NOPE"]);
    let snap = s.ctx.metrics.snapshot();
    // Refused before running: a rejected call, not a call (as Redis counts it).
    assert!(
        snap.iter()
            .any(|m| m.command == "unknown" && m.rejected == 1 && m.calls == 0)
    );
}

#[test]
fn data_survives_close_and_reopen() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    {
        let s = TestServer::with(Setup {
            dir: Some(dir.clone()),
            ..Setup::default()
        });
        let mut c = s.conn();
        c.cmd(&["SET", "k", "v"]);
        c.cmd(&["HSET", "h", "a", "1", "b", "2"]);
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SET", "in3", "yes", "EX", "100000"]);
        s.stop();
    }
    let s = TestServer::with(Setup {
        dir: Some(dir),
        ..Setup::default()
    });
    let mut c = s.conn();
    assert_eq!(c.cmd(&["GET", "k"]), V::b("v"));
    assert_eq!(c.cmd(&["HGETALL", "h"]), V::arr(&["a", "1", "b", "2"]));
    c.cmd(&["SELECT", "3"]);
    assert_eq!(c.cmd(&["GET", "in3"]), V::b("yes"));
    let ttl = c.cmd(&["TTL", "in3"]).int();
    assert!(ttl > 99_000 && ttl <= 100_000);
}
