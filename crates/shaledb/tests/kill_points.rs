//! Power loss at the named kill points of every file operation (`shale_fs::KillPointFs`).
//!
//! One deterministic, single-writer workload — puts, deletes, range deletes and
//! batches (some synced, some spanning two keyspaces), an explicit flush, a full
//! compaction, a checkpoint, a clean reopen in the middle, background flushes and
//! compactions all along, a manifest small enough to roll over many times and the
//! deletion of obsolete WALs, tables and manifests — runs on a `KillPointFs`.
//! At sampled hits of *every* site (`wal.append`, `sst.sync`, `current.rename`,
//! `manifest.sync_dir`, `sst.remove`, ...) an observer takes a crash image, just
//! before and just after the operation, under a rotating `CrashPolicy`. A verifier
//! thread opens each image (with `paranoid_checks`) and checks:
//!
//! * it opens;
//! * the database holds exactly the state after the first `p` writes of the workload,
//!   for some `p` between the writes acknowledged as durable when the image was taken
//!   (synced writes, and everything before a returned `flush`, `compact_range` or
//!   reopen) and the writes issued by then: nothing synced is lost, no value that was
//!   never written appears, batches are all-or-nothing, and nothing is lost out of
//!   order;
//! * forward and reverse scans agree with point reads, in both keyspaces.
//!
//! The checkpoint taken mid-run must hold exactly the state after the writes before it.
//!
//! Finally every site of `REQUIRED_SITES` must have been hit, and crash images taken
//! at it, so a refactor that stops going through a site fails here rather than
//! silently losing coverage.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use shale_fs::{CrashPolicy, KillPointFs, Moment, Site};
use shaledb::{Compression, Db, FileSystem, MemFs, Options, WriteBatch, WriteOptions};

const DIR: &str = "/db";
/// Write units (a put, a delete or a batch) of the workload.
const UNITS: u64 = 1500;
/// Distinct keys per keyspace: few, so keys are overwritten and compaction drops versions.
const KEYS: u64 = 300;
/// The keyspaces written; key id `ks * KEYS + k` is key `k` of keyspace `ks`.
const KEYSPACES: [&str; 2] = ["default", "two"];
/// Where the mid-run checkpoint goes, and the unit after which it is taken.
const CHECKPOINT: (&str, u64) = ("/checkpoint", 850);

/// Sites the workload must hit: every append, sync and close of WAL, table and
/// manifest files, their creation, deletion, the checkpoint's table links and the
/// directory syncs that make those durable, and the whole atomic replace of `CURRENT` (temp file written, synced,
/// closed, renamed, directory synced).
const REQUIRED_SITES: &[&str] = &[
    "wal.create",
    "wal.append",
    "wal.sync",
    "wal.close",
    "wal.sync_dir",
    "wal.remove",
    "sst.create",
    "sst.append",
    "sst.sync",
    "sst.close",
    "sst.sync_dir",
    "sst.remove",
    "sst.hard_link",
    "manifest.create",
    "manifest.append",
    "manifest.sync",
    "manifest.close",
    "manifest.sync_dir",
    "manifest.remove",
    "current.create",
    "current.append",
    "current.sync",
    "current.close",
    "current.rename",
    "current.sync_dir",
];

fn options(fs: Arc<dyn FileSystem>) -> Options {
    Options {
        write_buffer_size: 8 * 1024,
        max_write_buffer_number: 3,
        l0_compaction_trigger: 2,
        l0_slowdown_writes_trigger: 8,
        l0_stop_writes_trigger: 12,
        target_file_size: 4 * 1024,
        max_bytes_for_level_base: 16 * 1024,
        level_size_multiplier: 4,
        num_levels: 4,
        block_size: 512,
        // One background thread and one writer: the same hits every run, near enough.
        background_threads: 1,
        compression: Compression::Lz4,
        max_manifest_size: 1024, // roll the manifest over often
        ..Options::with_fs(fs)
    }
}

/// One operation of a unit.
#[derive(Clone, Debug)]
enum Op {
    /// Key id gets a value (`None`: deleted).
    Write(usize, Option<Vec<u8>>),
    /// Keys `from..to` of keyspace `ks` deleted by one range tombstone.
    RangeDelete { ks: usize, from: u64, to: u64 },
}

fn key(k: u64) -> Vec<u8> {
    format!("k{k:04}").into_bytes()
}

