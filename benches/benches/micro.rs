//! Criterion micro-benchmarks of the engine's inner loops: memtable insert/get (also
//! with keys that share a long head, as a front end's do), WAL
//! append (with and without fdatasync, on a tempdir), block build/parse/seek, bloom
//! probes, merging-iterator steps and table point lookups.
//!
//! `CARGO_TARGET_DIR=/tmp/target-bench cargo bench -p shale-bench --bench micro`
//! (add `-- memtable` etc. to run one group).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use shale_core::iter::BoxedIterator;
use shale_core::key::make_internal_key;
use shale_core::{InternalIterator, LookupKey, MergingIterator, ValueKind, VecIterator};
use shale_fs::{FileSystem, MemFs, StdFs};
use shale_memtable::MemTable;
use shale_sstable::block::{Block, BlockBuilder, BlockIter};
use shale_sstable::filter::{BloomFilter, FilterBuilder};
use shale_sstable::{BlockCache, Table, TableBuilder, TableOptions};
use shale_wal::{LogKind, LogWriter};

const VALUE: [u8; 100] = [b'v'; 100];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// db_bench-shaped 16-byte key for `i`.
fn key(i: u64) -> [u8; 16] {
    let mut k = [b'0'; 16];
    k[..8].copy_from_slice(&i.to_be_bytes());
    k
}

fn memtable(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut g = c.benchmark_group("memtable");
    g.throughput(Throughput::Elements(1));
    let mut rng = Rng(1);
    let mut seq = 0;
    g.bench_function("insert_random", |b| {
        b.iter_batched_ref(
            MemTable::new,
            |m| {
                seq += 1;
                m.add(seq, ValueKind::Value, &key(rng.next() % N), &VALUE);
            },
            BatchSize::NumIterations(N),
        )
    });
    let m = MemTable::new();
    for i in 0..N {
        m.add(i + 1, ValueKind::Value, &key(i * 2), &VALUE);
    }
    let lookups: Vec<LookupKey> = (0..4096)
        .map(|_| LookupKey::new(&key(rng.next() % (2 * N)), u64::MAX >> 8))
        .collect();
    bench_lookups(&mut g, "get_100k_half_hits", &m, &lookups);
    g.finish();
}

/// Benchmark `name`: `m.get` of each of `lookups` in turn.
fn bench_lookups(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    m: &MemTable,
    lookups: &[LookupKey],
) {
    let mut i = 0;
    g.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) % lookups.len();
            black_box(m.get(&lookups[i]))
        })
    });
}

/// The key `redis-benchmark -r 1000000` makes for `i`, as the Redis front end
/// stores it (a tag byte in front): 17 bytes that agree on their first 11.
fn resp_key(i: u64) -> Vec<u8> {
    format!("kkey:{i:012}").into_bytes()
}

/// Memtables of `redis-benchmark`-shaped keys, 300K entries (a 64 MiB memtable of
/// 100-byte values holds about that many): the keys share a long head, so every
/// skiplist step compares more than a few bytes.
fn memtable_shared_prefix(c: &mut Criterion) {
    const N: u64 = 300_000;
    let mut g = c.benchmark_group("memtable");
    g.throughput(Throughput::Elements(1));
    let mut rng = Rng(3);
    let keys: Vec<Vec<u8>> = (0..N).map(|_| resp_key(rng.next() % 1_000_000)).collect();
    let mut seq = 0;
    g.bench_function("insert_300k_shared_prefix", |b| {
        let mut i = 0;
        b.iter_batched_ref(
            MemTable::new,
            |m| {
                seq += 1;
                i = (i + 1) % keys.len();
                m.add(seq, ValueKind::Value, &keys[i], &VALUE);
            },
            BatchSize::NumIterations(N),
        )
    });
    let m = MemTable::new();
    for (i, k) in keys.iter().enumerate() {
        m.add(i as u64 + 1, ValueKind::Value, k, &VALUE);
    }
    let lookups: Vec<LookupKey> = (0..4096)
        .map(|_| LookupKey::new(&resp_key(rng.next() % 1_000_000), u64::MAX >> 8))
        .collect();
    bench_lookups(&mut g, "get_300k_shared_prefix", &m, &lookups);
    g.finish();
}

fn wal(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let fs = StdFs::new();
    let record = [7u8; 128];
    let mut g = c.benchmark_group("wal");
    g.throughput(Throughput::Bytes(record.len() as u64));
    let mut n = 0;
    let mut new_log = |name: &str| {
        n += 1;
        LogWriter::create(
            &fs,
            &dir.path().join(format!("{name}-{n}.log")),
            LogKind::Wal,
            n,
        )
        .unwrap()
    };
    let mut w = new_log("nosync");
    g.bench_function("append_128b", |b| {
        b.iter(|| w.add_record(black_box(&record)).unwrap())
    });
    let mut w = new_log("sync");
    g.sample_size(10);
    g.bench_function("append_128b_fdatasync", |b| {
        b.iter(|| {
            w.add_record(black_box(&record)).unwrap();
            w.sync().unwrap();
        })
    });
    g.finish();
}

