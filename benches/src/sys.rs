//! Process and directory measurements from `/proc` and the file system.
//!
//! The workspace forbids `std::fs` outside `shale-fs` because *engine* I/O must go
//! through the `FileSystem` seam; a benchmark reading `/proc` and sizing a directory is
//! not engine I/O, so this module (and only it) opts out.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

/// Resets the kernel's peak-RSS mark (`VmHWM`) to the current RSS, so the next
/// [`peak_rss_bytes`] covers only what happens after. Best effort (Linux >= 4.0).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size (`VmHWM` in `/proc/self/status`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Bytes this process passed to `write(2)` and friends so far (`wchar` in
/// `/proc/self/io`): an engine-independent count of what was written to files.
pub fn bytes_written_by_process() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let line = io.lines().find(|l| l.starts_with("wchar:"))?;
    line["wchar:".len()..].trim().parse().ok()
}

/// Total size of the regular files under `dir` (recursively).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// True if `dir` exists and holds at least one entry.
pub fn dir_has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut it| it.next().is_some())
}

/// Removes the database directory so a benchmark starts from an empty one. Refuses
/// to delete a non-empty directory that does not look like a database (no `CURRENT`,
/// `LOCK` or fjall `version` marker), so a mistyped `--db` cannot wipe someone's files.
pub fn destroy_db_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() || !dir_has_entries(dir) {
        return Ok(());
    }
    let looks_like_db = ["CURRENT", "LOCK", "version", "journals"]
        .iter()
        .any(|m| dir.join(m).exists());
    if !looks_like_db {
        return Err(format!(
            "refusing to delete {}: it is not empty and does not look like a database \
             (pass an empty or new directory with --db)",
            dir.display()
        ));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))
}

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Appends `line` (plus a newline) to `path`, writing `header` first if the file is new.
pub fn append_line(path: &Path, header: &str, line: &str) -> Result<(), String> {
    use std::io::Write;
    let new = !path.exists();
    #[allow(clippy::disallowed_types)]
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut text = String::new();
    if new {
        text.push_str(header);
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn proc_counters_are_readable() {
        assert!(super::peak_rss_bytes().unwrap() > 0);
        assert!(super::bytes_written_by_process().is_some());
    }
}
