//! Replays the committed `db_model` fuzz corpus (`fuzz/corpus/db_model/`) through the
//! fuzz target's runner (`fuzz/model_runner.rs`, included below) on the stable
//! toolchain: each input is an operation sequence run against a `Db` on a `MemFs` and a
//! `BTreeMap` model, with clean reopens and power losses.
//!
//! `cargo test -p shaledb --test fuzz_model -- --ignored generate_seed_corpus`
//! regenerates the hand-written seeds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::disallowed_methods)] // reads the corpus directory directly

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/model_runner.rs"]
mod model_runner;

use model_runner::{MAX_OPS, Op, decode, encode, run, run_bytes};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/db_model")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .into_iter()
        .flatten()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn db_model_corpus() {
    let files = corpus();
    for (name, data) in &files {
        eprintln!("{name}");
        run_bytes(data);
    }
    assert!(
        files.len() >= 4,
        "expected a seed corpus in fuzz/corpus/db_model, found {}",
        files.len()
    );
}

#[test]
fn decoder_edge_cases() {
    assert!(decode(b"").is_empty());
    assert_eq!(decode(&[0xff; 10_000]).len(), MAX_OPS);
    for (_, ops) in seeds() {
        assert_eq!(decode(&encode(&ops)), ops);
    }
    run_bytes(b"");
    run_bytes(&[19]); // a crash cut off after its tag
}

fn writes(n: u8, sync_every: u8) -> Vec<Op> {
    (0..n)
        .map(|i| {
            Op::Put(
                i % 30,
                i.wrapping_mul(37),
                sync_every != 0 && i % sync_every == 0,
            )
        })
        .collect()
}

fn seeds() -> Vec<(&'static str, Vec<Op>)> {
    let mut crash_each_policy = writes(20, 7);
    for p in 0..3 {
        crash_each_policy.push(Op::Delete(3, false));
        crash_each_policy.push(Op::Batch(
            vec![(4, Some(9)), (5, None), (6, Some(200))],
            false,
        ));
        crash_each_policy.push(Op::Crash(p, 0x1234 + u64::from(p)));
        crash_each_policy.push(Op::Scan(None, None, p == 1));
    }
    let mut flush_compact = writes(30, 0);
    flush_compact.extend([
        Op::TakeSnapshot,
        Op::Flush,
        Op::Delete(1, false),
        Op::CompactRange(None, None),
        Op::CheckSnapshot(0),
        Op::Scan(Some(3), Some(20), true),
        Op::Prefix(1, false),
        Op::Get(1),
        Op::Reopen,
        Op::Get(2),
    ]);
    let mut reopen = writes(10, 3);
    reopen.extend([Op::SyncWal, Op::Reopen, Op::Scan(None, None, false)]);
    reopen.extend(writes(10, 0));
    reopen.extend([Op::Crash(2, 99), Op::Scan(None, None, true)]);
    let mut merges = vec![Op::PutCounter(0, 40), Op::Merge(0, 2), Op::Merge(1, -7)];
    merges.extend([Op::Flush, Op::Merge(0, 1), Op::SyncWal, Op::Merge(1, 3)]);
    merges.extend([
        Op::Crash(1, 7),
        Op::CompactRange(None, None),
        Op::Merge(0, -1),
    ]);
    merges.extend([Op::Reopen, Op::Scan(None, None, false)]);
    vec![
        ("crash_each_policy.ops", crash_each_policy),
        ("counters_merge.ops", merges),
        ("flush_compact_snapshot.ops", flush_compact),
        ("reopen_then_crash.ops", reopen),
    ]
}

#[test]
fn seeds_are_current() {
    for (_, ops) in seeds() {
        run(&ops);
    }
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand"]
fn generate_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, ops) in seeds() {
        std::fs::write(dir.join(name), encode(&ops)).unwrap();
    }
    std::fs::write(dir.join("garbage.bin"), b"\x13\x02garbage input\xff\x00").unwrap();
}
