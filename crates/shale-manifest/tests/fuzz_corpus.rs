//! Replays the committed `version_edit` and `manifest_recover` fuzz corpora through the
//! fuzz targets' code path (`shale_manifest::fuzzing`) on the stable toolchain, so every
//! seed and every past finding stays covered by `cargo test`.
//!
//! `cargo test -p shale-manifest --test fuzz_corpus -- --ignored generate_seed_corpus`
//! regenerates the valid seeds in `fuzz/corpus/{version_edit,manifest_recover}/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use shale_core::ValueKind;
use shale_core::key::make_internal_key;
use shale_fs::{FileSystem, MemFs, StdFs};
use shale_manifest::fuzzing::{encode_recover_input, fuzz_manifest_recover, fuzz_version_edit};
use shale_manifest::{CURRENT_FILE, FileMeta, VersionEdit, VersionSet, manifest_path};

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
fn version_edit_corpus() {
    let n = replay("version_edit", fuzz_version_edit);
    assert!(
        n >= 4,
        "expected a seed corpus in fuzz/corpus/version_edit, found {n}"
    );
}

#[test]
fn manifest_recover_corpus() {
    let n = replay("manifest_recover", fuzz_manifest_recover);
    assert!(
        n >= 4,
        "expected a seed corpus in fuzz/corpus/manifest_recover, found {n}"
    );
}

#[test]
fn garbage_and_edge_inputs() {
    for data in [
        &b""[..],
        b"x",
        &[0u8; 64],
        &[0xff; 100],
        &[0x80, 0xff, b'M'],
    ] {
        fuzz_version_edit(data);
        fuzz_manifest_recover(data);
    }
}

fn file(number: u64, lo: &str, hi: &str, seq: u64) -> FileMeta {
    FileMeta {
        number,
        size: 1000 + number,
        smallest: make_internal_key(lo.as_bytes(), seq, ValueKind::Value),
        largest: make_internal_key(hi.as_bytes(), seq, ValueKind::Delete),
        smallest_seqno: seq,
        largest_seqno: seq,
        num_entries: 10,
        num_deletions: 1,
    }
}

fn edits() -> Vec<(&'static str, VersionEdit)> {
    let mut add = VersionEdit::for_keyspace(0);
    add.log_number = Some(4);
    add.next_file_number = Some(12);
    add.last_seqno = Some(500);
    add.add_file(0, file(10, "a", "m", 400));
    add.add_file(1, file(11, "n", "z", 300));
    let mut compact = VersionEdit::for_keyspace(0);
    compact.delete_file(0, 10);
    compact.delete_file(1, 11);
    compact.add_file(2, file(12, "a", "z", 400));
    compact
        .compact_pointers
        .push((1, make_internal_key(b"n", 300, ValueKind::Value)));
    let mut ks = VersionEdit::for_keyspace(3);
    ks.add_keyspace = Some((3, "users".to_owned()));
    ks.max_keyspace_id = Some(3);
    let mut drop_ks = VersionEdit::for_keyspace(3);
    drop_ks.drop_keyspace = Some(3);
    vec![
        ("empty.edit", VersionEdit::default()),
        ("add_files.edit", add),
        ("compaction.edit", compact),
        ("add_keyspace.edit", ks),
        ("drop_keyspace.edit", drop_ks),
    ]
}

