//! RocksDB adapter (cargo feature `rocksdb`).

use std::path::Path;

use rocksdb::statistics::{StatsLevel, Ticker};
use rocksdb::{
    BlockBasedOptions, Cache, DB, DBCompressionType, Options, ReadOptions, WaitForCompactOptions,
    WriteOptions,
};

use super::{Engine, EngineConfig, Result, WriteCounters};
use crate::flags::CompressionKind;

/// RocksDB with settings mirroring ShaleDB's defaults.
pub struct RocksEngine {
    db: DB,
    opts: Options,
    disable_wal: bool,
    settings: String,
}

impl RocksEngine {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<RocksEngine> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_write_buffer_size(cfg.write_buffer_size);
        opts.set_max_write_buffer_number(4);
        opts.set_level_zero_file_num_compaction_trigger(4);
        opts.set_level_zero_slowdown_writes_trigger(20);
        opts.set_level_zero_stop_writes_trigger(36);
        opts.set_max_bytes_for_level_base(256 << 20);
        opts.set_max_bytes_for_level_multiplier(10.0);
        opts.set_target_file_size_base(64 << 20);
        opts.set_level_compaction_dynamic_level_bytes(true);
        opts.set_max_background_jobs(i32::try_from(cfg.background_jobs).unwrap_or(2));
        let compression = match cfg.compression {
            CompressionKind::None => DBCompressionType::None,
            CompressionKind::Lz4 => DBCompressionType::Lz4,
        };
        opts.set_compression_type(compression);
        opts.set_bottommost_compression_type(compression);
        opts.enable_statistics();
        opts.set_statistics_level(StatsLevel::ExceptHistogramOrTimers);
        let mut table = BlockBasedOptions::default();
        table.set_block_size(4096);
        let cache = Cache::new_lru_cache(usize::try_from(cfg.cache_size).unwrap_or(usize::MAX));
        table.set_block_cache(&cache);
        if cfg.bloom_bits > 0 {
            table.set_bloom_filter(f64::from(cfg.bloom_bits), false);
        }
        opts.set_block_based_table_factory(&table);
        let settings = format!(
            "write_buffer_size={} max_write_buffer_number=4 block_cache={} (LRU) bloom_bits={} \
             (full filter) compression={compression:?} block_size=4096 max_background_jobs={} \
             l0_trigger=4 max_bytes_for_level_base={} target_file_size_base={} \
             dynamic_level_bytes=true disable_wal={}",
            cfg.write_buffer_size,
            cfg.cache_size,
            cfg.bloom_bits,
            cfg.background_jobs,
            256u64 << 20,
            64u64 << 20,
            cfg.disable_wal
        );
        let db = DB::open(&opts, dir)?;
        Ok(RocksEngine {
            db,
            opts,
            disable_wal: cfg.disable_wal,
            settings,
        })
    }

    fn write_options(&self, sync: bool) -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        wo.disable_wal(self.disable_wal);
        wo
    }
}

impl Engine for RocksEngine {
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        Ok(self.db.put_opt(key, value, &self.write_options(sync))?)
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<()> {
        Ok(self.db.delete_opt(key, &self.write_options(sync))?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get_pinned(key)?.map(|v| v.len()))
    }

    fn scan(&self, reverse: bool, limit: u64, visit: &mut dyn FnMut(usize, usize)) -> Result<u64> {
        let mut it = self.db.raw_iterator_opt(ReadOptions::default());
        if reverse {
            it.seek_to_last();
        } else {
            it.seek_to_first();
        }
        let mut n = 0;
        while n < limit && it.valid() {
            if let (Some(k), Some(v)) = (it.key(), it.value()) {
                visit(k.len(), v.len());
            }
            n += 1;
            if reverse {
                it.prev();
            } else {
                it.next();
            }
        }
        it.status()?;
        Ok(n)
    }

    fn seek(&self, key: &[u8], nexts: usize, visit: &mut dyn FnMut(usize, usize)) -> Result<bool> {
        let mut it = self.db.raw_iterator_opt(ReadOptions::default());
        it.seek(key);
        let mut found = false;
        if let (Some(k), Some(v)) = (it.key(), it.value()) {
            visit(k.len(), v.len());
            found = k == key;
            for _ in 0..nexts {
                it.next();
                match (it.key(), it.value()) {
                    (Some(k), Some(v)) => visit(k.len(), v.len()),
                    _ => break,
                }
            }
        }
        it.status()?;
        Ok(found)
    }

    fn settle(&self) -> Result<()> {
        self.db.flush()?;
        let mut w = WaitForCompactOptions::default();
        w.set_flush(true);
        Ok(self.db.wait_for_compact(&w)?)
    }

    fn write_counters(&self) -> Option<WriteCounters> {
        let t = |ticker| self.opts.get_ticker_count(ticker);
        Some(WriteCounters {
            user_bytes: t(Ticker::BytesWritten),
            disk_bytes: t(Ticker::WalFileBytes)
                + t(Ticker::FlushWriteBytes)
                + t(Ticker::CompactWriteBytes),
        })
    }

    fn stats_text(&self) -> String {
        self.db
            .property_value("rocksdb.stats")
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn describe(&self) -> String {
        self.settings.clone()
    }
}
