//! `shale serve` as a process: endpoints, admin HTTP, signals, config errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(clippy::disallowed_methods)] // tests write config files directly

mod serve_support;

use std::process::Command;
use std::time::Duration;

use serve_support::{Server, http, http_get};

#[test]
fn admin_endpoint_and_sigterm_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--protocols", "", "--admin", "127.0.0.1:0"]);
    let admin = server.addr("admin");
    assert_eq!(http_get(admin, "/health"), (200, "OK\n".to_string()));
    let (status, body) = http_get(admin, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("# TYPE shale_commands_total counter"),
        "{body}"
    );
    assert!(body.contains("shale_engine_writes_total 0"), "{body}");
    assert_eq!(http_get(admin, "/nope").0, 404);
    server.signal("TERM");
    let status = server.wait(Duration::from_secs(20));
    assert!(status.success(), "SIGTERM exit: {status:?}");
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("shale.toml");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shale"))
            .arg("--db")
            .arg(dir.path().join("data"))
            .arg("serve")
            .args(args)
            .output()
            .unwrap()
    };
    std::fs::write(&cfg, "[server]\nappendfsync = \"sometimes\"\n").unwrap();
    let out = run(&["--config", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("appendfsync"), "{err}");

    std::fs::write(&cfg, "[limits]\nmax_clients = 0\n").unwrap();
    let out = run(&["--config", cfg.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_clients"));

    let out = run(&["--protocols", "gopher"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown protocol \"gopher\""));

    let out = run(&["--appendfsync", "sometimes"]);
    assert!(!out.status.success());

    let out = run(&[
        "--config",
        dir.path().join("missing.toml").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config"));

    // An address already in use: reported, nothing served.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["--protocols", "", "--admin", &addr]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot listen for admin on {addr}")),
        "{err}"
    );
}

#[test]
fn a_second_server_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::start(dir.path(), &["--protocols", "", "--admin", "127.0.0.1:0"]);
    let out = Command::new(env!("CARGO_BIN_EXE_shale"))
        .arg("--db")
        .arg(dir.path())
        .args(["serve", "--protocols", "", "--admin", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("lock")
    );
}

#[test]
fn riak_objects_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--protocols",
        "riak",
        "--riak",
        "127.0.0.1:0",
        "--appendfsync",
        "no",
    ];
    let server = Server::start(dir.path(), &args);
    let riak = server.addr("riak");
    assert_eq!(http_get(riak, "/ping"), (200, "OK".to_string()));
    for i in 0..50 {
        let path = format!("/buckets/users/keys/u{i}");
        let (status, _) = http(
            riak,
            "PUT",
            &path,
            &["Content-Type: text/plain"],
            &format!("user {i}"),
        );
        assert_eq!(status, 204, "PUT {path}");
    }
    server.kill9();
    let server = Server::start(dir.path(), &args);
    let riak = server.addr("riak");
    for i in 0..50 {
        assert_eq!(
            http_get(riak, &format!("/buckets/users/keys/u{i}")),
            (200, format!("user {i}"))
        );
    }
    assert_eq!(http_get(riak, "/buckets/users/keys/nobody").0, 404);
}

#[test]
fn dynamo_tables_and_items_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--protocols", "dynamo", "--dynamo", "127.0.0.1:0"];
    let call = |addr, op: &str, body: &str| {
        let target = format!("X-Amz-Target: DynamoDB_20120810.{op}");
        http(
            addr,
            "POST",
            "/",
            &[&target, "Content-Type: application/x-amz-json-1.0"],
            body,
        )
    };
    let server = Server::start(dir.path(), &args);
    let dynamo = server.addr("dynamo");
    let (status, body) = call(
        dynamo,
        "CreateTable",
        r#"{"TableName":"users","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],
            "AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],
            "BillingMode":"PAY_PER_REQUEST"}"#,
    );
    assert_eq!(status, 200, "{body}");
    for i in 0..20 {
        let item =
            format!(r#"{{"TableName":"users","Item":{{"id":{{"S":"u{i}"}},"n":{{"N":"{i}"}}}}}}"#);
        assert_eq!(call(dynamo, "PutItem", &item), (200, "{}".to_string()));
    }
    // TTL on attribute exp: an item expiring in a day, one that expired in 1970.
    let (status, body) = call(
        dynamo,
        "UpdateTimeToLive",
        r#"{"TableName":"users","TimeToLiveSpecification":{"AttributeName":"exp","Enabled":true}}"#,
    );
    assert_eq!(status, 200, "{body}");
    let tomorrow = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400;
    let fresh = format!(
        r#"{{"TableName":"users","Item":{{"id":{{"S":"fresh"}},"exp":{{"N":"{tomorrow}"}}}}}}"#
    );
    assert_eq!(call(dynamo, "PutItem", &fresh), (200, "{}".to_string()));
    let stale = r#"{"TableName":"users","Item":{"id":{"S":"stale"},"exp":{"N":"1000"}}}"#;
    assert_eq!(call(dynamo, "PutItem", stale), (200, "{}".to_string()));
    let get_stale = r#"{"TableName":"users","Key":{"id":{"S":"stale"}}}"#;
    assert_eq!(call(dynamo, "GetItem", get_stale), (200, "{}".to_string()));
    server.kill9();

    let server = Server::start(dir.path(), &args);
    let dynamo = server.addr("dynamo");
    for i in 0..20 {
        let key = format!(r#"{{"TableName":"users","Key":{{"id":{{"S":"u{i}"}}}}}}"#);
        let (status, body) = call(dynamo, "GetItem", &key);
        assert_eq!(status, 200);
        assert!(body.contains(&format!(r#""n":{{"N":"{i}"}}"#)), "{body}");
    }
    let (status, body) = call(dynamo, "DescribeTimeToLive", r#"{"TableName":"users"}"#);
    assert_eq!(status, 200);
    assert!(body.contains(r#""TimeToLiveStatus":"ENABLED""#), "{body}");
    assert!(body.contains(r#""AttributeName":"exp""#), "{body}");
    let (status, body) = call(
        dynamo,
        "GetItem",
        r#"{"TableName":"users","Key":{"id":{"S":"fresh"}}}"#,
    );
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!(r#""exp":{{"N":"{tomorrow}"}}"#)),
        "{body}"
    );
    assert_eq!(call(dynamo, "GetItem", get_stale), (200, "{}".to_string()));
    let (status, body) = call(dynamo, "Scan", r#"{"TableName":"users","Select":"COUNT"}"#);
    assert_eq!(status, 200);
    assert!(body.contains(r#""Count":21"#), "20 users and fresh: {body}");
}

/// The boto3 suite's `items`, `paging` and `batch` phases (table lifecycle, every
/// item operation, expressions, batches, a cancelled transaction, error codes;
/// 10,000-item Query and Scan paging with `Limit=100`; `BatchGetItem` past 16 MB
/// with `UnprocessedKeys` retried) against the `shale serve` binary on port 0, with
/// fake credentials. The phases that need a controllable clock or a credential
/// configuration run in process: crates/shale-dynamo/tests/boto3.rs.
#[test]
fn boto3_against_shale_serve() {
    let check = Command::new("python3")
        .args(["-c", "import boto3"])
        .output();
    assert!(
        check.is_ok_and(|o| o.status.success()),
        "python3 with boto3 is required for this test: run scripts/install-test-deps.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--protocols", "dynamo", "--dynamo", "127.0.0.1:0"],
    );
    let dynamo = server.addr("dynamo");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shale-dynamo/tests/py/dynamo_boto3.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .env("SHALE_DYNAMO_ENDPOINT", format!("http://{dynamo}"))
        .env("SHALE_BOTO3_PHASES", "items,paging,batch")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "boto3 against shale serve failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("phase items ok in "), "{stdout}");
    assert!(stdout.contains("phase paging ok in "), "{stdout}");
    assert!(stdout.contains("phase batch ok in "), "{stdout}");
    assert!(stdout.ends_with("boto3 ok\n"), "{stdout}");
    eprint!("{stdout}");
    // The server is still healthy and empty: the phases dropped their tables.
    assert_eq!(http_get(dynamo, "/"), (200, format!("healthy: {dynamo}")));
    let listed = http(
        dynamo,
        "POST",
        "/",
        &[
            "X-Amz-Target: DynamoDB_20120810.ListTables",
            "Content-Type: application/x-amz-json-1.0",
        ],
        "{}",
    );
    assert_eq!(listed, (200, r#"{"TableNames":[]}"#.to_string()));
}
