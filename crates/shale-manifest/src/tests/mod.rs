//! Tests of the manifest crate.

mod apply;
mod crash;
mod current;
mod dump;
mod edit;
mod version_set;

use std::path::Path;
use std::sync::Arc;

use shale_core::ValueKind;
use shale_core::key::make_internal_key;
use shale_fs::{FileSystem, MemFs};

use crate::{FileMeta, VersionEdit, VersionSet};

/// The directory every test database lives in.
pub(crate) const DIR: &str = "/db";

pub(crate) fn dir() -> &'static Path {
    Path::new(DIR)
}

/// A file covering user keys `lo..=hi` with seqnos `seq..=seq`.
pub(crate) fn file(number: u64, lo: &str, hi: &str, seq: u64) -> FileMeta {
    FileMeta {
        number,
        size: 1000 + number,
        smallest: make_internal_key(lo.as_bytes(), seq, ValueKind::Value),
        largest: make_internal_key(hi.as_bytes(), seq, ValueKind::Delete),
        smallest_seqno: seq,
        largest_seqno: seq,
        num_entries: 10,
        num_deletions: 1,
    }
}

pub(crate) fn new_fs() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(dir()).unwrap();
    fs
}

pub(crate) fn create(fs: &MemFs) -> VersionSet {
    VersionSet::create_new(Arc::new(fs.clone()), dir(), 7).unwrap()
}

pub(crate) fn recover(fs: &MemFs) -> shale_core::Result<VersionSet> {
    VersionSet::recover(Arc::new(fs.clone()), dir(), 7)
}

/// A deterministic workload: flushes to L0 (new file, log number), compactions moving
/// L0 files into L1 (non-overlapping ranges), a keyspace added then one dropped.
/// Step `i` returns the edit for that step, built against `vs`'s current state.
pub(crate) fn workload_edit(vs: &mut VersionSet, i: usize) -> VersionEdit {
    match i % 7 {
        3 if i % 14 == 3 => {
            let id = vs.next_keyspace_id();
            let mut e = VersionEdit::for_keyspace(id);
            e.add_keyspace = Some((id, format!("ks{id}")));
            e.log_number = Some(vs.log_number(0));
            e
        }
        5 if vs.keyspaces().len() > 2 => {
            let (id, _) = vs.keyspaces()[1].clone();
            VersionEdit {
                drop_keyspace: Some(id),
                ..VersionEdit::default()
            }
        }
        6 => {
            // Compact every L0 file of keyspace 0 into one L1 file with a fresh range.
            let v = vs.current(0);
            let mut e = VersionEdit::for_keyspace(0);
            for f in v.files(0) {
                e.delete_file(0, f.number);
            }
            let n = vs.new_file_number();
            let lo = format!("k{n:08}");
            let hi = format!("k{n:08}z");
            e.add_file(1, file(n, &lo, &hi, 1));
            e.compact_pointers
                .push((1, make_internal_key(lo.as_bytes(), 1, ValueKind::Value)));
            e
        }
        _ => {
            // A flush into the last keyspace (default if only one).
            let ks = vs.keyspaces().last().map_or(0, |k| k.0);
            let log = vs.new_file_number();
            let n = vs.new_file_number();
            let seq = vs.last_seqno() + 10;
            vs.set_last_seqno(seq);
            let mut e = VersionEdit::for_keyspace(ks);
            e.add_file(0, file(n, "a", "z", seq));
            e.log_number = Some(log);
            e
        }
    }
}
