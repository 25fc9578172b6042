//! Running commands: an overlay over the engine with read-your-writes, committed as
//! one atomic `WriteBatch` (one per command, or one per EXEC).
//!
//! Callers hold the lock stripes of every key they touch (see [`crate::store`]), so
//! nothing else writes those keys between the reads here and the commit.

use std::collections::BTreeSet;
use std::ops::Bound;

use bytes::Bytes;
use rustc_hash::FxHashMap;
use shaledb::{Keyspace, WriteBatch};

use crate::layout::{self, EngineKey, Kind, Record};
use crate::store::Server;

/// An error a command answers with.
#[derive(Debug)]
pub enum CmdError {
    /// A Redis error reply (the text after `-`).
    Reply(String),
    /// An engine error, answered as `-ERR <message>`.
    Engine(shaledb::Error),
}

impl From<shaledb::Error> for CmdError {
    fn from(e: shaledb::Error) -> Self {
        CmdError::Engine(e)
    }
}

/// A command's result.
pub type CmdResult<T = crate::resp::Reply> = Result<T, CmdError>;

/// An error reply.
pub fn fail<T>(text: &str) -> CmdResult<T> {
    Err(CmdError::Reply(text.to_string()))
}

/// `-WRONGTYPE ...`.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// A keyspace id and an engine key, inline when short (most are), so buffering a
/// write or probing the overlay allocates nothing for the key.
type OverlayKey = (u32, EngineKey);

/// Reads and buffered writes of one command or transaction.
pub struct Exec<'a> {
    /// The server.
    pub srv: &'a Server,
    /// The selected database.
    pub db: usize,
    /// "Now" in ms since the epoch, from the engine's clock, fixed for the command.
    pub now: u64,
    /// Buffered writes by key (`None`: deleted), for read-your-writes. Hashed, not
    /// ordered: point reads and writes are what runs and transactions do; the rare
    /// scan orders them ([`ordered`](Self::ordered)).
    overlay: FxHashMap<OverlayKey, Option<Bytes>>,
    /// The overlay's keys in order: built by the first scan over the overlay and
    /// kept up to date from then on, so that a run without scans never pays for
    /// ordering, and one with many scans pays for it once.
    ordered: Option<BTreeSet<OverlayKey>>,
    ranges: Vec<(u32, Vec<u8>, Vec<u8>)>,
    batch: WriteBatch,
    /// (db, key) of every user key modified, for WATCH ([`touch`](Self::touch)).
    touched: Vec<(usize, EngineKey)>,
    /// Keyspace hits and misses counted by [`read`](Self::read) and not yet added
    /// to the server's counters (they are on drop, or by [`flush_stats`](Self::flush_stats)).
    hits: u64,
    misses: u64,
}

/// Entries the overlay makes room for on its first write.
const OVERLAY_RESERVE: usize = 16;

/// Bytes a write batch reserves on its first write.
const BATCH_RESERVE: usize = 4096;

impl Drop for Exec<'_> {
    fn drop(&mut self) {
        self.flush_stats();
    }
}

/// `rec` if it is absent or has type `kind`; WRONGTYPE otherwise.
fn of_kind(rec: Option<Record>, kind: Kind) -> CmdResult<Option<Record>> {
    match rec {
        Some(r) if r.kind != kind => fail(WRONGTYPE),
        r => Ok(r),
    }
}

/// "Now" in ms by the engine's clock.
pub fn engine_now(db: &shaledb::Db) -> u64 {
    db.expiry_after(std::time::Duration::from_millis(1))
        .map_or(0, |e| e.saturating_sub(1))
}

