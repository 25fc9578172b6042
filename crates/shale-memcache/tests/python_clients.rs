#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, clippy::panic)]
//! The real pymemcache client against the front end (tests/py/memcache_clients.py).

mod common;

use std::process::Command;

use common::Server;

const INSTALL_HINT: &str =
    "python3 with pymemcache is needed by this test: run `bash scripts/install-test-deps.sh`";

#[test]
fn pymemcache_client() {
    let ok = Command::new("python3")
        .args(["-c", "import pymemcache"])
        .status()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL_HINT}"));
    assert!(ok.success(), "{INSTALL_HINT}");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/memcache_clients.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(server.addr.ip().to_string())
        .arg(server.addr.port().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "pymemcache script failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
}
