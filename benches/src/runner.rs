//! Runs the benchmarks and prints db_bench-shaped results.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::engine::{self, Engine, EngineConfig, Result, WriteCounters};
use crate::flags::Flags;
use crate::sys;
use crate::workload::{Rng, ValueGenerator, make_key};

const MIB: f64 = 1048576.0;

/// The set of keys (`0..num`) that currently hold a value, to compute the logical
/// size of the database for space amplification. Shared by all threads.
struct LiveKeys {
    bits: Vec<AtomicU64>,
}

impl LiveKeys {
    fn new(num: u64) -> LiveKeys {
        LiveKeys {
            bits: (0..num.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }
    fn set(&self, k: u64, live: bool) {
        if let Some(w) = self.bits.get((k / 64) as usize) {
            let bit = 1u64 << (k % 64);
            if live {
                w.fetch_or(bit, Ordering::Relaxed);
            } else {
                w.fetch_and(!bit, Ordering::Relaxed);
            }
        }
    }
    fn count(&self) -> u64 {
        self.bits
            .iter()
            .map(|w| u64::from(w.load(Ordering::Relaxed).count_ones()))
            .sum()
    }
}

/// Per-thread state of a running benchmark.
struct Worker<'a> {
    rng: Rng,
    values: ValueGenerator,
    key: Vec<u8>,
    hist: Option<Histogram<u64>>,
    ops: u64,
    bytes: u64,
    written: u64,
    found: u64,
    unreported: u64,
    progress: &'a AtomicU64,
    deadline: Option<Instant>,
    stop: &'a AtomicBool,
}

impl Worker<'_> {
    /// Whether to run another op: `max` ops, or until `--duration` runs out, or until
    /// told to stop (the writer of readwhilewriting).
    fn more(&self, max: u64) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        match self.deadline {
            Some(d) => !self.ops.is_multiple_of(16) || Instant::now() < d,
            None => self.ops < max,
        }
    }

    fn timer(&self) -> Option<Instant> {
        self.hist.as_ref().map(|_| Instant::now())
    }

    fn finish_op(&mut self, started: Option<Instant>, bytes: u64) {
        self.ops += 1;
        self.bytes += bytes;
        if let (Some(h), Some(t)) = (self.hist.as_mut(), started) {
            let _ = h.record((t.elapsed().as_nanos() as u64).max(1));
        }
        self.unreported += 1;
        if self.unreported >= 256 {
            self.progress.fetch_add(self.unreported, Ordering::Relaxed);
            self.unreported = 0;
        }
    }
}

/// What one benchmark measured.
#[derive(Default)]
struct Outcome {
    ops: u64,
    bytes: u64,
    written: u64,
    found: u64,
    wall: Duration,
    thread_secs: f64,
    hist: Option<Histogram<u64>>,
}

/// The state carried from one benchmark to the next.
pub struct Runner {
    flags: Flags,
    cfg: EngineConfig,
    dir: PathBuf,
    engine: Option<Box<dyn Engine>>,
    live: Option<LiveKeys>,
    csv_header_done: bool,
}

/// Benchmarks that start from an empty database.
fn wants_fresh_db(name: &str) -> bool {
    matches!(name, "fillseq" | "fillrandom" | "fillsync")
}

/// Benchmarks after which the tree is settled and amplification reported.
fn is_write_benchmark(name: &str) -> bool {
    matches!(
        name,
        "fillseq" | "fillrandom" | "fillsync" | "overwrite" | "deleterandom" | "updaterandom"
    )
}