impl<'a> Exec<'a> {
    /// An empty overlay on database `db`.
    pub fn new(srv: &'a Server, db: usize) -> Exec<'a> {
        Exec {
            srv,
            db,
            now: engine_now(&srv.ctx.db),
            overlay: FxHashMap::default(),
            ordered: None,
            ranges: Vec::new(),
            batch: WriteBatch::new(),
            touched: Vec::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// Adds the keyspace hits and misses counted so far to the server's counters.
    pub fn flush_stats(&mut self) {
        if self.hits != 0 || self.misses != 0 {
            self.srv.stats.add_lookups(self.hits, self.misses);
            self.hits = 0;
            self.misses = 0;
        }
    }

    /// The current database's keyspace, borrowed: the per-command path, which must
    /// not touch the reference counts every connection shares.
    fn ks_ref(&self) -> CmdResult<&'a Keyspace> {
        Ok(self.srv.keyspace(self.db)?)
    }

    /// True if nothing was written.
    pub fn is_clean(&self) -> bool {
        self.batch.is_empty()
    }

    /// Commits the buffered writes atomically, then flags watchers of touched keys.
    pub fn commit(&mut self) -> CmdResult<()> {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.srv.ctx.write(batch)?;
        }
        self.overlay.clear();
        self.ordered = None;
        self.ranges.clear();
        let touched = std::mem::take(&mut self.touched);
        self.flag_watchers(touched);
        Ok(())
    }

    /// Records that `key` in `db` is modified by this overlay, so that its
    /// watchers are flagged when it commits.
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        self.touched.push((db, EngineKey::from_slice(key)));
    }

    /// Flags the watchers of the committed writes' keys. Checked after the write,
    /// so a WATCH that lands before the commit sees it; most writes find nobody
    /// watching and stop at one atomic load per key.
    fn flag_watchers(&self, mut touched: Vec<(usize, EngineKey)>) {
        touched.retain(|(db, _)| self.srv.watching(*db));
        if touched.is_empty() {
            return;
        }
        touched.sort();
        touched.dedup();
        for group in touched.chunk_by(|a, b| a.0 == b.0) {
            if let Some((db, _)) = group.first() {
                self.srv.touch(*db, group.iter().map(|(_, k)| k.as_slice()));
            }
        }
    }

    /// Orders the overlay's keys, if that was not done yet.
    fn order_overlay(&mut self) {
        if self.ordered.is_none() {
            self.ordered = Some(self.overlay.keys().cloned().collect());
        }
    }

    /// The overlay's entries of keyspace `id` from `lo` to `hi` (exclusive), in key
    /// order; [`order_overlay`](Self::order_overlay) must have run.
    fn overlay_range(
        &self,
        id: u32,
        lo: Bound<&[u8]>,
        hi: &[u8],
    ) -> impl Iterator<Item = (&[u8], &Option<Bytes>)> {
        let lo = lo.map(|k| (id, EngineKey::from_slice(k)));
        let hi = Bound::Excluded((id, EngineKey::from_slice(hi)));
        self.ordered
            .iter()
            .flat_map(move |set| set.range((lo.clone(), hi.clone())))
            .filter_map(|k| Some((k.1.as_slice(), self.overlay.get(k)?)))
    }

    /// Adds a buffered write to the overlay (and to its order, once there is one).
    fn overlay_insert(&mut self, key: OverlayKey, value: Option<Bytes>) {
        if self.overlay.capacity() == 0 {
            // Room for a pipelined run's writes, rather than rehashing up from a
            // handful.
            self.overlay.reserve(OVERLAY_RESERVE);
        }
        if let Some(set) = &mut self.ordered {
            set.insert(key.clone());
        }
        self.overlay.insert(key, value);
    }

    fn hidden_by_range(&self, id: u32, key: &[u8]) -> bool {
        self.ranges
            .iter()
            .any(|(k, s, e)| *k == id && key >= s.as_slice() && key < e.as_slice())
    }

    /// Raw engine read with this overlay's writes applied.
    pub fn get_raw(&mut self, key: &[u8]) -> CmdResult<Option<Bytes>> {
        let ks = self.ks_ref()?;
        let id = ks.id();
        // Outside MULTI and pipelined runs the overlay is empty: skip building its
        // key.
        if !self.overlay.is_empty()
            && let Some(v) = self.overlay.get(&(id, EngineKey::from_slice(key)))
        {
            return Ok(v.clone());
        }
        if self.hidden_by_range(id, key) {
            return Ok(None);
        }
        Ok(ks.get(key)?)
    }