/// The writes of unit `i`: one put or delete, every 11th a batch of three (which may
/// span both keyspaces), every 53rd a range delete of up to 8 keys.
fn unit(i: u64) -> Vec<Op> {
    if i % 53 == 20 {
        let from = (i * 13) % KEYS;
        return vec![Op::RangeDelete {
            ks: ((i / 53) % 2) as usize,
            from,
            to: (from + 8).min(KEYS),
        }];
    }
    let one = |j: u64| {
        let ks = u64::from((i + j) % 3 == 1);
        let id = (ks * KEYS + (i * 37 + j * 101) % KEYS) as usize;
        if (i + j) % 9 == 4 {
            Op::Write(id, None)
        } else {
            let pad = "p".repeat(((i + j) % 7) as usize * 20);
            Op::Write(id, Some(format!("v{i}.{j}-{pad}").into_bytes()))
        }
    };
    let n = if i % 11 == 5 { 3 } else { 1 };
    (0..n).map(one).collect()
}

/// The key ids an operation changes.
fn ids(op: &Op) -> Vec<usize> {
    match op {
        Op::Write(id, _) => vec![*id],
        Op::RangeDelete { ks, from, to } => (*from..*to)
            .map(|k| (*ks as u64 * KEYS + k) as usize)
            .collect(),
    }
}

/// Workload progress, read by the observer at the instant of each image.
#[derive(Default)]
struct Progress {
    /// Units handed to the engine (the last may be in progress).
    issued: AtomicU64,
    /// Units that must survive a power loss.
    durable: AtomicU64,
}

/// Runs the workload on `fs`.
fn run_workload(fs: &KillPointFs, progress: &Progress) {
    let open = || Db::open(DIR, options(Arc::new(fs.clone()))).unwrap();
    let settle = |p: &Progress| {
        p.durable
            .store(p.issued.load(Ordering::SeqCst), Ordering::SeqCst);
    };
    let mut db = open();
    let mut two = db.keyspace(KEYSPACES[1]).unwrap();
    for i in 0..UNITS {
        progress.issued.store(i + 1, Ordering::SeqCst);
        let sync = i % 10 == 9;
        let mut batch = WriteBatch::new();
        let ks_id = |ks: usize| if ks == 0 { 0 } else { two.id() };
        for op in unit(i) {
            match op {
                Op::Write(id, v) => {
                    let (ks, k) = (id / KEYS as usize, key(id as u64 % KEYS));
                    match v {
                        Some(v) => batch.put_in(ks_id(ks), k, v),
                        None => batch.delete_in(ks_id(ks), k),
                    };
                }
                Op::RangeDelete { ks, from, to } => {
                    batch.delete_range_in(ks_id(ks), key(from), key(to));
                }
            }
        }
        db.write(batch, &WriteOptions { sync }).unwrap();
        if sync {
            progress.durable.store(i + 1, Ordering::SeqCst);
        }
        match i {
            400 => {
                db.flush().unwrap();
                settle(progress);
            }
            700 => {
                db.compact_range::<&[u8], _>(..).unwrap();
                two.compact_range::<&[u8], _>(..).unwrap();
                settle(progress);
            }
            i if i + 1 == CHECKPOINT.1 => {
                db.checkpoint(CHECKPOINT.0).unwrap();
            }
            1000 => {
                // A clean close and reopen: recovery replays the WAL into a table and
                // deletes what became obsolete. Once open returns, it is all durable.
                drop((db, two));
                db = open();
                two = db.keyspace(KEYSPACES[1]).unwrap();
                settle(progress);
            }
            _ => {}
        }
    }
    db.compact_range::<&[u8], _>(..).unwrap();
    settle(progress);
    let s = db.stats();
    assert!(
        s.flushes > 10 && s.levels.iter().skip(1).any(|l| l.files > 0),
        "the workload flushes and compacts: {s}"
    );
}

/// Per key id: every write of the workload, as (unit, value).
type History = Vec<Vec<(u64, Option<Vec<u8>>)>>;

fn history() -> History {
    let mut h: History = vec![Vec::new(); KEYSPACES.len() * KEYS as usize];
    for i in 0..UNITS {
        for op in unit(i) {
            let value = match &op {
                Op::Write(_, v) => v.clone(),
                Op::RangeDelete { .. } => None,
            };
            for id in ids(&op) {
                h[id].push((i, value.clone()));
            }
        }
    }
    h
}

/// Every key id's value after the first `p` units.
fn state_after(history: &History, p: u64) -> Vec<Option<Vec<u8>>> {
    history
        .iter()
        .map(|writes| {
            writes
                .iter()
                .rev()
                .find(|(u, _)| *u < p)
                .and_then(|(_, v)| v.clone())
        })
        .collect()
}

