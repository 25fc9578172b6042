//! Checksum and format checks of every file in a (closed) data directory, through the
//! workspace's own checkers: `shale_manifest::check` (CURRENT, every edit, the LSM
//! invariants, live tables present with the recorded sizes), `shale_sstable::check_file`
//! on every table, and a full read of every WAL (every fragment checksum, every write
//! batch decodes).

use std::path::Path;

use shale_wal::{LogKind, LogReader, RecoveryMode};
use shaledb::{FileSystem, WriteBatch};

/// Every problem found in the database directory `dir` on `fs`, one line each. Call it
/// only on a directory no `Db` has open (a cleanly closed one: after a crash, a torn
/// WAL tail or a half-written table is expected until recovery cleans them up).
pub fn check_dir(fs: &dyn FileSystem, dir: &Path, num_levels: usize) -> Vec<String> {
    let mut problems: Vec<String> = shale_manifest::check(fs, dir, num_levels)
        .into_iter()
        .map(|e| format!("manifest: {e}"))
        .collect();
    let names = match fs.list(dir) {
        Ok(n) => n,
        Err(e) => {
            problems.push(format!("list {}: {e}", dir.display()));
            return problems;
        }
    };
    for name in names {
        let path = dir.join(&name);
        if name.ends_with(".sst") {
            problems.extend(
                shale_sstable::check_file(fs, &path)
                    .into_iter()
                    .map(|e| format!("table: {e}")),
            );
        } else if name.ends_with(".log") {
            problems.extend(check_wal(fs, &path));
        }
    }
    problems
}

/// Reads a WAL to the end, skipping damage; reports damaged regions and batches that
/// do not decode.
fn check_wal(fs: &dyn FileSystem, path: &Path) -> Vec<String> {
    let mut reader = match LogReader::open(
        fs,
        path,
        LogKind::Wal,
        RecoveryMode::SkipAnyCorruptedRecords,
    ) {
        Ok(r) => r,
        Err(e) => return vec![format!("wal: {e}")],
    };
    let mut problems = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some((offset, payload))) => {
                if let Err(e) = WriteBatch::from_bytes(&payload) {
                    problems.push(format!("wal: {}", e.relocated(path, offset)));
                }
            }
            Ok(None) => break,
            Err(e) => {
                problems.push(format!("wal: {e}"));
                break;
            }
        }
    }
    for d in reader.dropped() {
        problems.push(format!(
            "wal: {} offset {}: {} ({} bytes)",
            path.display(),
            d.offset,
            d.reason,
            d.bytes
        ));
    }
    problems
}
