//! A short kill -9 run through the built binary: every cycle must verify clean.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

#[test]
fn short_crash_run_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shale-stress"))
        .args(["crash", "--db"])
        .arg(dir.path().join("db"))
        .arg("--expected")
        .arg(dir.path().join("expected"))
        .args([
            "--cycles",
            "8",
            "--kill-after-ms",
            "50..400",
            "--threads",
            "3",
            "--keys",
            "3000",
            "--seed",
            "42",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("cycles=8 verified_keys=24000 "),
        "{summary}"
    );
    assert!(
        summary.ends_with("lost=0 unexpected=0 corrupt=0"),
        "{summary}\nstderr: {stderr}"
    );
}

#[test]
fn standalone_run_verifies_across_keyspaces_and_rejects_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shale-stress"))
            .args(["run", "--db"])
            .arg(dir.path().join("db"))
            .arg("--expected")
            .arg(dir.path().join("expected"))
            .args(["--keys", "2000", "--ops", "300", "--threads", "2"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("mismatches=0"));
    // A second run starts by verifying what the first one left.
    let out = run(&["--seed", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same keys spread over more keyspaces is another layout: a fresh directory.
    let fresh = tempfile::tempdir().unwrap();
    let run_fresh = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shale-stress"))
            .args(["run", "--db"])
            .arg(fresh.path().join("db"))
            .arg("--expected")
            .arg(fresh.path().join("expected"))
            .args(["--ops", "300", "--threads", "2"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run_fresh(&["--keys", "2000", "--keyspaces", "4"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("mismatches=0"));
    let out = run_fresh(&["--keys", "2000", "--keyspaces", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keyspaces must be 1 to 64"));
    let out = run_fresh(&["--keys", "150"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keys must be at least 200"));
}
