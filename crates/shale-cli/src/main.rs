//! `shale`: the ShaleDB command-line tool, shaped like RocksDB's `ldb`.

mod batch;
mod check;
mod commands;
mod encoding;
mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect, query and maintain a ShaleDB data directory.
#[derive(Parser, Debug)]
#[command(name = "shale", version, about)]
struct Cli {
    /// The data directory.
    #[arg(long, global = true, default_value = "./shale-data")]
    db: PathBuf,
    /// Read keys/values as hex and print them as hex (for binary data).
    #[arg(long, global = true)]
    hex: bool,
    /// Memtable size in bytes before it is flushed to a table (default 64 MiB).
    #[arg(long, global = true, value_name = "BYTES")]
    write_buffer_size: Option<usize>,
    /// Target size in bytes of tables written by compaction (default 64 MiB).
    #[arg(long, global = true, value_name = "BYTES")]
    target_file_size: Option<u64>,
    /// The keyspace that put/get/delete/delete-range/scan/batch/compact act on
    /// (created by writes if missing; reads of a missing one fail).
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    keyspace: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Store KEY = VALUE.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// fsync before returning.
        #[arg(long)]
        sync: bool,
    },
    /// Print the value of KEY (exit 1 if absent).
    Get {
        /// The key.
        key: String,
    },
    /// Delete KEY.
    Delete {
        /// The key.
        key: String,
        /// fsync before returning.
        #[arg(long)]
        sync: bool,
    },
    /// Delete every key in [--from, --to) or with --prefix, as one range tombstone.
    DeleteRange {
        /// First key deleted (inclusive; default: the first key).
        #[arg(long)]
        from: Option<String>,
        /// First key kept after the range (exclusive; default: to the end).
        #[arg(long)]
        to: Option<String>,
        /// Every key with this prefix.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        prefix: Option<String>,
        /// fsync before returning.
        #[arg(long)]
        sync: bool,
    },
    /// List the keyspaces.
    Keyspaces,
    /// Drop keyspace NAME and all its data.
    DropKeyspace {
        /// The keyspace.
        name: String,
    },
    /// Print `key<TAB>value` lines in key order.
    Scan {
        /// First key (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Last key (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Only keys with this prefix.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        prefix: Option<String>,
        /// Descending order.
        #[arg(long)]
        reverse: bool,
        /// At most this many lines.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Read `put K V` / `get K` / `del K` lines from stdin; answer each with one line.
    Batch {
        /// Answer `OK` to a write only once it is durable (fsync).
        #[arg(long)]
        sync: bool,
    },
    /// Show the records of a write-ahead log file and any damage found.
    DumpWal {
        /// The `.log` file.
        file: PathBuf,
    },
    /// Show a table file: properties, index and entries.
    DumpSst {
        /// The `.sst` file.
        file: PathBuf,
        /// Also list the data blocks.
        #[arg(long)]
        blocks: bool,
    },
    /// Show every edit recorded in a MANIFEST file.
    DumpManifest {
        /// The `MANIFEST-NNNNNN` file (default: the one CURRENT names).
        file: Option<PathBuf>,
    },
    /// Verify every checksum of every file in the data directory (exit 1 on damage).
    Check,
    /// Print the database's levels, sizes, amplification, stalls and cache figures.
    Stats,
    /// Flush the memtable and compact the whole key range to the bottom level.
    Compact,
    /// Write a consistent, openable copy of the live database into OUT.
    Checkpoint {
        /// The new directory (must not exist or be empty).
        out: PathBuf,
    },
    /// Write and read sample data in the data directory: a first look at ShaleDB.
    Demo,
    /// Serve the data directory over the Redis, memcached, DynamoDB and Riak HTTP
    /// protocols until SIGINT/SIGTERM (see docs/serve.md).
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
