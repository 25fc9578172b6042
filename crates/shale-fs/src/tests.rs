use std::path::Path;

use super::*;

/// Behaviour both implementations must share.
fn common_contract(fs: &dyn FileSystem, root: &Path) {
    let dir = root.join("db");
    fs.create_dir_all(&dir).unwrap();
    let a = dir.join("a");
    {
        let mut w = fs.create(&a).unwrap();
        w.append(b"hello ").unwrap();
        w.append(b"world").unwrap();
        assert_eq!(w.len(), 11);
        w.sync_data().unwrap();
    }
    assert_eq!(fs.file_size(&a).unwrap(), 11);
    let r = fs.open_read(&a).unwrap();
    let mut buf = [0u8; 5];
    r.read_exact_at(6, &mut buf).unwrap();
    assert_eq!(&buf, b"world");
    assert!(
        r.read_exact_at(8, &mut buf).is_err(),
        "read past end must fail"
    );
    {
        let mut w = fs.open_append(&a).unwrap();
        assert_eq!(w.len(), 11);
        w.append(b"!").unwrap();
    }
    assert_eq!(fs.read_all(&a).unwrap(), b"hello world!");

    let b = dir.join("b");
    fs.rename(&a, &b).unwrap();
    assert!(!fs.exists(&a));
    fs.hard_link(&b, &a).unwrap();
    assert_eq!(
        fs.list(&dir).unwrap(),
        vec!["a".to_string(), "b".to_string()]
    );
    fs.remove_file(&b).unwrap();
    assert_eq!(fs.read_all(&a).unwrap(), b"hello world!");
    assert!(fs.remove_file(&b).is_err());
    assert!(fs.open_read(&b).is_err());
    fs.sync_dir(&dir).unwrap();

    write_file_atomic(fs, &dir.join("CURRENT"), b"MANIFEST-000001\n").unwrap();
    assert_eq!(
        fs.read_all(&dir.join("CURRENT")).unwrap(),
        b"MANIFEST-000001\n"
    );
    assert!(!fs.exists(&dir.join("CURRENT.dbtmp")));

    let lock_path = dir.join("LOCK");
    let held = fs.lock(&lock_path).unwrap();
    match fs.lock(&lock_path) {
        Err(Error::Locked { path }) => assert_eq!(path, lock_path),
        other => panic!("second lock must fail with Locked, got {:?}", other.err()),
    }
    drop(held);
    let _again = fs.lock(&lock_path).unwrap();
}

#[test]
fn std_fs_contract() {
    let tmp = tempfile::tempdir().unwrap();
    common_contract(&StdFs::new(), tmp.path());
}

#[test]
fn mem_fs_contract() {
    common_contract(&MemFs::new(), Path::new("/mem"));
}

#[test]
fn crash_drops_unsynced_bytes_and_entries() {
    let fs = MemFs::new();
    let dir = Path::new("/d");
    fs.create_dir_all(dir).unwrap();

    let durable = dir.join("durable");
    let mut w = fs.create(&durable).unwrap();
    w.append(b"synced").unwrap();
    w.sync_data().unwrap();
    fs.sync_dir(dir).unwrap();
    w.append(b"+unsynced").unwrap();

    let no_dirsync = dir.join("no-dirsync");
    let mut w2 = fs.create(&no_dirsync).unwrap();
    w2.append(b"data").unwrap();
    w2.sync_data().unwrap();

    let clone = fs.crash_clone();
    fs.crash();
    for f in [&fs, &clone] {
        assert_eq!(f.read_all(&durable).unwrap(), b"synced");
        assert!(
            !f.exists(&no_dirsync),
            "entry never made durable by sync_dir"
        );
    }
    // Handles from before the crash belong to a dead process.
    assert!(w.append(b"late").is_err());
    assert!(w.sync_data().is_err());
    assert_eq!(fs.read_all(&durable).unwrap(), b"synced");
}

#[test]
fn crash_undoes_unsynced_rename_and_remove() {
    let fs = MemFs::new();
    let dir = Path::new("/d");
    fs.create_dir_all(dir).unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let mut w = fs.create(&a).unwrap();
    w.append(b"x").unwrap();
    w.sync_data().unwrap();
    fs.sync_dir(dir).unwrap();
    fs.rename(&a, &b).unwrap();
    fs.crash();
    assert!(fs.exists(&a) && !fs.exists(&b));
    fs.remove_file(&a).unwrap();
    fs.crash();
    assert!(fs.exists(&a), "removal not made durable by sync_dir");
    fs.remove_file(&a).unwrap();
    fs.sync_dir(dir).unwrap();
    fs.crash();
    assert!(!fs.exists(&a));
}

#[test]
fn crash_releases_locks() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/d")).unwrap();
    let l = fs.lock(Path::new("/d/LOCK")).unwrap();
    fs.crash();
    let _l2 = fs.lock(Path::new("/d/LOCK")).unwrap();
    drop(l); // a stale guard must not release the new holder's lock
    assert!(matches!(
        fs.lock(Path::new("/d/LOCK")),
        Err(Error::Locked { .. })
    ));
}

#[test]
fn create_in_missing_directory_fails() {
    let fs = MemFs::new();
    assert!(fs.create(Path::new("/nope/file")).is_err());
    let tmp = tempfile::tempdir().unwrap();
    assert!(StdFs.create(&tmp.path().join("nope/file")).is_err());
}
