//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the stable-toolchain
//! corpus replay test (`tests/fuzz_corpus.rs`). Not part of the supported API.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use shale_core::coding::decode_fixed64;
use shale_core::{InternalIterator, LookupKey, MAX_SEQNO};
use shale_fs::{FileSystem, MemFs};

use crate::block::{Block, BlockIter};
use crate::cache::BlockCache;
use crate::compress::decode_block;
use crate::footer::{FOOTER_LEN, footer_crc};
use crate::format::{BLOCK_TRAILER_LEN, BlockHandle, block_checksum};
use crate::options::TableOptions;
use crate::properties::TableProperties;
use crate::table::Table;

/// Most entries a run looks at, so huge (decompressed) inputs stay fast.
const MAX_STEPS: usize = 2000;

/// Treats `data` as a table file: opens it and exercises every read path (scans both
/// ways, seeks, gets, verify, dump). Must never panic, whatever `data` holds.
///
/// The input is tried twice: as is, and with every block checksum it can locate
/// recomputed, so that mutations also reach the decoders behind the crc checks.
pub fn fuzz_table(data: &[u8]) {
    run_table(data);
    if let Some(fixed) = fix_checksums(data) {
        run_table(&fixed);
    }
}

/// Rewrites the footer crc and the trailer crc of every block the footer, the
/// properties (`range_del_block`) and the index point at; `None` when nothing could be
/// located.
pub fn fix_checksums(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = data.to_vec();
    let footer_at = out.len().checked_sub(FOOTER_LEN)?;
    let fix_block = |out: &mut Vec<u8>, h: BlockHandle| {
        let (Ok(off), Ok(size)) = (usize::try_from(h.offset), usize::try_from(h.size)) else {
            return;
        };
        let Some(end) = off.checked_add(size) else {
            return;
        };
        if end.saturating_add(BLOCK_TRAILER_LEN) > footer_at {
            return;
        }
        let crc = block_checksum(&out[off..end], out[end]);
        out[end + 1..end + 5].copy_from_slice(&crc.to_le_bytes());
    };
    let handle = |out: &[u8], i: usize| BlockHandle {
        offset: decode_fixed64(&out[footer_at + 16 * i..]).unwrap_or(0),
        size: decode_fixed64(&out[footer_at + 16 * i + 8..]).unwrap_or(0),
    };
    for i in 0..3 {
        let h = handle(&out, i);
        if h != BlockHandle::default() {
            // (0, 0) is "no filter", not an empty block at offset 0.
            fix_block(&mut out, h);
        }
    }
    let mut footer = [0u8; FOOTER_LEN];
    footer.copy_from_slice(&out[footer_at..]);
    let crc = footer_crc(&footer);
    out[footer_at + 48..footer_at + 52].copy_from_slice(&crc.to_le_bytes());

    // With the properties readable, fix the range-deletion block they name.
    let props = handle(&out, 2);
    let stored = usize::try_from(props.offset)
        .ok()
        .zip(usize::try_from(props.size).ok())
        .and_then(|(off, size)| {
            let end = off.checked_add(size)?.checked_add(BLOCK_TRAILER_LEN)?;
            out.get(off..end.min(footer_at))
        })
        .map(<[u8]>::to_vec);
    let range_del = stored
        .and_then(|b| decode_block(b, Path::new("fuzz"), 0).ok())
        .and_then(|d| TableProperties::decode(&d).ok())
        .and_then(|p| p.range_del_block);
    if let Some(h) = range_del {
        fix_block(&mut out, h);
    }

    // With the index readable (the table opens), fix the data blocks it names.
    let mut handles = Vec::new();
    if let Some(table) = open(&out) {
        let mut index = table.index_iter();
        index.seek_to_first();
        while index.valid() && handles.len() < MAX_STEPS {
            if let Some(h) = BlockHandle::decode_exact(index.value()) {
                handles.push(h);
            }
            index.next();
        }
    }
    for h in handles {
        fix_block(&mut out, h);
    }
    (out != data).then_some(out)
}

