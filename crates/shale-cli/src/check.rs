//! `shale check`: verify every checksum of every file in a data directory, reading
//! files directly (no `Db` is opened, so a damaged directory can still be checked).

use std::path::{Path, PathBuf};

use shale_fs::{FileSystem, StdFs};
use shale_wal::{LogKind, LogReader, RecoveryMode};
use shaledb::{Error, Result};

/// The manifest that `CURRENT` names.
pub fn current_manifest(dir: &Path) -> Result<PathBuf> {
    let current = dir.join("CURRENT");
    let text = StdFs.read_all(&current)?;
    let name = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.strip_suffix('\n'))
        .filter(|n| n.starts_with("MANIFEST-") && !n.contains('/'))
        .ok_or_else(|| Error::corruption(&current, 0, "CURRENT does not name a manifest"))?;
    Ok(dir.join(name))
}

/// Every problem found in `dir`, each with its file and offset.
pub fn check_dir(dir: &Path) -> Result<Vec<Error>> {
    let fs = StdFs;
    let mut problems = Vec::new();
    if fs.exists(&dir.join("CURRENT")) {
        match current_manifest(dir) {
            Ok(m) if !fs.exists(&m) => problems.push(Error::corruption(
                dir.join("CURRENT"),
                0,
                format!("names missing {}", m.display()),
            )),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    for name in fs.list(dir)? {
        let path = dir.join(&name);
        if name.ends_with(".sst") {
            problems.extend(shale_sstable::check_file(&fs, &path));
        } else if name.ends_with(".log") {
            problems.extend(check_log(&fs, &path, LogKind::Wal));
        } else if name.starts_with("MANIFEST-") {
            problems.extend(check_log(&fs, &path, LogKind::Manifest));
        }
    }
    Ok(problems)
}

/// Reads a log to the end, skipping damage, and reports every damaged region. For a
/// manifest every edit must also decode; for a WAL every write batch.
fn check_log(fs: &dyn FileSystem, path: &Path, kind: LogKind) -> Vec<Error> {
    let mut reader = match LogReader::open(fs, path, kind, RecoveryMode::SkipAnyCorruptedRecords) {
        Ok(r) => r,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some((offset, payload))) => {
                let decoded = match kind {
                    LogKind::Wal => shaledb::WriteBatch::from_bytes(&payload).map(|_| ()),
                    LogKind::Manifest => shale_manifest::VersionEdit::decode(&payload).map(|_| ()),
                };
                if let Err(e) = decoded {
                    problems.push(e.relocated(path, offset));
                }
            }
            Ok(None) => break,
            Err(e) => {
                problems.push(e);
                break;
            }
        }
    }
    for d in reader.dropped() {
        problems.push(Error::corruption(
            path,
            d.offset,
            format!("{} ({} bytes)", d.reason, d.bytes),
        ));
    }
    problems
}