    /// Raw engine put (with an engine expiry when `expiry` is non-zero).
    pub fn put_raw(
        &mut self,
        key: impl Into<EngineKey>,
        value: Vec<u8>,
        expiry: u64,
    ) -> CmdResult<()> {
        let key = key.into();
        let id = self.ks_ref()?.id();
        if self.batch.is_empty() {
            // A pipelined run writes many records: start with room for several.
            self.batch.reserve(BATCH_RESERVE);
        }
        if expiry == 0 {
            self.batch.put_in(id, &key, &value);
        } else {
            self.batch.put_with_expiry_in(id, &key, &value, expiry);
        }
        self.overlay_insert((id, key), Some(Bytes::from(value)));
        Ok(())
    }

    /// Raw engine delete.
    pub fn delete_raw(&mut self, key: impl Into<EngineKey>) -> CmdResult<()> {
        let key = key.into();
        let id = self.ks_ref()?.id();
        self.batch.delete_in(id, &key);
        self.overlay_insert((id, key), None);
        Ok(())
    }

    /// Raw engine range delete of `[start, end)`.
    pub fn delete_range_raw(&mut self, start: Vec<u8>, end: Vec<u8>) -> CmdResult<()> {
        let id = self.ks_ref()?.id();
        self.batch.delete_range_in(id, &start, &end);
        self.overlay.retain(|(k_id, k), _| {
            *k_id != id || k.as_slice() < start.as_slice() || k.as_slice() >= end.as_slice()
        });
        if let Some(set) = &mut self.ordered {
            let mut doomed = set.split_off(&(id, EngineKey::from_slice(&start)));
            let mut kept = doomed.split_off(&(id, EngineKey::from_slice(&end)));
            set.append(&mut kept);
        }
        self.ranges.push((id, start, end));
        Ok(())
    }

