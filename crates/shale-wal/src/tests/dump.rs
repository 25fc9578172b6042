//! `dump()`: offsets, fragments, decoded batches, and every corruption.

use shale_core::{ValueKind, WriteBatch};

use super::*;
use crate::dump::escape;
use crate::{DumpSummary, dump};

fn dump_to_string(fs: &dyn FileSystem, path: &Path, kind: LogKind) -> (String, DumpSummary) {
    let mut out = Vec::new();
    let summary = dump(fs, path, kind, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), summary)
}

fn batch_log(fs: &dyn FileSystem, path: &Path) -> Vec<u64> {
    let mut w = LogWriter::create(fs, path, LogKind::Wal, 42).unwrap();
    let mut offsets = Vec::new();
    let mut b = WriteBatch::new();
    b.put("k1", "v1").delete("k 2").put(b"\x00bin", b"");
    b.push(ValueKind::Merge, 3, b"m", Some(b"+1"));
    b.set_seq(100);
    offsets.push(w.len());
    w.add_record(b.as_bytes()).unwrap();
    let mut big = WriteBatch::new();
    big.put("big", vec![b'x'; 70_000]);
    big.set_seq(104);
    offsets.push(w.len());
    w.add_record(big.as_bytes()).unwrap();
    offsets.push(first_fragment_offset(w.len()));
    w.add_record(b"not a batch").unwrap();
    offsets
}

#[test]
fn dump_lists_header_fragments_records_and_ops() {
    let fs = mem_fs();
    let path = db_path("000042.log");
    let offsets = batch_log(&fs, &path);
    let (text, summary) = dump_to_string(&fs, &path, LogKind::Wal);
    assert!(
        text.contains("header: kind=WAL version=1 file_number=42"),
        "{text}"
    );
    assert!(
        text.contains("fragment @0: type=FULL len=20 crc=ok"),
        "{text}"
    );
    assert!(
        text.contains(&format!("record @{}: len=", offsets[0])),
        "{text}"
    );
    assert!(text.contains("batch seq=100 count=4"), "{text}");
    assert!(text.contains("    put k1 v1\n"), "{text}");
    assert!(text.contains("    del k\\x202\n"), "{text}");
    assert!(text.contains("    put \\x00bin \"\"\n"), "{text}");
    assert!(text.contains("    merge keyspace=3 m +1\n"), "{text}");
    assert!(
        text.contains("type=FIRST") && text.contains("type=MIDDLE") && text.contains("type=LAST")
    );
    assert!(text.contains("...(70000 bytes)"), "{text}");
    assert!(text.contains(&format!(
        "CORRUPTION @{}: record is not a valid write batch",
        offsets[2]
    )));
    // header + 1 + 4 (FIRST, MIDDLE, LAST... ) + 1 fragments; 3 records; one bad batch.
    assert_eq!(summary.records, 3);
    assert_eq!(summary.corruptions, 1);
    assert_eq!(summary.fragments, 1 + 1 + 3 + 1);
    assert!(
        text.ends_with("summary: records=3 fragments=6 corruptions=1\n"),
        "{text}"
    );
}

#[test]
fn dump_reports_every_corruption_and_keeps_going() {
    let fs = mem_fs();
    let path = db_path("000007.log");
    let w = write_log(&fs, &path, &[10, 30_000, 200, 40_000, 20, 30_000, 10]);
    // Damage a record in block 0 and one in block 2.
    let hits = [w.offsets[0] as usize + 9, w.offsets[5] as usize + 100];
    for at in hits {
        let mut byte = [w.bytes[at]];
        byte[0] ^= 0x08;
        fs.corrupt(&path, at, &byte).unwrap();
    }
    let (text, summary) = dump_to_string(&fs, &path, LogKind::Wal);
    assert!(summary.corruptions >= 2, "{text}");
    assert!(
        text.contains(&format!("CORRUPTION @{}:", w.offsets[0])),
        "{text}"
    );
    assert!(
        text.contains(&format!("CORRUPTION @{}:", w.offsets[5])),
        "{text}"
    );
    assert!(text.contains("checksum mismatch"), "{text}");
    assert!(text.contains(&format!(
        "fragment @{}: type=FULL len=10 crc=MISMATCH",
        w.offsets[0]
    )));
    // Records after each damaged block are still listed.
    assert!(
        text.contains(&format!("record @{}:", w.offsets[4])),
        "{text}"
    );
    assert!(
        text.contains(&format!("record @{}:", w.offsets[6])),
        "{text}"
    );
}

#[test]
fn dump_survives_files_that_are_not_logs() {
    let fs = mem_fs();
    let path = db_path("MANIFEST-000002");
    let mut m = LogWriter::create(&fs, &path, LogKind::Manifest, 2).unwrap();
    m.add_record(b"edit").unwrap();
    let (text, summary) = dump_to_string(&fs, &path, LogKind::Wal);
    assert!(text.contains("it is a ShaleDB manifest"), "{text}");
    assert!(text.contains("header: missing or damaged"), "{text}");
    assert_eq!(summary.records, 1);
    assert!(summary.corruptions >= 1);
    let (text, _) = dump_to_string(&fs, &path, LogKind::Manifest);
    assert!(
        text.contains("header: kind=manifest version=1 file_number=2"),
        "{text}"
    );
    assert!(text.contains("data edit"), "{text}");

    put_file(&fs, &path, b"");
    let (text, summary) = dump_to_string(&fs, &path, LogKind::Wal);
    assert!(text.contains("header: none (empty file)"));
    assert_eq!(summary, DumpSummary::default());
}

#[test]
fn escaping() {
    assert_eq!(escape(b""), "\"\"");
    assert_eq!(escape(b"abc"), "abc");
    assert_eq!(escape(b"a b\\\"\n\xff"), "a\\x20b\\x5c\\x22\\x0a\\xff");
}
