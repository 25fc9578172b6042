//! Full verification of a table: every checksum and every structural invariant.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use shale_core::key::{parse_internal_key, user_key};
use shale_core::{Error, InternalIterator, ValueKind, compare_internal_keys};
use shale_fs::FileSystem;

use crate::block::BlockIter;
use crate::options::TableOptions;
use crate::table::Table;

/// Stop collecting after this many problems; a badly damaged file would otherwise
/// report one per entry.
const MAX_ERRORS: usize = 1000;

/// Opens the table at `path` and verifies it completely (see [`Table::verify`]);
/// returns every problem found, each with file and offset. Empty means sound.
pub fn check_file(fs: &dyn FileSystem, path: &Path) -> Vec<Error> {
    let file = match fs.open_read(path) {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    match Table::open(file, path.to_path_buf(), 0, None, TableOptions::default()) {
        Ok(t) => t.verify(),
        Err(e) => vec![e],
    }
}

/// What the entries add up to, compared with the properties at the end.
#[derive(Default)]
struct Totals {
    entries: u64,
    deletions: u64,
    key_bytes: u64,
    value_bytes: u64,
    smallest_seqno: Option<u64>,
    largest_seqno: u64,
    first_key: Option<Vec<u8>>,
    blocks: u64,
}

struct Checker<'a> {
    table: &'a Table,
    errors: Vec<Error>,
}

impl Checker<'_> {
    fn report(&mut self, offset: u64, detail: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors
                .push(Error::corruption(self.table.path(), offset, detail));
        }
    }

    fn push(&mut self, e: Error) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        }
    }
}

pub(crate) fn verify_table(table: &Table) -> Vec<Error> {
    let mut c = Checker {
        table,
        errors: Vec::new(),
    };
    let index_off = table.footer().index.offset;
    let filter_off = table.footer().filter.map_or(0, |h| h.offset);
    let mut t = Totals::default();
    let mut prev_sep: Option<Vec<u8>> = None;
    let mut prev_key: Option<Vec<u8>> = None;
    let mut expected_offset = Some(0u64);
    let mut filter_reported = false;

    let mut index = table.index_iter();
    index.seek_to_first();
    while index.valid() {
        let sep = index.key().to_vec();
        if let Some(p) = &prev_sep
            && compare_internal_keys(p, &sep) != Ordering::Less
        {
            c.report(
                index_off,
                format!("index entry {} is not after the previous one", t.blocks),
            );
        }
        let handle = match table.decode_handle(index.value()) {
            Ok(h) => h,
            Err(e) => {
                c.push(e);
                expected_offset = None;
                prev_sep = Some(sep);
                index.next();
                continue;
            }
        };
        t.blocks += 1;
        if let Some(exp) = expected_offset
            && exp != handle.offset
        {
            c.report(
                index_off,
                format!(
                    "data block {} starts at {}, expected {exp}",
                    t.blocks - 1,
                    handle.offset
                ),
            );
        }
        expected_offset = handle.end_with_trailer();
        let block = match table.read_data_block_uncached(handle) {
            Ok(b) => b,
            Err(e) => {
                c.push(e);
                prev_sep = Some(sep);
                index.next();
                continue;
            }
        };
        let mut it = BlockIter::new(block, Arc::clone(table.shared_path()), handle.offset);
        it.seek_to_first();
        let mut in_block = 0u64;
        while it.valid() {
            let key = it.key();
            let at = handle.offset;
            match parse_internal_key(key) {
                None => c.report(at, format!("entry {in_block}: unknown value kind")),
                Some(p) => {
                    if matches!(p.kind, ValueKind::Delete | ValueKind::RangeDelete) {
                        t.deletions += 1;
                    }
                    t.smallest_seqno = Some(t.smallest_seqno.map_or(p.seq, |s| s.min(p.seq)));
                    t.largest_seqno = t.largest_seqno.max(p.seq);
                }
            }
            if let Some(pk) = &prev_key
                && compare_internal_keys(pk, key) != Ordering::Less
            {
                c.report(
                    at,
                    format!("entry {in_block}: key not after the previous key"),
                );
            }
            if compare_internal_keys(key, &sep) == Ordering::Greater {
                c.report(
                    at,
                    format!("entry {in_block}: key beyond the block's index separator"),
                );
            }
            if let Some(ps) = &prev_sep
                && compare_internal_keys(key, ps) != Ordering::Greater
            {
                c.report(
                    at,
                    format!("entry {in_block}: key not after the previous separator"),
                );
            }
            let new_user_key = prev_key
                .as_ref()
                .is_none_or(|pk| user_key(pk) != user_key(key));
            if new_user_key
                && !filter_reported
                && let Some(f) = table.filter()
                && !f.may_contain(user_key(key))
            {
                filter_reported = true;
                c.report(
                    filter_off,
                    "filter block misses a key the table holds".into(),
                );
            }
            if t.first_key.is_none() {
                t.first_key = Some(key.to_vec());
            }
            t.entries += 1;
            t.key_bytes += key.len() as u64;
            t.value_bytes += it.value().len() as u64;
            in_block += 1;
            prev_key = Some(key.to_vec());
            it.next();
        }
        if let Err(e) = it.status() {
            c.push(e);
        } else if in_block == 0 {
            c.report(handle.offset, "empty data block".into());
        }
        prev_sep = Some(sep);
        index.next();
    }
    if let Err(e) = index.status() {
        c.push(e);
    }
    if c.errors.is_empty() {
        check_properties(&mut c, &t, prev_key.as_deref(), expected_offset);
    }
    c.errors
}

fn check_properties(
    c: &mut Checker<'_>,
    t: &Totals,
    last_key: Option<&[u8]>,
    data_end: Option<u64>,
) {
    let p = c.table.properties().clone();
    let at = c.table.footer().properties.offset;
    let mut mismatch = |what: &str, prop: String, actual: String| {
        c.report(
            at,
            format!("properties say {what} = {prop}, the data has {actual}"),
        );
    };
    let checks: [(&str, u64, u64); 6] = [
        ("entries", p.num_entries, t.entries),
        ("deletions", p.num_deletions, t.deletions),
        ("raw_key_bytes", p.raw_key_bytes, t.key_bytes),
        ("raw_value_bytes", p.raw_value_bytes, t.value_bytes),
        ("data_blocks", p.num_data_blocks, t.blocks),
        ("largest_seqno", p.largest_seqno, t.largest_seqno),
    ];
    for (what, prop, actual) in checks {
        if prop != actual {
            mismatch(what, prop.to_string(), actual.to_string());
        }
    }
    let smallest = t.smallest_seqno.unwrap_or(0);
    if p.smallest_seqno != smallest {
        mismatch(
            "smallest_seqno",
            p.smallest_seqno.to_string(),
            smallest.to_string(),
        );
    }
    let data_end = data_end.unwrap_or(0);
    if p.data_size != data_end {
        mismatch("data_size", p.data_size.to_string(), data_end.to_string());
    }
    let first = t.first_key.as_deref().unwrap_or(&[]);
    if p.smallest_key != first {
        mismatch(
            "smallest_key",
            crate::dump::escape(&p.smallest_key),
            crate::dump::escape(first),
        );
    }
    let last = last_key.unwrap_or(&[]);
    if p.largest_key != last {
        mismatch(
            "largest_key",
            crate::dump::escape(&p.largest_key),
            crate::dump::escape(last),
        );
    }
}
