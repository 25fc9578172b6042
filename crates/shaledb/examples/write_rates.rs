//! Measures the issue-3 figures on a real directory: single-thread put and get rates,
//! and synced put rates with 1 vs N threads (group commit).
//!
//! ```sh
//! cargo run --release -p shaledb --example write_rates -- [DIR] [N_PUTS] [SYNC_SECS]
//! ```
//! DIR defaults to a temporary directory (pass a path on the disk you care about).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shaledb::{Db, Options, WriteOptions};

fn main() -> shaledb::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let tmp = tempfile::tempdir().map_err(|e| shaledb::Error::io("tempdir", "/tmp", e))?;
    let dir = args.get(1).map_or(tmp.path().to_path_buf(), |d| d.into());
    let n: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let value = vec![b'v'; 100];

    let db = Db::open(dir.join("rates"), Options::default())?;
    let key = |i: u64| {
        format!(
            "{:016}",
            i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 100_000_000_000
        )
    };

    let t = Instant::now();
    for i in 0..n {
        db.put(key(i), &value)?;
    }
    let put_rate = n as f64 / t.elapsed().as_secs_f64();
    println!("put (1 thread, unsynced, 16 B keys, 100 B values): {put_rate:>12.0} ops/s");

    let t = Instant::now();
    let mut found = 0u64;
    for i in 0..n {
        found += u64::from(db.get(key(i))?.is_some());
    }
    let get_rate = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "get (1 thread, random hits):                        {get_rate:>12.0} ops/s ({found} of {n} found)"
    );

    for threads in [1usize, 8] {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let before = db.stats();
        let t = Instant::now();
        std::thread::scope(|s| {
            for th in 0..threads {
                let (db, done, stop, value) = (db.clone(), done.clone(), stop.clone(), &value);
                s.spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let k = format!("sync-{th}-{i}");
                        if db.put_opt(k, value, &WriteOptions::synced()).is_err() {
                            return;
                        }
                        i += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
        });
        let ops = done.load(Ordering::Relaxed);
        let after = db.stats();
        let rate = ops as f64 / t.elapsed().as_secs_f64();
        println!(
            "synced put ({threads} thread{}):                          {rate:>12.0} ops/s ({} fsyncs, avg group {:.1})",
            if threads == 1 { "" } else { "s" },
            after.wal_syncs - before.wal_syncs,
            (after.writes - before.writes) as f64
                / (after.write_groups - before.write_groups).max(1) as f64
        );
    }
    Ok(())
}
