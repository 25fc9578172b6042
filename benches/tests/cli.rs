//! Runs the `shale-bench` binary with a tiny `--num` for every benchmark on the shale
//! engine and checks that the output has db_bench's shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const ALL: &str = "fillseq,fillrandom,overwrite,fillsync,readrandom,readmissing,readseq,\
                   readreverse,seekrandom,deleterandom,readwhilewriting,updaterandom,stats";

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shale-bench"))
        .args(args)
        .output()
        .expect("run shale-bench")
}

/// `name : 1.234 micros/op 5678 ops/sec 1.2 MB/s[ (x of y found)]`
fn check_result_line(line: &str) -> String {
    let (name, rest) = line.split_once(" : ").expect("'name : ...'");
    let w: Vec<&str> = rest.split_whitespace().collect();
    assert!(w.len() >= 6, "{line}");
    w[0].parse::<f64>().expect("micros/op number");
    assert_eq!(w[1], "micros/op", "{line}");
    w[2].parse::<u64>().expect("ops/sec number");
    assert_eq!(w[3], "ops/sec", "{line}");
    w[4].parse::<f64>().expect("MB/s number");
    assert_eq!(w[5], "MB/s", "{line}");
    if w.len() > 6 {
        assert!(
            w[6].starts_with('(') && w[7] == "of" && w[9] == "found)",
            "{line}"
        );
    }
    name.trim().to_string()
}

#[test]
fn every_benchmark_runs_and_prints_db_bench_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let csv = dir.path().join("r.csv");
    let out = bench(&[
        &format!("--benchmarks={ALL}"),
        "--num=300",
        "--threads=2",
        "--histogram=1",
        "--seek_nexts=2",
        &format!("--db={}", db.display()),
        &format!("--report_csv={}", csv.display()),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = stdout
        .lines()
        .filter(|l| l.contains(" micros/op "))
        .map(check_result_line)
        .collect();
    let want: Vec<&str> = ALL.split(',').filter(|b| *b != "stats").collect();
    assert_eq!(names, want, "{stdout}");
    assert!(stdout.contains("Percentiles: P50: "), "{stdout}");
    assert!(stdout.contains("(0 of 600 found)"), "readmissing: {stdout}");
    assert!(
        stdout.contains("space amp") && stdout.contains("peak RSS"),
        "{stdout}"
    );
    assert!(stdout.contains("stats        :") && stdout.contains("write amplification"));
    // One CSV row per result line, plus the header.
    #[allow(clippy::disallowed_methods)]
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count(), want.len() + 1, "{rows}");

    // The database is reusable.
    let out = bench(&[
        "--benchmarks=fillseq,readrandom",
        "--num=300",
        "--use_existing_db=1",
        &format!("--db={}", db.display()),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("fillseq      : skipped"), "{stdout}");
    assert!(stdout.contains("readrandom   :"), "{stdout}");
}

#[test]
fn clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = format!("--db={}", dir.path().display());

    let out = bench(&["--benchmarks=fillseq,nosuch", &empty]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown benchmark 'nosuch'") && err.contains("readwhilewriting"),
        "{err}"
    );

    let out = bench(&["--nosuch_flag=1", &empty]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("valid flags:"));

    let out = bench(&["--use_existing_db=1", "--benchmarks=readrandom", &empty]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));

    let out = bench(&["--disable_wal=1", &empty]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported by engine shale"));
}
