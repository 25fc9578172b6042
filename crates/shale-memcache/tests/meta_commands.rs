#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, clippy::panic)]
//! The meta protocol (`mg`, `ms`, `md`, `ma`, `mn`, `me`) and its flags.

mod common;

use std::time::Duration;

use common::Server;

/// The CAS in a reply line's `c` flag.
fn cas_of(line: &str) -> u64 {
    line.split(' ')
        .find_map(|w| w.trim_end().strip_prefix('c')?.parse().ok())
        .unwrap()
}

#[test]
fn mg_flags() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("mg k v\r\n", "EN\r\n");
    c.roundtrip("mg k v k O77\r\n", "EN kk O77\r\n");
    c.roundtrip("ms k 2 F5 T0\r\nhi\r\n", "HD\r\n");
    c.roundtrip("mg k\r\n", "HD\r\n");
    c.roundtrip("mg k v\r\n", "VA 2\r\nhi\r\n");
    c.send("mg k v f c t s k O123 h l\r\n");
    let line = c.line();
    let cas = cas_of(&line);
    assert_eq!(line, format!("VA 2 f5 c{cas} t-1 s2 kk O123 h0 l0\r\n"));
    c.expect("hi\r\n");
    // T sets the TTL; t before T reports the old one.
    c.roundtrip("mg k t T100\r\n", "HD t-1\r\n");
    c.roundtrip("mg k T100 t\r\n", "HD t100\r\n");
    server.clock.advance(Duration::from_millis(30_500));
    c.roundtrip("mg k t\r\n", "HD t70\r\n");
    server.clock.advance(Duration::from_secs(70));
    c.roundtrip("mg k t\r\n", "EN\r\n");
    // Errors.
    c.roundtrip("mg k zz\r\n", "CLIENT_ERROR invalid flag\r\n");
    c.roundtrip("mg k v v\r\n", "CLIENT_ERROR duplicate flag\r\n");
    c.roundtrip(
        "mg k Tx\r\n",
        "CLIENT_ERROR bad token in command line format\r\n",
    );
    c.roundtrip("mg\r\n", "ERROR\r\n");
    c.roundtrip(
        format!("mg {} v\r\n", "k".repeat(251)),
        "CLIENT_ERROR bad command line format\r\n",
    );
}

#[test]
fn quiet_mode_and_mn() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    // q hides EN for mg, HD for ms/md/ma; failures still show; mn flushes.
    c.roundtrip(
        "mg a v q\r\nms a 1 q\r\n1\r\nmg a v q\r\nms a 1 q C1\r\n2\r\nma a q\r\nma a q v\r\nmd b q\r\nmd a q\r\nmg a q k\r\nmn\r\n",
        "VA 1\r\n1\r\nEX\r\nNF\r\nMN\r\n",
    );
}

#[test]
fn ms_modes_and_cas() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("ms k 1 MR\r\nx\r\n", "NS\r\n");
    c.roundtrip("ms k 1 MA\r\nx\r\n", "NS\r\n");
    c.roundtrip("ms k 1 ME\r\na\r\n", "HD\r\n");
    c.roundtrip("ms k 1 ME\r\nb\r\n", "NS\r\n");
    c.roundtrip("ms k 1 MA\r\nc\r\n", "HD\r\n");
    c.roundtrip("ms k 1 MP\r\nd\r\n", "HD\r\n");
    c.roundtrip("mg k v\r\n", "VA 3\r\ndac\r\n");
    c.roundtrip("ms k 1 MR F3\r\nr\r\n", "HD\r\n");
    c.roundtrip("mg k v f\r\n", "VA 1 f3\r\nr\r\n");
    c.roundtrip(
        "ms k 1 Mx\r\nz\r\nmn\r\n",
        "CLIENT_ERROR invalid mode for ms M token\r\nMN\r\n",
    );
    c.send("ms k 1 c k O9\r\ns\r\n");
    let l = c.line();
    let cas = cas_of(&l);
    assert_eq!(l, format!("HD c{cas} kk O9\r\n"));
    c.roundtrip(format!("ms k 1 C{}\r\nt\r\n", cas + 1), "EX\r\n");
    c.roundtrip("ms nope 1 C5 c\r\nt\r\n", "NF c0\r\n");
    c.roundtrip(format!("ms k 1 C{cas} E424242\r\nt\r\n"), "HD\r\n");
    c.roundtrip("mg k c v\r\n", "VA 1 c424242\r\nt\r\n");
    c.roundtrip("gets k\r\n", "VALUE k 0 1 424242\r\nt\r\nEND\r\n");
    // A bad data chunk is reported even in quiet mode.
    c.roundtrip(
        "ms k 2 q\r\nabc\r\nmn\r\n",
        "CLIENT_ERROR bad data chunk\r\nERROR\r\nMN\r\n",
    );
    c.roundtrip("ms k abc\r\n", "CLIENT_ERROR bad command line format\r\n");
    c.roundtrip("ms k 1 T-1\r\nx\r\nmg k v\r\n", "HD\r\nEN\r\n");
}