fn open(data: &[u8]) -> Option<Arc<Table>> {
    let fs = MemFs::new();
    let dir = Path::new("/fuzz");
    let path = dir.join("000001.sst");
    fs.create_dir_all(dir).ok()?;
    let mut f = fs.create(&path).ok()?;
    f.append(data).ok()?;
    let file = fs.open_read(&path).ok()?;
    Table::open(file, path, 1, None, TableOptions::default()).ok()
}

fn run_table(data: &[u8]) {
    let fs = MemFs::new();
    let dir = Path::new("/fuzz");
    let path = dir.join("000001.sst");
    let written = fs.create_dir_all(dir).and_then(|()| {
        let mut f = fs.create(&path)?;
        f.append(data)?;
        f.sync_data()
    });
    if written.is_err() {
        return;
    }
    let Ok(file) = fs.open_read(&path) else {
        return;
    };
    let cache = Arc::new(BlockCache::new(1 << 20));
    let Ok(table) = Table::open(file, path.clone(), 1, Some(cache), TableOptions::default()) else {
        return;
    };

    let mut keys = Vec::new();
    let mut it = table.iter();
    it.seek_to_first();
    while it.valid() && keys.len() < MAX_STEPS {
        keys.push(it.key().to_vec());
        let _ = it.value();
        it.next();
    }
    let _ = it.status();
    let mut steps = 0;
    it.seek_to_last();
    while it.valid() && steps < MAX_STEPS {
        steps += 1;
        it.prev();
    }
    for (i, k) in keys.iter().enumerate().take(64) {
        it.seek(k);
        if it.valid() {
            it.prev();
        }
        if it.valid() {
            it.next();
        }
        it.seek_for_prev(k);
        if it.valid() && i % 2 == 0 {
            it.next();
        }
        let user = shale_core::key::user_key(k);
        let _ = table.get(LookupKey::new(user, MAX_SEQNO).internal_key());
        let _ = table.get(LookupKey::new(user, 0).internal_key());
        let _ = table.may_contain(user);
    }
    // Targets taken from the input itself reach odd corners of the index.
    for chunk in data.chunks(24).take(8) {
        it.seek(chunk);
        it.seek_for_prev(chunk);
        let _ = table.get(chunk);
    }
    if let Some(ranges) = table.range_tombstones() {
        for k in keys.iter().take(64) {
            let user = shale_core::key::user_key(k);
            let _ = ranges.max_covering_seq(user, MAX_SEQNO);
            let _ = ranges.covers(user, 0, MAX_SEQNO);
        }
        let _ = ranges.bounds();
        let _ = ranges.clipped(keys.first().map(Vec::as_slice), None);
    }
    let _ = table.read_range_tombstones();
    let _ = table.verify();
    let _ = crate::dump::dump_table(&table, &mut std::io::sink(), Default::default());
    let _ = table.memory_usage();
}

/// Treats `data` as decoded block contents and walks it every way. Never panics.
pub fn fuzz_block(data: &[u8]) {
    let Ok(block) = Block::new(Bytes::copy_from_slice(data)) else {
        return;
    };
    let mut it = BlockIter::new(block, Arc::from(Path::new("fuzz")), 0);
    let mut keys = Vec::new();
    it.seek_to_first();
    while it.valid() && keys.len() < MAX_STEPS {
        keys.push(it.key().to_vec());
        it.next();
    }
    let mut steps = 0;
    it.seek_to_last();
    while it.valid() && steps < MAX_STEPS {
        steps += 1;
        it.prev();
    }
    for k in keys.iter().take(64) {
        it.seek(k);
        if it.valid() {
            it.prev();
        }
        it.seek_for_prev(k);
        if it.valid() {
            it.next();
        }
    }
    let _ = it.status();
}
