//! Compaction filters: remove or change values as compaction rewrites them, never
//! visibly to snapshots, never resurrecting older versions.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use shaledb::{CompactionFilter, Db, FilterDecision, MemFs, Options};

#[derive(Debug)]
struct Cleanup;

impl CompactionFilter for Cleanup {
    fn name(&self) -> &str {
        "test.cleanup"
    }
    fn filter(&self, key: &[u8], value: &[u8]) -> FilterDecision {
        if key.starts_with(b"tmp:") || value == b"drop-me" {
            FilterDecision::Remove
        } else if key.starts_with(b"up:") {
            FilterDecision::ChangeValue(value.to_ascii_uppercase())
        } else if key.starts_with(b"bad:") {
            #[allow(clippy::panic)]
            {
                panic!("filter bug")
            }
        } else {
            FilterDecision::Keep
        }
    }
}

fn open(fs: &MemFs) -> Db {
    Db::open(
        "/db",
        Options {
            compaction_filter: Some(Arc::new(Cleanup)),
            ..common::tiny_lsm_options(fs)
        },
    )
    .unwrap()
}

fn get(db: &Db, k: &str) -> Option<String> {
    db.get(k)
        .unwrap()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
}

#[test]
fn removes_and_changes_values_during_compaction() {
    let fs = MemFs::new();
    let db = open(&fs);
    for i in 0..200 {
        db.put(format!("tmp:{i}"), "scratch").unwrap();
        db.put(format!("up:{i}"), "quiet").unwrap();
        db.put(format!("keep:{i}"), "as is").unwrap();
    }
    db.put("bad:1", "survives a panicking filter").unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(get(&db, "tmp:5"), None);
    assert_eq!(db.prefix("tmp:").count(), 0);
    assert_eq!(get(&db, "up:5").as_deref(), Some("QUIET"));
    assert_eq!(get(&db, "keep:5").as_deref(), Some("as is"));
    assert_eq!(
        get(&db, "bad:1").as_deref(),
        Some("survives a panicking filter")
    );
    assert_eq!(db.stats().background_errors, 0);
}

#[test]
fn snapshots_never_see_filtering_and_old_versions_never_return() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.put("k", "keep-old").unwrap();
    db.put("up:x", "before").unwrap();
    db.compact_range::<&[u8], _>(..).unwrap(); // "up:x" -> "BEFORE" (no snapshot yet)
    let snap = db.snapshot();
    db.put("up:x", "after").unwrap();
    db.put("k", "drop-me").unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    // The latest versions were filtered; the snapshot still sees what it saw.
    assert_eq!(get(&db, "up:x").as_deref(), Some("AFTER"));
    assert_eq!(snap.get("up:x").unwrap().as_deref(), Some(&b"BEFORE"[..]));
    // "drop-me" became a tombstone: the older "keep-old" does not come back.
    assert_eq!(get(&db, "k"), None);
    assert_eq!(snap.get("k").unwrap().as_deref(), Some(&b"keep-old"[..]));
    drop(snap);
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(get(&db, "k"), None);
}