/// Reads every key id of `db` (point reads), checking that scans of each keyspace
/// agree with them.
fn read_all(db: &Db) -> Result<Vec<Option<Vec<u8>>>, String> {
    let mut observed = Vec::with_capacity(KEYSPACES.len() * KEYS as usize);
    for name in KEYSPACES {
        if name != "default" && !db.list_keyspaces().iter().any(|n| n == name) {
            // The image predates the keyspace: all its keys are absent.
            observed.extend((0..KEYS).map(|_| None));
            continue;
        }
        let ks = db
            .keyspace(name)
            .map_err(|e| format!("keyspace {name}: {e}"))?;
        let mut expected_scan = Vec::new();
        for k in 0..KEYS {
            let v = ks
                .get(key(k))
                .map_err(|e| format!("get: {e}"))?
                .map(|b| b.to_vec());
            if let Some(v) = &v {
                expected_scan.push((key(k), v.clone()));
            }
            observed.push(v);
        }
        let scan = |rev: bool| -> Result<Vec<Pair>, String> {
            let it = ks.iter();
            let items: Vec<_> = if rev {
                it.rev().collect()
            } else {
                it.collect()
            };
            items
                .into_iter()
                .map(|r| {
                    r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .map_err(|e| format!("scan: {e}"))
                })
                .collect()
        };
        if scan(false)? != expected_scan {
            return Err(format!("{name}: forward scan disagrees with point reads"));
        }
        let mut reversed = scan(true)?;
        reversed.reverse();
        if reversed != expected_scan {
            return Err(format!("{name}: reverse scan disagrees with point reads"));
        }
    }
    Ok(observed)
}

/// Which hits of a site get an image: all of the first 64, then every 4th — every hit
/// of the rarer sites (table, manifest and `CURRENT` operations), a deterministic
/// quarter of the WAL and table appends. `SHALE_KILL_POINTS_EVERY_HIT=1`: every hit.
fn sampled(hit: u64, every_hit: bool) -> bool {
    every_hit || hit <= 64 || hit.is_multiple_of(4)
}

/// A crash image to check: where it was taken and the progress at that instant.
struct Image {
    what: String,
    site: Site,
    image: MemFs,
    durable: u64,
    issued: u64,
}

/// A key and its value.
type Pair = (Vec<u8>, Vec<u8>);

/// Opens `img` and checks it against the workload (see the module docs).
fn verify(img: &Image, history: &History) -> Result<(), String> {
    let fs: Arc<dyn FileSystem> = Arc::new(img.image.clone());
    let db = Db::open(
        DIR,
        Options {
            paranoid_checks: true,
            ..options(fs)
        },
    )
    .map_err(|e| format!("does not open: {e}"))?;
    let observed = read_all(&db)?;
    check_prefix(&observed, img.durable, img.issued, history)
}

/// The observed state must be the state after `p` units for one `p` in
/// `durable..=issued`. Each key allows a union of intervals of `p`; they must meet.
fn check_prefix(
    observed: &[Option<Vec<u8>>],
    durable: u64,
    issued: u64,
    history: &History,
) -> Result<(), String> {
    let n = issued as usize;
    let mut diff = vec![0i64; n + 2];
    for (k, writes) in history.iter().enumerate() {
        let writes: Vec<_> = writes.iter().filter(|(u, _)| *u < issued).collect();
        let o = &observed[k];
        // State after p units: None for p <= first unit, then each write's value.
        let mut intervals = Vec::new();
        let first = writes.first().map_or(issued, |w| w.0);
        if o.is_none() {
            intervals.push((0, first));
        }
        for (m, (u, v)) in writes.iter().enumerate() {
            let end = writes.get(m + 1).map_or(issued, |next| next.0);
            if v == o {
                intervals.push((u + 1, end));
            }
        }
        if !intervals
            .iter()
            .any(|&(a, b)| a.max(durable) <= b.min(issued))
        {
            let what = if intervals.is_empty() {
                "a value never written (UNEXPECTED)"
            } else {
                "an older state than a durable write (LOST)"
            };
            return Err(format!(
                "key {k}: holds {:?}, {what}; it matches the state after {intervals:?} units, \
                 durable {durable}, issued {issued}",
                o.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())
            ));
        }
        for (a, b) in intervals {
            diff[a as usize] += 1;
            diff[b as usize + 1] -= 1;
        }
    }
    let mut count = 0;
    for (p, d) in diff.iter().enumerate().take(n + 1) {
        count += d;
        if count == history.len() as i64 && p as u64 >= durable {
            return Ok(());
        }
    }
    Err(format!(
        "not the state after any prefix of the writes in {durable}..={issued}: \
         a batch was torn or a write lost while a later one survived"
    ))
}

