//! Group commit: concurrent writers share one WAL write and one fsync.
//!
//! Every writer queues itself. The writer at the front of the queue is the *leader*: it
//! takes the batches queued behind it (up to `max_write_group_bytes`), gives them
//! consecutive seqnos, appends them as **one** WAL record, syncs once if any of them
//! asked for it, inserts them into the memtable, publishes the new visible seqno, and
//! hands each follower its result. The next writer in line then leads the next group.
//!
//! The memtable inserts of a group of several writers run in parallel, as RocksDB's
//! `allow_concurrent_memtable_write` does: after the WAL write the leader offers each
//! follower its own batch to insert, inserts its own, then inserts every batch no
//! follower has claimed yet (a follower asleep on its condvar never holds the group
//! up), and publishes once the claimed ones are in. A follower that is spinning on
//! its signal does useful work instead of yielding its core.
//!
//! Invariants:
//! * Only the leader touches the WAL and assigns seqnos, so records and seqnos are in
//!   the same order.
//! * A write is visible to readers only after its WAL record was handed to the OS (and
//!   synced if any member asked), so nothing readable can be lost by a process crash.
//! * A failed WAL append or sync fails every write of the group and poisons the queue:
//!   every later write gets [`Error::Poisoned`] until the database is reopened. The
//!   failed log is never appended to again, and a failed fsync is never retried.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shale_core::{MAX_SEQNO, SeqNo, WriteBatch};
use shale_wal::LogWriter;
use smallvec::SmallVec;

use crate::db::DbInner;
use crate::keyspace::Ks;
use crate::super_version::SuperVersion;
use crate::{Error, Result};

/// The keyspaces one write touches: almost always one or two, kept inline.
pub(crate) type KsIds = SmallVec<[u32; 2]>;

/// The writers of one group (inline up to a typical group's size).
type Group = SmallVec<[Arc<Writer>; 8]>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind our mutexes stays consistent across a panic (we never leave a
    // half-applied update behind a guard), so recover the guard instead of cascading.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A check the leader runs, alone in its group, right before writing: the state it
/// sees is exactly the state the write lands on (optimistic transactions, CAS).
pub(crate) type Validation = Box<dyn Fn(&DbInner) -> Result<()> + Send + Sync>;

struct Writer {
    /// The writes; the leader of the writer's group takes them out to log them.
    batch: Mutex<Option<WriteBatch>>,
    /// `batch.size_in_bytes()`, for grouping without the lock.
    bytes: usize,
    /// `batch.count()`.
    count: u32,
    sync: bool,
    validate: Option<Validation>,
    /// The keyspaces the batch writes to.
    keyspaces: KsIds,
    /// Not a write: freeze these keyspaces' memtables and start a new WAL
    /// (`Db::flush`). Runs alone.
    rotate: Option<Vec<u32>>,
    cv: Condvar,
    /// Set (under the queue lock, right before `cv` is notified) when the writer has
    /// its outcome or leads; lets a waiter spin briefly instead of sleeping.
    signalled: AtomicBool,
    outcome: Mutex<Option<Result<SeqNo>>>,
    /// The memtable insert of this writer's batch, offered by its group's leader.
    insert: Mutex<Option<InsertOffer>>,
    /// Set by whichever of the writer and its leader takes on the insert of its
    /// batch, so it happens exactly once.
    insert_claimed: AtomicBool,
}

/// A follower's batch to insert into its group's memtables.
struct InsertOffer {
    group: Arc<GroupInserts>,
    /// Seqno of the batch's first write.
    first_seq: SeqNo,
}

/// The parallel memtable inserts of one group.
struct GroupInserts {
    /// The memtables the group writes to.
    svs: SmallVec<[(u32, Arc<SuperVersion>); 2]>,
    /// Follower batches claimed by their followers and not yet inserted.
    in_flight: AtomicUsize,
}

impl Writer {
    /// Wakes the writer: it has its outcome, or it is now at the front of the queue.
    /// Called with the queue lock held, so a waiter that checks its condition under
    /// the lock and then sleeps cannot miss it.
    fn signal(&self) {
        self.signalled.store(true, Ordering::Release);
        self.cv.notify_one();
    }

    /// Spins for up to [`SPIN_WAIT`] until [`signal`](Self::signal)ed, yielding the
    /// core after the first microseconds; true if the signal came. An unsynced group
    /// commit takes a few microseconds, less than putting a thread to sleep and waking
    /// it again (two context switches and a futex call on each side) — RocksDB's
    /// write thread spins and yields the same way before it blocks.
    fn spin_for_signal(&self) -> bool {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if self.signalled.load(Ordering::Acquire) {
                return true;
            }
            if spins < BUSY_SPINS {
                std::hint::spin_loop();
                spins += 1;
                continue;
            }
            if start.elapsed() >= SPIN_WAIT {
                return false;
            }
            std::thread::yield_now();
        }
    }
}

