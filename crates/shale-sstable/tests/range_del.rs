//! Range tombstones in tables (format version 2): the range-deletion block, the key
//! range and properties that include it, reading version 1 files, and damage.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use shale_core::key::{MAX_KEY_SIZE, make_internal_key, user_key};
use shale_core::range_del::{compare_tombstones, inclusive_upper_bound, unbounded_end};
use shale_core::{
    Error, FragmentedTombstones, LookupKey, MAX_SEQNO, RangeTombstone, ValueKind,
    compare_internal_keys,
};
use shale_fs::{FileSystem, MemFs, StdFs};
use shale_sstable::fuzzing::{fix_checksums, fuzz_table};
use shale_sstable::{
    BlockHandle, Compression, DumpOptions, FOOTER_LEN, FORMAT_VERSION, Footer, Table, TableBuilder,
    TableOptions, TableProperties, block_checksum, check_file, dump,
};

fn rt(s: &[u8], e: &[u8], seq: u64) -> RangeTombstone {
    RangeTombstone::new(s.to_vec(), e.to_vec(), seq)
}

fn rd_key(user: &[u8], seq: u64) -> Vec<u8> {
    make_internal_key(user, seq, ValueKind::RangeDelete)
}

/// Writes raw bytes as `/db/<name>` and returns the path.
fn put_file(fs: &MemFs, name: &str, bytes: &[u8]) -> PathBuf {
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join(name);
    let mut f = fs.create(&path).unwrap();
    f.append(bytes).unwrap();
    drop(f);
    path
}

