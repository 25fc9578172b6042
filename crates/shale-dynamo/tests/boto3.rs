#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Drives the front end with the real AWS SDK for Python (boto3): tests/py/dynamo_boto3.py
//! against `serve` on a free port, with SigV4 verification on.

mod common;

use std::process::Command;

use common::TestServer;
use shale_dynamo::{Credential, DynamoConfig};
use shale_server::Limits;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_client_suite() {
    let check = Command::new("python3")
        .args(["-c", "import boto3"])
        .output();
    match check {
        Ok(o) if o.status.success() => {}
        _ => {
            panic!("python3 with boto3 is required for this test: run scripts/install-test-deps.sh")
        }
    }
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(shale_dynamo::serve(listener, s.ctx.clone(), config));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/dynamo_boto3.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("SHALE_DYNAMO_ENDPOINT", format!("http://{addr}"))
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "boto3 suite failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("boto3 ok"), "{stdout}");
    s.ctx.shutdown.trigger();
    server.await.unwrap().unwrap();
}