/// A real manifest: created, then edited through `log_and_apply` (flush, compaction,
/// keyspace created and dropped); returns (manifest number, manifest bytes).
fn real_manifest(num_levels: usize) -> (u64, Vec<u8>) {
    let fs = MemFs::new();
    let dir = Path::new("/db");
    fs.create_dir_all(dir).unwrap();
    let shared: Arc<dyn FileSystem> = Arc::new(fs.clone());
    let mut vs = VersionSet::create_new(shared, dir, num_levels).unwrap();
    vs.set_last_seqno(100);
    let n1 = vs.new_file_number();
    let mut e = VersionEdit::for_keyspace(0);
    e.add_file(0, file(n1, "a", "k", 90));
    vs.log_and_apply(e).unwrap();
    let n2 = vs.new_file_number();
    let mut e = VersionEdit::for_keyspace(0);
    e.add_file(0, file(n2, "c", "z", 100));
    vs.log_and_apply(e).unwrap();
    let n3 = vs.new_file_number();
    let mut e = VersionEdit::for_keyspace(0);
    e.delete_file(0, n1);
    e.delete_file(0, n2);
    e.add_file(1, file(n3, "a", "z", 100));
    vs.log_and_apply(e).unwrap();
    let id = vs.next_keyspace_id();
    let mut e = VersionEdit::for_keyspace(id);
    e.add_keyspace = Some((id, "users".to_owned()));
    vs.log_and_apply(e).unwrap();
    let number = vs.manifest_file_number();
    drop(vs);
    let current = fs.read_all(&dir.join(CURRENT_FILE)).unwrap();
    assert_eq!(current, format!("MANIFEST-{number:06}\n").into_bytes());
    (number, fs.read_all(&manifest_path(dir, number)).unwrap())
}

fn recover_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let (_, m4) = real_manifest(4);
    let (_, m7) = real_manifest(7);
    let mut torn = m4.clone();
    torn.truncate(torn.len() - 3);
    vec![
        ("real_4_levels.bin", encode_recover_input(4, None, &m4)),
        ("real_7_levels.bin", encode_recover_input(7, None, &m7)),
        ("torn_tail.bin", encode_recover_input(4, None, &torn)),
        ("too_few_levels.bin", encode_recover_input(1, None, &m4)),
        (
            "raw_current_ok.bin",
            encode_recover_input(4, Some(b"MANIFEST-000001\n"), &m4),
        ),
        (
            "raw_current_missing.bin",
            encode_recover_input(4, Some(b"MANIFEST-000009\n"), &m4),
        ),
        (
            "raw_current_no_newline.bin",
            encode_recover_input(4, Some(b"MANIFEST-000001"), &m4),
        ),
        ("empty_manifest.bin", encode_recover_input(4, None, b"")),
        ("garbage.bin", b"\x03not a manifest at all".to_vec()),
    ]
}

#[test]
fn seeds_are_current() {
    for (name, e) in edits() {
        assert_eq!(VersionEdit::decode(&e.encode()).unwrap(), e, "{name}");
        fuzz_version_edit(&e.encode());
    }
    for (_, data) in recover_seeds() {
        fuzz_manifest_recover(&data);
    }
    // The real manifest recovers (under the fuzz target's manifest number).
    let (_, m) = real_manifest(4);
    let fs = MemFs::new();
    let dir = Path::new("/db");
    fs.create_dir_all(dir).unwrap();
    for (path, bytes) in [
        (dir.join(CURRENT_FILE), &b"MANIFEST-000001\n"[..]),
        (manifest_path(dir, 1), &m),
    ] {
        let mut f = fs.create(&path).unwrap();
        f.append(bytes).unwrap();
    }
    let vs = VersionSet::recover(Arc::new(fs), dir, 4).unwrap();
    assert_eq!(vs.keyspaces().len(), 2);
    assert_eq!(vs.current(0).files(1).len(), 1);
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand"]
fn generate_seed_corpus() {
    let fs = StdFs::new();
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = corpus_dir(target);
        fs.create_dir_all(&dir).unwrap();
        let mut f = fs.create(&dir.join(name)).unwrap();
        f.append(data).unwrap();
        f.sync_data().unwrap();
    };
    for (name, e) in edits() {
        write("version_edit", name, &e.encode());
    }
    write(
        "version_edit",
        "garbage.bin",
        b"\x01\x02\xff\xff\xff\xff\xff",
    );
    for (name, data) in recover_seeds() {
        write("manifest_recover", name, &data);
    }
}
