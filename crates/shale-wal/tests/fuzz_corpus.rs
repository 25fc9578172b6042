//! Replays the committed `wal_reader` fuzz corpus through the fuzz target's code path
//! (`shale_wal::fuzzing::fuzz_wal`) on the stable toolchain, so every seed and every
//! past finding stays covered by `cargo test`.
//!
//! `cargo test -p shale-wal --test fuzz_corpus -- --ignored generate_seed_corpus`
//! regenerates the valid seeds in `fuzz/corpus/wal_reader/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use shale_core::WriteBatch;
use shale_fs::{FileSystem, MemFs, StdFs};
use shale_wal::fuzzing::{fix_checksums, fuzz_wal, verify_record};
use shale_wal::{LogKind, LogReader, LogWriter, RecoveryMode};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn wal_reader_corpus() {
    let fs = StdFs::new();
    let dir = corpus_dir("wal_reader");
    let names = fs.list(&dir).unwrap_or_default();
    for name in &names {
        let data = fs.read_all(&dir.join(name)).unwrap();
        fuzz_wal(&data);
    }
    assert!(
        names.len() >= 5,
        "expected a seed corpus in fuzz/corpus/wal_reader, found {} files",
        names.len()
    );
}

#[test]
fn garbage_and_edge_inputs() {
    for data in [&b""[..], b"x", &[0u8; 64], &[0xff; 100], b"SHALEWAL"] {
        fuzz_wal(data);
    }
}

fn batch(i: usize, value_len: usize) -> Vec<u8> {
    let mut b = WriteBatch::new();
    b.put(format!("key{i}"), vec![b'a' + (i % 26) as u8; value_len]);
    if i.is_multiple_of(3) {
        b.delete(format!("gone{i}"));
    }
    b.set_seq(100 + i as u64);
    b.as_bytes().to_vec()
}

/// A log written by `LogWriter` with one record per payload.
fn write_log(kind: LogKind, payloads: &[Vec<u8>]) -> Vec<u8> {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/s")).unwrap();
    let path = Path::new("/s/000003.log");
    let mut w = LogWriter::create(&fs, path, kind, 3).unwrap();
    for p in payloads {
        w.add_record(p).unwrap();
    }
    w.sync().unwrap();
    drop(w);
    fs.read_all(path).unwrap()
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let small: Vec<_> = (0..6).map(|i| batch(i, 10 * i)).collect();
    // Record 1 spans two blocks (FIRST + LAST), the others are FULL; a block tail of
    // fewer than 7 bytes is zero padding.
    let spanning = write_log(
        LogKind::Wal,
        &[batch(0, 200), batch(1, 33_000), batch(2, 40)],
    );
    let mut torn = write_log(LogKind::Wal, &small);
    torn.truncate(torn.len() - 5);
    let mut flipped = write_log(LogKind::Wal, &small);
    flipped[60] ^= 0x10;
    vec![
        ("empty.log", Vec::new()),
        ("header_only.log", write_log(LogKind::Wal, &[])),
        ("small_batches.log", write_log(LogKind::Wal, &small)),
        ("spanning_blocks.log", spanning),
        ("torn_tail.log", torn),
        ("bit_flip.log", flipped),
        (
            "manifest_kind.log",
            write_log(LogKind::Manifest, &[b"edit-1".to_vec(), Vec::new()]),
        ),
        (
            "garbage_text.bin",
            b"this is not a ShaleDB log file".to_vec(),
        ),
        ("garbage_zeros.bin", vec![0u8; 300]),
    ]
}

/// The generated seeds are valid logs (or damaged in the intended way) with this build.
#[test]
fn seeds_are_current() {
    for (name, data) in seeds() {
        fuzz_wal(&data);
        assert_eq!(fix_checksums(&data).len(), data.len(), "{name}");
    }
    let (_, spanning) = seeds().swap_remove(3);
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/s")).unwrap();
    let path = Path::new("/s/1.log");
    let mut f = fs.create(path).unwrap();
    f.append(&spanning).unwrap();
    drop(f);
    let mut r =
        LogReader::open(&fs, path, LogKind::Wal, RecoveryMode::AbsoluteConsistency).unwrap();
    let mut n = 0;
    while let Some((offset, payload)) = r.next_record().unwrap() {
        assert!(verify_record(&spanning, offset, &payload));
        WriteBatch::from_bytes(&payload).unwrap();
        n += 1;
    }
    assert_eq!(n, 3);
    assert!(spanning.len() > shale_wal::BLOCK_SIZE);
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand"]
fn generate_seed_corpus() {
    let fs = StdFs::new();
    let dir = corpus_dir("wal_reader");
    fs.create_dir_all(&dir).unwrap();
    for (name, data) in seeds() {
        let mut f = fs.create(&dir.join(name)).unwrap();
        f.append(&data).unwrap();
        f.sync_data().unwrap();
    }
}
