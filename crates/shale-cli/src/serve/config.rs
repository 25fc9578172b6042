//! `shale serve`'s TOML configuration (see `docs/serve.md` for every key).

use std::path::Path;

use serde::Deserialize;
use shale_dynamo::DynamoConfig;
use shale_memcache::MemcacheConfig;
use shale_resp::RedisConfig;
use shale_riak::RiakConfig;
use shale_server::{Limits, SyncPolicy};
use shaledb::{Compression, Options};

/// The whole configuration file; every section and key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Which front ends run, durability, the admin endpoint.
    pub server: ServerSection,
    /// Engine tuning.
    pub engine: EngineSection,
    /// Limits on clients and requests, shared by every front end.
    pub limits: Limits,
    /// The Redis front end (docs/redis.md).
    pub redis: RedisConfig,
    /// The memcached front end (docs/memcached.md).
    pub memcache: MemcacheConfig,
    /// The DynamoDB-compatible API (docs/dynamo.md).
    pub dynamo: DynamoConfig,
    /// The Riak KV HTTP API (docs/riak.md).
    pub riak: RiakConfig,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Front ends to run: any of [`PROTOCOLS`].
    pub protocols: Vec<String>,
    /// When acknowledged writes are fsynced: "always", "everysec" or "no".
    pub appendfsync: SyncPolicy,
    /// Address of the admin HTTP endpoint (`/metrics`, `/health`); off when absent.
    pub admin: Option<String>,
    /// Threads serving network requests (0: one per core).
    pub worker_threads: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            protocols: PROTOCOLS.iter().map(|p| p.to_string()).collect(),
            appendfsync: SyncPolicy::Everysec,
            admin: None,
            worker_threads: 0,
        }
    }
}

/// The protocols `shale serve` knows.
pub const PROTOCOLS: [&str; 4] = ["redis", "memcache", "dynamo", "riak"];

/// `[engine]`: the engine options a server operator tunes.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSection {
    /// Memtable size in bytes before a flush (default 64 MiB).
    pub write_buffer_size: Option<usize>,
    /// Block cache capacity in bytes.
    pub block_cache_size: Option<u64>,
    /// One budget in bytes for all memtables across keyspaces.
    pub memory_budget: Option<u64>,
    /// Background flush/compaction threads.
    pub background_threads: Option<usize>,
    /// Bloom filter bits per key (0 disables filters).
    pub bloom_bits_per_key: Option<u32>,
    /// Data-block entries between restart points (smaller: faster point reads,
    /// larger blocks).
    pub block_restart_interval: Option<usize>,
    /// Share of each memtable spent on a filter of its keys (0 disables it).
    pub memtable_bloom_size_ratio: Option<f64>,
    /// Table block compression: "lz4" or "none".
    pub compression: Option<String>,
    /// Flush keyspaces that pin old WAL files once the WALs exceed this many bytes.
    pub max_total_wal_size: Option<u64>,
}

impl EngineSection {
    /// Applies the set keys to `opts`.
    pub fn apply(&self, opts: &mut Options) -> Result<(), String> {
        if let Some(n) = self.write_buffer_size {
            opts.write_buffer_size = n;
        }
        if let Some(n) = self.block_cache_size {
            opts.block_cache_size = n;
        }
        if let Some(n) = self.memory_budget {
            opts.memory_budget = Some(n);
        }
        if let Some(n) = self.background_threads {
            opts.background_threads = n;
        }
        if let Some(n) = self.bloom_bits_per_key {
            opts.bloom_bits_per_key = n;
        }
        if let Some(n) = self.block_restart_interval {
            opts.block_restart_interval = n;
        }
        if let Some(r) = self.memtable_bloom_size_ratio {
            opts.memtable_bloom_size_ratio = r;
        }
        if let Some(c) = &self.compression {
            opts.compression = match c.as_str() {
                "lz4" => Compression::Lz4,
                "none" => Compression::None,
                other => {
                    return Err(format!(
                        "engine.compression: {other:?} is not \"lz4\" or \"none\""
                    ));
                }
            };
        }
        if let Some(n) = self.max_total_wal_size {
            opts.max_total_wal_size = n;
        }
        Ok(())
    }
}

impl ServeConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<ServeConfig, String> {
        #[allow(clippy::disallowed_methods)] // a config file, not engine I/O
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }

    /// Parses config text.
    pub fn parse(text: &str) -> Result<ServeConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks the values together (after command-line overrides).
    pub fn validate(&self) -> Result<(), String> {
        for p in &self.server.protocols {
            if !PROTOCOLS.contains(&p.as_str()) {
                return Err(format!(
                    "server.protocols: unknown protocol {p:?} (known: {})",
                    PROTOCOLS.join(", ")
                ));
            }
        }
        self.limits.validate().map_err(|e| format!("limits: {e}"))?;
        self.redis.validate()?;
        self.memcache.validate()?;
        self.dynamo.validate()?;
        self.riak.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section_and_rejects_unknown_keys() {
        let c = ServeConfig::parse(
            r#"
            [server]
            appendfsync = "always"
            admin = "127.0.0.1:9100"
            [engine]
            write_buffer_size = 1048576
            compression = "none"
            memtable_bloom_size_ratio = 0.05
            block_restart_interval = 4
            [limits]
            max_clients = 3
            "#,
        )
        .unwrap();
        assert_eq!(c.server.appendfsync, SyncPolicy::Always);
        assert_eq!(c.server.admin.as_deref(), Some("127.0.0.1:9100"));
        assert_eq!(c.limits.max_clients, 3);
        let mut o = Options::default();
        c.engine.apply(&mut o).unwrap();
        assert_eq!(
            (o.write_buffer_size, o.compression),
            (1 << 20, Compression::None)
        );
        assert_eq!(o.memtable_bloom_size_ratio, 0.05);
        assert_eq!(o.block_restart_interval, 4);
        assert!(
            ServeConfig::parse("[server]\nbogus = 1\n")
                .unwrap_err()
                .contains("bogus")
        );
        assert!(ServeConfig::parse("[server]\nappendfsync = \"sometimes\"\n").is_err());
        let bad = ServeConfig::parse("[engine]\ncompression = \"zstd\"\n").unwrap();
        assert!(bad.engine.apply(&mut Options::default()).is_err());
        let bad = ServeConfig::parse("[limits]\nmax_clients = 0\n").unwrap();
        assert!(bad.validate().is_err());
    }
}
