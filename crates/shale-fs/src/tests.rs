use std::collections::BTreeSet;
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

/// A directory with: `synced` (8000 synced bytes + 10000 unsynced), `clean` (fully
/// synced), both durable entries, and `new` (synced data, entry never made durable).
fn crash_fixture() -> (MemFs, Vec<u8>) {
    let fs = MemFs::new();
    let dir = Path::new("/d");
    fs.create_dir_all(dir).unwrap();
    let data: Vec<u8> = (0..18_000u32).map(|i| (i % 251) as u8 + 1).collect();
    let mut w = fs.create(&dir.join("synced")).unwrap();
    w.append(&data[..8000]).unwrap();
    w.sync_data().unwrap();
    w.append(&data[8000..]).unwrap();
    let mut c = fs.create(&dir.join("clean")).unwrap();
    c.append(b"clean").unwrap();
    c.sync_data().unwrap();
    fs.sync_dir(dir).unwrap();
    let mut n = fs.create(&dir.join("new")).unwrap();
    n.append(b"new").unwrap();
    n.sync_data().unwrap();
    (fs, data)
}

fn after(policy: CrashPolicy, seed: u64, clone: bool) -> (MemFs, Vec<u8>, Vec<u8>) {
    let (fs, data) = crash_fixture();
    let crashed = if clone {
        let c = fs.crash_clone_with(policy, seed);
        // The original is untouched.
        assert_eq!(fs.read_all(Path::new("/d/synced")).unwrap(), data);
        assert!(fs.exists(Path::new("/d/new")));
        c
    } else {
        fs.crash_with(policy, seed);
        fs
    };
    // Every policy: synced files intact, undurable entries gone.
    assert_eq!(crashed.read_all(Path::new("/d/clean")).unwrap(), b"clean");
    assert!(!crashed.exists(Path::new("/d/new")));
    let got = crashed.read_all(Path::new("/d/synced")).unwrap();
    assert_eq!(got[..8000], data[..8000], "synced bytes always survive");
    // What survived is durable now: another crash keeps it.
    crashed.crash();
    assert_eq!(crashed.read_all(Path::new("/d/synced")).unwrap(), got);
    (crashed, data, got)
}

#[test]
fn crash_policy_drop_all_unsynced_is_crash() {
    for clone in [false, true] {
        let (_, data, got) = after(CrashPolicy::DropAllUnsynced, 99, clone);
        assert_eq!(got, data[..8000]);
    }
    assert_eq!(CrashPolicy::default(), CrashPolicy::DropAllUnsynced);
}

#[test]
fn crash_policy_keep_random_prefix() {
    let mut lens = BTreeSet::new();
    for seed in 0..40 {
        for clone in [false, true] {
            let (_, data, got) = after(CrashPolicy::KeepRandomPrefix, seed, clone);
            assert!(got.len() >= 8000 && got.len() <= data.len());
            assert_eq!(got, data[..got.len()], "a prefix of what was written");
            lens.insert(got.len());
        }
        let a = after(CrashPolicy::KeepRandomPrefix, seed, false).2;
        assert_eq!(
            a,
            after(CrashPolicy::KeepRandomPrefix, seed, true).2,
            "seeded"
        );
    }
    assert!(
        lens.len() > 20,
        "prefix lengths vary with the seed: {lens:?}"
    );
}

#[test]
fn crash_policy_random_pages() {
    let mut kept_patterns = BTreeSet::new();
    for seed in 0..40 {
        let (_, data, got) = after(CrashPolicy::RandomPages, seed, seed % 2 == 0);
        assert_eq!(got.len(), data.len(), "the size was persisted");
        // Pages [8000, 8192), [8192, 12288), [12288, 16384), [16384, 18000).
        let bounds = [8000, 8192, 12288, 16384, 18000];
        let mut pattern = Vec::new();
        for w in bounds.windows(2) {
            let (s, e) = (w[0], w[1]);
            let kept = got[s..e] == data[s..e];
            assert!(kept || got[s..e].iter().all(|&b| b == 0), "page {s}..{e}");
            pattern.push(kept);
        }
        kept_patterns.insert(pattern);
        assert_eq!(
            after(CrashPolicy::RandomPages, seed, true).2,
            after(CrashPolicy::RandomPages, seed, false).2
        );
    }
    assert!(kept_patterns.len() > 8, "{kept_patterns:?}");
    assert_eq!(CRASH_PAGE_SIZE, 4096);
}

#[test]
fn crash_with_visits_hard_linked_files_once() {
    let fs = MemFs::new();
    let dir = Path::new("/d");
    fs.create_dir_all(dir).unwrap();
    let mut w = fs.create(&dir.join("a")).unwrap();
    w.append(&[7u8; 10_000]).unwrap();
    fs.hard_link(&dir.join("a"), &dir.join("b")).unwrap();
    fs.sync_dir(dir).unwrap();
    for seed in 0..10 {
        let c = fs.crash_clone_with(CrashPolicy::KeepRandomPrefix, seed);
        assert_eq!(
            c.read_all(&dir.join("a")).unwrap(),
            c.read_all(&dir.join("b")).unwrap()
        );
    }
}

#[test]
fn drop_unsynced_cuts_the_live_file_back() {
    let (fs, data) = crash_fixture();
    let path = Path::new("/d/synced");
    assert_eq!(fs.synced_len(path).unwrap(), 8000);
    fs.drop_unsynced(path).unwrap();
    assert_eq!(fs.read_all(path).unwrap(), data[..8000]);
    assert!(fs.drop_unsynced(Path::new("/d/missing")).is_err());
    assert!(fs.synced_len(Path::new("/d/missing")).is_err());
}

#[test]
fn fault_fs_contract() {
    // Without rules a FaultFs behaves exactly like what it wraps.
    common_contract(&FaultFs::with_mem(&MemFs::new()), Path::new("/mem"));
    let tmp = tempfile::tempdir().unwrap();
    common_contract(&FaultFs::new(Arc::new(StdFs::new())), tmp.path());
}

#[test]
fn kill_point_fs_contract() {
    // A KillPointFs behaves exactly like what it wraps, and counts what it saw.
    let kp = KillPointFs::new(MemFs::new());
    common_contract(&kp, Path::new("/mem"));
    assert!(kp.hits().values().sum::<u64>() > 0);
    let mem = MemFs::new();
    let over_fault = KillPointFs::wrap(Arc::new(FaultFs::with_mem(&mem)), mem);
    common_contract(&over_fault, Path::new("/mem"));
}
