use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;

const DIR: &str = "/d";

fn setup() -> (MemFs, FaultFs) {
    let mem = MemFs::new();
    let fs = FaultFs::with_mem(&mem);
    fs.create_dir_all(Path::new(DIR)).unwrap();
    (mem, fs)
}

fn p(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// Creates `name` holding `data`, synced and with a durable directory entry.
fn durable_file(fs: &dyn FileSystem, name: &str, data: &[u8]) {
    let mut f = fs.create(&p(name)).unwrap();
    f.append(data).unwrap();
    f.sync_data().unwrap();
    fs.sync_dir(Path::new(DIR)).unwrap();
}

/// Asserts `r` is the injected `Error::Io` for `verb` on `path` with errno `errno`.
#[track_caller]
fn assert_injected<T>(r: Result<T>, verb: &str, path: &Path, errno: i32) {
    match r {
        Err(Error::Io {
            op,
            path: p,
            source,
        }) => {
            assert_eq!(op, verb);
            assert_eq!(p, path);
            assert_eq!(source.raw_os_error(), Some(errno));
        }
        Err(e) => panic!("expected injected I/O error, got {e}"),
        Ok(_) => panic!("expected injected I/O error, got Ok"),
    }
}

#[test]
fn without_rules_everything_is_forwarded_and_recorded() {
    let (mem, fs) = setup();
    durable_file(&fs, "a.log", b"hello");
    assert_eq!(fs.read_all(&p("a.log")).unwrap(), b"hello");
    assert_eq!(mem.read_all(&p("a.log")).unwrap(), b"hello");
    assert_eq!(fs.injected(), 0);
    assert!(fs.faults().is_empty());
    let ops: Vec<Op> = fs.history().iter().map(|r| r.op).collect();
    assert_eq!(
        ops,
        vec![
            Op::CreateDir,
            Op::Create,
            Op::Append,
            Op::Sync,
            Op::SyncDir,
            Op::Open,
            Op::Read
        ]
    );
    fs.clear_history();
    assert!(fs.history().is_empty());
    fs.set_history(false);
    fs.list(Path::new(DIR)).unwrap();
    assert!(fs.history().is_empty());
    fs.fail_next(Op::List, ErrorKind::Eio);
    assert!(fs.list(Path::new(DIR)).is_err());
    assert_eq!(
        fs.history().len(),
        1,
        "faults are recorded even without history"
    );
}

#[test]
fn error_effect_on_every_operation() {
    let dir = Path::new(DIR);
    let cases: Vec<(Op, &str)> = vec![
        (Op::CreateDir, "create directory"),
        (Op::Create, "create"),
        (Op::Open, "open"),
        (Op::Read, "read"),
        (Op::Append, "write"),
        (Op::Sync, "fdatasync"),
        (Op::SyncDir, "fsync directory"),
        (Op::Rename, "rename"),
        (Op::Remove, "remove"),
        (Op::HardLink, "hard link"),
        (Op::List, "list"),
        (Op::Stat, "stat"),
        (Op::Lock, "lock"),
    ];
    for (op, verb) in cases {
        for kind in [ErrorKind::Eio, ErrorKind::Enospc] {
            let (mem, fs) = setup();
            durable_file(&fs, "f", b"data");
            let mut w = fs.open_append(&p("f")).unwrap();
            let r = fs.open_read(&p("f")).unwrap();
            fs.add_rule(Rule::error(op, kind));
            let errno = kind.raw_os_error();
            let mut buf = [0u8; 2];
            match op {
                Op::CreateDir => {
                    assert_injected(fs.create_dir_all(&p("sub")), verb, &p("sub"), errno);
                    assert!(!mem.exists(&p("sub")));
                }
                Op::Create => {
                    assert_injected(fs.create(&p("g")), verb, &p("g"), errno);
                    assert!(!mem.exists(&p("g")));
                }
                Op::Open => {
                    assert_injected(fs.open_read(&p("f")), verb, &p("f"), errno);
                    assert_injected(fs.open_append(&p("f")), verb, &p("f"), errno);
                    assert_injected(fs.read_all(&p("f")), verb, &p("f"), errno);
                }
                Op::Read => {
                    assert_injected(r.read_exact_at(0, &mut buf), verb, &p("f"), errno);
                    assert_injected(fs.read_all(&p("f")), verb, &p("f"), errno);
                }
                Op::Append => {
                    assert_injected(w.append(b"more"), verb, &p("f"), errno);
                    assert_eq!(mem.read_all(&p("f")).unwrap(), b"data", "nothing written");
                    assert_eq!(w.len(), 4);
                }
                Op::Sync => {
                    mem.open_append(&p("f")).unwrap().append(b"+").unwrap();
                    assert_injected(w.sync_data(), verb, &p("f"), errno);
                    assert_eq!(mem.synced_len(&p("f")).unwrap(), 4, "not synced");
                }
                Op::SyncDir => {
                    assert_injected(fs.sync_dir(dir), verb, dir, errno);
                }
                Op::Rename => {
                    assert_injected(fs.rename(&p("f"), &p("g")), verb, &p("f"), errno);
                    assert!(mem.exists(&p("f")) && !mem.exists(&p("g")));
                }
                Op::Remove => {
                    assert_injected(fs.remove_file(&p("f")), verb, &p("f"), errno);
                    assert!(mem.exists(&p("f")));
                }
                Op::HardLink => {
                    assert_injected(fs.hard_link(&p("f"), &p("g")), verb, &p("f"), errno);
                    assert!(!mem.exists(&p("g")));
                }
                Op::List => assert_injected(fs.list(dir), verb, dir, errno),
                Op::Stat => assert_injected(fs.file_size(&p("f")), verb, &p("f"), errno),
                Op::Lock => {
                    assert_injected(fs.lock(&p("LOCK")), verb, &p("LOCK"), errno);
                    let _held = mem.lock(&p("LOCK")).unwrap(); // the fault took no lock
                }
                Op::Any => unreachable!(),
            }
            assert!(fs.injected() >= 1, "{op:?}");
            assert!(
                fs.faults()
                    .iter()
                    .all(|f| f.op == op && f.fault == Some(Fault::Error(kind)))
            );
            // Operations of other kinds are untouched.
            if !matches!(op, Op::Stat | Op::Sync) {
                assert_eq!(fs.file_size(&p("f")).unwrap(), 4);
            }
            let msg = kind.error(op, &p("f")).to_string();
            let os = std::io::Error::from_raw_os_error(errno).to_string();
            assert!(msg.contains(&os), "{msg}");
        }
    }
}

#[test]
fn path_filter_matches_substring_and_both_rename_paths() {
    let (_mem, fs) = setup();
    fs.add_rule(Rule::error(Op::Create, ErrorKind::Eio).path(".log"));
    assert!(fs.create(&p("000001.log")).is_err());
    assert!(fs.create(&p("MANIFEST-000001")).is_ok());
    assert!(fs.create(&p("000001.sst")).is_ok());

    fs.clear_rules();
    fs.add_rule(Rule::error(Op::Rename, ErrorKind::Eio).path("CURRENT"));
    assert!(fs.rename(&p("000001.sst"), &p("x.sst")).is_ok());
    assert!(fs.rename(&p("MANIFEST-000001"), &p("CURRENT")).is_err());
    let f = fs.faults().pop().unwrap();
    assert_eq!(f.path, p("MANIFEST-000001"));
    assert_eq!(f.other, Some(p("CURRENT")));
}

#[test]
fn nth_fires_once_on_the_nth_matching_op() {
    let (_mem, fs) = setup();
    let mut w = fs.create(&p("a.log")).unwrap();
    let mut other = fs.create(&p("b.sst")).unwrap();
    fs.add_rule(
        Rule::error(Op::Append, ErrorKind::Eio)
            .path(".log")
            .trigger(Trigger::Nth(3)),
    );
    let mut results = Vec::new();
    for _ in 0..6 {
        other.append(b"x").unwrap(); // does not match: not counted
        results.push(w.append(b"x").is_ok());
    }
    assert_eq!(results, [true, true, false, true, true, true]);
    assert_eq!(fs.injected(), 1);

    fs.add_rule(Rule::error(Op::Append, ErrorKind::Eio).trigger(Trigger::Nth(0)));
    for _ in 0..5 {
        w.append(b"x").unwrap();
    }
}

#[test]
fn once_after_and_always_after() {
    let (_mem, fs) = setup();
    let mut w = fs.create(&p("a")).unwrap();
    let once = fs.add_rule(Rule::error(Op::Append, ErrorKind::Eio).trigger(Trigger::OnceAfter(2)));
    let r: Vec<bool> = (0..5).map(|_| w.append(b"x").is_ok()).collect();
    assert_eq!(r, [true, true, false, true, true]);
    assert!(fs.remove_rule(once));
    assert!(!fs.remove_rule(once));

    fs.add_rule(Rule::error(Op::Append, ErrorKind::Enospc).trigger(Trigger::AlwaysAfter(2)));
    let r: Vec<bool> = (0..5).map(|_| w.append(b"x").is_ok()).collect();
    assert_eq!(r, [true, true, false, false, false]);
    assert_eq!(fs.injected(), 4);

    fs.clear_rules();
    fs.add_rule(Rule::error(Op::Append, ErrorKind::Enospc));
    assert!((0..3).all(|_| w.append(b"x").is_err()), "Always");
}

#[test]
fn probability_is_seeded_and_roughly_right() {
    let pattern = |seed: u64, p: f64| -> Vec<bool> {
        let (_mem, fs) = setup();
        fs.set_seed(seed);
        let mut w = fs.create(&self::p("a")).unwrap();
        fs.add_rule(Rule::error(Op::Append, ErrorKind::Eio).trigger(Trigger::Probability(p)));
        (0..1000).map(|_| w.append(b"x").is_err()).collect()
    };
    let a = pattern(42, 0.25);
    assert_eq!(a, pattern(42, 0.25), "same seed, same schedule");
    assert_ne!(a, pattern(43, 0.25));
    let fired = a.iter().filter(|&&f| f).count();
    assert!((150..350).contains(&fired), "{fired}");
    assert!(pattern(1, 0.0).iter().all(|&f| !f));
    assert!(pattern(1, 1.0).iter().all(|&f| f));
}

#[test]
fn fail_next_enable_disable_and_clear() {
    let (_mem, fs) = setup();
    let mut w = fs.create(&p("a")).unwrap();
    fs.fail_next(Op::Sync, ErrorKind::Eio);
    fs.set_enabled(false);
    assert!(!fs.is_enabled());
    w.sync_data().unwrap(); // disabled: not injected, not counted
    fs.set_enabled(true);
    assert_injected(w.sync_data(), "fdatasync", &p("a"), EIO);
    w.sync_data().unwrap();

    fs.add_rule(Rule::error(Op::Any, ErrorKind::Eio));
    assert!(w.append(b"x").is_err());
    assert!(fs.list(Path::new(DIR)).is_err());
    fs.clear_rules();
    w.append(b"x").unwrap();
    fs.list(Path::new(DIR)).unwrap();
    assert_eq!(fs.injected(), 3);
}

#[test]
fn rules_are_checked_in_order_and_all_matching_rules_count() {
    let (_mem, fs) = setup();
    let mut w = fs.create(&p("a")).unwrap();
    fs.add_rule(Rule::error(Op::Append, ErrorKind::Enospc).trigger(Trigger::Nth(2)));
    fs.add_rule(Rule::error(Op::Append, ErrorKind::Eio).trigger(Trigger::AlwaysAfter(1)));
    assert!(w.append(b"x").is_ok());
    assert_injected(w.append(b"x"), "write", &p("a"), ENOSPC); // both fire: first wins
    assert_injected(w.append(b"x"), "write", &p("a"), EIO);
}

#[test]
fn short_write_appends_half_then_fails() {
    for kind in [ErrorKind::Enospc, ErrorKind::Eio] {
        let (mem, fs) = setup();
        let mut w = fs.create(&p("a.log")).unwrap();
        w.append(b"head").unwrap();
        // ShortWrite applies to appends only, even under Op::Any.
        fs.add_rule(Rule::new(Op::Any, Effect::ShortWrite(kind)).trigger(Trigger::Nth(1)));
        w.sync_data().unwrap();
        assert_injected(
            w.append(b"0123456789"),
            "write",
            &p("a.log"),
            kind.raw_os_error(),
        );
        assert_eq!(mem.read_all(&p("a.log")).unwrap(), b"head01234");
        assert_eq!(w.len(), 9);
        assert_eq!(
            fs.faults()[0].fault,
            Some(Fault::ShortWrite { kind, written: 5 })
        );
        w.append(b"!").unwrap();
    }
}

#[test]
fn bit_flip_on_read_flips_exactly_one_seeded_bit() {
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let run = |seed: u64| {
        let (_mem, fs) = setup();
        durable_file(&fs, "a", &data);
        fs.set_seed(seed);
        fs.add_rule(Rule::new(Op::Any, Effect::BitFlipOnRead).trigger(Trigger::Nth(1)));
        let r = fs.open_read(&p("a")).unwrap();
        let mut buf = vec![0u8; 500];
        r.read_exact_at(100, &mut buf).unwrap();
        let diffs: Vec<usize> = (0..500).filter(|&i| buf[i] != data[100 + i]).collect();
        assert_eq!(diffs.len(), 1);
        let i = diffs[0];
        assert_eq!((buf[i] ^ data[100 + i]).count_ones(), 1);
        let Some(Fault::BitFlip { offset, bit }) = fs.faults()[0].fault.clone() else {
            panic!("no bit flip recorded");
        };
        assert_eq!(offset, 100 + i as u64);
        assert_eq!(buf[i] ^ data[100 + i], 1 << bit);
        // Only that read: the next one is clean, and the file itself is intact.
        r.read_exact_at(100, &mut buf).unwrap();
        assert_eq!(buf, data[100..600]);
        offset * 8 + u64::from(bit)
    };
    assert_eq!(run(7), run(7));
    let distinct: std::collections::BTreeSet<u64> = (0..20).map(run).collect();
    assert!(distinct.len() > 10, "{distinct:?}");
}

#[test]
fn fsync_gate_drops_unsynced_data_and_the_next_sync_succeeds() {
    let (mem, fs) = setup();
    let mut w = fs.create(&p("a.log")).unwrap();
    w.append(b"durable").unwrap();
    w.sync_data().unwrap();
    fs.sync_dir(Path::new(DIR)).unwrap();
    // Always: only the fsyncgate reporting rule keeps the next sync from failing too.
    fs.add_rule(Rule::new(Op::Any, Effect::FsyncGate).path(".log"));
    w.append(b"+lost").unwrap();
    assert_injected(w.sync_data(), "fdatasync", &p("a.log"), EIO);
    assert_eq!(fs.faults()[0].fault, Some(Fault::FsyncGate { dropped: 5 }));
    // The data is gone at once (live file cut back), silently.
    assert_eq!(fs.read_all(&p("a.log")).unwrap(), b"durable");
    // A retried fsync "succeeds": the trap the engine must not fall into.
    w.sync_data().unwrap();
    // The gate is re-armed after that.
    w.append(b"+more").unwrap();
    assert!(w.sync_data().is_err());
    mem.crash();
    assert_eq!(mem.read_all(&p("a.log")).unwrap(), b"durable");
    assert_eq!(fs.injected(), 2);
}

#[test]
fn fsync_gate_without_mem_only_fails() {
    let mem = MemFs::new();
    let fs = FaultFs::new(Arc::new(mem.clone()));
    fs.create_dir_all(Path::new(DIR)).unwrap();
    let mut w = fs.create(&p("a")).unwrap();
    w.append(b"x").unwrap();
    fs.fail_next(Op::Append, ErrorKind::Eio); // does not affect syncs
    fs.add_rule(Rule::new(Op::Sync, Effect::FsyncGate).trigger(Trigger::Nth(1)));
    assert!(w.sync_data().is_err());
    assert_eq!(fs.faults()[0].fault, Some(Fault::FsyncGate { dropped: 0 }));
    assert_eq!(mem.read_all(&p("a")).unwrap(), b"x");
    assert!(Arc::ptr_eq(fs.inner(), fs.clone().inner()));
}

#[test]
fn clones_share_rules_and_counters() {
    let (_mem, fs) = setup();
    let other = fs.clone();
    other.fail_next(Op::Remove, ErrorKind::Eio);
    durable_file(&fs, "a", b"x");
    assert!(fs.remove_file(&p("a")).is_err());
    assert_eq!(other.injected(), 1);
    assert_eq!(other.faults(), fs.faults());
}
