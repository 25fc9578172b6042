//! Real-process crash test: a child `shale batch` process writes, is killed with
//! SIGKILL at a random point, and every write it acknowledged must be there after
//! reopening. Synced cycles prove the fsync path; unsynced cycles prove that an
//! acknowledged write survives a process crash without fsync.
//!
//! `SHALE_CRASH_CYCLES` sets the number of cycles (default 24; the documented long run
//! uses 1000). The seed is fixed (`SHALE_CRASH_SEED` overrides it).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests inspect real directories directly

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{Db, Options};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn sigkill_never_loses_an_acknowledged_write() {
    let cycles = env_u64("SHALE_CRASH_CYCLES", 24);
    let mut rng = StdRng::seed_from_u64(env_u64("SHALE_CRASH_SEED", 0x005A_1EDB));
    let dir = tempfile::tempdir().unwrap();
    // key -> (acknowledged value, values sent after it that may or may not have landed)
    let mut expected: BTreeMap<String, (Option<String>, Vec<String>)> = BTreeMap::new();
    let mut total_acked = 0u64;

    for cycle in 0..cycles {
        let sync = cycle % 2 == 0;
        // Small memtables and tables: kills land during flushes and compactions too.
        let mut args = vec![
            "--db",
            dir.path().to_str().unwrap(),
            "--write-buffer-size",
            "16384",
            "--target-file-size",
            "8192",
            "batch",
        ];
        if sync {
            args.push("--sync");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_shale"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();

        // The commands of this cycle: overwrite a small key space, so later cycles
        // check that old values were replaced, plus deletes.
        let n_cmds = 400;
        let cmds: Vec<(String, Option<String>)> = (0..n_cmds)
            .map(|i| {
                let key = format!("key{:03}", rng.random_range(0..150));
                if rng.random_bool(0.1) {
                    (key, None)
                } else {
                    (
                        key,
                        Some(format!(
                            "c{cycle}-i{i}-{}",
                            "x".repeat(rng.random_range(0..200))
                        )),
                    )
                }
            })
            .collect();
        let kill_after = rng.random_range(0..n_cmds);

        // Feed commands from a thread (the pipe may block); read acks here.
        let lines: Vec<String> = cmds
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("put {k} {v}\n"),
                None => format!("del {k}\n"),
            })
            .collect();
        let (sent_tx, sent_rx) = mpsc::channel::<usize>();
        let feeder = std::thread::spawn(move || {
            for (i, l) in lines.iter().enumerate() {
                let _ = sent_tx.send(i);
                if stdin
                    .write_all(l.as_bytes())
                    .and_then(|_| stdin.flush())
                    .is_err()
                {
                    return; // child killed
                }
            }
        });
        let mut reader = BufReader::new(stdout);
        let mut acked = 0usize;
        let mut line = String::new();
        while acked < kill_after {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            assert_eq!(line, "OK\n", "cycle {cycle}: unexpected answer");
            acked += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        feeder.join().unwrap();
        let sent = sent_rx.try_iter().last().map_or(0, |i| i + 1);

        // Acknowledged writes are facts; sent-but-unacknowledged ones are possibilities.
        for (i, (k, v)) in cmds.iter().enumerate().take(sent) {
            let e = expected.entry(k.clone()).or_insert((None, vec![]));
            if i < acked {
                *e = (v.clone(), vec![]);
            } else {
                e.1.push(v.clone().unwrap_or_default());
            }
        }
        total_acked += acked as u64;

        let db = Db::open(dir.path(), Options::default()).unwrap();
        for (k, (acked_value, maybe)) in expected.iter_mut() {
            let got = db
                .get(k)
                .unwrap()
                .map(|b| String::from_utf8(b.to_vec()).unwrap());
            let ok = got == *acked_value
                || maybe.iter().any(|m| {
                    if m.is_empty() {
                        got.is_none()
                    } else {
                        got.as_deref() == Some(m.as_str())
                    }
                });
            assert!(
                ok,
                "cycle {cycle} (sync={sync}): key {k} = {got:?}, acknowledged {acked_value:?}, in flight {maybe:?}"
            );
            // Whatever survived is now the fact for the next cycle.
            *acked_value = got;
            maybe.clear();
        }
        // Nothing appears that was never written.
        for item in db.iter() {
            let (k, _) = item.unwrap();
            assert!(
                expected.contains_key(std::str::from_utf8(&k).unwrap()),
                "unexpected key {k:?}"
            );
        }
    }
    assert!(
        total_acked > 0,
        "the test must have acknowledged writes to check"
    );
    eprintln!("crash test: cycles={cycles} acknowledged_writes={total_acked} lost=0 unexpected=0");
}
