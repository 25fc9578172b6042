//! `[riak]` configuration.

use serde::Deserialize;

/// Settings of the Riak HTTP front end (the `[riak]` table of `shale serve`'s config).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RiakConfig {
    /// Address to listen on (Riak's HTTP port is 8098).
    pub addr: String,
    /// The ShaleDB keyspace holding every bucket, object and index entry.
    pub keyspace: String,
    /// Keys per chunk of a `?keys=stream` listing.
    pub stream_chunk_keys: usize,
    /// Node name reported by `/stats` (`nodename`).
    pub node_name: String,
}

impl Default for RiakConfig {
    fn default() -> Self {
        RiakConfig {
            addr: "127.0.0.1:8098".into(),
            keyspace: "riak".into(),
            stream_chunk_keys: 1000,
            node_name: "shale@127.0.0.1".into(),
        }
    }
}

impl RiakConfig {
    /// Checks the settings make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.addr.is_empty() {
            return Err("riak.addr must not be empty".into());
        }
        if self.keyspace.is_empty() || self.keyspace.len() > shaledb::MAX_KEYSPACE_NAME_LEN {
            return Err(format!(
                "riak.keyspace must be 1 to {} bytes",
                shaledb::MAX_KEYSPACE_NAME_LEN
            ));
        }
        if self.stream_chunk_keys == 0 {
            return Err("riak.stream_chunk_keys must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c: RiakConfig = toml::from_str("").unwrap();
        assert_eq!(c, RiakConfig::default());
        assert!(c.validate().is_ok());
        let bad: RiakConfig = toml::from_str("stream_chunk_keys = 0").unwrap();
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<RiakConfig>("nope = 1").is_err());
    }
}
