//! Command-line flags, spelled like RocksDB's `db_bench` (`--flag=value`).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Every benchmark `--benchmarks` accepts, in the order `--help` lists them.
pub const BENCHMARKS: &[&str] = &[
    "fillseq",
    "fillrandom",
    "overwrite",
    "fillsync",
    "readrandom",
    "readmissing",
    "readseq",
    "readreverse",
    "seekrandom",
    "deleterandom",
    "readwhilewriting",
    "updaterandom",
    "stats",
];

/// The storage engine under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// ShaleDB (always compiled in).
    Shale,
    /// RocksDB through the `rocksdb` crate (cargo feature `rocksdb`).
    Rocksdb,
    /// fjall (cargo feature `fjall`).
    Fjall,
}

impl EngineKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Shale => "shale",
            EngineKind::Rocksdb => "rocksdb",
            EngineKind::Fjall => "fjall",
        }
    }
}

/// Block compression, as far as all three engines support it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionKind {
    /// No compression.
    None,
    /// LZ4.
    Lz4,
}

/// Accepts db_bench's spellings of booleans: `1/0`, `true/false`, `yes/no`, `on/off`.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("expected 1/0 or true/false, got '{s}'")),
    }
}

/// `db_bench`-compatible benchmark for ShaleDB, RocksDB and fjall.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "shale-bench",
    version,
    about = "db_bench-compatible benchmark for ShaleDB (and RocksDB / fjall when compiled in)",
    after_help = "Benchmarks: fillseq, fillrandom, overwrite, fillsync, readrandom, readmissing, \
                  readseq, readreverse, seekrandom, deleterandom, readwhilewriting, updaterandom, stats"
)]
pub struct Flags {
    /// Comma-separated benchmarks, run in order.
    #[arg(
        long = "benchmarks",
        default_value = "fillseq,fillrandom,overwrite,readrandom,readseq,readreverse,seekrandom,stats"
    )]
    pub benchmarks: String,
    /// Engine under test.
    #[arg(long = "engine", value_enum, default_value = "shale")]
    pub engine: EngineKind,
    /// Number of key/value pairs (key space) and writes per thread.
    #[arg(long = "num", default_value_t = 1_000_000)]
    pub num: u64,
    /// Reads per thread (negative: same as --num).
    #[arg(long = "reads", default_value_t = -1, allow_hyphen_values = true)]
    pub reads: i64,
    /// Key size in bytes (at least 8).
    #[arg(long = "key_size", default_value_t = 16)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long = "value_size", default_value_t = 100)]
    pub value_size: usize,
    /// Values are generated to compress to this fraction of their size.
    #[arg(long = "compression_ratio", default_value_t = 0.5)]
    pub compression_ratio: f64,
    /// Concurrent threads per benchmark (readwhilewriting adds one writer).
    #[arg(long = "threads", default_value_t = 1)]
    pub threads: usize,
    /// Database directory (default /tmp/shale-bench-<engine>).
    #[arg(long = "db")]
    pub db: Option<PathBuf>,
    /// Reuse the database in --db instead of starting from an empty one.
    #[arg(long = "use_existing_db", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub use_existing_db: bool,
    /// Sync (fdatasync) every write.
    #[arg(long = "sync", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub sync: bool,
    /// Write without a WAL (RocksDB only; ShaleDB and fjall always log).
    #[arg(long = "disable_wal", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub disable_wal: bool,
    /// Memtable size in bytes.
    #[arg(long = "write_buffer_size", default_value_t = 64 << 20)]
    pub write_buffer_size: usize,
    /// Block cache size in bytes.
    #[arg(long = "cache_size", default_value_t = 32 << 20)]
    pub cache_size: u64,
    /// Bloom filter bits per key (0: no filter).
    #[arg(long = "bloom_bits", default_value_t = 10)]
    pub bloom_bits: u32,
    /// Block compression.
    #[arg(long = "compression_type", value_enum, default_value = "lz4")]
    pub compression_type: CompressionKind,
    /// Flush and compaction threads.
    #[arg(long = "max_background_jobs", default_value_t = 2)]
    pub max_background_jobs: usize,
    /// `next` calls after each seek in seekrandom.
    #[arg(long = "seek_nexts", default_value_t = 0)]
    pub seek_nexts: usize,
    /// Random seed (keys); each thread derives its own from it.
    #[arg(long = "seed", default_value_t = 301)]
    pub seed: u64,
    /// Print latency percentiles per benchmark.
    #[arg(long = "histogram", default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub histogram: bool,
    /// Run each benchmark for this many seconds instead of a fixed op count (0: off).
    #[arg(long = "duration", default_value_t = 0)]
    pub duration: u64,
    /// Append one CSV row per benchmark to this file (not a db_bench flag).
    #[arg(long = "report_csv")]
    pub report_csv: Option<PathBuf>,
}

