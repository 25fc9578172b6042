//! Measures the issue-5 figures on a real directory: load N keys (16 B keys, 100 B
//! values that compress to about half) in random order, then report write rate, write
//! amplification, space amplification before and after `compact_range`, peak RSS, and
//! random-read rate.
//!
//! ```sh
//! cargo run --release -p shaledb --example lsm_load -- DIR [N] [READS]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // reads /proc/self/status

use std::time::Instant;

use shaledb::{Db, Options};

/// A permutation of 0..n (n > 0): visits every index once, in scrambled order.
fn scrambled(i: u64, n: u64) -> u64 {
    // Multiplying by a constant coprime with n is a bijection mod n.
    let mut m = 0x9E37_79B9_7F4A_7C15 % n;
    while gcd(m, n) != 1 {
        m += 1;
    }
    ((u128::from(i) * u128::from(m)) % u128::from(n)) as u64
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn key(k: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(format!("{k:016}").as_bytes());
    out
}

/// 100 bytes: 50 pseudo-random, 50 repeated — compresses to about half, like
/// db_bench's default `--compression_ratio=0.5`.
fn value(k: u64, out: &mut [u8; 100]) {
    let mut x = k.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    for b in out.iter_mut().take(50) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = b'a' + (x % 26) as u8;
    }
    out[50..].fill(b'x');
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_bytes(dir: &std::path::Path, ext: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

fn main() -> shaledb::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or("./lsm-load", String::as_str));
    let n: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let reads: u64 = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let logical = n * (16 + 100);
    let db = Db::open(&dir, Options::default())?;

    let t = Instant::now();
    let mut v = [0u8; 100];
    for i in 0..n {
        let k = scrambled(i, n);
        value(k, &mut v);
        db.put(key(k), v)?;
    }
    let load = t.elapsed().as_secs_f64();
    db.flush()?;
    db.wait_for_compactions()?;
    let s = db.stats();
    println!(
        "fillrandom: {n} keys in {load:.1} s = {:.0} ops/s ({:.1} MB/s of user data)",
        n as f64 / load,
        logical as f64 / load / 1e6
    );
    println!(
        "after load+flush: write amplification {:.2}; write stalls {} stops / {} paced / {:.2} s",
        s.write_amplification,
        s.write_stops,
        s.write_slowdowns,
        s.stall_micros as f64 / 1e6
    );
    let sst = dir_bytes(&dir, ".sst");
    println!(
        "space: {:.1} MiB of tables for {:.1} MiB logical (ratio {:.3})",
        sst as f64 / 1048576.0,
        logical as f64 / 1048576.0,
        sst as f64 / logical as f64
    );
    println!("peak RSS so far: {:.0} MiB", peak_rss_mib());

    let t = Instant::now();
    db.compact_range::<&[u8], _>(..)?;
    let s = db.stats();
    let sst_after = dir_bytes(&dir, ".sst");
    println!(
        "compact_range: {:.1} s; tables {:.1} MiB (ratio to logical {:.3}); space amplification vs fully compacted: before {:.3}, after 1.000",
        t.elapsed().as_secs_f64(),
        sst_after as f64 / 1048576.0,
        sst_after as f64 / logical as f64,
        sst as f64 / sst_after as f64
    );
    println!(
        "write amplification incl. compact_range: {:.2}",
        s.write_amplification
    );
    println!("{s}");

    // Random reads of existing keys, block cache warm-up included.
    let t = Instant::now();
    let mut found = 0u64;
    for i in 0..reads {
        let k = scrambled(i.wrapping_mul(7_919), n);
        found += u64::from(db.get(key(k))?.is_some());
    }
    let r = t.elapsed().as_secs_f64();
    let s = db.stats();
    println!(
        "readrandom: {reads} gets in {r:.1} s = {:.0} ops/s ({found} of {reads} found); block cache hit rate {:.1}%",
        reads as f64 / r,
        100.0 * s.block_cache_hit_rate()
    );
    println!(
        "peak RSS: {:.0} MiB (write buffers {} MiB x {}, block cache {} MiB)",
        peak_rss_mib(),
        Options::default().write_buffer_size >> 20,
        Options::default().max_write_buffer_number,
        Options::default().block_cache_size >> 20
    );
    Ok(())
}
