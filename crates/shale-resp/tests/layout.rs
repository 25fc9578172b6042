//! The engine-level layout behind the Redis commands (`docs/format/resp.md`): a
//! plain SET over a hash leaves no field or marker behind, and a keyspace written
//! by layout 1 (hashes without markers) is brought to layout 2 on first use.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
use std::sync::Arc;

use common::*;
use shaledb::{Db, Options};

/// Every raw engine key of database 0, in order.
fn raw_keys(db: &Db) -> Vec<Vec<u8>> {
    let ks = db.keyspace("redis.0").unwrap();
    ks.iter().map(|r| r.unwrap().0.to_vec()).collect()
}

#[test]
fn a_plain_set_over_a_hash_clears_its_fields_and_marker() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["HSET", "h", "a", "1", "b", "2"]), V::I(2));
    assert_eq!(c.cmd(&["SET", "s", "x"]), V::ok());
    let keys = raw_keys(&s.ctx.db);
    assert!(
        keys.contains(&b"mh".to_vec()),
        "a hash has its marker: {keys:?}"
    );
    assert!(!keys.contains(&b"ms".to_vec()), "a string has none");
    assert!(keys.contains(&b"f:layout".to_vec()));

    assert_eq!(c.cmd(&["SET", "h", "v"]), V::ok());
    let keys = raw_keys(&s.ctx.db);
    assert_eq!(
        keys,
        vec![b"f:layout".to_vec(), b"kh".to_vec(), b"ks".to_vec()],
        "fields and marker of the replaced hash are gone"
    );
    assert_eq!(c.cmd(&["TYPE", "h"]), V::S("string".into()));

    // SETEX and MSET take the same path; DEL of a hash removes its marker.
    assert_eq!(c.cmd(&["HSET", "g", "a", "1"]), V::I(1));
    assert_eq!(c.cmd(&["SETEX", "g", "100", "v"]), V::ok());
    assert_eq!(c.cmd(&["HSET", "m", "a", "1"]), V::I(1));
    assert_eq!(c.cmd(&["MSET", "m", "v", "n", "w"]), V::ok());
    assert_eq!(c.cmd(&["HSET", "d", "a", "1"]), V::I(1));
    assert_eq!(c.cmd(&["DEL", "d"]), V::I(1));
    let keys = raw_keys(&s.ctx.db);
    assert!(
        keys.iter().all(|k| k[0] != b'h' && k[0] != b'm'),
        "no field or marker left: {keys:?}"
    );
    // FLUSHDB removes markers and keeps the layout key.
    assert_eq!(c.cmd(&["HSET", "h2", "a", "1"]), V::I(1));
    assert_eq!(c.cmd(&["FLUSHDB"]), V::ok());
    assert_eq!(raw_keys(&s.ctx.db), vec![b"f:layout".to_vec()]);
}

/// A plain SET skips the marker lookup while the database holds no hash: the
/// server must still see a hash created before a restart, and one created earlier
/// in the same pipeline.
#[test]
fn a_plain_set_finds_hashes_from_before_a_restart_and_from_its_own_pipeline() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let setup = || Setup {
        dir: Some(Arc::clone(&dir)),
        ..Setup::default()
    };
    let s = TestServer::with(setup());
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "s", "x"]), V::ok());
    assert_eq!(c.cmd(&["HSET", "h", "a", "1", "b", "2"]), V::I(2));
    s.stop();

    let s = TestServer::with(setup());
    let mut c = s.conn();
    // The first command on the reopened database.
    assert_eq!(c.cmd(&["SET", "h", "v"]), V::ok());
    assert_eq!(
        raw_keys(&s.ctx.db),
        vec![b"f:layout".to_vec(), b"kh".to_vec(), b"ks".to_vec()],
        "the hash's fields and marker are gone"
    );
    assert_eq!(c.cmd(&["FLUSHDB"]), V::ok());
    s.stop();

    // No hash at all now; one pipeline creates a hash and overwrites it.
    let s = TestServer::with(setup());
    let mut c = s.conn();
    assert_eq!(c.cmd(&["SET", "s", "x"]), V::ok());
    let mut pipeline = frame(&[b"HSET", b"g", b"a", b"1"]);
    pipeline.extend(frame(&[b"SET", b"g", b"v"]));
    pipeline.extend(frame(&[b"TYPE", b"g"]));
    c.send(&pipeline);
    assert_eq!(c.read(), V::I(1));
    assert_eq!(c.read(), V::ok());
    assert_eq!(c.read(), V::S("string".into()));
    assert_eq!(
        raw_keys(&s.ctx.db),
        vec![b"f:layout".to_vec(), b"kg".to_vec(), b"ks".to_vec()],
        "no field or marker of the overwritten hash is left"
    );
}

#[test]
fn a_layout_1_keyspace_gets_its_hash_markers_on_first_use() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    {
        // Layout 1, as docs/format/resp.md describes it: a hash record, its field
        // entries, a string record, no markers and no layout key.
        let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
        let ks = db.keyspace("redis.0").unwrap();
        let mut hash = vec![1u8, b'h'];
        hash.extend_from_slice(&0u64.to_le_bytes());
        hash.extend_from_slice(&2u64.to_le_bytes());
        ks.put(b"kh", &hash).unwrap();
        ks.put(b"h\0\0\0\x01ha", b"1").unwrap();
        ks.put(b"h\0\0\0\x01hb", b"2").unwrap();
        let mut string = vec![1u8, b's'];
        string.extend_from_slice(&0u64.to_le_bytes());
        string.extend_from_slice(b"x");
        ks.put(b"ks", &string).unwrap();
        drop(db);
    }
    let s = TestServer::with(Setup {
        dir: Some(Arc::clone(&dir)),
        ..Setup::default()
    });
    let mut c = s.conn();
    assert_eq!(c.cmd(&["HGET", "h", "a"]), V::b("1"));
    let keys = raw_keys(&s.ctx.db);
    assert!(keys.contains(&b"mh".to_vec()), "marker written: {keys:?}");
    assert!(!keys.contains(&b"ms".to_vec()));
    assert_eq!(c.cmd(&["SET", "h", "v"]), V::ok());
    assert_eq!(
        raw_keys(&s.ctx.db),
        vec![b"f:layout".to_vec(), b"kh".to_vec(), b"ks".to_vec()]
    );
}

#[test]
fn a_newer_layout_is_refused() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    {
        let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
        db.keyspace("redis.0")
            .unwrap()
            .put(b"f:layout", [9u8])
            .unwrap();
        drop(db);
    }
    let s = TestServer::with(Setup {
        dir: Some(Arc::clone(&dir)),
        ..Setup::default()
    });
    let mut c = s.conn();
    match c.cmd(&["GET", "k"]) {
        V::E(e) => assert!(e.contains("layout"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}
