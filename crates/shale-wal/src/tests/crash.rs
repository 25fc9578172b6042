//! Crash simulation with MemFs: synced records survive a power loss, appended ones
//! survive a process kill, and a writer refuses use after an I/O failure.

use super::*;

/// Writes `n` records, syncing after the first `synced` of them.
fn write_then_crash(sizes: &[usize], synced: usize) -> (MemFs, PathBuf, Vec<Vec<u8>>) {
    let fs = mem_fs();
    let path = db_path("000007.log");
    let mut w = LogWriter::create(&fs, &path, LogKind::Wal, FILE_NUMBER).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    let mut records = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let p = payload(i, size);
        w.add_record(&p).unwrap();
        records.push(p);
        if i + 1 == synced {
            w.sync().unwrap();
        }
    }
    fs.crash();
    (fs, path, records)
}

#[test]
fn synced_records_survive_a_crash() {
    let sizes = [10, 40_000, 0, 5, 100_000, 33, 7, 70_000];
    for synced in 0..=sizes.len() {
        let (fs, path, records) = write_then_crash(&sizes, synced);
        for mode in ALL_MODES {
            let out = read_log(&fs, &path, LogKind::Wal, mode);
            let got: Vec<Vec<u8>> = out.records.iter().map(|r| r.1.clone()).collect();
            if synced == 0 {
                // Nothing was synced, not even the header: a 0-byte file.
                assert!(out.error.is_none() && got.is_empty(), "{mode:?}");
                assert_eq!(out.file_number, 0);
                continue;
            }
            assert!(
                out.error.is_none(),
                "synced {synced}, {mode:?}: {:?}",
                out.error
            );
            assert_eq!(got, records[..synced].to_vec(), "synced {synced}, {mode:?}");
            assert!(out.dropped.is_empty());
            assert_eq!(out.file_number, FILE_NUMBER);
        }
    }
}

#[test]
fn appended_records_survive_a_process_kill() {
    // No sync at all: a killed process loses nothing that append() accepted.
    let fs = mem_fs();
    let path = db_path("000007.log");
    let mut w = LogWriter::create(&fs, &path, LogKind::Wal, FILE_NUMBER).unwrap();
    for i in 0..20 {
        w.add_record(&payload(i, i * 3_000)).unwrap();
    }
    drop(w);
    let out = read_log(&fs, &path, LogKind::Wal, RecoveryMode::AbsoluteConsistency);
    assert!(out.error.is_none());
    assert_eq!(out.records.len(), 20);
    for (i, r) in out.records.iter().enumerate() {
        assert_eq!(r.1, payload(i, i * 3_000));
    }
}

#[test]
fn crash_clone_keeps_exactly_the_synced_prefix() {
    let fs = mem_fs();
    let path = db_path("000007.log");
    let mut w = LogWriter::create(&fs, &path, LogKind::Wal, FILE_NUMBER).unwrap();
    fs.sync_dir(Path::new("/db")).unwrap();
    for i in 0..30 {
        w.add_record(&payload(i, 1 + i * 997)).unwrap();
        if i % 4 == 3 {
            w.sync().unwrap();
            let after = fs.crash_clone();
            let out = read_log(
                &after,
                &path,
                LogKind::Wal,
                RecoveryMode::AbsoluteConsistency,
            );
            assert_eq!(out.records.len(), i + 1);
        }
    }
}

#[test]
fn writer_is_poisoned_after_an_io_error() {
    let fs = mem_fs();
    let path = db_path("000007.log");
    let mut w = LogWriter::create(&fs, &path, LogKind::Wal, FILE_NUMBER).unwrap();
    w.add_record(b"before").unwrap();
    fs.crash(); // the handle is stale from now on: every write fails
    assert!(matches!(
        w.add_record(b"x"),
        Err(shale_core::Error::Io { .. })
    ));
    assert!(matches!(
        w.add_record(b"y"),
        Err(shale_core::Error::Poisoned(_))
    ));
    assert!(matches!(w.sync(), Err(shale_core::Error::Poisoned(_))));
}
