//! TableBuilder behaviour, properties, dump and check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use shale_core::key::make_internal_key;
use shale_core::{Error, InternalIterator, LookupKey, ValueKind};
use shale_fs::{FileSystem, MemFs};
use shale_sstable::{Compression, DumpOptions, TableBuilder, TableOptions, check_file, dump};

#[test]
fn out_of_order_keys_are_rejected_and_builder_stays_usable() {
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("1.sst");
    let mut b = TableBuilder::new(fs.create(&path).unwrap(), &path, TableOptions::default());
    let k = |u: &[u8], s| make_internal_key(u, s, ValueKind::Value);
    b.add(&k(b"b", 5), b"b5").unwrap();
    let size = b.estimated_size();
    // Smaller user key, same key again, older-first order of one user key.
    for bad in [k(b"a", 9), k(b"b", 5), k(b"b", 6)] {
        assert!(matches!(b.add(&bad, b"x"), Err(Error::InvalidArgument(_))));
    }
    // Malformed internal keys.
    assert!(matches!(
        b.add(b"short", b""),
        Err(Error::InvalidArgument(_))
    ));
    let mut unknown_kind = k(b"c", 1);
    let n = unknown_kind.len();
    unknown_kind[n - 8] = 0x99;
    assert!(matches!(
        b.add(&unknown_kind, b""),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(b.estimated_size(), size);
    assert_eq!(b.num_entries(), 1);
    b.add(&k(b"b", 4), b"b4").unwrap();
    b.add(&k(b"c", 1), b"c1").unwrap();
    let meta = b.finish().unwrap();
    assert_eq!(meta.num_entries, 3);
    let table = open(&fs, &path, None).unwrap();
    assert_eq!(scan(&table).unwrap().len(), 3);
}

#[test]
fn empty_table() {
    let fs = MemFs::new();
    let (path, meta) = write_table(&fs, "1.sst", &Vec::new(), TableOptions::default());
    assert_eq!(meta.num_entries, 0);
    assert!(meta.smallest_key.is_empty());
    let table = open(&fs, &path, None).unwrap();
    assert!(scan(&table).unwrap().is_empty());
    let mut it = table.iter();
    it.seek_to_last();
    assert!(!it.valid());
    it.seek(b"anything0000000");
    assert!(!it.valid());
    it.seek_for_prev(b"anything0000000");
    assert!(!it.valid());
    assert!(it.status().is_ok());
    assert_eq!(
        table.get(LookupKey::new(b"k", 1).internal_key()).unwrap(),
        None
    );
    assert!(table.verify().is_empty());
}

#[test]
fn properties_and_meta() {
    let fs = MemFs::new();
    let entries = sample_entries(500);
    let opts = TableOptions {
        creation_time: 1_700_000_000,
        ..TableOptions::default()
    };
    let (path, meta) = write_table(&fs, "1.sst", &entries, opts);
    let p = &meta.properties;
    assert_eq!(meta.file_size, fs.file_size(&path).unwrap());
    assert_eq!(p.num_entries, 500);
    assert_eq!(
        p.num_deletions,
        entries
            .iter()
            .filter(|e| shale_core::key::kind_byte_of(&e.0) == ValueKind::Delete as u8)
            .count() as u64
    );
    assert_eq!(
        p.raw_key_bytes,
        entries.iter().map(|e| e.0.len() as u64).sum::<u64>()
    );
    assert_eq!(
        p.raw_value_bytes,
        entries.iter().map(|e| e.1.len() as u64).sum::<u64>()
    );
    assert_eq!(p.smallest_key, entries[0].0);
    assert_eq!(p.largest_key, entries[499].0);
    assert_eq!((meta.smallest_seqno, meta.largest_seqno), (0, 509));
    assert_eq!(p.creation_time, 1_700_000_000);
    assert_eq!(p.compression, Compression::Lz4);
    assert_eq!(p.filter_bits_per_key, 10);
    assert_eq!(p.filter_policy, "shale.blocked_bloom.v1");
    assert!(p.num_data_blocks > 3);
    let table = open(&fs, &path, None).unwrap();
    assert_eq!(table.properties(), p);
    assert!(table.memory_usage() > 0);
    assert!(table.may_contain(b"user000001"));
    assert!(!table.may_contain(b"definitely-not-there"));
}

#[test]
fn no_filter_and_no_compression() {
    let fs = MemFs::new();
    let entries = sample_entries(200);
    let opts = TableOptions {
        bloom_bits_per_key: 0,
        compression: Compression::None,
        block_restart_interval: 1,
        ..TableOptions::default()
    };
    let (path, meta) = write_table(&fs, "1.sst", &entries, opts);
    assert_eq!(meta.properties.filter_policy, "");
    assert_eq!(meta.properties.filter_size, 0);
    let table = open(&fs, &path, None).unwrap();
    assert!(table.footer().filter.is_none());
    assert!(table.may_contain(b"anything"));
    assert_eq!(scan(&table).unwrap(), entries);
}

#[test]
fn compression_makes_files_smaller() {
    let fs = MemFs::new();
    let entries = sample_entries(2000);
    let (_, lz4) = write_table(&fs, "1.sst", &entries, TableOptions::default());
    let none_opts = TableOptions {
        compression: Compression::None,
        ..TableOptions::default()
    };
    let (_, raw) = write_table(&fs, "2.sst", &entries, none_opts);
    assert!(
        lz4.file_size < raw.file_size * 3 / 4,
        "{} vs {}",
        lz4.file_size,
        raw.file_size
    );
}

#[test]
fn estimated_size_tracks_file_growth() {
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("1.sst");
    let opts = TableOptions {
        compression: Compression::None,
        ..TableOptions::default()
    };
    let mut b = TableBuilder::new(fs.create(&path).unwrap(), &path, opts);
    let mut last = 0;
    for (k, v) in sample_entries(3000) {
        b.add(&k, &v).unwrap();
        assert!(b.estimated_size() >= last);
        last = b.estimated_size();
    }
    let meta = b.finish().unwrap();
    assert!(last <= meta.file_size && meta.file_size < last + last / 4);
}

#[test]
fn abandon_leaves_file_for_caller() {
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("1.sst");
    let mut b = TableBuilder::new(fs.create(&path).unwrap(), &path, TableOptions::default());
    for (k, v) in sample_entries(100) {
        b.add(&k, &v).unwrap();
    }
    b.abandon();
    assert!(fs.exists(&path));
    assert!(open(&fs, &path, None).unwrap_err().is_corruption());
}

#[test]
fn builder_memory_is_bounded() {
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("1.sst");
    let mut b = TableBuilder::new(fs.create(&path).unwrap(), &path, TableOptions::default());
    let value = vec![7u8; 1000];
    for i in 0..20_000u32 {
        let k = make_internal_key(format!("key{i:08}").as_bytes(), 1, ValueKind::Value);
        b.add(&k, &value).unwrap();
    }
    // 20 MB of values; the builder holds a block, index entries and 8 B per key.
    assert!(b.memory_usage() < 1 << 20, "{}", b.memory_usage());
    b.finish().unwrap();
}

#[test]
fn dump_prints_everything() {
    let fs = MemFs::new();
    let entries = sorted(vec![
        (
            make_internal_key(b"apple", 3, ValueKind::Value),
            b"red\n".to_vec(),
        ),
        (make_internal_key(b"apple", 2, ValueKind::Delete), vec![]),
        (
            make_internal_key(b"b\xff", 1, ValueKind::Value),
            b"x".to_vec(),
        ),
    ]);
    let (path, _) = write_table(&fs, "1.sst", &entries, TableOptions::default());
    let mut out = Vec::new();
    dump(
        &fs,
        &path,
        &mut out,
        DumpOptions {
            blocks: true,
            hex: false,
        },
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "format_version: 2",
        "entries: 3",
        "deletions: 1",
        "block 0: offset 0",
        "\"apple\" @ 3 : Value => \"red\\x0a\"",
        "\"apple\" @ 2 : Delete => \"\"",
        "\"b\\xff\" @ 1 : Value => \"x\"",
        "index:",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let mut out = Vec::new();
    dump(
        &fs,
        &path,
        &mut out,
        DumpOptions {
            blocks: false,
            hex: true,
        },
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("6170706c65 @ 3 : Value => 7265640a"),
        "{text}"
    );
}

#[test]
fn check_file_reports_damage_with_offsets() {
    let fs = MemFs::new();
    let entries = sample_entries(300);
    let opts = TableOptions {
        block_size: 512,
        ..TableOptions::default()
    };
    let (path, _) = write_table(&fs, "1.sst", &entries, opts);
    assert!(check_file(&fs, &path).is_empty());
    let table = open(&fs, &path, None).unwrap();
    // Damage two data blocks: both are reported, with their offsets.
    let mut it = table.index_iter();
    it.seek_to_first();
    let mut offsets = Vec::new();
    while it.valid() {
        offsets.push(
            shale_sstable::BlockHandle::decode_exact(it.value())
                .unwrap()
                .offset,
        );
        it.next();
    }
    let (a, b) = (offsets[1], offsets[3]);
    fs.corrupt(&path, a as usize + 2, b"\xee").unwrap();
    fs.corrupt(&path, b as usize + 5, b"\xee").unwrap();
    let problems = check_file(&fs, &path);
    let found: Vec<u64> = problems
        .iter()
        .map(|e| match e {
            Error::Corruption { offset, .. } => *offset,
            e => panic!("{e}"),
        })
        .collect();
    assert_eq!(found, vec![a, b], "{problems:?}");
    assert!(!check_file(&fs, &dir().join("missing.sst")).is_empty());
}
