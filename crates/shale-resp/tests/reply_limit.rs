//! A single reply is bounded by `max_pending_output_bytes` while it is built:
//! KEYS, HGETALL/HKEYS/HVALS, SCAN/HSCAN with a huge COUNT, HRANDFIELD with a huge
//! count and MGET stop with an error once the reply would exceed the limit, and the
//! connection stays usable (before, such a reply was built whole and then closed
//! the connection as a client that does not read).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use std::collections::BTreeSet;

use common::*;
use shale_server::Limits;

const LIMIT: usize = 4096;

fn limit_error(hint: &str) -> V {
    V::E(format!(
        "ERR reply would exceed the output limit of {LIMIT} bytes; {hint}"
    ))
}

/// 200 string keys of 40 bytes (about 9 KB of KEYS reply, 6.6 KB of MGET), a
/// 200-field hash (7 KB of HKEYS, 13 KB of HGETALL) and a 3-field one.
fn server() -> (TestServer, Conn) {
    let s = TestServer::with(Setup {
        limits: Limits {
            max_pending_output_bytes: LIMIT,
            ..Limits::default()
        },
        ..Setup::default()
    });
    let mut c = s.conn();
    let mut mset = vec!["MSET".to_string()];
    let mut hset = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..200 {
        mset.push(key(i));
        mset.push(format!("value-{i:03}-................"));
        hset.push(format!("field:{i:03}:{}", "f".repeat(20)));
        hset.push(format!("value-{i:03}-................"));
    }
    let a: Vec<&str> = mset.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&a), V::ok());
    let a: Vec<&str> = hset.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&a), V::I(200));
    assert_eq!(
        c.cmd(&["HSET", "small", "a", "1", "b", "2", "c", "3"]),
        V::I(3)
    );
    (s, c)
}

fn key(i: usize) -> String {
    format!("key:{i:03}:{}", "x".repeat(32))
}

fn usable(c: &mut Conn) {
    assert_eq!(c.cmd(&["PING"]), V::S("PONG".into()));
}

#[test]
fn keys_and_scan() {
    let (_s, mut c) = server();
    assert_eq!(c.cmd(&["KEYS", "*"]), limit_error("use SCAN"));
    usable(&mut c);
    // A reply under the limit is answered whole.
    let few = c.cmd(&["KEYS", "key:00*"]).items();
    assert_eq!(few.len(), 10);
    assert_eq!(
        c.cmd(&["SCAN", "0", "COUNT", "1000"]),
        limit_error("use a smaller COUNT")
    );
    usable(&mut c);
    // SCAN in pages under the limit still sees every key once.
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let r = c.cmd(&["SCAN", &cursor, "COUNT", "40"]).items();
        for k in r[1].items() {
            assert!(seen.insert(k.text()), "{} twice", k.text());
        }
        cursor = r[0].text();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 202);
    // A pattern that matches little keeps a large COUNT under the limit.
    let r = c
        .cmd(&["SCAN", "0", "COUNT", "1000", "MATCH", "key:01*"])
        .items();
    assert_eq!(r[1].items().len(), 10);
    assert_eq!(r[0], V::b("0"));
}

#[test]
fn whole_hash_replies() {
    let (_s, mut c) = server();
    for cmd in ["HGETALL", "HKEYS", "HVALS"] {
        assert_eq!(c.cmd(&[cmd, "big"]), limit_error("use HSCAN"), "{cmd}");
        usable(&mut c);
    }
    assert_eq!(c.cmd(&["HGETALL", "small"]).items().len(), 6);
    assert_eq!(c.cmd(&["HKEYS", "small"]), V::arr(&["a", "b", "c"]));
    assert_eq!(c.cmd(&["HVALS", "small"]), V::arr(&["1", "2", "3"]));
    // RESP3: the map is bounded too.
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["HGETALL", "big"]), limit_error("use HSCAN"));
    usable(&mut c);
    assert!(matches!(c.cmd(&["HGETALL", "small"]), V::Map(m) if m.len() == 3));
}

#[test]
fn hscan_and_hrandfield() {
    let (_s, mut c) = server();
    assert_eq!(
        c.cmd(&["HSCAN", "big", "0", "COUNT", "1000"]),
        limit_error("use a smaller COUNT")
    );
    usable(&mut c);
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let r = c.cmd(&["HSCAN", "big", &cursor, "COUNT", "30"]).items();
        for pair in r[1].items().chunks(2) {
            assert!(seen.insert(pair[0].text()));
        }
        cursor = r[0].text();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 200);

    for args in [
        &["HRANDFIELD", "big", "200"][..],
        &["HRANDFIELD", "big", "150", "WITHVALUES"],
        &["HRANDFIELD", "big", "-1000"],
        &["HRANDFIELD", "big", "-100", "WITHVALUES"],
    ] {
        assert_eq!(c.cmd(args), limit_error("use a smaller count"), "{args:?}");
        usable(&mut c);
    }
    let five = c.cmd(&["HRANDFIELD", "big", "5"]).items();
    let distinct: BTreeSet<String> = five.iter().map(V::text).collect();
    assert_eq!((five.len(), distinct.len()), (5, 5), "{five:?}");
    assert!(distinct.iter().all(|f| f.starts_with("field:")));
    let with_values = c.cmd(&["HRANDFIELD", "big", "-30", "WITHVALUES"]).items();
    assert_eq!(with_values.len(), 60);
    for pair in with_values.chunks(2) {
        let i = &pair[0].text()[6..9];
        assert!(
            pair[1].text().starts_with(&format!("value-{i}-")),
            "{pair:?}"
        );
    }
    assert!(c.cmd(&["HRANDFIELD", "big"]).text().starts_with("field:"));
    // A count above the size gives the whole (small) hash.
    let all: BTreeSet<String> = c
        .cmd(&["HRANDFIELD", "small", "10"])
        .items()
        .iter()
        .map(V::text)
        .collect();
    assert_eq!(all, ["a", "b", "c"].map(String::from).into());
}

#[test]
fn mget() {
    let (_s, mut c) = server();
    let keys: Vec<String> = (0..200).map(key).collect();
    let mut args = vec!["MGET"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(c.cmd(&args), limit_error("ask for fewer keys"));
    usable(&mut c);
    let r = c.cmd(&["MGET", &keys[0], "nokey", &keys[7]]).items();
    assert_eq!(r[1], V::Nil);
    assert!(r[2].text().starts_with("value-007-"));
    // The same limit inside a pipelined run and an EXEC: one reply fails, the
    // others are answered.
    let mut buf = frame(&[b"GET", keys[1].as_bytes()]);
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    buf.extend(frame(&a));
    buf.extend(frame(&[b"GET", keys[2].as_bytes()]));
    c.send(&buf);
    assert!(c.read().text().starts_with("value-001-"));
    assert_eq!(c.read(), limit_error("ask for fewer keys"));
    assert!(c.read().text().starts_with("value-002-"));
    c.cmd(&["MULTI"]);
    c.cmd(&args);
    c.cmd(&["GET", &keys[3]]);
    let r = c.cmd(&["EXEC"]).items();
    assert_eq!(r[0], limit_error("ask for fewer keys"));
    assert!(r[1].text().starts_with("value-003-"));
}
