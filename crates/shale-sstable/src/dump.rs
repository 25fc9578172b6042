//! Human-readable dumps of a table, for `shale dump-sst`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use shale_core::key::{parse_internal_key, split_internal_key};
use shale_core::range_del::{UNBOUNDED_END, unbounded_end};
use shale_core::{Error, InternalIterator, Result};
use shale_fs::FileSystem;

use crate::block::BlockIter;
use crate::options::TableOptions;
use crate::table::Table;

/// What [`dump`] prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpOptions {
    /// Print a header line for every data block before its entries.
    pub blocks: bool,
    /// Print keys and values as hex instead of escaped text.
    pub hex: bool,
}

/// Printable ASCII as is, `\\`, `\"` and `\xNN` for everything else.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn show(bytes: &[u8], opts: DumpOptions) -> String {
    if opts.hex {
        hex(bytes)
    } else {
        format!("\"{}\"", escape(bytes))
    }
}

/// `"user" @ seq kind`, or the raw bytes when the key is not a valid internal key.
pub fn format_internal_key(ikey: &[u8], opts: DumpOptions) -> String {
    match parse_internal_key(ikey) {
        Some(p) => format!("{} @ {} : {:?}", show(p.user_key, opts), p.seq, p.kind),
        None => {
            let (user, trailer) = split_internal_key(ikey);
            format!("{} @ trailer {trailer:#018x}", show(user, opts))
        }
    }
}

/// Opens the table at `path` and dumps it (see [`dump_table`]).
pub fn dump(
    fs: &dyn FileSystem,
    path: &Path,
    out: &mut dyn Write,
    opts: DumpOptions,
) -> Result<()> {
    let file = fs.open_read(path)?;
    let table = Table::open(file, path.to_path_buf(), 0, None, TableOptions::default())?;
    dump_table(&table, out, opts)
}

/// Prints the footer, the properties, the index (separator → block handle), the range
/// tombstones (`[start, end) @ seq`, as stored) and every entry (user key, seqno, kind,
/// value) of `table`. Stops at the first damaged block and returns its error after
/// printing what came before.
pub fn dump_table(table: &Table, out: &mut dyn Write, opts: DumpOptions) -> Result<()> {
    let w = |out: &mut dyn Write, line: String| {
        writeln!(out, "{line}").map_err(|e| Error::io("write", "<dump output>", e))
    };
    let f = table.footer();
    w(out, format!("table: {}", table.path().display()))?;
    w(out, format!("file_size: {}", table.file_size()))?;
    w(out, format!("format_version: {}", f.format_version))?;
    w(
        out,
        format!(
            "index_block: offset {} size {}",
            f.index.offset, f.index.size
        ),
    )?;
    match f.filter {
        Some(h) => w(
            out,
            format!("filter_block: offset {} size {}", h.offset, h.size),
        )?,
        None => w(out, "filter_block: none".into())?,
    }
    match table.properties().range_del_block {
        Some(h) => w(
            out,
            format!("range_del_block: offset {} size {}", h.offset, h.size),
        )?,
        None => w(out, "range_del_block: none".into())?,
    }
    let p = f.properties;
    w(
        out,
        format!("properties_block: offset {} size {}", p.offset, p.size),
    )?;
    w(out, "properties:".into())?;
    for (name, value) in table.properties().to_pairs() {
        w(out, format!("  {name}: {value}"))?;
    }

    let mut handles = Vec::new();
    w(out, "index:".into())?;
    let mut index = table.index_iter();
    index.seek_to_first();
    while index.valid() {
        let h = table.decode_handle(index.value())?;
        w(
            out,
            format!(
                "  [{}] {} -> offset {} size {}",
                handles.len(),
                format_internal_key(index.key(), opts),
                h.offset,
                h.size
            ),
        )?;
        handles.push(h);
        index.next();
    }
    index.status()?;

    let range_dels = table.read_range_tombstones()?;
    w(out, format!("range_tombstones: {}", range_dels.len()))?;
    for t in &range_dels {
        let end = if t.end.len() == UNBOUNDED_END && t.end == unbounded_end() {
            "<end of key space>".to_string()
        } else {
            show(&t.end, opts)
        };
        w(
            out,
            format!("  [{}, {end}) @ {}", show(&t.start, opts), t.seq),
        )?;
    }

    w(out, "entries:".into())?;
    for (i, h) in handles.into_iter().enumerate() {
        let block = table.read_data_block_uncached(h)?;
        if opts.blocks {
            w(
                out,
                format!(
                    "  block {i}: offset {} size {} ({} bytes decoded, {} restarts)",
                    h.offset,
                    h.size,
                    block.size(),
                    block.num_restarts()
                ),
            )?;
        }
        let mut it = BlockIter::new(block, Arc::clone(table.shared_path()), h.offset);
        it.seek_to_first();
        while it.valid() {
            w(
                out,
                format!(
                    "  {} => {}",
                    format_internal_key(it.key(), opts),
                    show(it.value(), opts)
                ),
            )?;
            it.next();
        }
        it.status()?;
    }
    Ok(())
}
