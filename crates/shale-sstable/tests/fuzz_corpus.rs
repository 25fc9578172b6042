//! Replays the committed fuzz corpora through the fuzz targets' code path on the
//! stable toolchain, so every seed and every past crash stays covered by `cargo test`.
//!
//! `cargo test -p shale-sstable --test fuzz_corpus -- --ignored` regenerates the
//! valid seed tables in `fuzz/corpus/table_reader/`. The five seeds without range
//! tombstones committed there are format version 1 tables (also kept, as fixtures, in
//! `tests/data/v1/`); regenerating rewrites them as the current version, so restore
//! them (`git checkout`) unless that is what you want.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use shale_fs::{FileSystem, MemFs, StdFs};
use shale_sstable::fuzzing::{fix_checksums, fuzz_block, fuzz_table};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let fs = StdFs::new();
    let dir = corpus_dir(target);
    let names = fs.list(&dir).unwrap_or_default();
    for name in &names {
        let data = fs.read_all(&dir.join(name)).unwrap();
        run(&data);
    }
    names.len()
}

#[test]
fn table_reader_corpus() {
    let n = replay("table_reader", fuzz_table);
    assert!(
        n >= 5,
        "expected a seed corpus in fuzz/corpus/table_reader, found {n} files"
    );
}

#[test]
fn block_reader_corpus() {
    replay("block_reader", fuzz_block);
}

#[test]
fn garbage_and_edge_inputs() {
    for data in [
        &b""[..],
        b"x",
        &[0u8; 64],
        &[0xff; 100],
        &shale_sstable::TABLE_MAGIC,
    ] {
        fuzz_table(data);
        fuzz_block(data);
    }
}

fn seed_tables() -> Vec<(&'static str, Vec<u8>)> {
    let fs = MemFs::new();
    seed_specs()
        .into_iter()
        .map(|(name, entries, ranges, opts)| {
            let (path, _) = write_table_with_ranges(&fs, name, &entries, &ranges, opts);
            (name, fs.read_all(&path).unwrap())
        })
        .collect()
}

#[test]
fn seed_tables_are_current() {
    // The generated seeds must open and verify with this build, so the corpus keeps
    // starting the fuzzer from valid tables.
    for (name, data) in seed_tables() {
        fuzz_table(&data);
        let fs = MemFs::new();
        fs.create_dir_all(dir()).unwrap();
        let path = dir().join(name);
        let mut f = fs.create(&path).unwrap();
        f.append(&data).unwrap();
        drop(f);
        assert!(shale_sstable::check_file(&fs, &path).is_empty(), "{name}");
    }
}

/// Damage behind a recomputed checksum reaches the block decoders: it must still
/// never panic, and must not be reported as a checksum error.
#[test]
fn damage_behind_fixed_checksums() {
    for (name, good) in seed_tables() {
        assert_eq!(
            fix_checksums(&good),
            None,
            "{name}: seeds already have valid crcs"
        );
        for i in (0..good.len()).step_by(3) {
            let mut bad = good.clone();
            bad[i] ^= 0x5a;
            fuzz_table(&bad);
        }
    }
    let (_, good) = seed_tables().swap_remove(3); // raw blocks: byte 3 is in a key
    let mut bad = good.clone();
    bad[3] ^= 0x01;
    let fixed = fix_checksums(&bad).unwrap();
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("fixed.sst");
    let mut f = fs.create(&path).unwrap();
    f.append(&fixed).unwrap();
    drop(f);
    let problems = shale_sstable::check_file(&fs, &path);
    assert!(
        !problems.is_empty(),
        "a changed key breaks order or the filter"
    );
    for p in problems {
        assert!(p.is_corruption());
        assert!(!p.to_string().contains("checksum"), "{p}");
    }
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand"]
fn generate_seed_corpus() {
    let fs = StdFs::new();
    let dir = corpus_dir("table_reader");
    fs.create_dir_all(&dir).unwrap();
    for (name, data) in seed_tables() {
        let mut f = fs.create(&dir.join(name)).unwrap();
        f.append(&data).unwrap();
        f.sync_data().unwrap();
    }
    let garbage: [(&str, Vec<u8>); 2] = [
        ("garbage_short.bin", b"not a table at all".to_vec()),
        (
            "garbage_magic_only.bin",
            [vec![0x5a; 56], shale_sstable::TABLE_MAGIC.to_vec()].concat(),
        ),
    ];
    for (name, data) in garbage {
        let mut f = fs.create(&dir.join(name)).unwrap();
        f.append(&data).unwrap();
    }
    // Block corpus: the decoded first data block of a table, and an empty block.
    let bdir = corpus_dir("block_reader");
    fs.create_dir_all(&bdir).unwrap();
    let mut b = shale_sstable::block::BlockBuilder::new(4);
    for (k, v) in sample_entries(20) {
        b.add(&k, &v);
    }
    let mut f = fs.create(&bdir.join("block20.bin")).unwrap();
    f.append(b.finish()).unwrap();
    b.reset();
    let mut f = fs.create(&bdir.join("empty.bin")).unwrap();
    f.append(b.finish()).unwrap();
}