impl Runner {
    /// Prepares the database directory (emptied unless `--use_existing_db`) and opens
    /// the engine.
    pub fn new(flags: Flags) -> std::result::Result<Runner, String> {
        let dir = flags.db_path();
        if flags.use_existing_db {
            if !sys::dir_has_entries(&dir) {
                return Err(format!(
                    "--use_existing_db is set but there is no database in {} (the directory is \
                     missing or empty); run a fill benchmark without --use_existing_db first",
                    dir.display()
                ));
            }
        } else {
            sys::destroy_db_dir(&dir)?;
        }
        sys::create_dir(&dir)?;
        let cfg = EngineConfig::from_flags(&flags);
        let engine = engine::open(flags.engine, &dir, &cfg).map_err(|e| {
            format!(
                "cannot open {} in {}: {e}",
                flags.engine.name(),
                dir.display()
            )
        })?;
        let live = (!flags.use_existing_db).then(|| LiveKeys::new(flags.num));
        Ok(Runner {
            flags,
            cfg,
            dir,
            engine: Some(engine),
            live,
            csv_header_done: false,
        })
    }

    fn engine(&self) -> Result<&dyn Engine> {
        self.engine
            .as_deref()
            .ok_or_else(|| "the database is not open".into())
    }

    /// Prints the db_bench-style header.
    pub fn print_header(&self) -> Result<()> {
        let f = &self.flags;
        let compressed = (f.value_size as f64 * f.compression_ratio) as u64;
        let raw = f.num as f64 * (f.key_size + f.value_size) as f64 / MIB;
        let file = f.num as f64 * (f.key_size as f64 + compressed as f64) / MIB;
        let mut out = std::io::stdout().lock();
        writeln!(out, "shale-bench {}", env!("CARGO_PKG_VERSION"))?;
        writeln!(
            out,
            "Engine:     {} in {}",
            f.engine.name(),
            self.dir.display()
        )?;
        writeln!(out, "Settings:   {}", self.engine()?.describe())?;
        writeln!(out, "Keys:       {} bytes each", f.key_size)?;
        writeln!(
            out,
            "Values:     {} bytes each ({compressed} bytes after compression)",
            f.value_size
        )?;
        writeln!(out, "Entries:    {}", f.num)?;
        writeln!(out, "Threads:    {}", f.threads)?;
        writeln!(out, "RawSize:    {raw:.1} MB (estimated)")?;
        writeln!(out, "FileSize:   {file:.1} MB (estimated)")?;
        writeln!(
            out,
            "Write:      sync={} disable_wal={}",
            f.sync, f.disable_wal
        )?;
        writeln!(out, "------------------------------------------------")?;
        Ok(())
    }

    /// Runs every benchmark of `--benchmarks` in order.
    pub fn run_all(&mut self) -> Result<()> {
        let names = self.flags.benchmark_list()?;
        for (i, name) in names.iter().enumerate() {
            self.run_one(i as u64, name)?;
        }
        Ok(())
    }

    fn reopen_fresh(&mut self) -> Result<()> {
        self.engine = None; // close before deleting its files
        sys::destroy_db_dir(&self.dir)?;
        sys::create_dir(&self.dir)?;
        self.engine = Some(engine::open(self.flags.engine, &self.dir, &self.cfg)?);
        self.live = Some(LiveKeys::new(self.flags.num));
        Ok(())
    }

    fn run_one(&mut self, ordinal: u64, name: &str) -> Result<()> {
        let label = format!("{name:<12} :");
        if name == "stats" {
            let text = self.engine()?.stats_text();
            println!("{label}\n{text}");
            return Ok(());
        }
        if wants_fresh_db(name) {
            if self.flags.use_existing_db {
                println!(
                    "{label} skipped (--use_existing_db is set, {name} needs an empty database)"
                );
                return Ok(());
            }
            self.reopen_fresh()?;
        }
        let counters_before = self.engine()?.write_counters();
        let wchar_before = sys::bytes_written_by_process();
        sys::reset_peak_rss();

        let out = self.execute(ordinal, name)?;

        let mut settle_secs = None;
        if is_write_benchmark(name) {
            let t = Instant::now();
            self.engine()?.settle()?;
            settle_secs = Some(t.elapsed().as_secs_f64());
        }
        let peak_rss = sys::peak_rss_bytes();
        let amp = if is_write_benchmark(name) {
            Some(self.amplification(&out, counters_before, wchar_before)?)
        } else {
            None
        };
        self.report(name, &out, peak_rss, settle_secs, amp.as_ref())
    }

