//! A fixed point-lookup workload to count the instructions of `Keyspace::get`
//! under `valgrind --tool=callgrind`, which gives the same figures on every run
//! however busy the machine is: a database shaped like one under
//! `redis-benchmark` (keys `key:%012d`, 100-byte values; one compacted level, three
//! overlapping level-0 tables and a memtable), then as many lookups of random keys,
//! half of them absent. Only `lookups` is counted with the command below; a second
//! argument sets `block_restart_interval` (default: the engine's).
//!
//! ```text
//! cargo build --release -p shale-bench --example point_gets
//! valgrind --tool=callgrind --toggle-collect='point_gets::lookups' \
//!     target/release/examples/point_gets 200000
//! ```

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use shaledb::{Db, Keyspace, Options};

fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `key:%012d`, built without `format!` so the counted pass is the engine's.
fn key(i: u64) -> [u8; 16] {
    let mut k = *b"key:000000000000";
    let mut n = i;
    for b in k.iter_mut().skip(4).rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// The counted pass.
#[inline(never)]
fn lookups(ks: &Keyspace, n: u64) -> usize {
    run_lookups(ks, n, 7)
}

/// The same lookups once before counting, so the counted pass finds every block
/// in the cache and measures the in-memory path. (`black_box` keeps the compiler
/// from merging it with `lookups`, which would count both passes.)
#[inline(never)]
fn warm_up(ks: &Keyspace, n: u64) -> usize {
    run_lookups(ks, n, std::hint::black_box(7))
}

#[inline(always)]
fn run_lookups(ks: &Keyspace, n: u64, seed: u64) -> usize {
    let mut rng = xorshift(seed);
    (0..n)
        .filter(|_| ks.get(key(rng() % (2 * n))).unwrap().is_some())
        .count()
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("key count"))
        .unwrap_or(200_000);
    let restart_interval: usize = std::env::args()
        .nth(2)
        .map(|a| a.parse().expect("block restart interval"))
        .unwrap_or(Options::default().block_restart_interval);
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        write_buffer_size: 4 << 20,
        block_cache_size: 256 << 20,
        block_restart_interval: restart_interval,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let ks = db.keyspace("bench").unwrap();
    let value = [b'x'; 100];
    for i in 0..n {
        ks.put(key(i), value).unwrap();
    }
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
    let mut rng = xorshift(3);
    for _ in 0..3 {
        for _ in 0..n / 8 {
            ks.put(key(rng() % n), value).unwrap();
        }
        db.flush().unwrap();
    }
    for _ in 0..n / 8 {
        ks.put(key(rng() % n), value).unwrap();
    }
    db.wait_for_compactions().unwrap();
    warm_up(&ks, n);
    let hits = lookups(&ks, n);
    println!("{n} keys, {n} lookups, {hits} hits, restart interval {restart_interval}");
}
