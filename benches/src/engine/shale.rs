//! ShaleDB adapter.

use std::path::Path;

use shaledb::{Compression, Db, Options, WriteOptions};

use super::{Engine, EngineConfig, Result, WriteCounters};
use crate::flags::CompressionKind;

/// ShaleDB through its public API.
pub struct ShaleEngine {
    db: Db,
    settings: String,
}

impl ShaleEngine {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<ShaleEngine> {
        let opts = Options {
            write_buffer_size: cfg.write_buffer_size,
            block_cache_size: cfg.cache_size,
            bloom_bits_per_key: cfg.bloom_bits,
            compression: match cfg.compression {
                CompressionKind::None => Compression::None,
                CompressionKind::Lz4 => Compression::Lz4,
            },
            background_threads: cfg.background_jobs,
            ..Options::default()
        };
        let settings = format!(
            "write_buffer_size={} max_write_buffer_number={} block_cache={} bloom_bits={} \
             compression={:?} block_size={} background_threads={} l0_trigger={} \
             max_bytes_for_level_base={} target_file_size={}",
            opts.write_buffer_size,
            opts.max_write_buffer_number,
            opts.block_cache_size,
            opts.bloom_bits_per_key,
            opts.compression,
            opts.block_size,
            opts.background_threads,
            opts.l0_compaction_trigger,
            opts.max_bytes_for_level_base,
            opts.target_file_size
        );
        Ok(ShaleEngine {
            db: Db::open(dir, opts)?,
            settings,
        })
    }
}

impl Engine for ShaleEngine {
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        Ok(self.db.put_opt(key, value, &WriteOptions { sync })?)
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<()> {
        Ok(self.db.delete_opt(key, &WriteOptions { sync })?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn scan(&self, reverse: bool, limit: u64, visit: &mut dyn FnMut(usize, usize)) -> Result<u64> {
        let mut n = 0;
        let mut step = |item: shaledb::Result<(shaledb::Bytes, shaledb::Bytes)>| -> Result<bool> {
            let (k, v) = item?;
            visit(k.len(), v.len());
            n += 1;
            Ok(n < limit)
        };
        if limit == 0 {
            return Ok(0);
        }
        if reverse {
            for item in self.db.iter().rev() {
                if !step(item)? {
                    break;
                }
            }
        } else {
            for item in self.db.iter() {
                if !step(item)? {
                    break;
                }
            }
        }
        Ok(n)
    }

    fn seek(&self, key: &[u8], nexts: usize, visit: &mut dyn FnMut(usize, usize)) -> Result<bool> {
        let mut it = self.db.range(key..);
        let found = match it.next() {
            Some(item) => {
                let (k, v) = item?;
                visit(k.len(), v.len());
                k.as_ref() == key
            }
            None => return Ok(false),
        };
        for item in it.take(nexts) {
            let (k, v) = item?;
            visit(k.len(), v.len());
        }
        Ok(found)
    }

    fn settle(&self) -> Result<()> {
        self.db.flush()?;
        Ok(self.db.wait_for_compactions()?)
    }

    fn write_counters(&self) -> Option<WriteCounters> {
        let s = self.db.stats();
        Some(WriteCounters {
            user_bytes: s.user_bytes_written,
            disk_bytes: s.disk_bytes_written,
        })
    }

    fn stats_text(&self) -> String {
        self.db.stats().to_string()
    }

    fn describe(&self) -> String {
        self.settings.clone()
    }
}