    fn amplification(
        &self,
        out: &Outcome,
        before: Option<WriteCounters>,
        wchar_before: Option<u64>,
    ) -> Result<Amplification> {
        let f = &self.flags;
        let engine_wa = match (before, self.engine()?.write_counters()) {
            (Some(b), Some(a)) if a.user_bytes > b.user_bytes => Some(
                (a.disk_bytes - b.disk_bytes.min(a.disk_bytes)) as f64
                    / (a.user_bytes - b.user_bytes) as f64,
            ),
            _ => None,
        };
        let io_wa = match (wchar_before, sys::bytes_written_by_process()) {
            (Some(b), Some(a)) if out.written > 0 => {
                Some(a.saturating_sub(b) as f64 / out.written as f64)
            }
            _ => None,
        };
        let disk = sys::dir_size(&self.dir);
        let logical = self
            .live
            .as_ref()
            .map(|l| l.count() * (f.key_size + f.value_size) as u64);
        let space = logical.filter(|&l| l > 0).map(|l| disk as f64 / l as f64);
        Ok(Amplification {
            engine_wa,
            io_wa,
            space,
            disk,
            logical,
        })
    }

    fn report(
        &mut self,
        name: &str,
        out: &Outcome,
        peak_rss: Option<u64>,
        settle: Option<f64>,
        amp: Option<&Amplification>,
    ) -> Result<()> {
        let f = &self.flags;
        let wall = out.wall.as_secs_f64().max(1e-9);
        let ops = out.ops.max(1);
        let micros = out.thread_secs * 1e6 / ops as f64;
        let ops_sec = (out.ops as f64 / wall) as u64;
        let mbs = out.bytes as f64 / MIB / wall;
        let found = if matches!(
            name,
            "readrandom" | "readmissing" | "seekrandom" | "readwhilewriting" | "updaterandom"
        ) {
            format!(" ({} of {} found)", out.found, out.ops)
        } else {
            String::new()
        };
        let mut text = format!(
            "{name:<12} : {micros:11.3} micros/op {ops_sec} ops/sec {mbs:.1} MB/s{found}\n"
        );
        let mut extra = Vec::new();
        if let Some(rss) = peak_rss {
            extra.push(format!("peak RSS {:.1} MB", rss as f64 / MIB));
        }
        if let Some(a) = amp {
            let fmt = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.2}"));
            extra.push(format!(
                "write amp {} (engine), {} (io)",
                fmt(a.engine_wa),
                fmt(a.io_wa)
            ));
            match a.logical {
                Some(l) => extra.push(format!(
                    "space amp {} ({:.1} MB on disk / {:.1} MB logical)",
                    fmt(a.space),
                    a.disk as f64 / MIB,
                    l as f64 / MIB
                )),
                None => extra.push(format!("{:.1} MB on disk", a.disk as f64 / MIB)),
            }
        }
        if let Some(s) = settle {
            extra.push(format!("settle {s:.2} s"));
        }
        if !extra.is_empty() {
            text.push_str(&format!("{:<12} : {}\n", "", extra.join("; ")));
        }
        let q = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p) as f64 / 1000.0;
        if let Some(h) = out.hist.as_ref().filter(|h| !h.is_empty()) {
            text.push_str(&format!(
                "Microseconds per op:\nCount: {} Average: {:.4}  StdDev: {:.2}\n\
                 Min: {:.3}  Median: {:.3}  Max: {:.3}\n\
                 Percentiles: P50: {:.2} P95: {:.2} P99: {:.2} P99.9: {:.2} Max: {:.2}\n",
                h.len(),
                h.mean() / 1000.0,
                h.stdev() / 1000.0,
                h.min() as f64 / 1000.0,
                q(h, 0.5),
                h.max() as f64 / 1000.0,
                q(h, 0.5),
                q(h, 0.95),
                q(h, 0.99),
                q(h, 0.999),
                h.max() as f64 / 1000.0,
            ));
        }
        {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
        if let Some(path) = &f.report_csv {
            let opt = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.3}"));
            let hq = |p: f64| out.hist.as_ref().filter(|h| !h.is_empty()).map(|h| q(h, p));
            let hmax = out
                .hist
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| h.max() as f64 / 1000.0);
            let row = [
                f.engine.name().to_string(),
                name.to_string(),
                f.num.to_string(),
                f.threads.to_string(),
                f.value_size.to_string(),
                format!("{micros:.3}"),
                ops_sec.to_string(),
                format!("{mbs:.1}"),
                if found.is_empty() {
                    String::new()
                } else {
                    out.found.to_string()
                },
                out.ops.to_string(),
                opt(hq(0.5)),
                opt(hq(0.99)),
                opt(hq(0.999)),
                opt(hmax),
                opt(peak_rss.map(|r| r as f64 / MIB)),
                opt(amp.and_then(|a| a.engine_wa)),
                opt(amp.and_then(|a| a.io_wa)),
                opt(amp.and_then(|a| a.space)),
                opt(amp.map(|a| a.disk as f64 / MIB)),
                opt(settle),
            ]
            .join(",");
            let header = "engine,benchmark,num,threads,value_size,micros_per_op,ops_per_sec,mb_per_sec,\
                          found,ops,p50_us,p99_us,p999_us,max_us,peak_rss_mb,write_amp,io_write_amp,\
                          space_amp,disk_mb,settle_s";
            sys::append_line(path, header, &row)?;
            self.csv_header_done = true;
        }
        Ok(())
    }

    /// Runs the timed part of benchmark `name`.
    fn execute(&self, ordinal: u64, name: &str) -> Result<Outcome> {
        let f = &self.flags;
        let engine = self.engine()?;
        let live = self.live.as_ref();
        let (num, reads, ks, vs) = (f.num, f.reads(), f.key_size, f.value_size);
        let kv = (ks + vs) as u64;
        let set_live = |k: u64, v: bool| {
            if let Some(l) = live {
                l.set(k, v);
            }
        };
        let write = |w: &mut Worker<'_>, sync: bool, random: bool| -> Result<()> {
            while w.more(num) {
                let k = if random {
                    w.rng.uniform(num)
                } else {
                    w.ops % num
                };
                make_key(&mut w.key, k, ks);
                let t = w.timer();
                engine.put(&w.key, w.values.generate(vs), sync)?;
                w.finish_op(t, kv);
                w.written += kv;
                set_live(k, true);
            }
            Ok(())
        };
        let read_random = |w: &mut Worker<'_>, missing: bool| -> Result<()> {
            while w.more(reads) {
                let k = w.rng.uniform(num) + if missing { num } else { 0 };
                make_key(&mut w.key, k, ks);
                let t = w.timer();
                let got = engine.get(&w.key)?;
                let bytes = got.map_or(0, |len| (ks + len) as u64);
                w.found += u64::from(got.is_some());
                w.finish_op(t, bytes);
            }
            Ok(())
        };
        let sync = f.sync;
        match name {
            "fillseq" => self.run_workers(ordinal, name, num, false, &|_, w| write(w, sync, false)),
            "fillrandom" | "overwrite" => {
                self.run_workers(ordinal, name, num, false, &|_, w| write(w, sync, true))
            }
            "fillsync" => self.run_workers(ordinal, name, num, false, &|_, w| write(w, true, true)),
            "readrandom" => {
                self.run_workers(ordinal, name, reads, false, &|_, w| read_random(w, false))
            }
            "readmissing" => {
                self.run_workers(ordinal, name, reads, false, &|_, w| read_random(w, true))
            }
            "readseq" | "readreverse" => {
                let reverse = name == "readreverse";
                self.run_workers(ordinal, name, reads, false, &|_, w| {
                    while w.more(reads) {
                        let (mut n, mut bytes, mut unreported) = (0u64, 0u64, 0u64);
                        let progress = w.progress;
                        let limit = if w.deadline.is_some() {
                            u64::MAX
                        } else {
                            reads - w.ops
                        };
                        let t = Instant::now();
                        engine.scan(reverse, limit, &mut |k, v| {
                            n += 1;
                            bytes += (k + v) as u64;
                            unreported += 1;
                            if unreported == 4096 {
                                progress.fetch_add(unreported, Ordering::Relaxed);
                                unreported = 0;
                            }
                        })?;
                        progress.fetch_add(unreported, Ordering::Relaxed);
                        if let Some(h) = w.hist.as_mut().filter(|_| n > 0) {
                            let per = (t.elapsed().as_nanos() as u64 / n).max(1);
                            let _ = h.record_n(per, n);
                        }
                        w.ops += n;
                        w.bytes += bytes;
                        if n == 0 {
                            break; // empty database
                        }
                    }
                    Ok(())
                })
            }
            "seekrandom" => {
                let nexts = f.seek_nexts;
                self.run_workers(ordinal, name, reads, false, &|_, w| {
                    while w.more(reads) {
                        make_key(&mut w.key, w.rng.uniform(num), ks);
                        let mut bytes = 0u64;
                        let t = w.timer();
                        let hit =
                            engine.seek(&w.key, nexts, &mut |k, v| bytes += (k + v) as u64)?;
                        w.found += u64::from(hit);
                        w.finish_op(t, bytes);
                    }
                    Ok(())
                })
            }
            "deleterandom" => self.run_workers(ordinal, name, num, false, &|_, w| {
                while w.more(num) {
                    let k = w.rng.uniform(num);
                    make_key(&mut w.key, k, ks);
                    let t = w.timer();
                    engine.delete(&w.key, sync)?;
                    w.finish_op(t, ks as u64);
                    w.written += ks as u64;
                    set_live(k, false);
                }
                Ok(())
            }),
            "updaterandom" => self.run_workers(ordinal, name, reads, false, &|_, w| {
                while w.more(reads) {
                    let k = w.rng.uniform(num);
                    make_key(&mut w.key, k, ks);
                    let t = w.timer();
                    let got = engine.get(&w.key)?;
                    engine.put(&w.key, w.values.generate(vs), sync)?;
                    w.found += u64::from(got.is_some());
                    w.finish_op(t, got.map_or(0, |l| (ks + l) as u64) + kv);
                    w.written += kv;
                    set_live(k, true);
                }
                Ok(())
            }),
            "readwhilewriting" => {
                let readers = f.threads;
                self.run_workers(ordinal, name, reads, true, &|tid, w| {
                    if tid < readers {
                        read_random(w, false)
                    } else {
                        write(w, sync, true).map(|_| ())
                    }
                })
            }
            other => Err(format!("unknown benchmark '{other}'").into()),
        }
    }

    /// Runs `body` on `--threads` threads (plus one background writer if `writer`),
    /// with a progress display, and merges the readers' results.
    fn run_workers(
        &self,
        ordinal: u64,
        name: &str,
        per_thread: u64,
        writer: bool,
        body: &(dyn Fn(usize, &mut Worker<'_>) -> Result<()> + Sync),
    ) -> Result<Outcome> {
        let f = &self.flags;
        let n = f.threads;
        let progress = AtomicU64::new(0);
        let stop_writer = AtomicBool::new(false);
        let never = AtomicBool::new(false);
        let running = AtomicUsize::new(n);
        let deadline = (f.duration > 0).then(|| Instant::now() + Duration::from_secs(f.duration));
        let expected = if deadline.is_some() {
            0
        } else {
            per_thread * n as u64
        };
        let start = Instant::now();
        let mut wall = Duration::ZERO;
        let results: Vec<Result<(Outcome, usize)>> = std::thread::scope(|s| {
            let display = s.spawn(|| show_progress(name, expected, &progress, &running));
            let handles: Vec<_> = (0..n + usize::from(writer))
                .map(|tid| {
                    let (progress, stop_writer, never, running) =
                        (&progress, &stop_writer, &never, &running);
                    s.spawn(move || -> Result<(Outcome, usize)> {
                        let is_writer = tid >= n;
                        let mut w = Worker {
                            rng: Rng::new(
                                f.seed
                                    .wrapping_add(ordinal.wrapping_mul(1_000_003))
                                    .wrapping_add(tid as u64),
                            ),
                            values: ValueGenerator::new(f.value_size, f.compression_ratio),
                            key: Vec::with_capacity(f.key_size),
                            hist: (f.histogram && !is_writer)
                                .then(|| Histogram::new(3))
                                .transpose()
                                .map_err(|e| format!("histogram: {e}"))?,
                            ops: 0,
                            bytes: 0,
                            written: 0,
                            found: 0,
                            unreported: 0,
                            progress: if is_writer { never_counter() } else { progress },
                            deadline,
                            stop: if is_writer { stop_writer } else { never },
                        };
                        let t = Instant::now();
                        let r = body(tid, &mut w);
                        if !is_writer {
                            progress.fetch_add(w.unreported, Ordering::Relaxed);
                            if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                                stop_writer.store(true, Ordering::Release);
                            }
                        }
                        r?;
                        let secs = t.elapsed().as_secs_f64();
                        Ok((
                            Outcome {
                                ops: w.ops,
                                bytes: w.bytes,
                                written: w.written,
                                found: w.found,
                                wall: Duration::ZERO,
                                thread_secs: secs,
                                hist: w.hist,
                            },
                            tid,
                        ))
                    })
                })
                .collect();
            let results = handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a benchmark thread panicked".into()))
                })
                .collect();
            wall = start.elapsed();
            // All workers are done (running is 0), so the display thread ends.
            let _ = display.join();
            results
        });
        let mut total = Outcome {
            wall,
            ..Outcome::default()
        };
        for r in results {
            let (o, tid) = r?;
            total.written += o.written;
            if tid >= n {
                continue; // the background writer of readwhilewriting is not reported
            }
            total.ops += o.ops;
            total.bytes += o.bytes;
            total.found += o.found;
            total.thread_secs += o.thread_secs;
            match (&mut total.hist, o.hist) {
                (Some(t), Some(h)) => {
                    let _ = t.add(&h);
                }
                (t @ None, Some(h)) => *t = Some(h),
                _ => {}
            }
        }
        Ok(total)
    }
}

