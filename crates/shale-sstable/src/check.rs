//! Full verification of a table: every checksum and every structural invariant.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use shale_core::key::{make_internal_key, parse_internal_key, user_key};
use shale_core::range_del::inclusive_upper_bound;
use shale_core::{Error, InternalIterator, ValueKind, compare_internal_keys};
use shale_fs::FileSystem;

use crate::block::BlockIter;
use crate::footer::RANGE_DEL_FORMAT_VERSION;
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
    range_deletions: u64,
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
                    if p.kind == ValueKind::RangeDelete
                        && table.footer().format_version >= RANGE_DEL_FORMAT_VERSION
                    {
                        c.report(
                            at,
                            format!(
                                "entry {in_block}: a RangeDelete in a data block (format \
                                 version 2 keeps them in the range-deletion block)"
                            ),
                        );
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
    let mut last_key = prev_key;
    check_range_dels(&mut c, &mut t, &mut last_key, expected_offset);
    if c.errors.is_empty() {
        check_properties(&mut c, &t, last_key.as_deref(), expected_offset);
    }
    c.errors
}

/// Reads the range-deletion block again (every entry checked as at open), checks that
/// it does not overlap the data blocks, and folds its tombstones into the totals and
/// the key range (`first_key` / `last_key`) the properties must agree with.
fn check_range_dels(
    c: &mut Checker<'_>,
    t: &mut Totals,
    last_key: &mut Option<Vec<u8>>,
    data_end: Option<u64>,
) {
    let Some(h) = c.table.properties().range_del_block else {
        return;
    };
    if let Some(end) = data_end
        && h.offset < end
    {
        c.report(
            c.table.footer().properties.offset,
            format!(
                "range-deletion block at {} overlaps the data blocks (which end at {end})",
                h.offset
            ),
        );
    }
    let list = match c.table.read_range_tombstones() {
        Ok(l) => l,
        Err(e) => {
            c.push(e);
            return;
        }
    };
    for r in &list {
        t.range_deletions += 1;
        t.deletions += 1;
        t.smallest_seqno = Some(t.smallest_seqno.map_or(r.seq, |s| s.min(r.seq)));
        t.largest_seqno = t.largest_seqno.max(r.seq);
    }
    if let Some(first) = list.first() {
        let k = make_internal_key(&first.start, first.seq, ValueKind::RangeDelete);
        if t.first_key
            .as_ref()
            .is_none_or(|f| compare_internal_keys(&k, f) == Ordering::Less)
        {
            t.first_key = Some(k);
        }
    }
    if let Some(end) = list.iter().map(|r| &r.end).max() {
        let k = make_internal_key(inclusive_upper_bound(end), 0, ValueKind::RangeDelete);
        if last_key
            .as_ref()
            .is_none_or(|l| compare_internal_keys(&k, l) == Ordering::Greater)
        {
            *last_key = Some(k);
        }
    }
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
    let checks: [(&str, u64, u64); 7] = [
        ("entries", p.num_entries, t.entries),
        ("deletions", p.num_deletions, t.deletions),
        ("range_deletions", p.num_range_deletions, t.range_deletions),
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
