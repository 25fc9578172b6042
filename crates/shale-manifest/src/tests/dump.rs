//! dump() and check().

use shale_core::Error;
use shale_fs::FileSystem;

use super::{create, dir, file, new_fs, workload_edit};
use crate::{VersionEdit, check, dump, manifest_path};

#[test]
fn dump_prints_every_edit_and_the_state() {
    let fs = new_fs();
    let mut vs = create(&fs);
    for i in 0..8 {
        let e = workload_edit(&mut vs, i);
        vs.log_and_apply(e).unwrap();
    }
    let path = manifest_path(dir(), vs.manifest_file_number());
    let mut out = Vec::new();
    let summary = dump(&fs, &path, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(summary.corruptions, 0, "{text}");
    // The snapshot (one edit for the default keyspace + one with counters) + 8 edits.
    assert_eq!(summary.edits, 10, "{text}");
    assert!(text.contains("header: version=1 file_number=1"), "{text}");
    assert!(text.contains("add file: L0 #"), "{text}");
    assert!(text.contains("add keyspace: 1 \"ks1\""), "{text}");
    assert!(text.contains("keyspace 0 \"default\""), "{text}");
    assert!(text.contains("summary: 10 edits, 0 corruptions"), "{text}");

    // Damage in the middle is reported, not fatal.
    fs.corrupt(&path, 40, b"\xff\xff").unwrap();
    let mut out = Vec::new();
    let summary = dump(&fs, &path, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(summary.corruptions > 0, "{text}");
    assert!(text.contains("CORRUPTION @"), "{text}");
}

#[test]
fn check_finds_missing_and_wrong_size_tables() {
    let fs = new_fs();
    let mut vs = create(&fs);
    let a = vs.new_file_number();
    let b = vs.new_file_number();
    let mut e = VersionEdit::default();
    e.add_file(0, file(a, "a", "b", 1));
    e.add_file(1, file(b, "c", "d", 1));
    vs.log_and_apply(e).unwrap();
    let mut f = fs.create(&dir().join(format!("{a:06}.sst"))).unwrap();
    f.append(&vec![0; 1000 + a as usize]).unwrap();
    drop(f);
    let errors = check(&fs, dir(), 7);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(&errors[0], Error::NotFound(p) if p.ends_with(format!("{b:06}.sst"))));
    let mut f = fs.create(&dir().join(format!("{b:06}.sst"))).unwrap();
    f.append(b"short").unwrap();
    drop(f);
    let errors = check(&fs, dir(), 7);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].is_corruption());
    // No CURRENT at all.
    assert!(matches!(
        check(&new_fs(), dir(), 7)[..],
        [Error::NotFound(_)]
    ));
}