impl Flags {
    /// Parses `args` (including the program name), then checks the combinations.
    /// Errors are complete messages for the user.
    pub fn parse_from_args<I, T>(args: I) -> Result<Flags, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let flags = match Flags::try_parse_from(args) {
            Ok(f) => f,
            Err(e) => {
                use clap::error::ErrorKind;
                let mut msg = e.render().to_string();
                if e.kind() == ErrorKind::UnknownArgument {
                    msg.push_str(&format!("\nvalid flags: {}\n", valid_flags().join(" ")));
                }
                return Err(msg);
            }
        };
        flags.validate()?;
        Ok(flags)
    }

    /// The benchmark list, checked against [`BENCHMARKS`].
    pub fn benchmark_list(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for name in self
            .benchmarks
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if !BENCHMARKS.contains(&name) {
                return Err(format!(
                    "unknown benchmark '{name}'; valid benchmarks: {}",
                    BENCHMARKS.join(", ")
                ));
            }
            out.push(name.to_string());
        }
        if out.is_empty() {
            return Err(format!(
                "--benchmarks is empty; valid benchmarks: {}",
                BENCHMARKS.join(", ")
            ));
        }
        Ok(out)
    }

    fn validate(&self) -> Result<(), String> {
        self.benchmark_list()?;
        if self.num == 0 {
            return Err("--num must be at least 1".into());
        }
        if self.key_size < 8 {
            return Err(format!(
                "--key_size={} is too small: keys hold an 8-byte big-endian number (minimum 8)",
                self.key_size
            ));
        }
        if self.key_size > 65536 {
            return Err("--key_size must be at most 65536".into());
        }
        if self.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        if !(self.compression_ratio > 0.0 && self.compression_ratio <= 1.0) {
            return Err("--compression_ratio must be in (0, 1]".into());
        }
        if self.max_background_jobs == 0 {
            return Err("--max_background_jobs must be at least 1".into());
        }
        if self.disable_wal && self.engine != EngineKind::Rocksdb {
            return Err(format!(
                "--disable_wal is not supported by engine {}: it always writes its write-ahead log \
                 (only --engine=rocksdb can run without one)",
                self.engine.name()
            ));
        }
        Ok(())
    }

    /// Reads per thread.
    pub fn reads(&self) -> u64 {
        u64::try_from(self.reads).unwrap_or(self.num)
    }

    /// The database directory.
    pub fn db_path(&self) -> PathBuf {
        self.db
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/shale-bench-{}", self.engine.name())))
    }
}

/// `--name` of every flag, for error messages.
pub fn valid_flags() -> Vec<String> {
    use clap::CommandFactory;
    Flags::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, String> {
        Flags::parse_from_args(std::iter::once("shale-bench").chain(args.iter().copied()))
    }

    #[test]
    fn db_bench_syntax_parses() {
        let f = parse(&[
            "--benchmarks=fillseq,readrandom",
            "--num=1000",
            "--reads=10",
            "--use_existing_db=0",
            "--histogram=1",
            "--sync",
            "--compression_type=none",
            "--value_size=400",
        ])
        .unwrap();
        assert_eq!(f.num, 1000);
        assert_eq!(f.reads(), 10);
        assert!(f.histogram && f.sync && !f.use_existing_db);
        assert_eq!(f.compression_type, CompressionKind::None);
        assert_eq!(f.benchmark_list().unwrap(), ["fillseq", "readrandom"]);
        assert_eq!(parse(&["--reads=-1", "--num=7"]).unwrap().reads(), 7);
    }

    #[test]
    fn unknown_benchmark_lists_valid_ones() {
        let e = parse(&["--benchmarks=fillseq,fillbogus"]).unwrap_err();
        assert!(e.contains("unknown benchmark 'fillbogus'"), "{e}");
        assert!(
            e.contains("readwhilewriting") && e.contains("seekrandom"),
            "{e}"
        );
    }

    #[test]
    fn unknown_flag_lists_valid_ones() {
        let e = parse(&["--bogus_flag=3"]).unwrap_err();
        assert!(e.contains("--bogus_flag"), "{e}");
        assert!(
            e.contains("valid flags:") && e.contains("--value_size"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(
            parse(&["--compression_type=snappy"])
                .unwrap_err()
                .contains("lz4")
        );
        assert!(parse(&["--engine=leveldb"]).unwrap_err().contains("fjall"));
        assert!(parse(&["--num=0"]).unwrap_err().contains("--num"));
        assert!(parse(&["--key_size=4"]).unwrap_err().contains("--key_size"));
        assert!(parse(&["--histogram=maybe"]).is_err());
        assert!(parse(&["--compression_ratio=0"]).is_err());
    }

    #[test]
    fn disable_wal_is_rejected_for_shale() {
        let e = parse(&["--disable_wal=1"]).unwrap_err();
        assert!(e.contains("--disable_wal") && e.contains("shale"), "{e}");
        assert!(parse(&["--disable_wal=1", "--engine=fjall"]).is_err());
        assert!(parse(&["--disable_wal=1", "--engine=rocksdb"]).is_ok());
        assert!(parse(&["--disable_wal=0"]).is_ok());
    }
}
