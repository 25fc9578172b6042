//! The `[redis]` section of the server configuration.

use serde::Deserialize;

/// Configuration of the Redis front end.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Address to listen on (`host:port`).
    pub addr: String,
    /// Password clients must send with `AUTH` (or `HELLO ... AUTH`) before any other
    /// command; none means no authentication. Changeable with `CONFIG SET requirepass`.
    pub requirepass: Option<String>,
    /// Number of logical databases (`SELECT 0` .. `SELECT databases-1`); each lives
    /// in its own engine keyspace `redis.<n>`, created on first use.
    pub databases: u32,
    /// Lock stripes per database: commands on keys of different stripes never wait
    /// for each other (a power of two is not required).
    pub lock_stripes: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            addr: "127.0.0.1:6379".into(),
            requirepass: None,
            databases: 16,
            lock_stripes: 4096,
        }
    }
}

impl RedisConfig {
    /// Checks the configuration for values the server cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        if self.databases == 0 || self.databases > 1_000_000 {
            return Err(format!(
                "redis.databases must be between 1 and 1000000, got {}",
                self.databases
            ));
        }
        if self.lock_stripes == 0 || self.lock_stripes > 1 << 20 {
            return Err("redis.lock_stripes must be between 1 and 1048576".into());
        }
        if self.addr.is_empty() {
            return Err("redis.addr must not be empty".into());
        }
        if self.requirepass.as_deref().is_some_and(|p| p.len() > 512) {
            return Err("redis.requirepass is longer than 512 bytes".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = RedisConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.databases, 16);
        let bad = RedisConfig {
            databases: 0,
            ..RedisConfig::default()
        };
        assert!(bad.validate().is_err());
        let parsed: RedisConfig =
            toml::from_str("addr = \"0.0.0.0:7000\"\nrequirepass = \"pw\"\ndatabases = 4").unwrap();
        assert_eq!(parsed.databases, 4);
        assert_eq!(parsed.requirepass.as_deref(), Some("pw"));
        assert_eq!(parsed.lock_stripes, 4096);
        assert!(toml::from_str::<RedisConfig>("bogus = 1").is_err());
    }
}