#[test]
fn md_and_invalidation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("md k\r\n", "NF\r\n");
    c.roundtrip("md k O1 k\r\n", "NF O1 kk\r\n");
    c.roundtrip("ms k 1\r\na\r\nmd k\r\nmg k\r\n", "HD\r\nHD\r\nEN\r\n");
    // Invalidate: the item stays, served as stale (X); the first fetcher wins (W),
    // later ones see Z until it is set again.
    c.roundtrip("ms k 1\r\na\r\nmd k I T30\r\n", "HD\r\nHD\r\n");
    c.roundtrip("mg k v t\r\n", "VA 1 t30 X W\r\na\r\n");
    c.roundtrip("mg k v\r\n", "VA 1 Z X\r\na\r\n");
    c.send("mg k c\r\n");
    let cas = cas_of(&c.line());
    // An older CAS with I stores but stays stale (the win token too, as in
    // memcached 1.6.18); a plain set clears both.
    c.roundtrip(format!("ms k 1 I C{}\r\nb\r\n", cas - 1), "HD\r\n");
    c.roundtrip("mg k v\r\n", "VA 1 Z X\r\nb\r\n");
    c.roundtrip("ms k 1\r\nc\r\nmg k v\r\n", "HD\r\nVA 1\r\nc\r\n");
    c.roundtrip("md k C1\r\n", "EX\r\n");
    c.roundtrip("md k z\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n");
    // Vivify on miss: the first client wins, the others see Z.
    c.roundtrip("mg v N30 v t\r\n", "VA 0 t30 W\r\n\r\n");
    c.roundtrip("mg v N30 v\r\n", "VA 0 Z\r\n\r\n");
}

#[test]
fn ma_arithmetic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("ma n\r\n", "NF\r\n");
    c.roundtrip("ma n N0 J10 v\r\n", "VA 2\r\n10\r\n");
    c.roundtrip("ma n v\r\n", "VA 2\r\n11\r\n");
    c.roundtrip("ma n v D5 MD\r\n", "VA 1\r\n6\r\n");
    c.roundtrip("ma n v D100 M-\r\n", "VA 1\r\n0\r\n");
    c.roundtrip(
        "ma n v D18446744073709551615 M+\r\n",
        "VA 20\r\n18446744073709551615\r\n",
    );
    c.roundtrip("ma n v\r\n", "VA 1\r\n0\r\n");
    c.roundtrip("ma n t T100 v\r\n", "VA 1 t100\r\n1\r\n");
    c.roundtrip(
        "ms s 1\r\na\r\nma s\r\n",
        "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    c.roundtrip("ma n D-1\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n");
    c.roundtrip(
        "ma n Mi\r\n",
        "CLIENT_ERROR invalid mode for ma M token\r\n",
    );
    c.roundtrip("ma n C1\r\n", "EX\r\n");
}

#[test]
fn base64_keys_and_me() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    // "Zm9v" is base64 for "foo": the item lives under foo.
    c.roundtrip("ms Zm9v 1 b\r\nq\r\n", "HD\r\n");
    c.roundtrip("mg foo v\r\n", "VA 1\r\nq\r\n");
    c.roundtrip("get foo\r\n", "VALUE foo 0 1\r\nq\r\nEND\r\n");
    c.roundtrip("mg Zm9v b k v\r\n", "VA 1 kZm9v b\r\nq\r\n");
    c.roundtrip("mg Zm9v k b\r\n", "HD kfoo\r\n");
    c.roundtrip("mg YmFy b k\r\n", "EN kYmFy b\r\n");
    c.roundtrip(
        "ms ;;; 1 b\r\na\r\nmn\r\n",
        "CLIENT_ERROR error decoding key\r\nMN\r\n",
    );
    c.roundtrip("me nope\r\n", "EN\r\n");
    c.send("me foo\r\n");
    assert!(c.line().starts_with("ME foo exp=-1 la=0 cas="));
    c.roundtrip("mn\r\n", "MN\r\n");
}

/// `ms … N<ttl>` (autovivify on an append miss in later memcached versions):
/// memcached 1.6.18 parses the token and otherwise ignores it, and `S` is no `ms`
/// flag. The replies below are memcached 1.6.18's.
#[test]
fn ms_accepts_and_ignores_n() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client();
    c.roundtrip("ms k 2 N30\r\nhi\r\n", "HD\r\n");
    // N set no TTL on the stored item.
    c.roundtrip("mg k v t\r\n", "VA 2 t-1\r\nhi\r\n");
    c.roundtrip("ms k 2 T0 N30 MA\r\nho\r\n", "HD\r\n");
    c.roundtrip("mg k v t\r\n", "VA 4 t-1\r\nhiho\r\n");
    // No vivification: appending to a missing key is still NS.
    c.roundtrip("ms nokey 2 MA N30\r\nhi\r\n", "NS\r\n");
    c.roundtrip("ms nokey 2 N30 O5 k MP c\r\nhi\r\n", "NS O5 knokey c0\r\n");
    c.roundtrip(
        "ms nokey 2 N30 O5 k MA q\r\nhi\r\nmn\r\n",
        "NS O5 knokey\r\nMN\r\n",
    );
    c.roundtrip("mg nokey v\r\n", "EN\r\n");
    // The token is a 32-bit number as memcached's safe_strtol reads it.
    c.roundtrip("ms k 2 N-1\r\nhi\r\n", "HD\r\n");
    c.roundtrip("ms k 2 N99999999999\r\nhi\r\n", "HD\r\n");
    let bad = "CLIENT_ERROR bad token in command line format\r\n";
    c.roundtrip("ms k 2 N\r\nhi\r\n", bad);
    c.roundtrip("ms k 2 Nabc\r\nhi\r\n", bad);
    c.roundtrip("ms k 2 N5x\r\nhi\r\n", bad);
    c.roundtrip("ms k 2 N999999999999999999999\r\nhi\r\n", bad);
    c.roundtrip(
        "ms k 2 N30 N31\r\nhi\r\n",
        "CLIENT_ERROR duplicate flag\r\n",
    );
    c.roundtrip("ms k 2 S N30\r\nhi\r\n", "CLIENT_ERROR invalid flag\r\n");
    c.roundtrip("ms k 2 S2\r\nhi\r\n", "CLIENT_ERROR invalid flag\r\n");
    // Each error swallowed its data block.
    c.roundtrip("mg k v\r\n", "VA 2\r\nhi\r\n");
}
