//! CURRENT parsing and damage; a damaged manifest.

use std::path::Path;

use shale_core::Error;
use shale_fs::FileSystem;

use super::{create, dir, file, new_fs, recover};
use crate::current::{read_current, write_current};
use crate::{VersionEdit, manifest_path};

fn expect_current_corruption(content: &[u8], what: &str) {
    let fs = new_fs();
    drop(create(&fs));
    let path = dir().join("CURRENT");
    fs.remove_file(&path).unwrap();
    let mut f = fs.create(&path).unwrap();
    f.append(content).unwrap();
    drop(f);
    match recover(&fs).unwrap_err() {
        Error::Corruption { file, detail, .. } => {
            assert_eq!(file, path);
            assert!(detail.contains(what), "{detail}");
        }
        other => panic!("{content:?}: {other:?}"),
    }
}

#[test]
fn damaged_current_is_corruption_naming_current() {
    expect_current_corruption(b"", "one line");
    expect_current_corruption(b"MANIFEST-000001", "one line");
    expect_current_corruption(b"MANIFEST-000001\n\n", "does not name");
    expect_current_corruption(b"MANIFEST-000001\nMANIFEST-000002\n", "does not name");
    expect_current_corruption(b"MANIFEST-x\n", "does not name");
    expect_current_corruption(b"000001.log\n", "does not name");
    expect_current_corruption(b"\xff\xfe\n", "UTF-8");
    expect_current_corruption(b"MANIFEST-000009\n", "does not exist");
}

#[test]
fn missing_current_is_not_found() {
    let fs = new_fs();
    assert!(matches!(recover(&fs).unwrap_err(), Error::NotFound(_)));
}

#[test]
fn current_roundtrip() {
    let fs = new_fs();
    let mut vs = create(&fs);
    assert_eq!(read_current(&fs, dir()).unwrap(), 1);
    assert_eq!(
        fs.read_all(&dir().join("CURRENT")).unwrap(),
        b"MANIFEST-000001\n"
    );
    let n = vs.new_file_number();
    let mut m = fs.create(&manifest_path(dir(), n)).unwrap();
    m.append(b"x").unwrap();
    drop(m);
    write_current(&fs, dir(), n).unwrap();
    assert_eq!(read_current(&fs, dir()).unwrap(), n);
    assert!(!fs.exists(Path::new("/db/CURRENT.dbtmp")));
}

#[test]
fn flipped_byte_in_manifest_is_corruption_with_offset() {
    let fs = new_fs();
    let mut vs = create(&fs);
    for i in 0..20u64 {
        let n = vs.new_file_number();
        let mut e = VersionEdit::default();
        e.add_file(0, file(n, "a", "b", i + 1));
        vs.log_and_apply(e).unwrap();
    }
    let path = manifest_path(dir(), vs.manifest_file_number());
    let len = fs.file_size(&path).unwrap() as usize;
    drop(vs);
    // A byte in the middle: some later record is intact, so it is not a torn tail.
    let at = len / 2;
    let old = fs.read_all(&path).unwrap()[at];
    fs.corrupt(&path, at, &[old ^ 0x10]).unwrap();
    match recover(&fs).unwrap_err() {
        Error::Corruption { file, offset, .. } => {
            assert_eq!(file, path);
            assert!(
                offset <= at as u64 && offset + 200 > at as u64,
                "offset {offset}, at {at}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn manifest_with_wrong_header_number_or_no_snapshot() {
    let fs = new_fs();
    drop(create(&fs));
    // CURRENT names MANIFEST-000005, which holds MANIFEST-000001's bytes.
    let bytes = fs.read_all(&manifest_path(dir(), 1)).unwrap();
    let mut f = fs.create(&manifest_path(dir(), 5)).unwrap();
    f.append(&bytes).unwrap();
    drop(f);
    write_current(&fs, dir(), 5).unwrap();
    let err = recover(&fs).unwrap_err();
    assert!(
        err.to_string().contains("header says file number 1"),
        "{err}"
    );
    // An empty manifest (0 bytes) has no snapshot.
    drop(fs.create(&manifest_path(dir(), 6)).unwrap());
    write_current(&fs, dir(), 6).unwrap();
    let err = recover(&fs).unwrap_err();
    assert!(err.to_string().contains("no complete snapshot"), "{err}");
}
