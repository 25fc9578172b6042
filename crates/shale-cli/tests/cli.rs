//! The `shale` binary: outputs, exit codes, the batch protocol, cross-process locking.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests inspect real directories directly

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn shale(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shale"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn put_get_delete_scan() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    for (k, v) in [("b", "2"), ("a", "1"), ("c", "three and more"), ("ab", "x")] {
        let o = shale(db, &["put", k, v]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
    assert_eq!(stdout(&shale(db, &["get", "c"])), "three and more\n");
    let missing = shale(db, &["get", "zzz"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stdout(&missing), "");
    assert_eq!(stderr(&missing), "not found\n");

    assert_eq!(
        stdout(&shale(db, &["scan"])),
        "a\t1\nab\tx\nb\t2\nc\tthree and more\n"
    );
    assert_eq!(
        stdout(&shale(db, &["scan", "--reverse", "--limit", "2"])),
        "c\tthree and more\nb\t2\n"
    );
    assert_eq!(
        stdout(&shale(db, &["scan", "--from", "ab", "--to", "c"])),
        "ab\tx\nb\t2\n"
    );
    assert_eq!(
        stdout(&shale(db, &["scan", "--prefix", "a"])),
        "a\t1\nab\tx\n"
    );
    assert!(shale(db, &["delete", "a", "--sync"]).status.success());
    assert_eq!(shale(db, &["get", "a"]).status.code(), Some(1));
}

#[test]
fn hex_mode_round_trips_binary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    assert!(
        shale(db, &["--hex", "put", "00ff10", "deadbeef00"])
            .status
            .success()
    );
    assert_eq!(
        stdout(&shale(db, &["--hex", "get", "00ff10"])),
        "deadbeef00\n"
    );
    assert_eq!(
        stdout(&shale(db, &["--hex", "scan"])),
        "00ff10\tdeadbeef00\n"
    );
    let bad = shale(db, &["--hex", "get", "xyz"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = stderr(&bad);
    assert!(
        err.starts_with("error: ") && err.contains("hex") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn batch_protocol_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shale"))
        .arg("--db")
        .arg(dir.path())
        .args(["batch", "--sync"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |line: &str| {
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        out.read_line(&mut answer).unwrap();
        answer
    };
    // Each answer arrives before the next command is sent: the output is flushed.
    assert_eq!(ask("put k1 hello world"), "OK\n");
    assert_eq!(ask("get k1"), "hello world\n");
    assert_eq!(ask("get k2"), "(nil)\n");
    assert_eq!(ask("del k1"), "OK\n");
    assert_eq!(ask("get k1"), "(nil)\n");
    assert_eq!(ask("put k2 "), "OK\n");
    assert_eq!(ask("get k2"), "\n");
    let a = ask("frobnicate x");
    assert!(
        a.starts_with("ERR ") && a.contains("unknown command"),
        "{a}"
    );
    assert!(ask("put onlykey").starts_with("ERR "));
    assert!(ask("get").starts_with("ERR "));
    assert_eq!(ask("put k3 v3"), "OK\n", "errors do not end the session");

    // While the batch process holds the database, another process cannot open it.
    let locked = shale(dir.path(), &["get", "k3"]);
    assert_eq!(locked.status.code(), Some(2));
    let err = stderr(&locked);
    assert!(err.contains("locked") && err.contains("LOCK"), "{err}");

    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert_eq!(stdout(&shale(dir.path(), &["get", "k3"])), "v3\n");
}

#[test]
fn dump_wal_shows_records() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        shale(dir.path(), &["put", "alpha", "beta"])
            .status
            .success()
    );
    let log = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let o = shale(dir.path(), &["dump-wal", log.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("alpha") && text.contains("beta"), "{text}");

    let garbage = dir.path().join("garbage.log");
    std::fs::write(&garbage, b"this is not a write-ahead log at all").unwrap();
    let o = shale(dir.path(), &["dump-wal", garbage.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn errors_are_one_line_without_backtraces() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let o = shale(&file, &["get", "k"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn demo_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data");
    let first = shale(&db, &["demo"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("run number 1"));
    let second = shale(&db, &["demo"]);
    assert!(
        stdout(&second).contains("run number 2"),
        "{}",
        stdout(&second)
    );
    assert!(stdout(&second).contains("Ada Lovelace"));
}

#[test]
fn compact_stats_dump_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shale"))
        .arg("--db")
        .arg(db)
        .args(["--write-buffer-size", "8192", "batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for i in 0..2000 {
            writeln!(stdin, "put key{i:05} value-{i}-{}", "z".repeat(i % 50)).unwrap();
        }
    }
    assert!(child.wait().unwrap().success());

    let compacted = shale(db, &["compact"]);
    assert!(compacted.status.success(), "{}", stderr(&compacted));
    assert!(
        stdout(&compacted).contains("compacted:"),
        "{}",
        stdout(&compacted)
    );
    let stats = stdout(&shale(db, &["stats"]));
    assert!(
        stats.contains("Level") && stats.contains("write amplification"),
        "{stats}"
    );
    assert_eq!(
        stdout(&shale(db, &["get", "key01234"])),
        format!("value-1234-{}\n", "z".repeat(1234 % 50))
    );

    let ok = shale(db, &["check"]);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    assert!(stdout(&ok).starts_with("ok"));

    let manifest = shale(db, &["dump-manifest"]);
    assert!(manifest.status.success(), "{}", stderr(&manifest));
    assert!(!stdout(&manifest).is_empty());

    // Every table dumps; together they list every key.
    let tables: Vec<_> = std::fs::read_dir(db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    assert!(!tables.is_empty());
    let mut all = String::new();
    for t in &tables {
        let dump = shale(db, &["dump-sst", t.to_str().unwrap()]);
        assert!(dump.status.success(), "{}", stderr(&dump));
        all.push_str(&stdout(&dump));
    }
    assert!(
        all.contains("\"key00000\"") && all.contains("\"key01999\""),
        "entries are listed"
    );
    let sst = &tables[0];

    // Flip one byte in the middle of the table: check names the file and exits 1.
    let mut bytes = std::fs::read(sst).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0x40;
    std::fs::write(sst, &bytes).unwrap();
    let bad = shale(db, &["check"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    let report = stdout(&bad);
    assert!(
        report.contains(sst.file_name().unwrap().to_str().unwrap()) && report.contains("offset"),
        "{report}"
    );
}

#[test]
fn keyspaces_and_range_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path();
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        assert!(
            shale(db, &["--keyspace", "items", "put", k, v])
                .status
                .success()
        );
    }
    assert!(shale(db, &["put", "a", "default"]).status.success());
    assert_eq!(stdout(&shale(db, &["keyspaces"])), "default\nitems\n");
    assert_eq!(
        stdout(&shale(db, &["--keyspace", "items", "scan"])),
        "a\t1\nb\t2\nc\t3\n"
    );
    assert_eq!(stdout(&shale(db, &["scan"])), "a\tdefault\n");
    let missing = shale(db, &["--keyspace", "nope", "get", "a"]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "a read does not create a keyspace"
    );
    assert!(stderr(&missing).contains("nope"), "{}", stderr(&missing));
    assert_eq!(stdout(&shale(db, &["keyspaces"])), "default\nitems\n");

    let o = shale(
        db,
        &[
            "--keyspace",
            "items",
            "delete-range",
            "--from",
            "a",
            "--to",
            "c",
            "--sync",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&shale(db, &["--keyspace", "items", "scan"])),
        "c\t3\n"
    );
    assert!(
        shale(db, &["--keyspace", "items", "compact"])
            .status
            .success()
    );
    assert_eq!(
        stdout(&shale(db, &["--keyspace", "items", "scan"])),
        "c\t3\n"
    );
    assert!(shale(db, &["check"]).status.success());

    assert!(shale(db, &["drop-keyspace", "items"]).status.success());
    assert_eq!(stdout(&shale(db, &["keyspaces"])), "default\n");
    assert_eq!(
        shale(db, &["drop-keyspace", "default"]).status.code(),
        Some(2)
    );
}
