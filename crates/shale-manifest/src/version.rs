//! [`FileMeta`] and [`Version`]: the immutable shape of one keyspace's tree.

use std::cmp::Ordering;
use std::sync::Arc;

use shale_core::key::{compare_bytes, compare_internal_keys, user_key};
use shale_core::{Error, Result, SeqNo};

/// What the engine knows about one table file, recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The file number (`NNNNNN.sst`).
    pub number: u64,
    /// Size in bytes.
    pub size: u64,
    /// Smallest internal key in the file.
    pub smallest: Vec<u8>,
    /// Largest internal key in the file.
    pub largest: Vec<u8>,
    /// Smallest seqno of any entry.
    pub smallest_seqno: SeqNo,
    /// Largest seqno of any entry.
    pub largest_seqno: SeqNo,
    /// Number of entries (all kinds).
    pub num_entries: u64,
    /// Number of tombstones (point and range).
    pub num_deletions: u64,
}

impl FileMeta {
    /// Smallest user key.
    pub fn smallest_user_key(&self) -> &[u8] {
        user_key(&self.smallest)
    }

    /// Largest user key.
    pub fn largest_user_key(&self) -> &[u8] {
        user_key(&self.largest)
    }

    /// True if the file's user-key range intersects `[lo, hi]` (None = unbounded).
    pub fn overlaps(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> bool {
        let before = hi.is_some_and(|hi| compare_bytes(self.smallest_user_key(), hi).is_gt());
        let after = lo.is_some_and(|lo| compare_bytes(self.largest_user_key(), lo).is_lt());
        !(before || after)
    }
}

/// The files of one keyspace's tree at one moment. Immutable: changes produce a new
/// `Version` (see `VersionEdit`), so readers can hold one without locks.
///
/// Invariants (checked by [`Version::check_invariants`]):
/// * level 0 is ordered newest first (by `largest_seqno`, ties by file number, both
///   descending); its files may overlap;
/// * every level ≥ 1 is ordered by smallest key and its files do not overlap (by user key);
/// * every file's `smallest <= largest`, and a file number appears once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    levels: Vec<Vec<Arc<FileMeta>>>,
}

impl Version {
    /// An empty tree with `num_levels` levels (at least 2).
    pub fn new(num_levels: usize) -> Self {
        Version {
            levels: vec![Vec::new(); num_levels.max(2)],
        }
    }

    /// Builds a version from files per level, sorting each level into its canonical
    /// order. Use [`Version::check_invariants`] to validate the result.
    pub fn from_levels(mut levels: Vec<Vec<Arc<FileMeta>>>) -> Self {
        while levels.len() < 2 {
            levels.push(Vec::new());
        }
        for (i, files) in levels.iter_mut().enumerate() {
            if i == 0 {
                files.sort_by(|a, b| newest_first(a, b));
            } else {
                files.sort_by(|a, b| compare_internal_keys(&a.smallest, &b.smallest));
            }
        }
        Version { levels }
    }

    /// Number of levels.
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    /// The files of `level` in canonical order (empty for a level past the end).
    pub fn files(&self, level: usize) -> &[Arc<FileMeta>] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// Every level's files.
    pub fn levels(&self) -> &[Vec<Arc<FileMeta>>] {
        &self.levels
    }

    /// Total bytes in `level`.
    pub fn level_bytes(&self, level: usize) -> u64 {
        self.files(level).iter().map(|f| f.size).sum()
    }