fn corruption_offset<T: std::fmt::Debug>(r: shale_core::Result<T>, path: &Path) -> (u64, String) {
    match r {
        Err(Error::Corruption {
            file,
            offset,
            detail,
        }) => {
            assert_eq!(file, path);
            (offset, detail)
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// The model of a table's key range: min/max over point keys and tombstone bounds.
fn model_bounds(entries: &Entries, ranges: &[RangeTombstone]) -> (Vec<u8>, Vec<u8>) {
    let keys = entries
        .iter()
        .map(|e| e.0.clone())
        .chain(ranges.iter().map(|t| rd_key(&t.start, t.seq)))
        .chain(
            ranges
                .iter()
                .map(|t| rd_key(inclusive_upper_bound(&t.end), 0)),
        );
    let mut all: Vec<Vec<u8>> = keys.collect();
    all.sort_by(|a, b| compare_internal_keys(a, b));
    (
        all.first().cloned().unwrap_or_default(),
        all.last().cloned().unwrap_or_default(),
    )
}

/// Everything a reader can see of a table with range tombstones agrees with the
/// model: points, tombstones (pinned and stored form), bounds, properties, check.
fn assert_table_matches(
    fs: &MemFs,
    path: &Path,
    meta: &shale_sstable::TableMeta,
    entries: &Entries,
    ranges: &[RangeTombstone],
) {
    let mut stored: Vec<RangeTombstone> = ranges.to_vec();
    stored.sort_by(compare_tombstones);
    stored.dedup();

    let (smallest, largest) = model_bounds(entries, ranges);
    assert_eq!(meta.smallest_key, smallest);
    assert_eq!(meta.largest_key, largest);
    let seqs = entries
        .iter()
        .map(|e| shale_core::key::seqno_of(&e.0))
        .chain(ranges.iter().map(|t| t.seq));
    assert_eq!(meta.smallest_seqno, seqs.clone().min().unwrap_or(0));
    assert_eq!(meta.largest_seqno, seqs.max().unwrap_or(0));
    assert_eq!(meta.num_entries, entries.len() as u64);
    let p = &meta.properties;
    assert_eq!(p.num_range_deletions, stored.len() as u64);
    let point_dels = entries
        .iter()
        .filter(|e| shale_core::key::kind_byte_of(&e.0) == ValueKind::Delete as u8)
        .count() as u64;
    assert_eq!(p.num_deletions, point_dels + stored.len() as u64);
    assert_eq!(p.range_del_block.is_some(), !stored.is_empty());

    let table = open(fs, path, None).unwrap();
    assert_eq!(table.footer().format_version, FORMAT_VERSION);
    assert_eq!(table.properties(), &meta.properties);
    assert_eq!(
        &scan(&table).unwrap(),
        entries,
        "scans see point entries only"
    );
    assert_eq!(&scan_rev(&table).unwrap(), entries);
    for t in ranges {
        // A tombstone's start is not a point key: get finds only point entries.
        let lk = LookupKey::new(&t.start, MAX_SEQNO);
        assert_eq!(
            table
                .get(lk.internal_key())
                .unwrap()
                .map(|(k, v)| (k, v.to_vec())),
            model_get(entries, lk.internal_key())
        );
    }
    assert_eq!(table.read_range_tombstones().unwrap(), stored);
    match table.range_tombstones() {
        None => assert!(stored.is_empty()),
        Some(f) => {
            assert_eq!(*f, FragmentedTombstones::new(ranges.iter().cloned()));
            let again = table.range_tombstones().unwrap();
            assert!(Arc::ptr_eq(&f, &again), "pinned at open");
        }
    }
    let problems = check_file(fs, path);
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn points_and_tombstones_roundtrip() {
    let fs = MemFs::new();
    let entries = sample_entries(200);
    let ranges = vec![
        rt(b"user000010", b"user000020", 300),
        rt(b"user000015", b"user000030", 5),
        rt(b"user000015", b"user000030", 5), // exact duplicate: stored once
        rt(b"user000015", b"user000016", 5), // same start and seq, other end
        rt(b"a", b"b", 1),
        rt(b"zzz", b"zzzz\0", 400),
    ];
    for compression in [Compression::None, Compression::Lz4] {
        let opts = TableOptions {
            block_size: 256,
            compression,
            ..TableOptions::default()
        };
        let (path, meta) = write_table_with_ranges(&fs, "1.sst", &entries, &ranges, opts);
        assert!(meta.properties.num_data_blocks > 3);
        // Tombstones extend the key range on both sides.
        assert_eq!(meta.smallest_key, rd_key(b"a", 1));
        assert_eq!(meta.largest_key, rd_key(b"zzzz", 0));
        assert_eq!(meta.largest_seqno, 400);
        assert_table_matches(&fs, &path, &meta, &entries, &ranges);
    }
}

#[test]
fn tombstones_inside_the_point_range_do_not_change_it() {
    let fs = MemFs::new();
    let entries = sample_entries(20);
    let ranges = vec![rt(b"user000003", b"user000004", 2)];
    let (path, meta) =
        write_table_with_ranges(&fs, "1.sst", &entries, &ranges, TableOptions::default());
    assert_eq!(meta.smallest_key, entries[0].0);
    assert_eq!(meta.largest_key, entries.last().unwrap().0);
    assert_table_matches(&fs, &path, &meta, &entries, &ranges);
}

#[test]
fn tombstones_only() {
    let fs = MemFs::new();
    let ranges = vec![rt(b"m", b"p", 4), rt(b"c", b"f", 8), rt(b"e", b"n", 6)];
    let (path, meta) =
        write_table_with_ranges(&fs, "1.sst", &Vec::new(), &ranges, TableOptions::default());
    assert_eq!(meta.num_entries, 0);
    assert_eq!(meta.properties.num_data_blocks, 0);
    assert_eq!(meta.smallest_key, rd_key(b"c", 8));
    assert_eq!(meta.largest_key, rd_key(b"p", 0));
    assert_eq!((meta.smallest_seqno, meta.largest_seqno), (4, 8));
    assert_table_matches(&fs, &path, &meta, &Vec::new(), &ranges);
    let table = open(&fs, &path, None).unwrap();
    let f = table.range_tombstones().unwrap();
    assert_eq!(f.max_covering_seq(b"e", MAX_SEQNO), Some(8));
    assert_eq!(f.max_covering_seq(b"e", 7), Some(6));
    assert!(f.covers(b"o", 3, 10));
    assert!(!f.covers(b"p", 3, 10));
    assert!(
        table
            .get(LookupKey::new(b"e", 99).internal_key())
            .unwrap()
            .is_none()
    );
}

#[test]
fn unbounded_end_gives_the_largest_possible_bound() {
    let fs = MemFs::new();
    let ranges = vec![rt(b"k", &unbounded_end(), 3)];
    let (path, meta) = write_table_with_ranges(
        &fs,
        "1.sst",
        &sample_entries(4),
        &ranges,
        TableOptions::default(),
    );
    assert_eq!(meta.largest_key, rd_key(&vec![0xff; MAX_KEY_SIZE], 0));
    assert_table_matches(&fs, &path, &meta, &sample_entries(4), &ranges);
    let mut out = Vec::new();
    dump(&fs, &path, &mut out, DumpOptions::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("[\"k\", <end of key space>) @ 3"), "{text}");
}

#[test]
fn builder_rejects_bad_tombstones_and_range_delete_points() {
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    let path = dir().join("1.sst");
    let mut b = TableBuilder::new(fs.create(&path).unwrap(), &path, TableOptions::default());
    for bad in [rt(b"b", b"b", 1), rt(b"c", b"a", 1), rt(b"", b"", 1)] {
        assert!(matches!(
            b.add_range_tombstone(&bad),
            Err(Error::InvalidArgument(_))
        ));
    }
    assert!(matches!(
        b.add_range_tombstone(&rt(b"a", b"b", MAX_SEQNO + 1)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        b.add(&rd_key(b"a", 3), b"b"),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(b.num_range_tombstones(), 0);
    assert_eq!(b.num_entries(), 0);
    let size = b.estimated_size();
    // Any order, before and after point entries.
    b.add_range_tombstone(&rt(b"x", b"y", 9)).unwrap();
    assert!(
        b.estimated_size() > size,
        "tombstones count toward the size"
    );
    b.add(&make_internal_key(b"k", 2, ValueKind::Value), b"v")
        .unwrap();
    b.add_range_tombstone(&rt(b"a", b"b", 1)).unwrap();
    assert_eq!(b.num_range_tombstones(), 2);
    let meta = b.finish().unwrap();
    assert_eq!(meta.smallest_key, rd_key(b"a", 1));
    assert_eq!(meta.largest_key, rd_key(b"y", 0));
    assert_eq!(meta.properties.num_range_deletions, 2);
    assert_eq!(meta.properties.num_deletions, 2);
}

#[test]
fn dump_prints_the_tombstones_and_memory_counts_them() {
    let fs = MemFs::new();
    let entries = sample_entries(6);
    let ranges = vec![rt(b"a", b"b\xff", 7), rt(b"a", b"c", 2)];
    let (path, _) =
        write_table_with_ranges(&fs, "1.sst", &entries, &ranges, TableOptions::default());
    let mut out = Vec::new();
    dump(&fs, &path, &mut out, DumpOptions::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "format_version: 2",
        "range_del_block: offset ",
        "range_deletions: 2",
        "range_tombstones: 2",
        "  [\"a\", \"b\\xff\") @ 7",
        "  [\"a\", \"c\") @ 2",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let (plain, _) = write_table(&fs, "2.sst", &entries, TableOptions::default());
    let with = open(&fs, &path, None).unwrap();
    let without = open(&fs, &plain, None).unwrap();
    assert!(without.range_tombstones().is_none());
    assert!(with.memory_usage() > without.memory_usage());
}

/// Format version 1 files (written before range tombstones existed, kept in
/// `tests/data/v1/`) open, read and verify, with no range tombstones and the same
/// entries and properties as the same data written today.
#[test]
fn version_1_files_are_still_readable() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1");
    let std_fs = StdFs::new();
    let fs = MemFs::new();
    let specs = seed_specs();
    let mut seen = 0;
    for (name, entries, ranges, opts) in specs {
        let Ok(bytes) = std_fs.read_all(&data.join(name)) else {
            continue;
        };
        assert!(ranges.is_empty());
        seen += 1;
        let path = put_file(&fs, &format!("v1-{name}"), &bytes);
        let table = open(&fs, &path, None).unwrap();
        assert_eq!(table.footer().format_version, 1, "{name}");
        assert!(table.range_tombstones().is_none());
        assert!(table.read_range_tombstones().unwrap().is_empty());
        assert_eq!(scan(&table).unwrap(), entries, "{name}");
        let (new_path, meta) = write_table(&fs, &format!("v2-{name}"), &entries, opts);
        let mut props = table.properties().clone();
        props.creation_time = meta.properties.creation_time;
        assert_eq!(props, meta.properties, "{name}");
        assert!(check_file(&fs, &path).is_empty(), "{name}");
        let mut out = Vec::new();
        dump(&fs, &path, &mut out, DumpOptions::default()).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("format_version: 1")
        );
        assert_eq!(
            open(&fs, &new_path, None).unwrap().footer().format_version,
            2
        );
    }
    assert_eq!(seen, 5, "the five version 1 fixtures");
}

/// A table with points and tombstones, and the handle of its range-deletion block.
fn ranged_table() -> (Vec<u8>, Entries, Vec<RangeTombstone>, BlockHandle) {
    let fs = MemFs::new();
    let entries = sample_entries(40);
    let ranges = vec![
        rt(b"user000001", b"user000009", 30),
        rt(b"user000004", b"user000012", 12),
        rt(b"b", b"c", 1),
    ];
    let opts = TableOptions {
        block_size: 200,
        ..TableOptions::default()
    };
    let (path, meta) = write_table_with_ranges(&fs, "1.sst", &entries, &ranges, opts);
    let h = meta.properties.range_del_block.unwrap();
    (fs.read_all(&path).unwrap(), entries, ranges, h)
}

#[test]
fn every_byte_flip_in_the_range_del_block_is_caught_at_open() {
    let (good, _, _, h) = ranged_table();
    let fs = MemFs::new();
    let start = h.offset as usize;
    let end = start + h.size as usize + 5; // contents and trailer
    for i in start..end {
        for mask in [0x01u8, 0x80, 0x5a] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            let path = put_file(&fs, "bad.sst", &bad);
            let (offset, detail) = corruption_offset(open(&fs, &path, None), &path);
            assert_eq!(offset, h.offset, "flip {mask:#x} at {i}: {detail}");
            let problems = check_file(&fs, &path);
            assert!(!problems.is_empty());
        }
    }
}

#[test]
fn every_truncation_and_flip_is_detected_or_harmless() {
    let (good, entries, ranges, _) = ranged_table();
    let fs = MemFs::new();
    let want = FragmentedTombstones::new(ranges);
    let check = |bytes: &[u8]| -> bool {
        let path = put_file(&fs, "t.sst", bytes);
        let table = match open(&fs, &path, None) {
            Ok(t) => t,
            Err(e) => {
                corruption_offset::<()>(Err(e), &path);
                return true;
            }
        };
        // Opened: the pinned tombstones are exactly right.
        assert_eq!(table.range_tombstones().as_deref(), Some(&want));
        let scanned = scan(&table);
        if let Ok(v) = &scanned {
            assert_eq!(v, &entries);
        }
        scanned.is_err() || !check_file(&fs, &path).is_empty()
    };
    assert!(!check(&good));
    for len in 0..good.len() {
        assert!(check(&good[..len]), "truncation to {len}");
    }
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        assert!(check(&bad), "flip at {i} went unnoticed");
    }
}

/// Rewrites the properties block of `good` (with a valid crc) after `edit`, appending
/// it and a footer pointing at it.
fn with_properties(good: &[u8], edit: impl FnOnce(&mut TableProperties)) -> Vec<u8> {
    let fs = MemFs::new();
    let path = put_file(&fs, "orig.sst", good);
    let table = open(&fs, &path, None).unwrap();
    let mut props = table.properties().clone();
    edit(&mut props);
    let contents = props.encode();
    let mut bytes = good[..good.len() - FOOTER_LEN].to_vec();
    let handle = BlockHandle {
        offset: bytes.len() as u64,
        size: contents.len() as u64,
    };
    bytes.extend_from_slice(&contents);
    bytes.push(0);
    bytes.extend_from_slice(&block_checksum(&contents, 0).to_le_bytes());
    let footer = Footer {
        properties: handle,
        ..*table.footer()
    };
    bytes.extend_from_slice(&footer.encode());
    bytes
}

#[test]
fn bad_range_del_handles_are_corruption_at_the_properties_block() {
    let (good, _, _, h) = ranged_table();
    let fs = MemFs::new();
    let props_at = (good.len() - FOOTER_LEN) as u64; // where with_properties puts it
    let index = open(&fs, &put_file(&fs, "g.sst", &good), None)
        .unwrap()
        .footer()
        .index;
    let cases: Vec<(BlockHandle, u64, &str)> = vec![
        // Past the end, overflowing, reaching into the footer: at the properties.
        (
            BlockHandle {
                offset: 1 << 40,
                size: 10,
            },
            props_at,
            "past the end",
        ),
        (
            BlockHandle {
                offset: 5,
                size: u64::MAX,
            },
            props_at,
            "past the end",
        ),
        (
            BlockHandle {
                offset: u64::MAX,
                size: 1,
            },
            props_at,
            "past the end",
        ),
        (
            BlockHandle {
                offset: 2 * good.len() as u64,
                size: 1,
            },
            props_at,
            "past the end",
        ),
        // Inside the file but not a range-deletion block: at the block it names.
        (
            BlockHandle {
                offset: 0,
                size: h.size,
            },
            0,
            "",
        ),
        (
            BlockHandle {
                offset: h.offset,
                size: 0,
            },
            h.offset,
            "",
        ),
        (
            BlockHandle {
                offset: h.offset + 1,
                size: h.size - 1,
            },
            h.offset + 1,
            "",
        ),
        // The index block: a valid block with a valid crc, but wrong entries.
        (index, index.offset, ""),
    ];
    for (bad, want_offset, want_detail) in cases {
        let bytes = with_properties(&good, |p| p.range_del_block = Some(bad));
        let path = put_file(&fs, "bad.sst", &bytes);
        let (offset, detail) = corruption_offset(open(&fs, &path, None), &path);
        assert_eq!(offset, want_offset, "{bad:?}: {detail}");
        assert!(detail.contains(want_detail), "{bad:?}: {detail}");
        assert!(!check_file(&fs, &path).is_empty());
    }
    // A count that disagrees with the block, and a count without a block.
    for (edit, what) in [
        (
            Box::new(|p: &mut TableProperties| p.num_range_deletions = 2)
                as Box<dyn FnOnce(&mut TableProperties)>,
            "range_deletions = 2",
        ),
        (
            Box::new(|p: &mut TableProperties| p.range_del_block = None),
            "range_del_block",
        ),
    ] {
        let bytes = with_properties(&good, edit);
        let path = put_file(&fs, "bad.sst", &bytes);
        let (offset, detail) = corruption_offset(open(&fs, &path, None), &path);
        assert_eq!(offset, props_at, "{detail}");
        assert!(detail.contains(what), "{detail}");
    }
    // The rewrite itself is sound: only the edits above break the table.
    let same = with_properties(&good, |_| {});
    let path = put_file(&fs, "same.sst", &same);
    assert!(open(&fs, &path, None).unwrap().range_tombstones().is_some());
}

#[test]
fn check_reports_properties_that_disagree_with_the_tombstones() {
    let (good, _, _, _) = ranged_table();
    let fs = MemFs::new();
    for (edit, what) in [
        (
            Box::new(|p: &mut TableProperties| p.largest_seqno = 29)
                as Box<dyn FnOnce(&mut TableProperties)>,
            "largest_seqno",
        ),
        (
            Box::new(|p: &mut TableProperties| {
                p.smallest_key = make_internal_key(b"user000000", 0, ValueKind::Value)
            }),
            "smallest_key",
        ),
        (
            Box::new(|p: &mut TableProperties| p.num_deletions += 1),
            "deletions",
        ),
    ] {
        let bytes = with_properties(&good, edit);
        let path = put_file(&fs, "bad.sst", &bytes);
        let problems = check_file(&fs, &path);
        assert!(
            problems.iter().any(|e| e.to_string().contains(what)),
            "{what}: {problems:?}"
        );
    }
}

#[test]
fn fix_checksums_reaches_the_range_del_block() {
    let (good, _, _, h) = ranged_table();
    let mut bad = good.clone();
    // A byte of the first entry's key, behind the block's crc.
    bad[h.offset as usize + 4] ^= 0x01;
    fuzz_table(&bad);
    let fixed = fix_checksums(&bad).unwrap();
    let fs = MemFs::new();
    let path = put_file(&fs, "fixed.sst", &fixed);
    match open(&fs, &path, None) {
        Ok(t) => {
            // The change kept the block well-formed: the tombstones differ.
            let want = FragmentedTombstones::new(ranged_table().2);
            assert_ne!(t.range_tombstones().as_deref(), Some(&want));
        }
        Err(e) => assert!(!e.to_string().contains("checksum"), "{e}"),
    }
}

fn table_at(fs: &MemFs, path: &Path) -> Arc<Table> {
    open(fs, path, None).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0E1D),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random points and tombstones: bounds, properties, pinned and stored
    /// tombstones and check agree with the model.
    #[test]
    fn random_tables_match_the_model(
        points in proptest::collection::btree_map(
            (proptest::collection::vec(0u8..4, 0..4), 0u64..50),
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..20)),
            0..60,
        ),
        raw_ranges in proptest::collection::vec(
            (proptest::collection::vec(0u8..4, 0..4), proptest::collection::vec(0u8..5, 0..4), 0u64..60),
            0..12,
        ),
        block_size in 64usize..512,
    ) {
        let entries = sorted(
            points
                .into_iter()
                .map(|((k, s), (del, v))| {
                    let kind = if del { ValueKind::Delete } else { ValueKind::Value };
                    (make_internal_key(&k, s, kind), if del { Vec::new() } else { v })
                })
                .collect(),
        );
        let ranges: Vec<RangeTombstone> = raw_ranges
            .into_iter()
            .map(|(s, e, seq)| RangeTombstone::new(s, e, seq))
            .filter(|t| !t.is_empty())
            .collect();
        let fs = MemFs::new();
        let opts = TableOptions { block_size, ..TableOptions::default() };
        let (path, meta) = write_table_with_ranges(&fs, "p.sst", &entries, &ranges, opts);
        assert_table_matches(&fs, &path, &meta, &entries, &ranges);
        let table = table_at(&fs, &path);
        if let Some(f) = table.range_tombstones() {
            for e in &entries {
                let (uk, seq) = (user_key(&e.0), shale_core::key::seqno_of(&e.0));
                let want = ranges.iter().any(|t| t.contains(uk) && t.seq > seq);
                prop_assert_eq!(f.covers(uk, seq, MAX_SEQNO), want);
            }
        }
    }
}
