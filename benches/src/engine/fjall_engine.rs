//! fjall adapter (cargo feature `fjall`).

use std::path::Path;
use std::time::Duration;

use fjall::{
    CompressionType, Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode,
};

use super::{Engine, EngineConfig, Result, WriteCounters};
use crate::flags::CompressionKind;

/// fjall: one keyspace with one partition.
pub struct FjallEngine {
    keyspace: Keyspace,
    part: PartitionHandle,
    settings: String,
}

impl FjallEngine {
    /// Opens (or creates) the keyspace in `dir`.
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<FjallEngine> {
        // fjall's journal cannot be turned off (the flag check rejects --disable_wal).
        let flush_workers = (cfg.background_jobs / 2).max(1);
        let compaction_workers = cfg.background_jobs.max(1);
        // Like ShaleDB's max_write_buffer_number = 4: up to 4 memtables in memory.
        let max_write_buffer = cfg.write_buffer_size as u64 * 4;
        let keyspace = Config::new(dir)
            .cache_size(cfg.cache_size)
            .max_write_buffer_size(max_write_buffer)
            .flush_workers(flush_workers)
            .compaction_workers(compaction_workers)
            // Journal fsyncs only when a write asks for it (no periodic fsync thread).
            .fsync_ms(None)
            .open()?;
        let compression = match cfg.compression {
            CompressionKind::None => CompressionType::None,
            CompressionKind::Lz4 => CompressionType::Lz4,
        };
        let bloom = (cfg.bloom_bits > 0).then(|| u8::try_from(cfg.bloom_bits).unwrap_or(u8::MAX));
        let memtable = u32::try_from(cfg.write_buffer_size).unwrap_or(u32::MAX);
        let part = keyspace.open_partition(
            "bench",
            PartitionCreateOptions::default()
                .max_memtable_size(memtable)
                .block_size(4096)
                .compression(compression)
                .bloom_filter_bits(bloom),
        )?;
        let settings = format!(
            "max_memtable_size={memtable} max_write_buffer_size={max_write_buffer} \
             cache={} bloom_bits={} compression={compression:?} \
             block_size=4096 flush_workers={flush_workers} compaction_workers={compaction_workers} \
             compaction=leveled(default) fsync_ms=none",
            cfg.cache_size, cfg.bloom_bits,
        );
        Ok(FjallEngine {
            keyspace,
            part,
            settings,
        })
    }
}

impl Engine for FjallEngine {
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        self.part.insert(key, value)?;
        if sync {
            self.keyspace.persist(PersistMode::SyncData)?;
        }
        Ok(())
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<()> {
        self.part.remove(key)?;
        if sync {
            self.keyspace.persist(PersistMode::SyncData)?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.part.get(key)?.map(|v| v.len()))
    }

    fn scan(&self, reverse: bool, limit: u64, visit: &mut dyn FnMut(usize, usize)) -> Result<u64> {
        let mut n = 0;
        if limit == 0 {
            return Ok(0);
        }
        let mut step = |item: fjall::Result<fjall::KvPair>| -> Result<bool> {
            let (k, v) = item?;
            visit(k.len(), v.len());
            n += 1;
            Ok(n < limit)
        };
        if reverse {
            for item in self.part.iter().rev() {
                if !step(item)? {
                    break;
                }
            }
        } else {
            for item in self.part.iter() {
                if !step(item)? {
                    break;
                }
            }
        }
        Ok(n)
    }

    fn seek(&self, key: &[u8], nexts: usize, visit: &mut dyn FnMut(usize, usize)) -> Result<bool> {
        let mut it = self.part.range(key.to_vec()..);
        let found = match it.next() {
            Some(item) => {
                let (k, v) = item?;
                visit(k.len(), v.len());
                &*k == key
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
        self.part.rotate_memtable_and_wait()?;
        // fjall has no "wait for compactions": poll until no compaction has run for a
        // while (a quiet 500 ms), at most 10 minutes.
        let mut quiet = 0;
        for _ in 0..6000 {
            if self.keyspace.active_compactions() == 0 {
                quiet += 1;
                if quiet >= 5 {
                    break;
                }
            } else {
                quiet = 0;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn write_counters(&self) -> Option<WriteCounters> {
        None
    }

    fn stats_text(&self) -> String {
        format!(
            "fjall: {} segments, disk space {} bytes (journals {} bytes in {} files), \
             write buffer {} bytes, approximate entries {}\n",
            self.part.segment_count(),
            self.keyspace.disk_space(),
            self.keyspace.journal_disk_space(),
            self.keyspace.journal_count(),
            self.keyspace.write_buffer_size(),
            self.part.approximate_len()
        )
    }

    fn describe(&self) -> String {
        self.settings.clone()
    }
}
