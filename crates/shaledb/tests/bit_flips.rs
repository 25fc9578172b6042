//! A bit flip anywhere in any file of a closed database — WAL, tables, MANIFEST,
//! CURRENT — must give an error or a database whose every readable value is right:
//! never a panic, never a wrong value, never a silently missing key (a key may be
//! missing only if recovery reported dropping damaged log data).
//!
//! CI flips one bit in a deterministic sample of bytes of every file; set
//! `SHALE_BITFLIP_EVERY_BYTE=1` to flip every byte of every file (the long form).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use shaledb::{Db, FileSystem, MemFs, Options, WriteOptions};

/// Expected values by (keyspace, key).
type Model = BTreeMap<(String, Vec<u8>), Vec<u8>>;

fn options(fs: &MemFs) -> Options {
    Options {
        write_buffer_size: 8 * 1024,
        target_file_size: 4 * 1024,
        block_size: 512,
        background_threads: 1,
        ..Options::with_fs(Arc::new(fs.clone()))
    }
}

/// A closed database with tables (two keyspaces, a range tombstone) and a WAL tail.
fn build() -> (MemFs, Model) {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs)).unwrap();
    let other = db.keyspace("other").unwrap();
    let mut model = BTreeMap::new();
    for i in 0..400u32 {
        let k = format!("key{i:04}").into_bytes();
        let v = format!("value-{i}-{}", "x".repeat((i % 29) as usize)).into_bytes();
        db.put(&k, &v).unwrap();
        model.insert(("default".to_owned(), k.clone()), v.clone());
        if i % 3 == 0 {
            other.put(&k, &v).unwrap();
            model.insert(("other".to_owned(), k), v);
        }
    }
    db.delete_range("key0100".."key0120").unwrap();
    model.retain(|(ks, k), _| {
        !(ks == "default" && k.as_slice() >= &b"key0100"[..] && k.as_slice() < &b"key0120"[..])
    });
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    for i in 400..450u32 {
        let k = format!("key{i:04}").into_bytes();
        db.put(&k, b"tail").unwrap();
        model.insert(("default".to_owned(), k), b"tail".to_vec());
    }
    db.write(Default::default(), &WriteOptions::synced())
        .unwrap();
    drop(other);
    drop(db);
    (fs, model)
}

/// Opens the damaged image and checks what it can read.
fn check(fs: &MemFs, model: &Model, what: &str) {
    let Ok(db) = Db::open("/db", options(fs)) else {
        return; // refusing to open damaged files is fine
    };
    let dropped = !db.recovery_notes().is_empty();
    for name in ["default", "other"] {
        if !db.list_keyspaces().contains(&name.to_owned()) {
            // A damaged manifest may not recover; that must be an open error instead.
            panic!("{what}: keyspace {name} silently missing");
        }
        let ks = db.keyspace(name).unwrap();
        for ((_, k), v) in model.iter().filter(|((n, _), _)| n == name) {
            match ks.get(k) {
                Ok(Some(got)) => assert_eq!(&got[..], &v[..], "{what}: wrong value for {k:?}"),
                Ok(None) => assert!(dropped, "{what}: {name}/{k:?} silently missing"),
                Err(_) => {}
            }
        }
        for item in ks.iter() {
            match item {
                Ok((k, v)) => {
                    let want = model.get(&(name.to_owned(), k.to_vec()));
                    assert_eq!(
                        want.map(|w| &w[..]),
                        Some(&v[..]),
                        "{what}: scan returned {k:?}"
                    );
                }
                Err(_) => break,
            }
        }
    }
}

#[test]
fn a_bit_flip_in_any_file_is_an_error_or_harmless() {
    let (fs, model) = build();
    let every = std::env::var("SHALE_BITFLIP_EVERY_BYTE").is_ok_and(|v| v == "1");
    let mut names = fs.list(Path::new("/db")).unwrap();
    names.sort();
    let mut flips = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for name in names {
        if name == "LOCK" {
            continue;
        }
        let path = Path::new("/db").join(&name);
        let file = fs.open_read(&path).unwrap();
        let len = file.len() as usize;
        let mut data = vec![0u8; len];
        file.read_exact_at(0, &mut data).unwrap();
        drop(file);
        // Every byte of small files and file ends (headers, footers); a stride
        // elsewhere, so CI stays fast.
        let stride = if every { 1 } else { (len / 150).max(1) };
        let offsets: Vec<usize> = (0..len)
            .filter(|&o| o % stride == 0 || o < 64 || o + 80 > len)
            .collect();
        for off in offsets {
            let image = fs.crash_clone();
            let flipped = data[off] ^ (1 << (off % 8));
            image.corrupt(&path, off, &[flipped]).unwrap();
            check(&image, &model, &format!("{name} byte {off}"));
            flips += 1;
        }
        kinds.insert(
            name.rsplit('.')
                .next()
                .unwrap_or("")
                .to_owned()
                .replace(|c: char| c.is_ascii_digit() || c == '-', ""),
        );
    }
    // The sweep covered every kind of file.
    for kind in ["log", "sst", "MANIFEST", "CURRENT"] {
        assert!(kinds.contains(kind), "no {kind} file in {kinds:?}");
    }
    assert!(flips > 500, "{flips} flips");
}