impl DbInner {
    /// Inserts `w`'s batch at `first_seq` into `group`'s memtables unless someone
    /// (the writer or its leader) already took that on.
    fn claim_insert(&self, w: &Writer, group: &GroupInserts, first_seq: SeqNo) {
        if w.insert_claimed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(batch) = lock(&w.batch).as_ref() {
            self.apply_to_memtables(&group.svs, batch, first_seq);
        }
    }

    /// A follower's side of the parallel insert: inserts its own batch if its leader
    /// offered it and has not taken it back.
    fn help_insert(&self, me: &Writer) {
        let Some(offer) = lock(&me.insert).take() else {
            return;
        };
        // Counted in flight before the claim, so the leader, which claims what is
        // left and then waits for the count, never publishes under a running insert.
        offer.group.in_flight.fetch_add(1, Ordering::AcqRel);
        self.claim_insert(me, &offer.group, offer.first_seq);
        offer.group.in_flight.fetch_sub(1, Ordering::Release);
    }
}

/// Busy-wait iterations before a waiting writer starts yielding its core.
const BUSY_SPINS: u32 = 200;
/// How long a waiting writer spins and yields before it sleeps on its condvar.
const SPIN_WAIT: Duration = Duration::from_micros(50);

pub(crate) struct QueueState {
    waiting: VecDeque<Arc<Writer>>,
    /// Last seqno handed out (only the leader advances it).
    pub(crate) last_seq: SeqNo,
    poison: Option<String>,
}

/// The write queue and the WAL it feeds.
pub(crate) struct WriteQueue {
    state: Mutex<QueueState>,
    wal: Mutex<LogWriter>,
}

impl WriteQueue {
    /// Replaces the WAL with `next` after syncing the current one, so a later synced
    /// write in `next` can never survive a power loss that loses an earlier write.
    /// Returns the size of the WAL it closed.
    pub(crate) fn switch_wal(&self, next: LogWriter) -> Result<u64> {
        let mut wal = lock(&self.wal);
        wal.sync()?;
        let closed = wal.len();
        *wal = next;
        Ok(closed)
    }

    pub(crate) fn new(wal: LogWriter, last_seq: SeqNo) -> Self {
        WriteQueue {
            state: Mutex::new(QueueState {
                waiting: VecDeque::new(),
                last_seq,
                poison: None,
            }),
            wal: Mutex::new(wal),
        }
    }

    /// Syncs the WAL: every write acknowledged so far becomes durable. A failure
    /// poisons the queue like a failed group sync.
    pub(crate) fn sync_wal(&self) -> Result<()> {
        if let Some(msg) = self.poison() {
            return Err(Error::Poisoned(msg));
        }
        let result = lock(&self.wal).sync();
        if let Err(e) = &result {
            lock(&self.state)
                .poison
                .get_or_insert_with(|| e.to_string());
        }
        result
    }

    /// The poison message, if a write has failed.
    pub(crate) fn poison(&self) -> Option<String> {
        lock(&self.state).poison.clone()
    }
}

impl DbInner {
    /// Commits `batch`, which writes to `keyspaces`, through the group-commit queue;
    /// returns the seqno of its last write once it is in the WAL (synced if asked) and
    /// visible to readers.
    pub(crate) fn commit_to(
        &self,
        batch: WriteBatch,
        sync: bool,
        keyspaces: KsIds,
    ) -> Result<SeqNo> {
        self.enqueue(batch, sync, keyspaces, None, None)
    }

    /// Commits `batch` only if `validate` passes against the state it would land on.
    pub(crate) fn commit_validated(
        &self,
        batch: WriteBatch,
        sync: bool,
        validate: Validation,
    ) -> Result<SeqNo> {
        let mut keyspaces: KsIds = batch.iter().map(|op| op.keyspace).collect();
        keyspaces.sort_unstable();
        keyspaces.dedup();
        self.enqueue(batch, sync, keyspaces, None, Some(validate))
    }

