//! Names of the files in a database directory.

use std::path::{Path, PathBuf};

/// The lock file held while a `Db` is open.
pub const LOCK_FILE: &str = "LOCK";

/// What a file in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// `NNNNNN.log`: a write-ahead log.
    Wal(u64),
    /// `LOCK`.
    Lock,
}

/// Path of WAL number `n`.
pub fn wal_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.log"))
}

/// Classifies a directory entry; `None` for files that are not the database's.
pub fn parse_file_name(name: &str) -> Option<FileKind> {
    if name == LOCK_FILE {
        return Some(FileKind::Lock);
    }
    let (stem, ext) = name.split_once('.')?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = stem.parse().ok()?;
    match ext {
        "log" => Some(FileKind::Wal(n)),
        _ => None,
    }
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
        assert_eq!(
            parse_file_name("1234567.log"),
            Some(FileKind::Wal(1_234_567))
        );
        assert_eq!(parse_file_name("LOCK"), Some(FileKind::Lock));
        for junk in [
            "x.log",
            ".log",
            "000001.log.dropped",
            "000001",
            "-1.log",
            "README",
        ] {
            assert_eq!(parse_file_name(junk), None, "{junk}");
        }
    }
}
