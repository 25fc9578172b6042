//! Table benchmarks: building a 1M-entry table (16 B keys, 100 B values), point
//! lookups (hit and miss, with and without the block cache), and full scans; plus the
//! micro-benchmarks behind two design choices: the blocked bloom filter (against a
//! classic LevelDB-style one) and `quick_cache` (against a mutex-guarded map).
//!
//! `CARGO_TARGET_DIR=/tmp/target-sst cargo bench -p shale-sstable`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shale_core::key::make_internal_key;
use shale_core::{InternalIterator, LookupKey, ValueKind};
use shale_fs::{FileSystem, MemFs, StdFs};
use shale_sstable::filter::{BloomFilter, FilterBuilder, filter_hash};
use shale_sstable::{BlockCache, Table, TableBuilder, TableOptions};

const N: u64 = 1_000_000;
const VALUE_LEN: usize = 100;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn user_key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(format!("{i:016}").as_bytes());
    k
}

/// db_bench-style values: half random bytes, half a repeat (about 50% compressible).
fn values() -> Vec<Vec<u8>> {
    let mut rng = Rng(7);
    (0..1024)
        .map(|_| {
            let half: Vec<u8> = (0..VALUE_LEN / 2)
                .map(|_| (rng.next() >> 56) as u8)
                .collect();
            [half.clone(), half].concat()
        })
        .collect()
}

fn build(fs: &dyn FileSystem, path: &Path, values: &[Vec<u8>]) -> u64 {
    let mut b = TableBuilder::new(fs.create(path).unwrap(), path, TableOptions::default());
    for i in 0..N {
        let k = make_internal_key(&user_key(i), i + 1, ValueKind::Value);
        b.add(&k, &values[i as usize % values.len()]).unwrap();
    }
    b.finish().unwrap().file_size
}

fn bench_build(c: &mut Criterion) {
    let values = values();
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(N * (16 + VALUE_LEN as u64)));
    g.bench_function("1m_entries_memfs", |b| {
        b.iter(|| {
            let fs = MemFs::new();
            fs.create_dir_all(Path::new("/b")).unwrap();
            black_box(build(&fs, Path::new("/b/1.sst"), &values))
        })
    });
    g.finish();
}

struct Fixture {
    _dir: tempfile::TempDir,
    cached: Arc<Table>,
    uncached: Arc<Table>,
    cache: Arc<BlockCache>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let fs = StdFs::new();
    let path = dir.path().join("000001.sst");
    let size = build(&fs, &path, &values());
    eprintln!("bench table: {N} entries, {size} bytes on disk");
    let cache = Arc::new(BlockCache::new(512 << 20));
    let open = |cache| {
        Table::open(
            fs.open_read(&path).unwrap(),
            path.clone(),
            1,
            cache,
            TableOptions::default(),
        )
        .unwrap()
    };
    Fixture {
        cached: open(Some(Arc::clone(&cache))),
        uncached: open(None),
        cache,
        _dir: dir,
    }
}

/// Random lookups over the whole table, or (`hot`) over 4096 neighbouring entries
/// whose blocks stay in the CPU caches, which isolates the CPU cost.
fn lookups(hit: bool, hot: bool) -> Vec<LookupKey> {
    let mut rng = Rng(99);
    let range = if hot { 4096 } else { N };
    (0..100_000)
        .map(|_| {
            let i = rng.next() % range + if hot { N / 2 } else { 0 };
            if hit {
                LookupKey::new(&user_key(i), u64::MAX)
            } else {
                // Same prefix length, never present: digits then a letter.
                let mut k = user_key(i);
                k[15] = b'x';
                LookupKey::new(&k, u64::MAX)
            }
        })
        .collect()
}

fn bench_get(c: &mut Criterion) {
    let f = fixture();
    // Warm the cache with a full scan.
    let mut it = f.cached.iter();
    it.seek_to_first();
    while it.valid() {
        it.next();
    }
    let mut g = c.benchmark_group("get");
    for (name, table, hit, hot) in [
        ("hit_cached", &f.cached, true, false),
        ("hit_uncached", &f.uncached, true, false),
        ("hit_cached_hot", &f.cached, true, true),
        ("miss_cached", &f.cached, false, false),
        ("miss_uncached", &f.uncached, false, false),
    ] {
        let keys = lookups(hit, hot);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                let r = table.get(keys[i].internal_key()).unwrap();
                assert_eq!(r.is_some(), hit);
                black_box(r)
            })
        });
    }
    g.finish();
    eprintln!(
        "block cache: {} hits, {} misses, {} of {} bytes used",
        f.cache.hits(),
        f.cache.misses(),
        f.cache.usage(),
        f.cache.capacity()
    );

    let mut g = c.benchmark_group("scan");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(N * (16 + VALUE_LEN as u64)));
    for (name, table) in [
        ("forward_cached", &f.cached),
        ("forward_uncached", &f.uncached),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut it = table.iter();
                it.seek_to_first();
                let mut n = 0u64;
                while it.valid() {
                    n += it.value().len() as u64;
                    it.next();
                }
                black_box(n)
            })
        });
    }
    g.bench_function("reverse_uncached", |b| {
        b.iter(|| {
            let mut it = f.uncached.iter();
            it.seek_to_last();
            let mut n = 0u64;
            while it.valid() {
                n += it.value().len() as u64;
                it.prev();
            }
            black_box(n)
        })
    });
    g.finish();
}

