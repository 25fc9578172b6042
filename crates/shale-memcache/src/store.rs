//! Items in a ShaleDB keyspace: reads, per-key locks, CAS uniques and writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use shale_server::Context;
use shaledb::{Keyspace, WriteBatch, WriteOptions};

use crate::item::Item;
use crate::stats::Counters;

/// Exclusive upper bound of every key this front end stores (keys are at most 250
/// bytes). `flush_all` deletes `[b"", FLUSH_END)` rather than an unbounded range:
/// the engine represents an unbounded end as a 64 KiB key, which every tombstone
/// would carry through the WAL, the memtable and the tables.
const FLUSH_END: [u8; 251] = [0xff; 251];

/// Seconds beyond which a memcached exptime is an absolute Unix time (30 days).
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// Why a store operation failed.
#[derive(Debug)]
pub enum StoreError {
    /// The engine failed.
    Engine(shaledb::Error),
    /// A stored value is not a valid item.
    Damaged,
}

impl From<shaledb::Error> for StoreError {
    fn from(e: shaledb::Error) -> Self {
        StoreError::Engine(e)
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The items of one keyspace plus the state that makes commands on them atomic.
pub struct Store {
    ctx: Context,
    ks: Keyspace,
    stripes: Box<[Mutex<()>]>,
    next_cas: AtomicU64,
    flush_generation: AtomicU64,
    /// Command counters for `stats`.
    pub counters: Counters,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("keyspace", &self.ks.name())
            .finish_non_exhaustive()
    }
}

/// FNV-1a, to pick a lock stripe.
fn hash(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Store {
    /// A store over keyspace `ks` of `ctx`'s Db with `stripes` lock stripes. CAS
    /// uniques start at the current Unix time in microseconds (see
    /// `docs/format/memcache.md`).
    pub fn new(ctx: Context, ks: Keyspace, stripes: usize) -> Store {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2));
        Store {
            ctx,
            ks,
            stripes: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(),
            next_cas: AtomicU64::new(micros),
            flush_generation: AtomicU64::new(0),
            counters: Counters::default(),
        }
    }

    /// The keyspace holding the items.
    pub fn keyspace(&self) -> &Keyspace {
        &self.ks
    }

    /// The lock every write of `key` holds from its read to its write.
    pub fn lock(&self, key: &[u8]) -> MutexGuard<'_, ()> {
        let n = self.stripes.len() as u64;
        let i = usize::try_from(hash(key) % n).unwrap_or(0);
        let stripe = self.stripes.get(i).or_else(|| self.stripes.first());
        match stripe {
            Some(m) => m.lock().unwrap_or_else(PoisonError::into_inner),
            // `stripes` is never empty; fall back to a fresh lock rather than panic.
            None => unreachable_lock(),
        }
    }

    /// A new CAS unique, larger than every one issued before.
    pub fn next_cas(&self) -> u64 {
        self.next_cas.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Now, in ms since the Unix epoch, from the database's clock.
    pub fn now_ms(&self) -> StoreResult<u64> {
        Ok(self.ctx.db.now_ms())
    }

    /// The absolute expiry (ms, 0 = never) of a memcached exptime given now:
    /// 0 never, negative already expired, up to 30 days relative, else a Unix time.
    pub fn exptime_ms(exptime: i64, now_ms: u64) -> u64 {
        if exptime == 0 {
            0
        } else if exptime < 0 {
            1
        } else if exptime > REALTIME_MAXDELTA {
            // An absolute time; one in the past (or "now") is already expired.
            (exptime as u64).saturating_mul(1000).max(1)
        } else {
            now_ms.saturating_add((exptime as u64) * 1000)
        }
    }

    /// The live item under `key`, if any.
    pub fn get(&self, key: &[u8], now_ms: u64) -> StoreResult<Option<Item>> {
        let Some(stored) = self.ks.get(key)? else {
            return Ok(None);
        };
        let item = Item::decode(stored).ok_or(StoreError::Damaged)?;
        Ok((!item.is_expired(now_ms)).then_some(item))
    }

    /// Writes `item` under `key` (with the engine TTL if it expires; as a delete if
    /// it already has). The caller holds the key's lock.
    pub fn put(&self, key: &[u8], item: &Item, now_ms: u64, wo: &WriteOptions) -> StoreResult<()> {
        let mut batch = WriteBatch::new();
        if item.is_expired(now_ms) {
            batch.delete_in(self.ks.id(), key);
        } else if item.exptime_ms != 0 {
            batch.put_with_expiry_in(self.ks.id(), key, item.encode(), item.exptime_ms);
        } else {
            batch.put_in(self.ks.id(), key, item.encode());
        }
        self.write(batch, wo)
    }

    /// Deletes `key`. The caller holds the key's lock.
    pub fn delete(&self, key: &[u8], wo: &WriteOptions) -> StoreResult<()> {
        let mut batch = WriteBatch::new();
        batch.delete_in(self.ks.id(), key);
        self.write(batch, wo)
    }

    /// Deletes every item now (one range tombstone over the keyspace).
    pub fn flush_now(&self, wo: &WriteOptions) -> StoreResult<()> {
        self.flush_generation.fetch_add(1, Ordering::SeqCst);
        self.ks.delete_range_opt(&b""[..]..&FLUSH_END[..], wo)?;
        Ok(())
    }

    /// Starts a delayed flush: returns its generation; a later flush (delayed or
    /// not) supersedes it.
    pub fn schedule_flush(&self) -> u64 {
        self.flush_generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Runs the delayed flush of `generation` unless a later one superseded it.
    pub fn run_scheduled_flush(&self, generation: u64, wo: &WriteOptions) -> StoreResult<bool> {
        if self.flush_generation.load(Ordering::SeqCst) != generation {
            return Ok(false);
        }
        self.ks.delete_range_opt(&b""[..]..&FLUSH_END[..], wo)?;
        Ok(true)
    }
}

impl Store {
    fn write(&self, batch: WriteBatch, wo: &WriteOptions) -> StoreResult<()> {
        self.ctx.db.write(batch, wo)?;
        Ok(())
    }
}

fn unreachable_lock() -> MutexGuard<'static, ()> {
    static FALLBACK: Mutex<()> = Mutex::new(());
    FALLBACK.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exptime_rules() {
        let now = 1_000_000_000_000;
        assert_eq!(Store::exptime_ms(0, now), 0);
        assert_eq!(Store::exptime_ms(-1, now), 1);
        assert_eq!(Store::exptime_ms(10, now), now + 10_000);
        assert_eq!(
            Store::exptime_ms(REALTIME_MAXDELTA, now),
            now + 2_592_000_000
        );
        assert_eq!(Store::exptime_ms(REALTIME_MAXDELTA + 1, now), 2_592_001_000);
    }
}
