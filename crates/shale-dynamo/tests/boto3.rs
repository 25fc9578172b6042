#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Drives the front end with the real AWS SDK for Python (boto3):
//! tests/py/dynamo_boto3.py against `serve` on a free port, in two configurations:
//! the default (no signature verification, fake credentials) with the database's
//! manual clock, which the script asks this harness to advance for its TTL phase;
//! and one with a configured credential, where SigV4 verification is on.
//! crates/shale-cli/tests/serve.rs runs the `items`, `paging` (10,000 items) and
//! `batch` phases against the `shale serve` binary; `paging` runs only there (it
//! takes the longest, and it exercises the same `serve` as here). The Rust tests in
//! query.rs page through 10,000 items in process.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{START_MS, TestServer};
use shale_dynamo::{Credential, DynamoConfig};
use shale_server::Limits;
use shaledb::ManualClock;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/dynamo_boto3.py");

fn require_boto3() {
    let check = Command::new("python3")
        .args(["-c", "import boto3"])
        .output();
    match check {
        Ok(o) if o.status.success() => {}
        _ => {
            panic!("python3 with boto3 is required for this test: run scripts/install-test-deps.sh")
        }
    }
}

/// Runs the script's `phases` against `endpoint` with `env`. A line `ADVANCE <s>`
/// on its stdout advances `clock` by s seconds and answers `advanced` on its stdin.
/// Returns the script's stdout; panics with its output if it fails.
fn run_script(endpoint: &str, phases: &str, env: &[(&str, String)], clock: &ManualClock) -> String {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .env("SHALE_DYNAMO_ENDPOINT", endpoint)
        .env("SHALE_BOTO3_PHASES", phases)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(secs) = line.strip_prefix("ADVANCE ") {
            clock.advance(Duration::from_secs(secs.trim().parse().unwrap()));
            stdin.write_all(b"advanced\n").unwrap();
            stdin.flush().unwrap();
        }
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait().unwrap();
    let errs = errs.join().unwrap();
    assert!(
        status.success(),
        "boto3 phases {phases} failed\nstdout:\n{out}\nstderr:\n{errs}"
    );
    for phase in phases.split(',') {
        assert!(out.contains(&format!("phase {phase} ok in ")), "{out}");
    }
    assert!(out.ends_with("boto3 ok\n"), "{out}");
    // The per-phase timings, for `cargo test -- --nocapture`.
    eprint!("{out}");
    out
}

/// Serves `s` on a free port while `phases` run, then shuts it down.
async fn run_against(
    s: &TestServer,
    config: DynamoConfig,
    phases: &str,
    env: Vec<(&'static str, String)>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(shale_dynamo::serve(listener, s.ctx.clone(), config));
    let clock: Arc<ManualClock> = s.clock.clone();
    let phases = phases.to_string();
    tokio::task::spawn_blocking(move || {
        run_script(&format!("http://{addr}"), &phases, &env, &clock);
    })
    .await
    .unwrap();
    s.ctx.shutdown.trigger();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_client_suite() {
    require_boto3();

    // Default configuration: signatures not checked, any (fake) credentials work.
    let s = TestServer::new();
    run_against(
        &s,
        DynamoConfig::default(),
        "items,batch,ttl",
        vec![("SHALE_DYNAMO_NOW", (START_MS / 1000).to_string())],
    )
    .await;
    // The clock moved exactly as the TTL phase asked: 61 s, then 3600 s.
    assert_eq!(s.db().now_ms(), START_MS + (61 + 3600) * 1000);

    // Verification on: the same SDK signs with the configured key.
    let config = DynamoConfig {
        credentials: vec![Credential {
            access_key_id: "AKIDSHALETEST".into(),
            secret_access_key: "shale-test-secret".into(),
        }],
        ..DynamoConfig::default()
    };
    let s = TestServer::with(
        tempfile::tempdir().unwrap(),
        Limits::default(),
        config.clone(),
    );
    run_against(
        &s,
        config,
        "sigv4",
        vec![
            ("SHALE_BOTO3_KEY", "AKIDSHALETEST".into()),
            ("SHALE_BOTO3_SECRET", "shale-test-secret".into()),
        ],
    )
    .await;
}
