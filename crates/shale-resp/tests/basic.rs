#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use common::*;

#[test]
fn smoke() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["PING"]), V::S("PONG".into()));
    assert_eq!(c.cmd(&["SET", "a", "1"]), V::ok());
    assert_eq!(c.cmd(&["GET", "a"]), V::b("1"));
    assert_eq!(c.cmd(&["INCR", "a"]), V::I(2));
    assert_eq!(c.cmd(&["HSET", "h", "f", "v", "g", "w"]), V::I(2));
    assert_eq!(c.cmd(&["HGETALL", "h"]), V::arr(&["f", "v", "g", "w"]));
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(2));
    s.stop();
}