    /// Total number of files.
    pub fn num_files(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// The deepest level that holds any file (0 if the tree is empty).
    pub fn bottommost_nonempty_level(&self) -> usize {
        self.levels.iter().rposition(|l| !l.is_empty()).unwrap_or(0)
    }

    /// Files of `level` whose user-key range intersects `[lo, hi]` (None = unbounded),
    /// in the level's order.
    pub fn overlapping_files(
        &self,
        level: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) -> Vec<Arc<FileMeta>> {
        let files = self.files(level);
        if level == 0 {
            return files
                .iter()
                .filter(|f| f.overlaps(lo, hi))
                .cloned()
                .collect();
        }
        // Sorted and disjoint: binary search for the first file that ends at/after lo.
        let start = lo.map_or(0, |lo| files.partition_point(|f| f.largest_user_key() < lo));
        files
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(|f| hi.is_none_or(|hi| f.smallest_user_key() <= hi))
            .cloned()
            .collect()
    }

    /// The files a point lookup of `key` must consult, in the order it must consult
    /// them: every overlapping level-0 file newest first, then at most one file per
    /// deeper level.
    pub fn files_for_key<'a>(
        &'a self,
        key: &'a [u8],
    ) -> impl Iterator<Item = (usize, &'a Arc<FileMeta>)> + 'a {
        self.levels
            .iter()
            .enumerate()
            .flat_map(move |(level, files)| {
                // Level 0: every file whose range holds the key; deeper levels: the
                // one file that might (no allocation: this runs on every lookup).
                let (overlapping, deeper): (&[Arc<FileMeta>], _) = if level == 0 {
                    (files, None)
                } else {
                    let i =
                        files.partition_point(|f| compare_bytes(f.largest_user_key(), key).is_lt());
                    let holds =
                        |f: &&Arc<FileMeta>| compare_bytes(f.smallest_user_key(), key).is_le();
                    (&[], files.get(i).filter(holds))
                };
                overlapping
                    .iter()
                    .filter(move |f| f.overlaps(Some(key), Some(key)))
                    .chain(deeper)
                    .map(move |f| (level, f))
            })
    }

    /// Verifies the invariants listed on the type; the error names the first violation.
    pub fn check_invariants(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (level, files) in self.levels.iter().enumerate() {
            for f in files {
                if !seen.insert(f.number) {
                    return Err(invariant(format!("file {} appears twice", f.number)));
                }
                if compare_internal_keys(&f.smallest, &f.largest) == Ordering::Greater {
                    return Err(invariant(format!(
                        "file {} at L{level}: smallest key sorts after largest",
                        f.number
                    )));
                }
                if f.smallest_seqno > f.largest_seqno {
                    return Err(invariant(format!(
                        "file {} at L{level}: smallest seqno above largest",
                        f.number
                    )));
                }
            }
            for pair in files.windows(2) {
                let [a, b] = pair else { continue };
                if level == 0 {
                    if newest_first(a, b) == Ordering::Greater {
                        return Err(invariant(format!(
                            "L0 files {} and {} are not newest first",
                            a.number, b.number
                        )));
                    }
                } else if a.largest_user_key() >= b.smallest_user_key() {
                    return Err(invariant(format!(
                        "L{level} files {} and {} overlap or are out of order",
                        a.number, b.number
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Level-0 order: newest data first.
fn newest_first(a: &FileMeta, b: &FileMeta) -> Ordering {
    b.largest_seqno
        .cmp(&a.largest_seqno)
        .then(b.number.cmp(&a.number))
}

fn invariant(detail: String) -> Error {
    Error::corruption("MANIFEST", 0, format!("LSM invariant violated: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shale_core::ValueKind;
    use shale_core::key::make_internal_key;

    fn file(number: u64, lo: &str, hi: &str, seq: SeqNo) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            size: 100,
            smallest: make_internal_key(lo.as_bytes(), seq, ValueKind::Value),
            largest: make_internal_key(hi.as_bytes(), seq, ValueKind::Value),
            smallest_seqno: seq,
            largest_seqno: seq,
            num_entries: 1,
            num_deletions: 0,
        })
    }

    #[test]
    fn point_lookup_order_and_overlap() {
        let v = Version::from_levels(vec![
            vec![file(1, "a", "m", 5), file(2, "k", "z", 9)],
            vec![
                file(3, "a", "c", 1),
                file(4, "d", "f", 1),
                file(5, "x", "y", 1),
            ],
            vec![file(6, "a", "z", 0)],
        ]);
        v.check_invariants().unwrap();
        let nums: Vec<_> = v.files_for_key(b"l").map(|(l, f)| (l, f.number)).collect();
        assert_eq!(nums, vec![(0, 2), (0, 1), (2, 6)]);
        let nums: Vec<_> = v.files_for_key(b"e").map(|(l, f)| (l, f.number)).collect();
        assert_eq!(nums, vec![(0, 1), (1, 4), (2, 6)]);
        let over: Vec<_> = v
            .overlapping_files(1, Some(b"c"), Some(b"e"))
            .iter()
            .map(|f| f.number)
            .collect();
        assert_eq!(over, vec![3, 4]);
        assert_eq!(v.overlapping_files(1, None, None).len(), 3);
        assert_eq!(v.bottommost_nonempty_level(), 2);
        assert_eq!(v.level_bytes(1), 300);
    }

    #[test]
    fn invariants_catch_overlap_and_duplicates() {
        let bad = Version::from_levels(vec![
            vec![],
            vec![file(1, "a", "f", 1), file(2, "e", "z", 1)],
        ]);
        assert!(bad.check_invariants().is_err());
        let dup =
            Version::from_levels(vec![vec![file(1, "a", "b", 1)], vec![file(1, "c", "d", 1)]]);
        assert!(dup.check_invariants().is_err());
    }
}
