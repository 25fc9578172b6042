//! The `[memcache]` section of the server configuration.

use serde::Deserialize;

/// Settings of the memcached front end.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MemcacheConfig {
    /// Address to listen on (memcached's `-l`/`-p`).
    pub addr: String,
    /// Largest value in bytes (memcached's `-I`); larger ones get
    /// `SERVER_ERROR object too large for cache` and their data is discarded unread.
    pub item_size_max: usize,
    /// Keyspace of the database that holds the items.
    pub keyspace: String,
    /// Longest command line in bytes; a longer one (other than a multi-key get) gets
    /// `CLIENT_ERROR line too long` and the connection is closed (memcached: 2048).
    pub max_line_bytes: usize,
    /// Number of lock stripes that make per-key read-modify-write commands atomic.
    pub lock_stripes: usize,
}

impl Default for MemcacheConfig {
    fn default() -> Self {
        MemcacheConfig {
            addr: "127.0.0.1:11211".into(),
            item_size_max: 1024 * 1024,
            keyspace: "memcache".into(),
            max_line_bytes: 2048,
            lock_stripes: 4096,
        }
    }
}

impl MemcacheConfig {
    /// Checks that the settings make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.addr.is_empty() {
            return Err("memcache.addr must not be empty".into());
        }
        if !(1024..=1024 * 1024 * 1024).contains(&self.item_size_max) {
            return Err(format!(
                "memcache.item_size_max ({}) must be between 1 KiB and 1 GiB",
                self.item_size_max
            ));
        }
        if self.keyspace.is_empty() {
            return Err("memcache.keyspace must not be empty".into());
        }
        if !(512..=1024 * 1024).contains(&self.max_line_bytes) {
            return Err(format!(
                "memcache.max_line_bytes ({}) must be between 512 and 1048576",
                self.max_line_bytes
            ));
        }
        if self.lock_stripes == 0 || self.lock_stripes > 1 << 20 {
            return Err("memcache.lock_stripes must be between 1 and 1048576".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_toml_parses() {
        assert_eq!(MemcacheConfig::default().validate(), Ok(()));
        let c: MemcacheConfig =
            toml::from_str("item_size_max = 2048\naddr = \"0.0.0.0:1\"").unwrap();
        assert_eq!(c.item_size_max, 2048);
        assert_eq!(c.keyspace, "memcache");
        assert!(toml::from_str::<MemcacheConfig>("nope = 1").is_err());
        let bad = MemcacheConfig {
            item_size_max: 10,
            ..MemcacheConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
