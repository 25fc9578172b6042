//! Names of the files in a database directory.

use std::path::{Path, PathBuf};

/// The lock file held while a `Db` is open.
pub const LOCK_FILE: &str = "LOCK";
/// The file naming the live manifest.
pub const CURRENT_FILE: &str = "CURRENT";

/// What a file in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// `NNNNNN.log`: a write-ahead log.
    Wal(u64),
    /// `NNNNNN.sst`: a table.
    Table(u64),
    /// `MANIFEST-NNNNNN`.
    Manifest(u64),
    /// `CURRENT`.
    Current,
    /// `LOCK`.
    Lock,
    /// `*.dbtmp`: a temporary file of an interrupted atomic replace.
    Temp,
    /// `NNNNNN.log.damaged`: a WAL whose replay dropped damage, kept for inspection.
    DamagedWal(u64),
}

/// How many damaged WALs are kept for inspection; older ones are deleted on open.
pub const DAMAGED_WALS_KEPT: usize = 4;

/// Path of WAL number `n`.
pub fn wal_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.log"))
}

/// Path of table number `n`.
pub fn table_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.sst"))
}

/// Classifies a directory entry; `None` for files that are not the database's.
pub fn parse_file_name(name: &str) -> Option<FileKind> {
    match name {
        LOCK_FILE => return Some(FileKind::Lock),
        CURRENT_FILE => return Some(FileKind::Current),
        _ => {}
    }
    if name.ends_with(".dbtmp") {
        return Some(FileKind::Temp);
    }
    if let Some(stem) = name.strip_suffix(".log.damaged") {
        return parse_number(stem).map(FileKind::DamagedWal);
    }
    if let Some(n) = name.strip_prefix("MANIFEST-") {
        return parse_number(n).map(FileKind::Manifest);
    }
    let (stem, ext) = name.split_once('.')?;
    let n = parse_number(stem)?;
    match ext {
        "log" => Some(FileKind::Wal(n)),
        "sst" => Some(FileKind::Table(n)),
        _ => None,
    }
}

fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        let p = wal_path(Path::new("/db"), 42);
        assert_eq!(p, Path::new("/db/000042.log"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_file_name(name), Some(FileKind::Wal(42)));
        let t = table_path(Path::new("/db"), 7);
        assert_eq!(
            parse_file_name(t.file_name().unwrap().to_str().unwrap()),
            Some(FileKind::Table(7))
        );
        assert_eq!(
            parse_file_name("1234567.log"),
            Some(FileKind::Wal(1_234_567))
        );
        assert_eq!(
            parse_file_name("MANIFEST-000003"),
            Some(FileKind::Manifest(3))
        );
        assert_eq!(parse_file_name("CURRENT"), Some(FileKind::Current));
        assert_eq!(parse_file_name("CURRENT.dbtmp"), Some(FileKind::Temp));
        assert_eq!(parse_file_name("LOCK"), Some(FileKind::Lock));
        assert_eq!(
            parse_file_name("000012.log.damaged"),
            Some(FileKind::DamagedWal(12))
        );
        for junk in [
            "x.log",
            ".log",
            "000001.log.dropped",
            "000001",
            "-1.log",
            "README",
            "MANIFEST-",
            "MANIFEST-x1",
        ] {
            assert_eq!(parse_file_name(junk), None, "{junk}");
        }
    }
}