/// A 4 KiB block of consecutive internal keys.
fn block_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..32u64)
        .map(|i| {
            (
                make_internal_key(&key(i * 2), 1, ValueKind::Value),
                VALUE.to_vec(),
            )
        })
        .collect()
}

fn block(c: &mut Criterion) {
    let entries = block_entries();
    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Elements(entries.len() as u64));
    let mut builder = BlockBuilder::new(16);
    g.bench_function("encode_32_entries", |b| {
        b.iter(|| {
            builder.reset();
            for (k, v) in &entries {
                builder.add(k, v);
            }
            black_box(builder.finish().len())
        })
    });
    builder.reset();
    for (k, v) in &entries {
        builder.add(k, v);
    }
    let raw = Bytes::copy_from_slice(builder.finish());
    g.bench_function("decode_and_scan", |b| {
        b.iter(|| {
            let mut it = BlockIter::new(
                Block::new(raw.clone()).unwrap(),
                Arc::from(Path::new("b")),
                0,
            );
            it.seek_to_first();
            let mut n = 0;
            while it.valid() {
                n += it.value().len();
                it.next();
            }
            black_box(n)
        })
    });
    g.throughput(Throughput::Elements(1));
    let mut it = BlockIter::new(Block::new(raw).unwrap(), Arc::from(Path::new("b")), 0);
    let targets: Vec<Vec<u8>> = (0..64u64)
        .map(|i| make_internal_key(&key(i), u64::MAX >> 8, ValueKind::Value))
        .collect();
    let mut i = 0;
    g.bench_function("seek", |b| {
        b.iter(|| {
            i = (i + 1) % targets.len();
            it.seek(&targets[i]);
            black_box(it.valid())
        })
    });
    g.finish();
}

fn bloom(c: &mut Criterion) {
    const N: u64 = 100_000;
    let mut fb = FilterBuilder::new(10);
    for i in 0..N {
        fb.add_key(&key(i));
    }
    let filter = BloomFilter::new(Bytes::from(fb.finish())).unwrap();
    let mut g = c.benchmark_group("bloom");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("probe_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            black_box(filter.may_contain(&key(i)))
        })
    });
    g.bench_function("probe_miss", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            black_box(filter.may_contain(&key(i + N)))
        })
    });
    g.finish();
}

fn merging(c: &mut Criterion) {
    // 8 sorted runs with interleaved keys, like 8 sources of a DB iterator.
    let runs = 8u64;
    let per_run = 10_000u64;
    let make = || -> MergingIterator {
        let children: Vec<BoxedIterator> = (0..runs)
            .map(|r| {
                let entries = (0..per_run)
                    .map(|i| {
                        (
                            make_internal_key(&key(i * runs + r), 1, ValueKind::Value),
                            VALUE.to_vec(),
                        )
                    })
                    .collect();
                Box::new(VecIterator::new(entries)) as BoxedIterator
            })
            .collect();
        MergingIterator::new(children)
    };
    let mut g = c.benchmark_group("merging_iterator");
    g.throughput(Throughput::Elements(runs * per_run));
    let mut it = make();
    g.bench_function("full_scan_8_children", |b| {
        b.iter(|| {
            it.seek_to_first();
            let mut n = 0u64;
            while it.valid() {
                n += 1;
                it.next();
            }
            black_box(n)
        })
    });
    g.finish();
}

fn table(c: &mut Criterion) {
    const N: u64 = 200_000;
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/t")).unwrap();
    let path = Path::new("/t/000001.sst");
    let mut b = TableBuilder::new(fs.create(path).unwrap(), path, TableOptions::default());
    for i in 0..N {
        b.add(
            &make_internal_key(&key(i * 2), i + 1, ValueKind::Value),
            &VALUE,
        )
        .unwrap();
    }
    b.finish().unwrap();
    let cache = Arc::new(BlockCache::new(256 << 20));
    let t = Table::open(
        fs.open_read(path).unwrap(),
        path.to_path_buf(),
        1,
        Some(cache),
        TableOptions::default(),
    )
    .unwrap();
    let mut rng = Rng(3);
    let hits: Vec<LookupKey> = (0..4096)
        .map(|_| LookupKey::new(&key((rng.next() % N) * 2), u64::MAX >> 8))
        .collect();
    let misses: Vec<LookupKey> = (0..4096)
        .map(|_| LookupKey::new(&key((rng.next() % N) * 2 + 1), u64::MAX >> 8))
        .collect();
    // Warm the block cache.
    for l in &hits {
        t.get(l.internal_key()).unwrap();
    }
    let mut g = c.benchmark_group("table");
    g.throughput(Throughput::Elements(1));
    for (name, keys) in [("get_hit_cached", &hits), ("get_miss_cached", &misses)] {
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(t.get(keys[i].internal_key()).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    memtable,
    memtable_shared_prefix,
    wal,
    block,
    bloom,
    merging,
    table
);
criterion_main!(benches);
