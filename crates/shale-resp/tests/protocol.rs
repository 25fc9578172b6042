//! Wire-level behaviour: pipelining, inline commands, RESP3, malformed input, limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use std::time::Duration;

use common::*;
use shale_server::Limits;

#[test]
fn pipelined_replies_come_back_in_order() {
    let s = TestServer::start();
    let mut c = s.conn();
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(frame(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        batch.extend(frame(&[b"GET", format!("k{i}").as_bytes()]));
        batch.extend(frame(&[b"INCR", b"counter"]));
    }
    c.send(&batch);
    for i in 0..500 {
        assert_eq!(c.read(), V::ok());
        assert_eq!(c.read(), V::b(&i.to_string()));
        assert_eq!(c.read(), V::I(i + 1));
    }
    // Inline commands, and frames split at every byte.
    c.send(b"SET inline \"a b\"\r\nGET inline\r\n");
    assert_eq!(c.read(), V::ok());
    assert_eq!(c.read(), V::b("a b"));
    for b in frame(&[b"ECHO", b"slow"]) {
        c.send(&[b]);
    }
    assert_eq!(c.read(), V::b("slow"));
    // Empty lines and `*0` are ignored.
    c.send(b"\r\n*0\r\nPING\r\n");
    assert_eq!(c.read(), V::S("PONG".into()));
}

/// Found by the differential test: Redis skips any C `isspace` byte (\x0b and \x0c
/// too) between inline words, but only space, tab, CR and LF end a bare word.
#[test]
fn inline_words_split_like_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    c.send(b"\x0bSET \x0ck \"a\"\x0b\r\nGET k\r\n");
    assert_eq!(c.read(), V::ok());
    assert_eq!(c.read(), V::b("a"));
    c.send(b"SET k a\x0cb\x0b\r\nGET k\r\n");
    assert_eq!(c.read(), V::ok());
    assert_eq!(c.read(), V::b("a\x0cb\x0b"));
    c.send(b"SET\x0ck v\r\n");
    assert_eq!(
        c.read(),
        V::E("ERR unknown command 'SET\x0ck', with args beginning with: 'v' ".into())
    );
}

#[test]
fn resp3_after_hello() {
    let s = TestServer::start();
    let mut c = s.conn();
    let h = c.cmd(&["HELLO", "3"]);
    let V::Map(pairs) = h else {
        panic!("HELLO 3 must reply with a map: {h:?}")
    };
    assert!(pairs.contains(&(V::b("proto"), V::I(3))));
    assert!(pairs.contains(&(V::b("version"), V::b("7.0.15"))));
    assert_eq!(c.cmd(&["GET", "missing"]), V::Null);
    c.cmd(&["HSET", "h", "a", "1"]);
    assert_eq!(
        c.cmd(&["HGETALL", "h"]),
        V::Map(vec![(V::b("a"), V::b("1"))])
    );
    assert_eq!(c.raw(&[b"HGETALL", b"h"]), b"%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(
        c.cmd(&["HELLO", "4"]),
        V::E("NOPROTO unsupported protocol version".into())
    );
    assert_eq!(c.cmd(&["HELLO", "2"]).items().len(), 14);
    assert_eq!(c.cmd(&["GET", "missing"]), V::Nil);
}

/// Sends `bad`, expects `error` and a closed connection, and checks that the
/// server still serves another client.
fn rejects(s: &TestServer, bad: &[u8], error: &str) {
    let mut c = s.conn();
    c.send(bad);
    assert_eq!(
        c.read(),
        V::E(error.into()),
        "for input {:?}",
        String::from_utf8_lossy(bad)
    );
    assert!(c.closed(), "connection must close after a protocol error");
    let mut other = s.conn();
    assert_eq!(other.cmd(&["PING"]), V::S("PONG".into()));
}

