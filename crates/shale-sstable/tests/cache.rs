//! Block cache accounting and concurrent readers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use shale_core::key::user_key;
use shale_core::{InternalIterator, LookupKey};
use shale_fs::MemFs;
use shale_sstable::{BlockCache, Compression, TableOptions};

fn table_opts() -> TableOptions {
    TableOptions {
        block_size: 1024,
        compression: Compression::None,
        ..TableOptions::default()
    }
}

#[test]
fn cache_counts_hits_and_misses() {
    let fs = MemFs::new();
    let entries = sample_entries(2000);
    let (path, _) = write_table(&fs, "1.sst", &entries, table_opts());
    let cache = Arc::new(BlockCache::new(64 << 20));
    let table = open(&fs, &path, Some(cache.clone())).unwrap();
    let lk = LookupKey::new(user_key(&entries[10].0), shale_core::MAX_SEQNO);
    assert!(table.get(lk.internal_key()).unwrap().is_some());
    assert_eq!((cache.hits(), cache.misses()), (0, 1));
    assert!(table.get(lk.internal_key()).unwrap().is_some());
    assert_eq!((cache.hits(), cache.misses()), (1, 1));
    assert_eq!(cache.len(), 1);
    // A full scan misses once per block, and fills the cache.
    assert_eq!(scan(&table).unwrap(), entries);
    let blocks = table.properties().num_data_blocks;
    assert_eq!(cache.misses(), blocks);
    assert_eq!(cache.len() as u64, blocks);
    assert_eq!(scan(&table).unwrap(), entries);
    assert_eq!(cache.misses(), blocks);
    assert!(cache.hits() >= blocks);
    // A filtered-out key touches nothing.
    let before = (cache.hits(), cache.misses());
    assert!(
        table
            .get(LookupKey::new(b"nope", 5).internal_key())
            .unwrap()
            .is_none()
    );
    assert_eq!((cache.hits(), cache.misses()), before);
}

#[test]
fn cache_stays_within_capacity() {
    let fs = MemFs::new();
    let entries = sample_entries(20_000);
    let (path, _) = write_table(&fs, "1.sst", &entries, table_opts());
    let capacity = 64 * 1024;
    let cache = Arc::new(BlockCache::new(capacity));
    let table = open(&fs, &path, Some(cache.clone())).unwrap();
    assert!(table.properties().num_data_blocks > 200);
    for round in 0..2 {
        for (i, e) in entries.iter().enumerate().step_by(7) {
            let lk = LookupKey::new(user_key(&e.0), shale_core::MAX_SEQNO);
            assert!(table.get(lk.internal_key()).unwrap().is_some());
            if i % 100 == 0 {
                assert!(
                    cache.usage() <= cache.capacity(),
                    "round {round}: {} > {capacity}",
                    cache.usage()
                );
            }
        }
    }
    assert_eq!(cache.capacity(), capacity);
    assert!(cache.usage() > capacity / 4);
    assert!(cache.usage() <= capacity);
    assert!(cache.misses() > 200);
    // Another table sharing the cache never sees this table's blocks.
    let (path2, _) = write_table(&fs, "2.sst", &sample_entries(10), table_opts());
    let other = open(&fs, &path2, Some(cache.clone())).unwrap();
    assert_eq!(scan(&other).unwrap(), sample_entries(10));
}

#[test]
fn fill_cache_off_leaves_cache_alone() {
    let fs = MemFs::new();
    let entries = sample_entries(500);
    let (path, _) = write_table(&fs, "1.sst", &entries, table_opts());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table = open(&fs, &path, Some(cache.clone())).unwrap();
    let mut it = table.iter_with_fill_cache(false);
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    assert_eq!(n, entries.len());
    assert!(cache.is_empty());
}

#[test]
fn concurrent_readers_share_one_table() {
    let fs = MemFs::new();
    let entries = Arc::new(sample_entries(5000));
    let (path, _) = write_table(&fs, "1.sst", &entries, TableOptions::default());
    let cache = Arc::new(BlockCache::new(256 * 1024));
    let table = open(&fs, &path, Some(cache)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let table = Arc::clone(&table);
            let entries = Arc::clone(&entries);
            std::thread::spawn(move || {
                for (i, e) in entries.iter().enumerate().skip(t).step_by(3) {
                    let lk = LookupKey::new(user_key(&e.0), shale_core::MAX_SEQNO);
                    let got = table.get(lk.internal_key()).unwrap().unwrap();
                    assert_eq!(
                        Some((got.0, got.1.to_vec())),
                        model_get(&entries, lk.internal_key())
                    );
                    if i % 1000 == t {
                        if t % 2 == 0 {
                            assert_eq!(&scan(&table).unwrap(), &*entries);
                        } else {
                            assert_eq!(&scan_rev(&table).unwrap(), &*entries);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn tables_and_iterators_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<shale_sstable::Table>();
    send_sync::<BlockCache>();
    send::<shale_sstable::TableIterator>();
    let fs = MemFs::new();
    let (path, _) = write_table(&fs, "1.sst", &sample_entries(10), TableOptions::default());
    let table = open(&fs, &path, None).unwrap();
    let boxed: shale_core::iter::BoxedIterator = Box::new(table.iter());
    let n = std::thread::spawn(move || {
        let mut it = boxed;
        it.seek_to_first();
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next();
        }
        n
    })
    .join()
    .unwrap();
    assert_eq!(n, 10);
}

#[test]
fn shrinking_the_capacity_evicts_at_once() {
    let fs = MemFs::new();
    let entries = sample_entries(5000);
    let (path, _) = write_table(&fs, "1.sst", &entries, table_opts());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table = open(&fs, &path, Some(cache.clone())).unwrap();
    assert_eq!(scan(&table).unwrap(), entries);
    assert!(
        cache.usage() > 8 * 1024,
        "the scan filled the cache: {}",
        cache.usage()
    );
    cache.set_capacity(4 * 1024);
    assert_eq!(cache.capacity(), 4 * 1024);
    assert!(
        cache.usage() <= 4 * 1024,
        "usage {} over the new capacity",
        cache.usage()
    );
    assert_eq!(scan(&table).unwrap(), entries, "reads still work");
}
