//! Command-line arguments shared by the modes, and the tiny-buffer database options.

use std::path::PathBuf;
use std::sync::Arc;

use shaledb::{Compression, FileSystem, Options};

use crate::{StressError, StressResult};

/// Database tuning: defaults are tiny so that flushes and compactions run constantly.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct TuningArgs {
    /// Memtable size in bytes.
    #[arg(long, default_value_t = 32 * 1024)]
    pub write_buffer_size: usize,
    /// Target size of compaction output tables in bytes.
    #[arg(long, default_value_t = 16 * 1024)]
    pub target_file_size: u64,
    /// Target size of the first level below L0 in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_bytes_for_level_base: u64,
    /// Size ratio between adjacent levels.
    #[arg(long, default_value_t = 4)]
    pub level_size_multiplier: u64,
    /// L0 files that trigger a compaction.
    #[arg(long, default_value_t = 2)]
    pub l0_compaction_trigger: usize,
    /// Number of levels.
    #[arg(long, default_value_t = 5)]
    pub num_levels: usize,
    /// Data block size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub block_size: usize,
    /// Background flush/compaction threads.
    #[arg(long, default_value_t = 2)]
    pub background_threads: usize,
    /// Manifest size in bytes at which it is rolled over.
    #[arg(long, default_value_t = 16 * 1024)]
    pub max_manifest_size: u64,
}

impl Default for TuningArgs {
    fn default() -> Self {
        TuningArgs {
            write_buffer_size: 32 * 1024,
            target_file_size: 16 * 1024,
            max_bytes_for_level_base: 64 * 1024,
            level_size_multiplier: 4,
            l0_compaction_trigger: 2,
            num_levels: 5,
            block_size: 1024,
            background_threads: 2,
            max_manifest_size: 16 * 1024,
        }
    }
}

impl TuningArgs {
    /// Database options on `fs` with these settings.
    pub fn options(&self, fs: Arc<dyn FileSystem>) -> Options {
        Options {
            write_buffer_size: self.write_buffer_size,
            max_write_buffer_number: 3,
            target_file_size: self.target_file_size,
            max_bytes_for_level_base: self.max_bytes_for_level_base,
            level_size_multiplier: self.level_size_multiplier,
            l0_compaction_trigger: self.l0_compaction_trigger,
            l0_slowdown_writes_trigger: self.l0_compaction_trigger.max(8),
            l0_stop_writes_trigger: self.l0_compaction_trigger.max(8) + 4,
            num_levels: self.num_levels,
            block_size: self.block_size,
            background_threads: self.background_threads,
            max_manifest_size: self.max_manifest_size,
            compression: Compression::Lz4,
            ..Options::with_fs(fs)
        }
    }

    /// The same settings as command-line arguments (for a child process).
    pub fn to_args(&self) -> Vec<String> {
        [
            ("--write-buffer-size", self.write_buffer_size.to_string()),
            ("--target-file-size", self.target_file_size.to_string()),
            (
                "--max-bytes-for-level-base",
                self.max_bytes_for_level_base.to_string(),
            ),
            (
                "--level-size-multiplier",
                self.level_size_multiplier.to_string(),
            ),
            (
                "--l0-compaction-trigger",
                self.l0_compaction_trigger.to_string(),
            ),
            ("--num-levels", self.num_levels.to_string()),
            ("--block-size", self.block_size.to_string()),
            ("--background-threads", self.background_threads.to_string()),
            ("--max-manifest-size", self.max_manifest_size.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }
}

/// The workload's shape, shared by every mode.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct WorkloadArgs {
    /// Worker threads; each owns the blocks of 100 keys `b` with `b % threads == its index`.
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Operations per thread (0: until stopped or killed). Defaults: 5000 for `run`;
    /// unlimited for the `run` children of `crash` and the cycles of `memfs`.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fraction of writes issued with `sync: true`.
    #[arg(long, default_value_t = 0.1)]
    pub sync_ratio: f64,
    /// Number of keyspaces the keys are spread over (blocks of 100 keys each; batches
    /// span keyspaces).
    #[arg(long, default_value_t = 2)]
    pub keyspaces: u32,
    /// Size of the key space (small, so keys are overwritten often).
    #[arg(long, default_value_t = 10_000)]
    pub keys: u32,
}

impl WorkloadArgs {
    /// Rejects settings this version cannot run.
    pub fn validate(&self) -> StressResult<()> {
        if !(1..=64).contains(&self.keyspaces) {
            return Err(StressError::Usage("--keyspaces must be 1 to 64".into()));
        }
        if self.threads == 0 || self.threads > 256 {
            return Err(StressError::Usage("--threads must be 1 to 256".into()));
        }
        let min_keys = crate::workload::BLOCK as usize * self.threads;
        if (self.keys as usize) < min_keys {
            return Err(StressError::Usage(format!(
                "--keys must be at least {min_keys} (one block of {} keys per thread)",
                crate::workload::BLOCK
            )));
        }
        if !(0.0..=1.0).contains(&self.sync_ratio) {
            return Err(StressError::Usage("--sync-ratio must be in [0, 1]".into()));
        }
        Ok(())
    }

    /// The same settings as command-line arguments, with `seed` and `ops` replaced.
    pub fn to_args(&self, seed: u64, ops: u64) -> Vec<String> {
        vec![
            "--threads".into(),
            self.threads.to_string(),
            "--ops".into(),
            ops.to_string(),
            "--seed".into(),
            seed.to_string(),
            "--sync-ratio".into(),
            self.sync_ratio.to_string(),
            "--keyspaces".into(),
            self.keyspaces.to_string(),
            "--keys".into(),
            self.keys.to_string(),
        ]
    }
}

/// Where `run` and `crash` keep the database and the expected state.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct PathArgs {
    /// The database directory.
    #[arg(long)]
    pub db: PathBuf,
    /// The expected-state file (created if missing).
    #[arg(long)]
    pub expected: PathBuf,
}