#[test]
fn power_loss_at_every_named_kill_point() {
    let fs = KillPointFs::new(MemFs::new());
    let progress = Arc::new(Progress::default());
    let every_hit = std::env::var("SHALE_KILL_POINTS_EVERY_HIT").is_ok_and(|v| v == "1");
    let (tx, rx) = mpsc::sync_channel::<Image>(32);
    {
        let progress = progress.clone();
        let tx = Mutex::new(tx);
        fs.set_observer(move |p| {
            if !sampled(p.hit, every_hit) {
                return;
            }
            let durable = progress.durable.load(Ordering::SeqCst);
            let rotation = p.hit + u64::from(p.moment == Moment::After);
            let policy = [
                CrashPolicy::DropAllUnsynced,
                CrashPolicy::KeepRandomPrefix,
                CrashPolicy::RandomPages,
            ][(rotation % 3) as usize];
            let image = p.crash_image(policy, p.op_seq);
            let issued = progress.issued.load(Ordering::SeqCst);
            let what = format!(
                "{:?} {} #{} ({}, {policy:?})",
                p.moment,
                p.site,
                p.hit,
                p.path.display()
            );
            let img = Image {
                what,
                site: p.site,
                image,
                durable,
                issued,
            };
            tx.lock().unwrap().send(img).unwrap();
        });
    }
    let verifier = std::thread::spawn(move || {
        let history = history();
        let mut checked: BTreeMap<String, u64> = BTreeMap::new();
        let mut failures = Vec::new();
        for img in rx {
            *checked.entry(img.site.to_string()).or_default() += 1;
            if let Err(e) = verify(&img, &history) {
                failures.push(format!(
                    "crash {} (durable {}, issued {}): {e}",
                    img.what, img.durable, img.issued
                ));
            }
        }
        (checked, failures)
    });
    run_workload(&fs, &progress);
    fs.clear_observer(); // drops the sender: the verifier finishes
    let (checked, failures) = verifier.join().unwrap();

    // The checkpoint holds exactly the writes before it.
    let cp = Db::open(CHECKPOINT.0, options(Arc::new(fs.clone()))).unwrap();
    assert!(
        read_all(&cp).unwrap() == state_after(&history(), CHECKPOINT.1),
        "the checkpoint holds the state after unit {}",
        CHECKPOINT.1
    );

    let hits = fs.hits();
    let images: u64 = checked.values().sum();
    let hit_list: Vec<String> = hits.iter().map(|(s, n)| format!("{s}={n}")).collect();
    eprintln!("kill point hits: {}", hit_list.join(" "));
    eprintln!("crash images checked per site ({images} in all): {checked:?}");
    assert!(
        failures.is_empty(),
        "{} of {images} crash images failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let hit_names: BTreeSet<String> = hits.keys().map(Site::to_string).collect();
    let missing: Vec<_> = REQUIRED_SITES
        .iter()
        .filter(|s| !hit_names.contains(**s) || !checked.contains_key(**s))
        .collect();
    assert!(
        missing.is_empty(),
        "sites never hit (or never imaged): {missing:?}"
    );
    for s in REQUIRED_SITES {
        assert!(s.parse::<Site>().is_ok(), "{s} is a valid site name");
    }
    assert!(
        hits[&"current.rename".parse::<Site>().unwrap()] >= 4,
        "the manifest rolls over several times"
    );
}

/// The checker itself: it accepts the state after any prefix between the durable and
/// issued writes, and rejects a lost durable write, a value never written and a state
/// that no prefix explains.
#[test]
fn prefix_checker_rejects_loss_invention_and_reordering() {
    let history = history();
    let state_after = |p: u64| state_after(&history, p);
    for p in [40, 45, 50] {
        check_prefix(&state_after(p), 40, 50, &history).unwrap();
    }
    // Durable through 50, but only 40 units recovered: loss.
    let e = check_prefix(&state_after(40), 50, 60, &history).unwrap_err();
    assert!(e.contains("LOST"), "{e}");
    // A value nobody wrote.
    let mut invented = state_after(45);
    invented[3] = Some(b"never".to_vec());
    let e = check_prefix(&invented, 40, 50, &history).unwrap_err();
    assert!(e.contains("UNEXPECTED"), "{e}");
    // Unit 48's write without unit 42's (two different keys): no single prefix.
    let k42 = ids(&unit(42)[0])[0];
    let k48 = ids(&unit(48)[0])[0];
    assert_ne!(k42, k48);
    let mut torn = state_after(49);
    torn[k42] = state_after(42)[k42].clone();
    let e = check_prefix(&torn, 40, 49, &history).unwrap_err();
    assert!(e.contains("not the state after any prefix"), "{e}");
}
