//! I/O fault injection: the engine on a `MemFs` wrapped by a `FaultFs`.
//!
//! What must hold (see `docs/architecture.md`, "Write path"): a failed WAL append or
//! fsync fails that write and every group-commit follower that shared it, then the
//! database refuses writes (`Error::Poisoned`) until reopened, never touches the
//! failed log again and never retries the fsync; reads keep working; everything
//! acknowledged is there after a reopen; read errors and damage met while opening are
//! `Error::Io`/`Error::Corruption` naming the file, never a panic or wrong data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests inspect real directories directly

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use shale_fs::{
    CrashPolicy, EIO, ENOSPC, Effect, ErrorKind, Fault, FaultFs, Op, OpRecord, Rule, Trigger,
};
use shaledb::{Db, Error, MemFs, Options, RecoveryMode, WriteBatch, WriteOptions};

const DIR: &str = "/db";

type Model = BTreeMap<String, String>;

fn fault_fs() -> (MemFs, FaultFs) {
    let mem = MemFs::new();
    let fs = FaultFs::with_mem(&mem);
    (mem, fs)
}

fn open(fs: &FaultFs) -> shaledb::Result<Db> {
    Db::open(DIR, Options::with_fs(Arc::new(fs.clone())))
}

fn open_mem(mem: &MemFs) -> shaledb::Result<Db> {
    Db::open(DIR, Options::with_fs(Arc::new(mem.clone())))
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

fn contents(db: &Db) -> Model {
    db.iter()
        .map(|r| {
            let (k, v) = r.unwrap();
            (text(&k), text(&v))
        })
        .collect()
}

fn is_wal(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "log")
}

/// Asserts `e` is an `Error::Io` for `op` with `errno` on a WAL; returns the WAL.
#[track_caller]
fn assert_wal_io(e: &Error, want_op: &str, errno: i32) -> PathBuf {
    match e {
        Error::Io { op, path, source } => {
            assert_eq!(*op, want_op, "{e}");
            assert_eq!(source.raw_os_error(), Some(errno), "{e}");
            assert!(is_wal(path), "{e}");
            path.clone()
        }
        other => panic!("expected an I/O error on a WAL, got {other:?}"),
    }
}

#[track_caller]
fn assert_poisoned<T: std::fmt::Debug>(r: shaledb::Result<T>) {
    match r {
        Err(Error::Poisoned(_)) => {}
        other => panic!("expected Error::Poisoned, got {other:?}"),
    }
}