/// A classic bloom filter (LevelDB's design: k = bits * ln 2 probes spread over the
/// whole array by double hashing), for comparison only.
struct ClassicBloom {
    bits: Vec<u8>,
    k: u32,
}

impl ClassicBloom {
    fn new(hashes: &[u64], bits_per_key: usize) -> Self {
        let nbits = (hashes.len() * bits_per_key).max(64);
        let mut bits = vec![0u8; nbits.div_ceil(8)];
        let k = ((bits_per_key as f64) * 0.69) as u32;
        for &h in hashes {
            let (mut a, delta) = (h as u32, (h >> 32) as u32 | 1);
            for _ in 0..k {
                let bit = a as usize % nbits;
                bits[bit / 8] |= 1 << (bit % 8);
                a = a.wrapping_add(delta);
            }
        }
        ClassicBloom { bits, k }
    }

    fn may_contain(&self, h: u64) -> bool {
        let nbits = self.bits.len() * 8;
        let (mut a, delta) = (h as u32, (h >> 32) as u32 | 1);
        for _ in 0..self.k {
            let bit = a as usize % nbits;
            if self.bits[bit / 8] & (1 << (bit % 8)) == 0 {
                return false;
            }
            a = a.wrapping_add(delta);
        }
        true
    }
}

fn bench_bloom(c: &mut Criterion) {
    // 4M keys: a 5 MB filter, larger than the L2 cache, like a big table's filter.
    let keys = 4_000_000u64;
    let hashes: Vec<u64> = (0..keys).map(|i| filter_hash(&user_key(i))).collect();
    let mut fb = FilterBuilder::new(10);
    for i in 0..keys {
        fb.add_key(&user_key(i));
    }
    let blocked = BloomFilter::new(fb.finish().into()).unwrap();
    let classic = ClassicBloom::new(&hashes, 10);
    let probes: Vec<u64> = (0..1_000_000u64)
        .map(|i| {
            let mut k = user_key(i * 4);
            k[15] = b'x';
            filter_hash(&k)
        })
        .collect();
    let fp_blocked = probes
        .iter()
        .filter(|&&h| blocked.may_contain_hash(h))
        .count();
    let fp_classic = probes.iter().filter(|&&h| classic.may_contain(h)).count();
    eprintln!(
        "bloom FPR at 10 bits/key over {} absent keys: blocked {:.3}%, classic {:.3}%",
        probes.len(),
        fp_blocked as f64 * 100.0 / probes.len() as f64,
        fp_classic as f64 * 100.0 / probes.len() as f64
    );
    let mut g = c.benchmark_group("bloom_4m_keys");
    let mut i = 0;
    g.bench_function("blocked_absent", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            black_box(blocked.may_contain_hash(probes[i]))
        })
    });
    g.bench_function("classic_absent", |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            black_box(classic.may_contain(probes[i]))
        })
    });
    let mut j = 0;
    g.bench_function("blocked_present", |b| {
        b.iter(|| {
            j = (j + 7919) % hashes.len();
            black_box(blocked.may_contain_hash(hashes[j]))
        })
    });
    g.bench_function("classic_present", |b| {
        b.iter(|| {
            j = (j + 7919) % hashes.len();
            black_box(classic.may_contain(hashes[j]))
        })
    });
    g.finish();
}

fn bench_cache(c: &mut Criterion) {
    use shale_sstable::block::{Block, BlockBuilder};
    let mut bb = BlockBuilder::new(16);
    bb.add(&make_internal_key(b"k", 1, ValueKind::Value), &[0u8; 4000]);
    let block = Block::new(bytes::Bytes::copy_from_slice(bb.finish())).unwrap();
    let n = 8192u64;
    let qc = BlockCache::new(64 << 20);
    let shards: Vec<Mutex<HashMap<(u64, u64), Block>>> =
        (0..16).map(|_| Mutex::new(HashMap::new())).collect();
    for i in 0..n {
        qc.insert(1, i * 4096, block.clone());
        shards[(i % 16) as usize]
            .lock()
            .unwrap()
            .insert((1, i * 4096), block.clone());
    }
    let mut g = c.benchmark_group("cache_hit");
    let mut i = 0u64;
    g.bench_function("quick_cache", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            black_box(qc.get(1, i * 4096))
        })
    });
    g.bench_function("mutex_hashmap_16_shards", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            black_box(
                shards[(i % 16) as usize]
                    .lock()
                    .unwrap()
                    .get(&(1, i * 4096))
                    .cloned(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_build, bench_get, bench_bloom, bench_cache);
criterion_main!(benches);
