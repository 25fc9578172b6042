//! A fixed memtable workload to count its instructions and cache misses under
//! `valgrind --tool=cachegrind`, which gives the same figures on every run however
//! busy the machine is (wall-clock benchmarks here drift by tens of percent):
//! inserts of `redis-benchmark`-shaped keys (a tag byte, then `key:%012d`), then as
//! many lookups of random ones.
//!
//! ```text
//! cargo build --release -p shale-bench --example memtable_misses
//! valgrind --tool=cachegrind --cache-sim=yes --LL=33554432,16,64 \
//!     target/release/examples/memtable_misses 300000
//! ```

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use shale_core::{LookupKey, ValueKind};
use shale_memtable::MemTable;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("entry count"))
        .unwrap_or(300_000);
    let mut x: u64 = 3;
    let mut rng = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let key = |i: u64| format!("kkey:{:012}", i % 1_000_000);
    let m = MemTable::new();
    let value = [b'v'; 100];
    for seq in 1..=n {
        m.add(seq, ValueKind::Value, key(rng()).as_bytes(), &value);
    }
    let hits = (0..n)
        .filter(|_| {
            m.get(&LookupKey::new(key(rng()).as_bytes(), u64::MAX >> 8))
                .is_some()
        })
        .count();
    println!("{n} inserts, {n} lookups, {hits} hits");
}