/// Asserts `e` is an `Error::Io` with `errno`, on any file.
#[track_caller]
fn assert_io_errno(e: &Error, errno: i32) {
    match e {
        Error::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(errno), "{e}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

/// Every write API, which a poisoned database must all refuse.
fn assert_every_write_refused(db: &Db) {
    assert!(
        matches!(db.write_refusal(), Some(Error::Poisoned(_))),
        "write_refusal must report the poisoning: {:?}",
        db.write_refusal()
    );
    assert_poisoned(db.put("after-failure", "x"));
    assert_poisoned(db.put_opt("after-failure", "x", &WriteOptions::synced()));
    assert_poisoned(db.delete("k01"));
    assert_poisoned(db.delete_opt("k01", &WriteOptions::synced()));
    let mut b = WriteBatch::new();
    b.put("after-failure", "x").delete("k02");
    assert_poisoned(db.write(b, &WriteOptions::default()));
    assert_poisoned(db.write(WriteBatch::new(), &WriteOptions::synced()));
    assert_poisoned(db.sync_wal());
}

/// The index, in `history`, of the first injected fault.
fn first_fault(history: &[OpRecord]) -> usize {
    history.iter().position(|r| r.fault.is_some()).unwrap()
}

/// Asserts nothing appended to or synced `wal` after the first injected fault.
#[track_caller]
fn assert_log_untouched_after_fault(fs: &FaultFs, wal: &Path) {
    let h = fs.history();
    let at = first_fault(&h);
    assert_eq!(h[at].path, wal);
    let later: Vec<_> = h[at + 1..]
        .iter()
        .filter(|r| r.path == wal && matches!(r.op, Op::Append | Op::Sync))
        .collect();
    assert!(later.is_empty(), "the failed log was used again: {later:?}");
}

/// (1) EIO (or a short write) on the WAL append: that write fails, everything after
/// it is refused, reads still show the pre-failure state, and a reopen has every
/// acknowledged write and nothing of the failed batch.
#[test]
fn eio_on_wal_append_fails_the_write_and_poisons_the_db() {
    for effect in [
        Effect::Error(ErrorKind::Eio),
        Effect::ShortWrite(ErrorKind::Eio),
    ] {
        let (_mem, fs) = fault_fs();
        let db = open(&fs).unwrap();
        let mut model = Model::new();
        for i in 0..30 {
            let (k, v) = (format!("k{i:02}"), format!("v{i}"));
            db.put_opt(&k, &v, &WriteOptions { sync: i % 3 == 0 })
                .unwrap();
            model.insert(k, v);
        }
        db.delete("k05").unwrap();
        model.remove("k05");
        let snap = db.snapshot();

        fs.add_rule(
            Rule::new(Op::Append, effect)
                .path(".log")
                .trigger(Trigger::Nth(1)),
        );
        // A multi-block batch, so a short write leaves a real partial record.
        let mut failed = WriteBatch::new();
        for i in 0..400 {
            failed.put(format!("failed{i:03}"), "x".repeat(100));
        }
        failed.delete("k00");
        let err = db.write(failed, &WriteOptions::default()).unwrap_err();
        let wal = assert_wal_io(&err, "write", EIO);
        assert_every_write_refused(&db);

        // Reads keep working and show exactly what was acknowledged.
        assert_eq!(contents(&db), model, "{effect:?}");
        assert_eq!(db.get("k00").unwrap().as_deref(), Some(&b"v0"[..]));
        assert_eq!(db.get("failed000").unwrap(), None);
        assert_eq!(db.prefix("failed").count(), 0);
        let rev: Vec<String> = db.iter().rev().map(|r| text(&r.unwrap().0)).collect();
        assert_eq!(rev, model.keys().rev().cloned().collect::<Vec<_>>());
        assert_eq!(snap.get("k10").unwrap().as_deref(), Some(&b"v10"[..]));
        assert_eq!(db.stats().writes, 31);
        assert_log_untouched_after_fault(&fs, &wal);
        drop((snap, db));

        fs.set_enabled(false);
        let db = open(&fs).unwrap();
        assert_eq!(
            contents(&db),
            model,
            "{effect:?}: the failed batch is never half there"
        );
        if matches!(effect, Effect::ShortWrite(_)) {
            assert!(
                db.recovery_notes().iter().any(|n| n.contains("dropped")),
                "{:?}",
                db.recovery_notes()
            );
        }
        // The reopened database takes writes again.
        db.put("again", "1").unwrap();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// The I/O error of the failed group (leader and followers alike).
    Io,
    Poisoned,
}

/// (2) EIO on a WAL fsync with 8 concurrent synced writers: the whole group that
/// shared the fsync fails, every call that starts after a failure was seen fails, and
/// after a power loss exactly the acknowledged writes are there.
#[test]
fn eio_on_wal_sync_fails_the_group_and_every_later_write() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 100;
    let value = |t: usize, i: usize| format!("value-{t}-{i}-{}", "v".repeat(i % 7 * 10));
    let (mem, fs) = fault_fs();
    let db = open(&fs).unwrap();
    // Opening synced the fresh log; count from here: the 21st group fsync fails.
    fs.add_rule(
        Rule::error(Op::Sync, ErrorKind::Eio)
            .path(".log")
            .trigger(Trigger::OnceAfter(20)),
    );
    let failure_seen = AtomicBool::new(false);
    let outcomes = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (db, failure_seen, outcomes) = (&db, &failure_seen, &outcomes);
            s.spawn(move || {
                let mut failed = false;
                for i in 0..PER_THREAD {
                    let key = format!("{t}/{i:03}");
                    let started_after_failure = failure_seen.load(Ordering::SeqCst);
                    let outcome = match db.put_opt(&key, value(t, i), &WriteOptions::synced()) {
                        Ok(()) => {
                            assert!(
                                !failed && !started_after_failure,
                                "{key}: acknowledged after a failure"
                            );
                            Outcome::Ok
                        }
                        Err(e) => {
                            failure_seen.store(true, Ordering::SeqCst);
                            failed = true;
                            match e {
                                Error::Poisoned(_) => Outcome::Poisoned,
                                e => {
                                    assert_wal_io(&e, "fdatasync", EIO);
                                    Outcome::Io
                                }
                            }
                        }
                    };
                    outcomes.lock().unwrap().insert(key, outcome);
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let with = |o: Outcome| -> BTreeSet<String> {
        outcomes
            .iter()
            .filter(|(_, v)| **v == o)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let (ok, io) = (with(Outcome::Ok), with(Outcome::Io));
    assert_eq!(outcomes.len(), THREADS * PER_THREAD);
    assert!(ok.len() >= 20, "20 fsyncs succeeded: {}", ok.len());
    // One fsync failed; every writer of that group got its error, nobody else did.
    assert!(!io.is_empty() && io.len() <= THREADS, "{io:?}");
    assert_eq!(fs.injected(), 1);
    let stats = db.stats();
    assert_eq!(stats.writes, ok.len() as u64, "acknowledged = counted");
    assert!(stats.wal_syncs <= 20, "{}", stats.wal_syncs);
    // Readers see exactly the acknowledged writes.
    let visible = contents(&db);
    assert_eq!(visible.keys().cloned().collect::<BTreeSet<_>>(), ok);
    let wal = fs.faults()[0].path.clone();
    assert_log_untouched_after_fault(&fs, &wal);

    let value_of = |k: &str| {
        let (t, i) = k.split_once('/').unwrap();
        value(t.parse().unwrap(), i.parse().unwrap())
    };
    let check = |got: &Model, what: &str| {
        for k in &ok {
            assert_eq!(got.get(k), Some(&value_of(k)), "{what}: acknowledged {k}");
        }
        for (k, v) in got {
            assert_eq!(*v, value_of(k), "{what}: {k}");
            assert!(ok.contains(k) || io.contains(k), "{what}: {k} was refused");
        }
        // The failed group was one WAL record: all of it or none.
        let failed_present = io.iter().filter(|k| got.contains_key(*k)).count();
        assert!(
            failed_present == 0 || failed_present == io.len(),
            "{what}: {failed_present} of the failed group's {} writes",
            io.len()
        );
        failed_present
    };

    // Power loss, dropping all unsynced data: exactly the acknowledged writes.
    let crashed = mem.crash_clone();
    let got = contents(&open_mem(&crashed).unwrap());
    assert_eq!(check(&got, "crash"), 0);
    assert_eq!(got.len(), ok.len());
    // Power loss keeping part of the unsynced tail.
    for seed in 0..8 {
        let crashed = mem.crash_clone_with(CrashPolicy::KeepRandomPrefix, seed);
        check(&contents(&open_mem(&crashed).unwrap()), "partial writeback");
    }
    // Process restart: the failed group's record reached the OS, so it may reappear.
    drop(db);
    fs.set_enabled(false);
    check(&contents(&open(&fs).unwrap()), "restart");
}

/// (3) Fsyncgate: the fsync fails and the kernel silently drops the unsynced data;
/// a retried fsync would succeed. The engine must fail the write, refuse everything
/// after it (never retry), and the synced writes from before must survive a crash.
#[test]
fn fsyncgate_poisons_and_synced_writes_survive_a_crash() {
    let (mem, fs) = fault_fs();
    let db = open(&fs).unwrap();
    for i in 0..10 {
        db.put_opt(
            format!("s{i}"),
            format!("synced{i}"),
            &WriteOptions::synced(),
        )
        .unwrap();
    }
    for i in 0..5 {
        db.put(format!("u{i}"), format!("unsynced{i}")).unwrap();
    }
    // Every sync of the log is gated, except the one right after a reported failure:
    // only an engine that retries would get an Ok.
    fs.add_rule(Rule::new(Op::Sync, Effect::FsyncGate).path(".log"));
    let err = db
        .put_opt("gated", "lost", &WriteOptions::synced())
        .unwrap_err();
    let wal = assert_wal_io(&err, "fdatasync", EIO);
    let Some(Fault::FsyncGate { dropped }) = fs.faults()[0].fault.clone() else {
        panic!("no fsyncgate fault: {:?}", fs.faults());
    };
    assert!(dropped > 0, "the unsynced records were dropped");
    assert_every_write_refused(&db);
    assert_log_untouched_after_fault(&fs, &wal);
    assert_eq!(fs.injected(), 1, "no second fsync was attempted");
    // Reads are served from memory and still show what was acknowledged.
    for i in 0..10 {
        assert_eq!(
            db.get(format!("s{i}")).unwrap().map(|v| text(&v)),
            Some(format!("synced{i}"))
        );
    }
    assert_eq!(db.get("u4").unwrap().as_deref(), Some(&b"unsynced4"[..]));
    assert_eq!(db.get("gated").unwrap(), None);

    mem.crash();
    drop(db);
    fs.clear_rules();
    let db = open(&fs).unwrap();
    let got = contents(&db);
    for i in 0..10 {
        assert_eq!(got.get(&format!("s{i}")), Some(&format!("synced{i}")));
    }
    for (k, v) in &got {
        // Unsynced writes may be gone (fsyncgate, power loss); never wrong.
        let want = match k.strip_prefix('u') {
            Some(i) => format!("unsynced{i}"),
            None => format!("synced{}", k.trim_start_matches('s')),
        };
        assert_eq!(*v, want, "{k}");
    }
    assert!(!got.contains_key("gated"));
}

/// (4) ENOSPC: the write fails cleanly and poisons; reopening while the disk is still
/// full fails cleanly and destroys nothing; once space is freed, a reopen has every
/// acknowledged write.
#[test]
fn enospc_fails_cleanly_and_everything_acknowledged_survives() {
    for effect in [
        Effect::Error(ErrorKind::Enospc),
        Effect::ShortWrite(ErrorKind::Enospc),
    ] {
        let (_mem, fs) = fault_fs();
        let db = open(&fs).unwrap();
        let mut model = Model::new();
        for i in 0..40 {
            let (k, v) = (format!("k{i:02}"), format!("{i}-{}", "y".repeat(200)));
            db.put_opt(&k, &v, &WriteOptions { sync: i % 4 == 0 })
                .unwrap();
            model.insert(k, v);
        }
        // The disk is full: every append fails from now on.
        let full = fs.add_rule(Rule::new(Op::Append, effect));
        let err = db.put("big", "z".repeat(100_000)).unwrap_err();
        let wal = assert_wal_io(&err, "write", ENOSPC);
        assert!(err.to_string().contains("No space left on device"), "{err}");
        assert_every_write_refused(&db);
        assert_eq!(contents(&db), model, "{effect:?}");
        assert_log_untouched_after_fault(&fs, &wal);
        drop(db);

        // Still full: opening fails (it must write a new log), cleanly, twice.
        for _ in 0..2 {
            assert_io_errno(&open(&fs).unwrap_err(), ENOSPC);
        }
        // Space runs out in the middle of the recovery rewrite.
        fs.remove_rule(full);
        fs.add_rule(Rule::new(Op::Append, effect).trigger(Trigger::AlwaysAfter(10)));
        assert_io_errno(&open(&fs).unwrap_err(), ENOSPC);

        // Space freed.
        fs.clear_rules();
        let db = open(&fs).unwrap();
        assert_eq!(contents(&db), model, "{effect:?}");
        db.put("after", "space freed").unwrap();
        model.insert("after".into(), "space freed".into());
        drop(db);
        assert_eq!(contents(&open(&fs).unwrap()), model);
    }
}

/// A database whose only WAL holds several blocks of records, all synced; returns the
/// file system, the model after each write (`states[j]` = after `j` writes) and every
/// value ever written per key.
fn replay_fixture() -> (MemFs, Vec<Model>, BTreeMap<String, BTreeSet<String>>) {
    let mem = MemFs::new();
    let db = open_mem(&mem).unwrap();
    let mut states = vec![Model::new()];
    let mut written: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in 0..400u32 {
        let mut model = states.last().unwrap().clone();
        let k = format!("key{:03}", i * 7 % 150);
        if i % 11 == 5 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let v = format!("{i}:{}", "w".repeat((i as usize * 37) % 500));
            db.put(&k, &v).unwrap();
            written.entry(k.clone()).or_default().insert(v.clone());
            model.insert(k, v);
        }
        states.push(model);
    }
    db.sync_wal().unwrap();
    // A power loss while open: everything is in the (synced) WAL, whatever a clean
    // close would do.
    let base = mem.crash_clone();
    drop(db);
    (base, states, written)
}

/// The WAL reads a clean open of `base` does.
fn wal_reads(base: &MemFs) -> usize {
    let fs = FaultFs::with_mem(&base.crash_clone());
    let db = open(&fs).unwrap();
    drop(db);
    fs.history()
        .iter()
        .filter(|r| r.op == Op::Read && is_wal(&r.path))
        .count()
}

/// (5a) EIO on any WAL read (or on opening or listing) while replaying: `Db::open`
/// fails with `Error::Io` naming the file, and nothing is lost by the failed attempt.
#[test]
fn read_eio_during_wal_replay_fails_open_and_loses_nothing() {
    let (base, states, _) = replay_fixture();
    let want = states.last().unwrap();
    let reads = wal_reads(&base);
    assert!(reads >= 3, "the log spans several blocks: {reads} reads");
    let mut rules: Vec<(Rule, &str)> = (1..=reads as u64)
        .map(|n| {
            let r = Rule::error(Op::Read, ErrorKind::Eio)
                .path(".log")
                .trigger(Trigger::Nth(n));
            (r, "read")
        })
        .collect();
    rules.push((Rule::error(Op::Open, ErrorKind::Eio).path(".log"), "open"));
    for (rule, op) in rules {
        let mem = base.crash_clone();
        let fs = FaultFs::with_mem(&mem);
        fs.add_rule(rule.clone());
        let e = open(&fs).unwrap_err();
        assert_wal_io(&e, op, EIO);
        assert!(e.to_string().contains(".log"), "{e}");
        assert_eq!(fs.injected(), 1, "{rule:?}");
        fs.clear_rules();
        assert_eq!(&contents(&open(&fs).unwrap()), want, "{rule:?}");
    }
    // Listing the directory fails (if opening lists it): the error names the directory.
    let fs = FaultFs::with_mem(&base.crash_clone());
    fs.fail_next(Op::List, ErrorKind::Eio);
    match open(&fs) {
        Err(Error::Io { op, path, .. }) => {
            assert_eq!((op, path.as_path()), ("list", Path::new(DIR)));
        }
        Ok(_) => assert_eq!(fs.injected(), 0, "a failed list was ignored"),
        Err(e) => panic!("{e:?}"),
    }
}

/// (5b) A bit flipped in what a WAL read returns: `Db::open` either fails with
/// `Error::Corruption` naming the log, or every value it serves is one that was
/// written (default mode: exactly the state after some prefix of the writes).
#[test]
fn bit_flips_during_wal_replay_never_yield_wrong_data() {
    let (base, states, written) = replay_fixture();
    let reads = wal_reads(&base);
    let mut outcomes = BTreeMap::new();
    for mode in [
        RecoveryMode::TolerateCorruptedTailRecords,
        RecoveryMode::SkipAnyCorruptedRecords,
    ] {
        for n in 1..=reads as u64 {
            for seed in 0..12 {
                let mem = base.crash_clone();
                let fs = FaultFs::with_mem(&mem);
                fs.set_seed(seed);
                fs.add_rule(
                    Rule::new(Op::Read, Effect::BitFlipOnRead)
                        .path(".log")
                        .trigger(Trigger::Nth(n)),
                );
                let mut opts = Options::with_fs(Arc::new(fs.clone()));
                opts.wal_recovery_mode = mode;
                let what = format!("{mode:?}, read {n}, seed {seed}");
                let outcome = match Db::open(DIR, opts) {
                    Err(Error::Corruption { file, .. }) => {
                        assert!(is_wal(&file), "{what}: {file:?}");
                        "corruption"
                    }
                    Err(e) => panic!("{what}: expected Corruption, got {e:?}"),
                    Ok(db) => {
                        let got = contents(&db);
                        for (k, v) in &got {
                            assert!(written[k].contains(v), "{what}: wrong value for {k}");
                        }
                        if mode == RecoveryMode::TolerateCorruptedTailRecords {
                            assert!(states.contains(&got), "{what}: not a prefix of the writes");
                        }
                        if &got == states.last().unwrap() {
                            "intact"
                        } else {
                            "lost records"
                        }
                    }
                };
                assert_eq!(fs.injected(), 1, "{what}");
                *outcomes.entry((format!("{mode:?}"), outcome)).or_insert(0) += 1;
            }
        }
    }
    // Both outcomes occur, so the test exercises the checksum path.
    assert!(
        outcomes.keys().any(|(_, o)| *o == "corruption"),
        "{outcomes:?}"
    );
}

/// (6) After a failed append or fsync, a poisoned database, hammered by writers on
/// several threads, never appends to or syncs the failed log again, and a reopen moves
/// to a new log.
#[test]
fn poisoned_db_never_touches_the_failed_log_again() {
    for (op, errno, verb) in [(Op::Append, EIO, "write"), (Op::Sync, EIO, "fdatasync")] {
        let (_mem, fs) = fault_fs();
        let db = open(&fs).unwrap();
        for i in 0..10 {
            db.put(format!("k{i}"), "v").unwrap();
        }
        let syncs_before = db.stats().wal_syncs;
        fs.add_rule(
            Rule::error(op, ErrorKind::Eio)
                .path(".log")
                .trigger(Trigger::Nth(1)),
        );
        let err = db
            .put_opt("fails", "x", &WriteOptions::synced())
            .unwrap_err();
        let wal = assert_wal_io(&err, verb, errno);
        std::thread::scope(|s| {
            for t in 0..4 {
                let db = &db;
                s.spawn(move || {
                    for i in 0..50 {
                        let sync = WriteOptions { sync: i % 2 == 0 };
                        assert_poisoned(db.put_opt(format!("t{t}-{i}"), "x", &sync));
                        let mut b = WriteBatch::new();
                        b.put("b", "x").delete("k1");
                        assert_poisoned(db.write(b, &sync));
                        if i % 10 == 0 {
                            assert_poisoned(db.sync_wal());
                        }
                        assert_eq!(db.get("k3").unwrap().as_deref(), Some(&b"v"[..]));
                    }
                });
            }
        });
        assert_log_untouched_after_fault(&fs, &wal);
        assert_eq!(db.stats().wal_syncs, syncs_before);
        assert_eq!(db.stats().writes, 10);
        drop(db);
        let db = open(&fs).unwrap();
        // A failed fsync's record reached the OS, so a restart may replay it.
        let n = db.iter().count();
        assert!(n == 10 || (op == Op::Sync && n == 11), "{n}");
        db.put("again", "1").unwrap();
    }
}

/// An explicit `sync_wal` that fails poisons the database like a failed group fsync.
#[test]
fn failed_sync_wal_poisons_the_db() {
    let (mem, fs) = fault_fs();
    let db = open(&fs).unwrap();
    db.put_opt("synced", "1", &WriteOptions::synced()).unwrap();
    db.put("unsynced", "2").unwrap();
    fs.fail_next(Op::Sync, ErrorKind::Eio);
    let wal = assert_wal_io(&db.sync_wal().unwrap_err(), "fdatasync", EIO);
    assert_every_write_refused(&db);
    assert_log_untouched_after_fault(&fs, &wal);
    assert_eq!(db.get("unsynced").unwrap().as_deref(), Some(&b"2"[..]));
    mem.crash();
    drop(db);
    let got = contents(&open(&fs).unwrap());
    assert_eq!(got.get("synced").map(String::as_str), Some("1"));
    assert!(got.get("unsynced").is_none_or(|v| v == "2"));
}

/// Every single operation of `Db::open` failing in turn (EIO, or a short write for
/// appends): the open fails cleanly (an error, no panic) or succeeds, and either way a
/// later fault-free open, also after a power loss, has every acknowledged write.
#[test]
fn a_fault_at_any_step_of_open_loses_nothing() {
    let (base, states, _) = replay_fixture();
    let want = states.last().unwrap();
    let steps = {
        let fs = FaultFs::with_mem(&base.crash_clone());
        drop(open(&fs).unwrap());
        fs.history().len() as u64
    };
    assert!(steps > 10, "{steps}");
    let mut failed_opens = 0;
    for n in 1..=steps {
        for effect in [
            Effect::Error(ErrorKind::Eio),
            Effect::ShortWrite(ErrorKind::Enospc),
        ] {
            let mem = base.crash_clone();
            let fs = FaultFs::with_mem(&mem);
            fs.add_rule(Rule::new(Op::Any, effect).trigger(Trigger::Nth(n)));
            let what = format!("{effect:?} on step {n}");
            match open(&fs) {
                Ok(db) => assert_eq!(&contents(&db), want, "{what}"),
                Err(e) => {
                    assert!(matches!(e, Error::Io { .. }), "{what}: {e:?}");
                    failed_opens += 1;
                }
            }
            fs.clear_rules();
            for seed in 0..3 {
                let crashed = mem.crash_clone_with(CrashPolicy::KeepRandomPrefix, seed);
                let db = open_mem(&crashed).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(&contents(&db), want, "{what}, then a crash (seed {seed})");
            }
            let db = open(&fs).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(&contents(&db), want, "{what}, then a restart");
        }
    }
    assert!(failed_opens > 0);
}

/// A power loss after unsynced writes, with what the kernel had written back of the
/// unsynced tail decided by `policy`. The durability contract lets any unsynced write
/// be lost, so the database must open, in `mode`, with every synced write.
fn power_loss_after_unsynced_writes(policy: CrashPolicy, mode: RecoveryMode) {
    let mem = MemFs::new();
    let db = open_mem(&mem).unwrap();
    let mut synced = Model::new();
    for i in 0..50 {
        let (k, v) = (format!("s{i:02}"), format!("synced-{i}"));
        db.put_opt(&k, &v, &WriteOptions::synced()).unwrap();
        synced.insert(k, v);
    }
    // ~60 KiB of unsynced records after the last fsync.
    let unsynced = |i: usize| format!("{i}-{}", "u".repeat(200));
    for i in 0..300 {
        db.put(format!("u{i:03}"), unsynced(i)).unwrap();
    }
    for seed in 0..16 {
        let crashed = mem.crash_clone_with(policy, seed);
        let mut opts = Options::with_fs(Arc::new(crashed));
        opts.wal_recovery_mode = mode;
        let what = format!("{policy:?}, {mode:?}, seed {seed}");
        let db = Db::open(DIR, opts).unwrap_or_else(|e| panic!("{what}: open failed: {e}"));
        let got = contents(&db);
        for (k, v) in &synced {
            assert_eq!(got.get(k), Some(v), "{what}");
        }
        for (k, v) in got.iter().filter(|(k, _)| k.starts_with('u')) {
            assert_eq!(*v, unsynced(k[1..].parse().unwrap()), "{what}");
        }
    }
    drop(db);
}

/// The kernel wrote back an in-order prefix of the unsynced tail: a torn tail.
#[test]
fn power_loss_with_in_order_writeback_opens_with_synced_writes() {
    power_loss_after_unsynced_writes(
        CrashPolicy::KeepRandomPrefix,
        RecoveryMode::TolerateCorruptedTailRecords,
    );
}

/// Unsynced pages written back out of order: a hole (zeros) in the unsynced tail,
/// followed by surviving records. Point-in-time recovery stops at the hole.
#[test]
fn power_loss_with_out_of_order_writeback_opens_in_point_in_time_mode() {
    power_loss_after_unsynced_writes(CrashPolicy::RandomPages, RecoveryMode::PointInTimeRecovery);
}

/// Regression (found by this file): the same power loss with the `Db`'s *default*
/// recovery mode must open. The default used to be TolerateCorruptedTailRecords, which
/// calls a hole followed by valid fragments "not a torn tail" and refused to open
/// although only unsynced writes were damaged; the default is now point in time.
#[test]
fn power_loss_with_out_of_order_writeback_opens_in_default_mode() {
    power_loss_after_unsynced_writes(
        CrashPolicy::RandomPages,
        Options::default().wal_recovery_mode,
    );
}
