//! `CURRENT`: the one-line file naming the live manifest, and manifest file names.

use std::path::{Path, PathBuf};

use shale_core::{Error, Result};
use shale_fs::FileSystem;

/// Name of the file that names the live manifest.
pub const CURRENT_FILE: &str = "CURRENT";

/// Prefix of manifest file names (`MANIFEST-000001`).
pub const MANIFEST_PREFIX: &str = "MANIFEST-";

/// The name of manifest number `n` (`MANIFEST-NNNNNN`, at least six digits).
pub fn manifest_file_name(n: u64) -> String {
    format!("{MANIFEST_PREFIX}{n:06}")
}

/// The path of manifest number `n` in `dir`.
pub fn manifest_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(manifest_file_name(n))
}

/// The manifest number in a file name like `MANIFEST-000001`; `None` for other names.
pub fn parse_manifest_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(MANIFEST_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reads `dir/CURRENT` and returns the number of the manifest it names.
///
/// A missing `CURRENT` is [`Error::NotFound`] (no database here). Anything but exactly
/// one line `MANIFEST-NNNNNN\n` naming an existing file is [`Error::Corruption`] naming
/// `CURRENT`.
pub fn read_current(fs: &dyn FileSystem, dir: &Path) -> Result<u64> {
    let path = dir.join(CURRENT_FILE);
    if !fs.exists(&path) {
        return Err(Error::NotFound(path));
    }
    let bytes = fs.read_all(&path)?;
    let bad = |detail: String| Error::corruption(&path, 0, detail);
    let text =
        std::str::from_utf8(&bytes).map_err(|_| bad("CURRENT is not UTF-8 text".to_owned()))?;
    let Some(name) = text.strip_suffix('\n') else {
        return Err(bad(format!(
            "CURRENT must be one line ending in a newline, found {:?}",
            shorten(text)
        )));
    };
    let Some(number) = parse_manifest_file_name(name) else {
        return Err(bad(format!(
            "CURRENT does not name a manifest (MANIFEST-NNNNNN): {:?}",
            shorten(text)
        )));
    };
    if !fs.exists(&dir.join(name)) {
        return Err(bad(format!("CURRENT names {name}, which does not exist")));
    }
    Ok(number)
}

/// Points `dir/CURRENT` at manifest `number`, atomically and durably (temp file, sync,
/// rename, directory sync: [`shale_fs::write_file_atomic`]).
pub fn write_current(fs: &dyn FileSystem, dir: &Path, number: u64) -> Result<()> {
    let content = format!("{}\n", manifest_file_name(number));
    shale_fs::write_file_atomic(fs, &dir.join(CURRENT_FILE), content.as_bytes())
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}