#[test]
fn malformed_input_closes_only_that_connection() {
    let s = TestServer::with(Setup {
        limits: Limits {
            max_items_per_command: 1000,
            max_request_bytes: 1 << 20,
            ..Limits::default()
        },
        ..Setup::default()
    });
    let mut bystander = s.conn();
    bystander.cmd(&["SET", "x", "1"]);
    rejects(
        &s,
        b"*2147483647\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    rejects(
        &s,
        b"*1001\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    rejects(
        &s,
        b"*abc\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    rejects(
        &s,
        b"*1\r\n$4294967296\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    rejects(
        &s,
        b"*1\r\n$-5\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    rejects(
        &s,
        b"*1\r\n+PING\r\n",
        "ERR Protocol error: expected '$', got '+'",
    );
    rejects(
        &s,
        b"SET \"unbalanced\r\n",
        "ERR Protocol error: unbalanced quotes in request",
    );
    // A header declaring a huge bulk that never arrives: nothing is allocated and
    // the connection just waits; a truncated frame followed by a close is harmless.
    let mut t = s.conn();
    t.send(b"*2\r\n$3\r\nGET\r\n$1000000\r\nabc");
    drop(t);
    // Binary garbage.
    let mut g = s.conn();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    g.send(&garbage);
    drop(g);
    assert_eq!(bystander.cmd(&["GET", "x"]), V::b("1"));
    // Commands before the bad frame are answered first.
    let mut c = s.conn();
    let mut buf = frame(&[b"PING"]);
    buf.extend_from_slice(b"*x\r\n");
    c.send(&buf);
    assert_eq!(c.read(), V::S("PONG".into()));
    assert_eq!(
        c.read(),
        V::E("ERR Protocol error: invalid multibulk length".into())
    );
}

#[test]
fn client_that_never_reads_is_closed_and_others_are_fine() {
    let s = TestServer::with(Setup {
        limits: Limits {
            max_pending_output_bytes: 256 * 1024,
            ..Limits::default()
        },
        ..Setup::default()
    });
    let mut w = s.conn();
    let big = vec![b'x'; 64 * 1024];
    assert_eq!(w.raw(&[b"SET", b"big", &big]), b"+OK\r\n");
    // Ask for the 64 KiB value many times without reading a single reply.
    let mut hog = s.conn();
    hog.r
        .get_ref()
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = frame(&[b"GET", b"big"]);
    let mut sent_all = true;
    for _ in 0..20_000 {
        use std::io::Write;
        if hog.r.get_mut().write_all(&req).is_err() {
            sent_all = false;
            break;
        }
    }
    let _ = sent_all;
    assert!(
        hog.closed() || {
            // Drain: the server must close the stream at some point.
            let mut n = 0usize;
            loop {
                use std::io::Read;
                let mut b = [0u8; 65536];
                match hog.r.read(&mut b) {
                    Ok(0) | Err(_) => break true,
                    Ok(k) => n += k,
                }
                if n > 2_000_000_000 {
                    break false;
                }
            }
        }
    );
    let mut other = s.conn();
    assert_eq!(other.cmd(&["STRLEN", "big"]), V::I(64 * 1024));
}

#[test]
fn query_buffer_limit_and_idle_timeout() {
    let s = TestServer::with(Setup {
        limits: Limits {
            max_request_bytes: 1024,
            query_buffer_limit: 4096,
            idle_timeout_secs: 1,
            ..Limits::default()
        },
        ..Setup::default()
    });
    let mut c = s.conn();
    c.send(b"*1\r\n$2000\r\n");
    assert_eq!(
        c.read(),
        V::E("ERR Protocol error: invalid bulk length".into())
    );
    // An inline line that never ends grows the buffer past the limit: closed.
    let mut d = s.conn();
    d.send(&vec![b'a'; 8192]);
    assert!(d.closed());
    // Idle connections are closed after the timeout.
    let mut idle = s.conn();
    assert_eq!(idle.cmd(&["PING"]), V::S("PONG".into()));
    assert!(idle.closed());
}

#[test]
fn shutdown_answers_what_was_read_then_closes() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "a", "1"]), V::ok());
    let mut pipelined = Vec::new();
    for _ in 0..100 {
        pipelined.extend(frame(&[b"INCR", b"n"]));
    }
    c.send(&pipelined);
    // All 100 were read and answered before we trigger shutdown.
    for i in 1..=100 {
        assert_eq!(c.read(), V::I(i));
    }
    let idle = s.conn();
    s.stop();
    assert!(c.closed());
    drop(idle);
}

#[test]
fn max_clients_rejects_with_redis_error() {
    let s = TestServer::with(Setup {
        limits: Limits {
            max_clients: 1,
            ..Limits::default()
        },
        ..Setup::default()
    });
    let mut a = s.conn();
    assert_eq!(a.cmd(&["PING"]), V::S("PONG".into()));
    let mut b = s.conn();
    assert_eq!(b.read(), V::E("ERR max number of clients reached".into()));
}

#[test]
fn large_values_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.raw(&[b"SET", b"big", &big]), b"+OK\r\n");
    let reply = c.raw(&[b"GET", b"big"]);
    let header = format!("${}\r\n", big.len());
    assert_eq!(&reply[..header.len()], header.as_bytes());
    assert_eq!(&reply[header.len()..reply.len() - 2], &big[..]);
    assert_eq!(
        c.raw(&[b"SETRANGE", b"big", b"536870912", b"x"]),
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
}
