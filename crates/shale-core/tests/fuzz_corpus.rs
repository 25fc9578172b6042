//! Replays the committed `write_batch` fuzz corpus through the fuzz target's check
//! (`fuzz/batch_check.rs`, included below) on the stable toolchain, so every seed and
//! every past finding stays covered by `cargo test`.
//!
//! `cargo test -p shale-core --test fuzz_corpus -- --ignored generate_seed_corpus`
//! regenerates the valid seeds in `fuzz/corpus/write_batch/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// shale-core sits below shale-fs, so this test reads the corpus with std::fs.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use shale_core::{ValueKind, WriteBatch};

#[path = "../../../fuzz/batch_check.rs"]
mod batch_check;

use batch_check::check_batch;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/write_batch")
}

#[test]
fn write_batch_corpus() {
    let mut n = 0;
    for entry in std::fs::read_dir(corpus_dir()).into_iter().flatten() {
        let path = entry.unwrap().path();
        check_batch(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(
        n >= 4,
        "expected a seed corpus in fuzz/corpus/write_batch, found {n} files"
    );
}

#[test]
fn garbage_and_edge_inputs() {
    for data in [&b""[..], b"x", &[0u8; 12], &[0u8; 64], &[0xff; 100]] {
        check_batch(data);
    }
}

fn seeds() -> Vec<(&'static str, WriteBatch)> {
    let mut one = WriteBatch::new();
    one.put("key", "value");
    one.set_seq(7);
    let mut mixed = WriteBatch::new();
    mixed
        .put("a", "1")
        .delete("b")
        .put("", "")
        .put("c", vec![0xffu8; 200]);
    mixed.push(ValueKind::Value, 3, b"in-keyspace-3", Some(b"v"));
    mixed.push(ValueKind::Delete, 300, b"big-keyspace-id", None);
    mixed.push(ValueKind::Merge, 0, b"counter", Some(b"+1"));
    mixed.push(ValueKind::RangeDelete, 0, b"from", Some(b"to"));
    mixed.set_seq(u64::MAX >> 8);
    vec![
        ("empty.batch", WriteBatch::new()),
        ("one_put.batch", one),
        ("mixed.batch", mixed),
    ]
}

#[test]
fn seeds_are_current() {
    for (name, b) in seeds() {
        assert_eq!(WriteBatch::from_bytes(b.as_bytes()).unwrap(), b, "{name}");
        check_batch(b.as_bytes());
    }
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand"]
fn generate_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, b) in seeds() {
        std::fs::write(dir.join(name), b.as_bytes()).unwrap();
    }
    // A header claiming 2 writes with 1, and a bad kind byte.
    let mut short = seeds()[1].1.as_bytes().to_vec();
    short[8] = 2;
    std::fs::write(dir.join("count_mismatch.bin"), short).unwrap();
    let mut bad_kind = seeds()[1].1.as_bytes().to_vec();
    bad_kind[12] = 0x7f;
    std::fs::write(dir.join("bad_kind.bin"), bad_kind).unwrap();
}