    /// Freezes the active memtables of `keyspaces` (those holding anything) through
    /// the write queue, so it is ordered with every write.
    pub(crate) fn force_rotation(&self, keyspaces: Vec<u32>) -> Result<()> {
        self.enqueue(
            WriteBatch::new(),
            false,
            KsIds::new(),
            Some(keyspaces),
            None,
        )
        .map(|_| ())
    }

    fn enqueue(
        &self,
        batch: WriteBatch,
        sync: bool,
        keyspaces: KsIds,
        rotate: Option<Vec<u32>>,
        validate: Option<Validation>,
    ) -> Result<SeqNo> {
        let me = Arc::new(Writer {
            bytes: batch.size_in_bytes(),
            count: batch.count(),
            batch: Mutex::new(Some(batch)),
            sync,
            validate,
            keyspaces,
            rotate,
            cv: Condvar::new(),
            signalled: AtomicBool::new(false),
            outcome: Mutex::new(None),
            insert: Mutex::new(None),
            insert_claimed: AtomicBool::new(false),
        });
        let q = &self.writes;
        let mut st = lock(&q.state);
        st.waiting.push_back(Arc::clone(&me));
        loop {
            if let Some(result) = lock(&me.outcome).take() {
                return result;
            }
            if st.waiting.front().is_some_and(|w| Arc::ptr_eq(w, &me)) {
                break;
            }
            // The flag is only cleared here, under the lock, before waiting again.
            me.signalled.store(false, Ordering::Relaxed);
            drop(st);
            let signalled = me.spin_for_signal();
            self.help_insert(&me);
            st = lock(&q.state);
            if !signalled && !me.signalled.load(Ordering::Relaxed) {
                st = me.cv.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }

        // We lead. Take a group from the front of the queue.
        let group = self.take_group(&st, &me);
        let first_seq = st.last_seq + 1;
        let total: u64 = group.iter().map(|w| u64::from(w.count)).sum();
        let precheck = match &st.poison {
            Some(msg) => Err(Error::Poisoned(msg.clone())),
            None if first_seq.saturating_add(total) > MAX_SEQNO => {
                Err(Error::invalid("sequence numbers exhausted"))
            }
            // Keyspaces are dropped only by a write that runs alone, so this holds for
            // the whole group (take_group checks the followers).
            None => match me
                .keyspaces
                .iter()
                .find(|&&id| self.keyspace_by_id(id).is_none())
            {
                Some(id) => Err(Error::invalid(format!("keyspace id {id} was dropped"))),
                None => Ok(()),
            },
        };
        let result = match precheck {
            Err(e) => Err(e),
            Ok(()) if me.rotate.is_some() => {
                drop(st);
                let ids = me.rotate.as_deref().unwrap_or_default();
                let r = self.rotate_if_not_empty(ids).map(|()| first_seq - 1);
                st = lock(&q.state);
                r
            }
            Ok(()) => {
                drop(st);
                // A validated writer runs alone (see take_group), after every earlier
                // group was published: its check sees exactly what it writes onto.
                let r = match &me.validate {
                    Some(check) => check(self),
                    None => Ok(()),
                }
                .and_then(|()| {
                    if total == 0 {
                        Ok(first_seq - 1)
                    } else {
                        self.write_group(&group, first_seq, total)
                    }
                });
                st = lock(&q.state);
                r
            }
        };
        let result = match result {
            Ok(last) => {
                st.last_seq = st.last_seq.max(last);
                Ok(last)
            }
            Err(e) => {
                // Write-path failures poison; refusals (bad input, a background error
                // that already stopped writes) do not add a second cause.
                if !matches!(
                    e,
                    Error::Poisoned(_) | Error::InvalidArgument(_) | Error::Conflict(_)
                ) {
                    st.poison.get_or_insert_with(|| e.to_string());
                }
                Err(e)
            }
        };

        // Hand out results and wake the next leader.
        for w in &group {
            let popped = st.waiting.pop_front();
            debug_assert!(popped.is_some_and(|p| Arc::ptr_eq(&p, w)));
            if !Arc::ptr_eq(w, &me) {
                *lock(&w.outcome) = Some(result.clone());
                w.signal();
            }
        }
        if let Some(next) = st.waiting.front() {
            next.signal();
        }
        result
    }

    /// The leader's group: itself plus followers, bounded in bytes. A leader that does
    /// not sync stops at the first follower that does, so it never waits for an fsync
    /// it did not ask for; rotations and validated writes are never grouped.
    fn take_group(&self, st: &QueueState, leader: &Arc<Writer>) -> Group {
        let max = self.opts.max_write_group_bytes;
        let mut bytes = 0usize;
        let mut group = Group::new();
        // Rotations and validated writes (transactions, CAS) run alone: a check must
        // see every earlier write applied and nothing of its own group.
        if leader.rotate.is_some() || leader.validate.is_some() {
            group.push(Arc::clone(leader));
            return group;
        }
        for w in &st.waiting {
            let over = w.rotate.is_some()
                || w.validate.is_some()
                || w.keyspaces
                    .iter()
                    .any(|&id| self.keyspace_by_id(id).is_none())
                || (w.sync && !leader.sync)
                || bytes + w.bytes > max;
            if !group.is_empty() && over {
                break;
            }
            bytes += w.bytes;
            group.push(Arc::clone(w));
        }
        group
    }

    /// The memtable inserts of a group of several writers (`group[0]` leads): offers
    /// each follower its batch, inserts its own, then every batch no follower has
    /// claimed, and returns once the claimed ones are in.
    fn insert_in_parallel(
        &self,
        group: &[Arc<Writer>],
        svs: SmallVec<[(u32, Arc<SuperVersion>); 2]>,
        first_seq: SeqNo,
    ) {
        let inserts = Arc::new(GroupInserts {
            svs,
            in_flight: AtomicUsize::new(0),
        });
        let mut seqs: SmallVec<[SeqNo; 8]> = SmallVec::with_capacity(group.len());
        let mut next = first_seq;
        for w in group {
            seqs.push(next);
            next += u64::from(w.count);
        }
        for (w, &seq) in group.iter().zip(&seqs).skip(1) {
            *lock(&w.insert) = Some(InsertOffer {
                group: Arc::clone(&inserts),
                first_seq: seq,
            });
            // Seen by a follower spinning on its signal; one asleep on its condvar is
            // not woken (its batch is inserted here instead). Its wait loop checks
            // its outcome under the queue lock, so the extra flag is harmless.
            w.signalled.store(true, Ordering::Release);
        }
        for (w, &seq) in group.iter().zip(&seqs) {
            self.claim_insert(w, &inserts, seq);
        }
        // What is still in flight was claimed by followers that are running it.
        while inserts.in_flight.load(Ordering::Acquire) > 0 {
            std::thread::yield_now();
        }
    }

    /// Room check (rotation, stalls), WAL append (+ sync), memtable insert, publish.
    /// Runs without the queue lock.
    fn write_group(&self, group: &[Arc<Writer>], first_seq: SeqNo, total: u64) -> Result<SeqNo> {
        let last_seq = first_seq + total - 1;
        let sync = group.iter().any(|w| w.sync);
        let bytes: usize = group.iter().map(|w| w.bytes).sum();
        let mut ids: KsIds = group
            .iter()
            .flat_map(|w| w.keyspaces.iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let kss: SmallVec<[Arc<Ks>; 2]> = ids
            .iter()
            .filter_map(|&id| self.keyspace_by_id(id))
            .collect();
        self.make_room_for_write(bytes, &kss)?;
        // The leader's batch, with its followers' appended: one WAL record. (Every
        // batch is still there: only this group's leader takes or reads them.) A
        // lone writer's batch is the record; a group's batches stay with their
        // writers for the parallel insert.
        let mut batch = match group {
            [only] => lock(&only.batch).take().unwrap_or_default(),
            _ => {
                let mut record = WriteBatch::new();
                for w in group {
                    if let Some(b) = lock(&w.batch).as_ref() {
                        record.append(b);
                    }
                }
                record
            }
        };
        batch.set_seq(first_seq);
        let batch = &batch;
        {
            let mut wal = lock(&self.writes.wal);
            wal.add_record(batch.as_bytes())?;
            if sync {
                wal.sync()?;
                self.stats.wal_syncs.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.stats.record_user_write(bytes as u64);
        // Only the leader rotates memtables, so these are the ones the group belongs in.
        let svs: SmallVec<[(u32, Arc<SuperVersion>); 2]> =
            kss.iter().map(|k| (k.id, k.super_version())).collect();
        if group.len() == 1 {
            self.apply_to_memtables(&svs, batch, first_seq);
        } else {
            self.insert_in_parallel(group, svs, first_seq);
        }
        self.visible_seq.store(last_seq, Ordering::Release);
        self.stats.write_groups.fetch_add(1, Ordering::Relaxed);
        self.stats
            .writes
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        Ok(last_seq)
    }
}