    /// Raw (key, value) pairs in `[lo, hi)` (from `lo` exclusive when `after`),
    /// overlay applied, at most `limit` of them, in key order.
    pub fn scan_raw(
        &mut self,
        lo: &[u8],
        after: bool,
        hi: &[u8],
        limit: usize,
    ) -> CmdResult<Vec<(Bytes, Bytes)>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan_each(lo, after, hi, |k, v| {
            out.push((k, v));
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// Calls `f` with each raw (key, value) pair in `[lo, hi)` (from `lo`
    /// exclusive when `after`), overlay applied, in key order, over one engine
    /// iterator, until `f` answers false or fails: nothing is collected, so a
    /// scan of any length holds one entry at a time.
    pub fn scan_each(
        &mut self,
        lo: &[u8],
        after: bool,
        hi: &[u8],
        mut f: impl FnMut(Bytes, Bytes) -> CmdResult<bool>,
    ) -> CmdResult<()> {
        let ks = self.ks_ref()?;
        let id = ks.id();
        let lo_b = if after {
            Bound::Excluded(lo.to_vec())
        } else {
            Bound::Included(lo.to_vec())
        };
        let range = (lo_b.clone(), Bound::Excluded(hi.to_vec()));
        let mut base = ks.range::<Vec<u8>, _>(range).peekable();
        self.order_overlay();
        let mut over = self
            .overlay_range(id, lo_b.as_ref().map(|k| k.as_slice()), hi)
            .peekable();
        loop {
            let b_key = match base.peek() {
                Some(Ok((k, _))) => Some(k.clone()),
                Some(Err(e)) => return Err(CmdError::Engine(e.clone())),
                None => None,
            };
            let o_key = over.peek().map(|(k, _)| *k);
            let item = match (b_key, o_key) {
                (None, None) => break,
                (Some(bk), ok) if ok.is_none_or(|ok| bk.as_ref() < ok) => match base.next() {
                    Some(Ok((k, v))) if !self.hidden_by_range(id, &k) => Some((k, v)),
                    _ => None,
                },
                (bk, Some(ok)) => {
                    if bk.as_ref().is_some_and(|bk| bk.as_ref() == ok) {
                        base.next();
                    }
                    match over.next() {
                        Some((_, Some(v))) => Some((Bytes::copy_from_slice(ok), v.clone())),
                        _ => None,
                    }
                }
                // Unreachable: the first arm takes every base key when the overlay
                // has none left.
                (Some(_), None) => break,
            };
            if let Some((k, v)) = item
                && !f(k, v)?
            {
                break;
            }
        }
        Ok(())
    }

    // ---- typed access ----

    /// The live record of `key` (absent or expired → `None`).
    pub fn lookup(&mut self, key: &[u8]) -> CmdResult<Option<Record>> {
        let Some(raw) = self.get_raw(&layout::record_key(key))? else {
            return Ok(None);
        };
        match Record::decode(&raw) {
            Some(r) if r.expired(self.now) => Ok(None),
            Some(r) => Ok(Some(r)),
            None => Err(CmdError::Reply(
                "ERR stored value has an unknown format version".into(),
            )),
        }
    }

    /// The live record of `key` for a command that reads the key's value, counted
    /// as a keyspace hit or miss in `INFO stats` the way Redis 7's `lookupKeyRead`
    /// counts (a key of the wrong type is a hit). [`lookup`](Self::lookup) is
    /// Redis's `lookupKeyWrite`: writes and existence checks of writes count nothing.
    pub fn read(&mut self, key: &[u8]) -> CmdResult<Option<Record>> {
        let r = self.lookup(key)?;
        if r.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        Ok(r)
    }

    /// [`read`](Self::read) of a key that must have type `kind`; WRONGTYPE otherwise.
    pub fn read_kind(&mut self, key: &[u8], kind: Kind) -> CmdResult<Option<Record>> {
        of_kind(self.read(key)?, kind)
    }

    /// Counts `n` keyspace hits (keys a scan looked at by value, as `SCAN … TYPE`
    /// does in Redis).
    pub fn count_hits(&mut self, n: u64) {
        self.hits += n;
    }

    /// The live record of `key` if it has type `kind`; WRONGTYPE otherwise.
    pub fn lookup_kind(&mut self, key: &[u8], kind: Kind) -> CmdResult<Option<Record>> {
        of_kind(self.lookup(key)?, kind)
    }

    /// Writes `key`'s record (a past expiry deletes the key instead); a hash's
    /// record comes with its marker.
    pub fn write_record(&mut self, key: &[u8], rec: &Record) -> CmdResult<()> {
        if rec.expired(self.now) {
            return self.delete_key(key, Some(rec.kind));
        }
        self.touch(self.db, key);
        if rec.kind == Kind::Hash {
            self.srv.note_hash(self.db);
            self.put_raw(layout::marker_key(key), Vec::new(), 0)?;
        }
        self.put_raw(layout::record_key(key), rec.encode(), rec.expiry)
    }

    /// Deletes `key` (its record, and a hash's fields and marker).
    pub fn delete_key(&mut self, key: &[u8], kind: Option<Kind>) -> CmdResult<()> {
        self.touch(self.db, key);
        self.delete_raw(layout::record_key(key))?;
        if kind == Some(Kind::Hash) {
            self.clear_hash(key)?;
        }
        Ok(())
    }

    /// Deletes what a hash keeps beside its record: its marker and its fields.
    fn clear_hash(&mut self, key: &[u8]) -> CmdResult<()> {
        self.delete_raw(layout::marker_key(key))?;
        self.clear_fields(key)
    }

    /// False if `key` is certainly not a live hash: it has no hash marker, which
    /// the engine's bloom filters usually tell without reading a data block. True
    /// means it may be one (or was one and expired): look its record up.
    pub fn may_be_hash(&mut self, key: &[u8]) -> CmdResult<bool> {
        if !self.srv.may_hold_hashes(self.db) {
            return Ok(false);
        }
        Ok(self.get_raw(&layout::marker_key(key))?.is_some())
    }

    /// Deletes every field record of `key`: point deletes for a few (usually none:
    /// a new hash), one range delete for many. Range tombstones are not free in the
    /// engine (every one makes later writes and reads of the keyspace a little
    /// slower until compaction), so they are kept for large hashes.
    pub fn clear_fields(&mut self, key: &[u8]) -> CmdResult<()> {
        const POINT_DELETES: usize = 64;
        let p = layout::field_prefix(key);
        let end = layout::prefix_end(&p).unwrap_or_else(|| layout::DB_END.to_vec());
        let rows = self.scan_raw(&p, false, &end, POINT_DELETES + 1)?;
        if rows.len() > POINT_DELETES {
            return self.delete_range_raw(p, end);
        }
        for (k, _) in rows {
            self.delete_raw(k.to_vec())?;
        }
        Ok(())
    }

    /// Deletes `key` if it is live; true if it was.
    pub fn remove(&mut self, key: &[u8]) -> CmdResult<bool> {
        match self.lookup(key)? {
            Some(r) => {
                self.delete_key(key, Some(r.kind))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Sets `key` to the string `value` (replacing any type).
    ///
    /// `old` is the key's live record as the caller just looked it up (SET reads it
    /// anyway for NX/XX/GET), so the engine is not asked twice.
    pub fn set_string(
        &mut self,
        key: &[u8],
        old: Option<&Record>,
        value: Bytes,
        expiry: u64,
    ) -> CmdResult<()> {
        if old.is_some_and(|r| r.kind == Kind::Hash) {
            self.clear_hash(key)?;
        }
        self.write_record(key, &Record::string(value, expiry))
    }

    /// The string value of `key` (WRONGTYPE for other types), read as
    /// [`read`](Self::read) does: counted as a keyspace hit or miss.
    pub fn get_string(&mut self, key: &[u8]) -> CmdResult<Option<Bytes>> {
        Ok(self.read_kind(key, Kind::String)?.map(|r| r.payload))
    }

    /// One field of a hash known to be live.
    pub fn hash_field(&mut self, key: &[u8], field: &[u8]) -> CmdResult<Option<Bytes>> {
        self.get_raw(&layout::field_key(key, field))
    }

    /// Every (field, value) of a hash known to be live.
    pub fn hash_all(&mut self, key: &[u8]) -> CmdResult<Vec<(Bytes, Bytes)>> {
        let p = layout::field_prefix(key);
        let end = layout::prefix_end(&p).unwrap_or_else(|| layout::DB_END.to_vec());
        let plen = p.len();
        let rows = self.scan_raw(&p, false, &end, usize::MAX)?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k.slice(plen.min(k.len())..), v))
            .collect())
    }

    /// Calls `f` with each (field, value) of a hash known to be live, after
    /// `after` (exclusive; from the start when `None`), in field order, until `f`
    /// answers false (see [`scan_each`](Self::scan_each)).
    pub fn hash_each(
        &mut self,
        key: &[u8],
        after: Option<&[u8]>,
        mut f: impl FnMut(Bytes, Bytes) -> CmdResult<bool>,
    ) -> CmdResult<()> {
        let p = layout::field_prefix(key);
        let end = layout::prefix_end(&p).unwrap_or_else(|| layout::DB_END.to_vec());
        let plen = p.len();
        let strip = |k: Bytes| k.slice(plen.min(k.len())..);
        match after {
            Some(a) => self.scan_each(&layout::field_key(key, a), true, &end, |k, v| {
                f(strip(k), v)
            }),
            None => self.scan_each(&p, false, &end, |k, v| f(strip(k), v)),
        }
    }

    /// Writes one field value.
    pub fn put_field(&mut self, key: &[u8], field: &[u8], value: &[u8]) -> CmdResult<()> {
        self.put_raw(layout::field_key(key, field), value.to_vec(), 0)
    }

    /// Deletes one field record.
    pub fn delete_field(&mut self, key: &[u8], field: &[u8]) -> CmdResult<()> {
        self.delete_raw(layout::field_key(key, field))
    }

    /// The live hash record at `key`, creating an empty one (clearing orphaned
    /// fields) when absent; WRONGTYPE for a string.
    pub fn hash_for_write(&mut self, key: &[u8]) -> CmdResult<Record> {
        match self.lookup_kind(key, Kind::Hash)? {
            Some(r) => Ok(r),
            None => {
                self.clear_fields(key)?;
                Ok(Record::hash(0, 0))
            }
        }
    }

    /// Saves a hash's record with its new field count (deleting it at zero).
    pub fn save_hash(&mut self, key: &[u8], rec: &Record, count: u64) -> CmdResult<()> {
        if count == 0 {
            return self.delete_key(key, Some(Kind::Hash));
        }
        self.write_record(key, &Record::hash(count, rec.expiry))
    }
}
