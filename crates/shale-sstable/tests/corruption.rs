//! Damaged files: every read either returns the right data or `Error::Corruption`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use shale_core::key::user_key;
use shale_core::{Error, InternalIterator, LookupKey};
use shale_fs::{FileSystem, MemFs};
use shale_sstable::block::BlockBuilder;
use shale_sstable::{
    BlockHandle, Compression, FOOTER_LEN, Footer, TableOptions, block_checksum, check_file,
};

fn assert_corruption<T: std::fmt::Debug>(r: &shale_core::Result<T>, path: &Path) {
    match r {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, path),
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// Opens `bytes` as a table and checks that every read is right or reports corruption.
/// Returns true if damage was detected somewhere.
fn check_damaged(bytes: &[u8], entries: &Entries) -> bool {
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("000009.sst");
    let mut f = fs.create(&path).unwrap();
    f.append(bytes).unwrap();
    drop(f);
    let table = match open(&fs, &path, None) {
        Ok(t) => t,
        Err(e) => {
            assert_corruption::<()>(&Err(e), &path);
            return true;
        }
    };
    let mut detected = false;
    match scan(&table) {
        Ok(v) => assert_eq!(&v, entries, "forward scan returned wrong data"),
        Err(e) => {
            assert_corruption::<()>(&Err(e), &path);
            detected = true;
        }
    }
    match scan_rev(&table) {
        Ok(v) => assert_eq!(&v, entries, "reverse scan returned wrong data"),
        Err(e) => {
            assert_corruption::<()>(&Err(e), &path);
            detected = true;
        }
    }
    let lookups = entries.iter().map(|e| user_key(&e.0).to_vec()).chain([
        b"absent".to_vec(),
        b"user000003x".to_vec(),
        Vec::new(),
    ]);
    for k in lookups {
        for seq in [0, 12, shale_core::MAX_SEQNO] {
            let lk = LookupKey::new(&k, seq);
            match table.get(lk.internal_key()) {
                Ok(got) => assert_eq!(
                    got.map(|(k, v)| (k, v.to_vec())),
                    model_get(entries, lk.internal_key()),
                    "get returned wrong data"
                ),
                Err(e) => {
                    assert_corruption::<()>(&Err(e), &path);
                    detected = true;
                }
            }
        }
    }
    let problems = table.verify();
    for p in &problems {
        assert_corruption::<()>(&Err(p.clone()), &path);
    }
    detected || !problems.is_empty()
}

fn small_table(compression: Compression) -> (Vec<u8>, Entries) {
    let entries = sample_entries(60);
    let fs = MemFs::new();
    let opts = TableOptions {
        block_size: 200,
        compression,
        ..TableOptions::default()
    };
    let (path, meta) = write_table(&fs, "1.sst", &entries, opts);
    assert!(meta.properties.num_data_blocks >= 5);
    (fs.read_all(&path).unwrap(), entries)
}

#[test]
fn every_byte_flip_is_detected() {
    let mut rng = StdRng::seed_from_u64(42);
    for compression in [Compression::None, Compression::Lz4] {
        let (good, entries) = small_table(compression);
        assert!(!check_damaged(&good, &entries));
        for i in 0..good.len() {
            // A random byte change and a single bit flip at every offset. Every byte
            // is covered by a block checksum or the footer's, so the damage must be
            // found, at the latest by verify().
            for mask in [rng.random_range(1..=255u8), 1 << (i % 8)] {
                let mut bad = good.clone();
                bad[i] ^= mask;
                assert!(
                    check_damaged(&bad, &entries),
                    "flip {mask:#x} at {i} went unnoticed"
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_detected() {
    for compression in [Compression::None, Compression::Lz4] {
        let (good, entries) = small_table(compression);
        for len in 0..good.len() {
            assert!(check_damaged(&good[..len], &entries), "truncation to {len}");
        }
        // Garbage appended after the footer: the magic is no longer at the end.
        let mut longer = good.clone();
        longer.extend_from_slice(b"trailing garbage");
        assert!(check_damaged(&longer, &entries));
    }
}

#[test]
fn footer_errors_name_the_footer() {
    let (good, _) = small_table(Compression::Lz4);
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("2.sst");
    let footer_at = good.len() - FOOTER_LEN;
    let cases: [(usize, u8, &str); 3] = [
        (good.len() - 1, 0x01, "magic"),
        (footer_at + 52, 0x02, "version"),
        (footer_at + 3, 0x10, "checksum"),
    ];
    for (at, mask, what) in cases {
        let mut bad = good.clone();
        bad[at] ^= mask;
        let mut f = fs.create(&path).unwrap();
        f.append(&bad).unwrap();
        drop(f);
        let err = open(&fs, &path, None).unwrap_err();
        match err {
            Error::Corruption { offset, detail, .. } => {
                assert_eq!(offset, footer_at as u64);
                assert!(detail.contains(what), "{detail}");
            }
            e => panic!("{e}"),
        }
    }
    let mut f = fs.create(&path).unwrap();
    f.append(b"tiny").unwrap();
    drop(f);
    assert!(matches!(
        open(&fs, &path, None),
        Err(Error::Corruption { offset: 0, .. })
    ));
}

/// Rewrites the table's index so that its first entry points past the end of the
/// file, with valid checksums everywhere: reads of that block must fail cleanly.
#[test]
fn index_handle_past_end_is_corruption() {
    let (good, entries) = small_table(Compression::None);
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("3.sst");
    let mut f = fs.create(&path).unwrap();
    f.append(&good).unwrap();
    drop(f);
    let table = open(&fs, &path, None).unwrap();
    let old_footer = *table.footer();

    let mut index = BlockBuilder::new(1);
    let mut it = table.index_iter();
    it.seek_to_first();
    let mut first = true;
    while it.valid() {
        let mut v = Vec::new();
        if first {
            BlockHandle {
                offset: 1 << 40,
                size: 100,
            }
            .encode_to(&mut v);
            first = false;
        } else {
            v = it.value().to_vec();
        }
        index.add(it.key(), &v);
        it.next();
    }
    let contents = index.finish().to_vec();
    let mut bytes = good[..good.len() - FOOTER_LEN].to_vec();
    let index_handle = BlockHandle {
        offset: bytes.len() as u64,
        size: contents.len() as u64,
    };
    bytes.extend_from_slice(&contents);
    bytes.push(0);
    bytes.extend_from_slice(&block_checksum(&contents, 0).to_le_bytes());
    let footer = Footer {
        index: index_handle,
        ..old_footer
    };
    bytes.extend_from_slice(&footer.encode());

    let mut f = fs.create(&path).unwrap();
    f.append(&bytes).unwrap();
    drop(f);
    let table = open(&fs, &path, None).unwrap();
    assert_corruption(&scan(&table), &path);
    let first_user = user_key(&entries[0].0);
    assert_corruption(
        &table.get(LookupKey::new(first_user, 100).internal_key()),
        &path,
    );
    // Later blocks are still readable, and right.
    let last = entries.last().unwrap();
    let got = table
        .get(LookupKey::new(user_key(&last.0), shale_core::MAX_SEQNO).internal_key())
        .unwrap();
    assert!(got.is_some());
    let problems = check_file(&fs, &path);
    assert!(!problems.is_empty());
    assert!(problems.iter().all(Error::is_corruption));
}
