#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The real-client test: `tests/py/riak_http.py` drives the server over HTTP with
//! Python's `requests` (installed by `scripts/install-test-deps.sh`).

mod common;

use std::process::Command;

use common::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_client() {
    let probe = Command::new("python3")
        .args(["-c", "import requests"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "python3 cannot import requests ({}); run scripts/install-test-deps.sh",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("python3 not found ({e}); run scripts/install-test-deps.sh"),
    }
    let h = Harness::new();
    let (addr, task) = common::start_server(h.ctx.clone(), shale_riak::RiakConfig::default()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/riak_http.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(format!("http://{addr}"))
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "riak_http.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    h.ctx.shutdown.trigger();
    task.await.unwrap().unwrap();
}
