//! [`KeyspaceOptions`]: the settings one keyspace may have of its own.

use std::sync::Arc;
use std::time::Duration;

use shale_memtable::MemTable;
use shale_sstable::{Compression, TableOptions};

use crate::options::Options;
use crate::{Error, Result};

/// The settings of one keyspace: how its tables are built, when its memtable is
/// flushed, and the TTL, merge operator and compaction filter that apply to its keys.
///
/// Keyspace options are not stored in the database: pass them every time the
/// database is opened (through [`Options::keyspace_options`], so they apply from the
/// first background job on) or when creating the keyspace
/// ([`Db::keyspace_with_options`](crate::Db::keyspace_with_options)). A keyspace
/// without its own options takes the database-wide ones in [`Options`].
#[derive(Debug, Clone)]
pub struct KeyspaceOptions {
    /// Memtable size at which it is frozen and flushed.
    pub write_buffer_size: usize,
    /// Uncompressed size of a table data block.
    pub block_size: usize,
    /// Data-block entries between restart points (see
    /// [`Options::block_restart_interval`]).
    pub block_restart_interval: usize,
    /// Bloom filter bits per key; 0 disables filters.
    pub bloom_bits_per_key: u32,
    /// Share of the memtable size spent on a filter of its keys (see
    /// [`Options::memtable_bloom_size_ratio`]); 0 disables it.
    pub memtable_bloom_size_ratio: f64,
    /// Block compression.
    pub compression: Compression,
    /// A TTL applied to every plain put in this keyspace (`None`: never expire).
    pub default_ttl: Option<Duration>,
    /// Combines merge operands; `None` rejects merges in this keyspace.
    pub merge_operator: Option<Arc<dyn shale_core::MergeOperator>>,
    /// Application-level cleanup applied as flush and compaction rewrite data.
    pub compaction_filter: Option<Arc<dyn crate::CompactionFilter>>,
}

impl Default for KeyspaceOptions {
    fn default() -> Self {
        KeyspaceOptions::from(&Options::default())
    }
}

impl From<&Options> for KeyspaceOptions {
    /// The database-wide settings, as a keyspace's.
    fn from(o: &Options) -> Self {
        KeyspaceOptions {
            write_buffer_size: o.effective_write_buffer_size(),
            block_size: o.block_size,
            block_restart_interval: o.block_restart_interval,
            bloom_bits_per_key: o.bloom_bits_per_key,
            memtable_bloom_size_ratio: o.memtable_bloom_size_ratio,
            compression: o.compression,
            default_ttl: o.default_ttl,
            merge_operator: o.merge_operator.clone(),
            compaction_filter: o.compaction_filter.clone(),
        }
    }
}

impl KeyspaceOptions {
    /// Rejects settings that cannot work.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.write_buffer_size < 4096 {
            return Err(Error::invalid(
                "write_buffer_size must be at least 4096 bytes",
            ));
        }
        if self.block_size == 0 || self.block_size > 1 << 30 {
            return Err(Error::invalid("block_size must be 1 B to 1 GiB"));
        }
        check_block_restart_interval(self.block_restart_interval)?;
        check_memtable_bloom_size_ratio(self.memtable_bloom_size_ratio)?;
        if self.default_ttl.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid(
                "default_ttl must be positive (None for no expiry)",
            ));
        }
        Ok(())
    }

    /// An empty memtable for this keyspace when its size limit is `write_buffer_size`
    /// (with a key filter unless `memtable_bloom_size_ratio` is 0).
    pub(crate) fn new_memtable(&self, write_buffer_size: usize) -> MemTable {
        let bytes = write_buffer_size as f64 * self.memtable_bloom_size_ratio;
        MemTable::with_key_filter(bytes as usize)
    }

    /// How this keyspace's tables are built.
    pub(crate) fn table_options(&self) -> TableOptions {
        TableOptions {
            block_size: self.block_size,
            block_restart_interval: self.block_restart_interval,
            compression: self.compression,
            bloom_bits_per_key: self.bloom_bits_per_key,
            creation_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            ..TableOptions::default()
        }
    }
}

/// The largest `block_restart_interval` accepted (a block rarely holds more entries).
pub(crate) const MAX_RESTART_INTERVAL: usize = 65535;

/// Rejects a restart interval outside 1..=[`MAX_RESTART_INTERVAL`], for [`Options`]
/// and [`KeyspaceOptions`] alike.
pub(crate) fn check_block_restart_interval(n: usize) -> Result<()> {
    if (1..=MAX_RESTART_INTERVAL).contains(&n) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "block_restart_interval must be 1 to {MAX_RESTART_INTERVAL}"
        )))
    }
}

/// Rejects a memtable filter share outside 0..=0.25 (NaN included), for
/// [`Options`] and [`KeyspaceOptions`] alike.
pub(crate) fn check_memtable_bloom_size_ratio(ratio: f64) -> Result<()> {
    if (0.0..=0.25).contains(&ratio) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "memtable_bloom_size_ratio must be between 0 and 0.25, not {ratio}"
        )))
    }
}

/// The longest keyspace name, in bytes.
pub const MAX_KEYSPACE_NAME_LEN: usize = 255;

/// Rejects a keyspace name that is empty, too long, or uses characters outside
/// `A-Z a-z 0-9 _ - . :` (names appear in logs, file listings and protocol maps).
pub(crate) fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("a keyspace name must not be empty"));
    }
    if name.len() > MAX_KEYSPACE_NAME_LEN {
        return Err(Error::invalid(format!(
            "keyspace name of {} bytes exceeds the limit of {MAX_KEYSPACE_NAME_LEN}",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(Error::invalid(format!(
            "keyspace name {name:?} contains {c:?}; use A-Z a-z 0-9 _ - . :"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("sessions").is_ok());
        assert!(validate_name("db:0").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("é").is_err());
        assert!(validate_name(&"x".repeat(256)).is_err());
        assert!(validate_name(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn restart_interval_reaches_the_table_builder_and_is_bounded() {
        let o = KeyspaceOptions {
            block_restart_interval: 3,
            ..KeyspaceOptions::default()
        };
        assert!(o.validate().is_ok());
        assert_eq!(o.table_options().block_restart_interval, 3);
        assert_eq!(KeyspaceOptions::default().block_restart_interval, 16);
        for bad in [0, 65536] {
            let o = KeyspaceOptions {
                block_restart_interval: bad,
                ..KeyspaceOptions::default()
            };
            assert!(o.validate().is_err(), "{bad} accepted");
        }
    }
}