/// A progress counter nobody reads (for the background writer).
fn never_counter() -> &'static AtomicU64 {
    static SINK: AtomicU64 = AtomicU64::new(0);
    &SINK
}

/// Amplification figures after a write benchmark.
struct Amplification {
    engine_wa: Option<f64>,
    io_wa: Option<f64>,
    space: Option<f64>,
    disk: u64,
    logical: Option<u64>,
}

/// A progress bar on a terminal; otherwise a plain line on stderr every 10 seconds.
/// Returns when `running` reaches zero.
fn show_progress(name: &str, expected: u64, done: &AtomicU64, running: &AtomicUsize) {
    let tick = Duration::from_millis(100);
    if std::io::stderr().is_terminal() {
        let bar = if expected > 0 {
            indicatif::ProgressBar::new(expected)
        } else {
            indicatif::ProgressBar::new_spinner()
        };
        let template = if expected > 0 {
            "{prefix:<12} [{bar:40}] {pos}/{len} ops ({per_sec}, eta {eta})"
        } else {
            "{prefix:<12} {spinner} {pos} ops ({per_sec})"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_string());
        while running.load(Ordering::Acquire) > 0 {
            bar.set_position(done.load(Ordering::Relaxed));
            std::thread::sleep(tick);
        }
        bar.finish_and_clear();
    } else {
        let start = Instant::now();
        let mut next = Duration::from_secs(10);
        while running.load(Ordering::Acquire) > 0 {
            std::thread::sleep(tick);
            if start.elapsed() >= next {
                let d = done.load(Ordering::Relaxed);
                if expected > 0 {
                    eprintln!(
                        "... {name}: {d} of {expected} ops ({:.0}%)",
                        d as f64 * 100.0 / expected as f64
                    );
                } else {
                    eprintln!("... {name}: {d} ops");
                }
                next += Duration::from_secs(10);
            }
        }
    }
}
