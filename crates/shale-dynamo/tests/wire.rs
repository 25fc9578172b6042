#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The HTTP layer: targets, health, error bodies, body limits, bad input, and
//! `serve` over a real socket.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::TestServer;
use serde_json::{Value, json};
use shale_server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn health_and_unknown_operation() {
    let s = TestServer::new();
    let (status, _, body) = s
        .raw(
            Request::get("/")
                .header("host", "localhost:8000")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), "healthy: localhost:8000");

    let (status, v) = s.call("FrobnicateTable", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        v["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );

    // No target at all.
    let (status, _, body) = s
        .raw(Request::post("/").body(Body::from("{}")).unwrap())
        .await;
    assert_eq!(status, 400);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );
}

#[tokio::test]
async fn malformed_json_is_a_serialization_error() {
    let s = TestServer::new();
    for body in [&b"{not json"[..], b"[1,2]", b"\"x\"", b"{\"TableName\": 5}"] {
        let (status, v) = s.call_bytes("DescribeTable", body.to_vec()).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#SerializationException"
        );
    }
    // Wrong JSON types inside items.
    s.create("tbl", ("id", "S"), None).await;
    let (name, _, _) = s
        .err(
            "PutItem",
            json!({"TableName": "tbl", "Item": {"id": {"S": 5}}}),
        )
        .await;
    assert_eq!(name, "SerializationException");
    let (name, msg, _) = s
        .err("PutItem", json!({"TableName": "tbl", "Item": {"id": {}}}))
        .await;
    assert_eq!(name, "ValidationException");
    assert!(msg.contains("Supplied AttributeValue is empty"));
    let v = s.ok("Scan", json!({"TableName": "tbl"})).await;
    assert_eq!(v["Count"], 0, "nothing stored by bad requests");
}

#[tokio::test]
async fn error_bodies_use_dynamodb_names() {
    let s = TestServer::new();
    let (status, v) = s.call("DescribeTable", json!({"TableName": "nope"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        json!({"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "Requested resource not found"})
    );
    let (name, msg, _) = s.err("DescribeTable", json!({})).await;
    assert_eq!(name, "ValidationException");
    assert_eq!(
        msg,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
    );
    let (name, msg, _) = s.err("DescribeTable", json!({"TableName": "a!"})).await;
    assert_eq!(name, "ValidationException");
    assert!(msg.contains("tableName"), "{msg}");
}

#[tokio::test]
async fn oversized_bodies_get_413_and_nothing_is_stored() {
    let s = TestServer::with_limits(Limits {
        max_request_bytes: 64 * 1024,
        ..Limits::default()
    });
    s.create("tbl", ("id", "S"), None).await;
    let big = "x".repeat(100 * 1024);
    let (status, v) = s
        .call(
            "PutItem",
            json!({"TableName": "tbl", "Item": {"id": {"S": "k"}, "v": {"S": big}}}),
        )
        .await;
    assert_eq!(status, 413, "{v}");

    // A huge declared Content-Length is refused before any body is read.
    let req = Request::post("/")
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .header("content-length", "99999999999999")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, _) = s.raw(req).await;
    assert_eq!(status, 413);
    let req = Request::post("/")
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .header("content-length", "banana")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, _) = s.raw(req).await;
    assert_eq!(status, 413);

    assert!(s.get("tbl", json!({"id": {"S": "k"}})).await.is_none());
    let v = s.ok("ListTables", json!({})).await;
    assert_eq!(v["TableNames"], json!(["tbl"]), "server still healthy");
}

#[tokio::test]
async fn oversized_item_is_rejected() {
    let s = TestServer::new();
    s.create("tbl", ("id", "S"), None).await;
    let big = "x".repeat(401 * 1024);
    let (name, msg, _) = s
        .err(
            "PutItem",
            json!({"TableName": "tbl", "Item": {"id": {"S": "k"}, "v": {"S": big}}}),
        )
        .await;
    assert_eq!(name, "ValidationException");
    assert_eq!(msg, "Item size has exceeded the maximum allowed size");
    let ok = "x".repeat(399 * 1024);
    s.put("tbl", json!({"id": {"S": "k"}, "v": {"S": ok}}))
        .await;
    // Growing it past the limit by update fails and leaves it as it was.
    let (name, _, _) = s
        .err(
            "UpdateItem",
            json!({"TableName": "tbl", "Key": {"id": {"S": "k"}}, "UpdateExpression": "SET w = v"}),
        )
        .await;
    assert_eq!(name, "ValidationException");
    let item = s.get("tbl", json!({"id": {"S": "k"}})).await.unwrap();
    assert!(item.get("w").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_over_tcp_until_shutdown() {
    let s = TestServer::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = s.ctx.clone();
    let server = tokio::spawn(shale_dynamo::serve(
        listener,
        ctx,
        shale_dynamo::DynamoConfig::default(),
    ));
    let send = |body: &'static str, target: &'static str| async move {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: DynamoDB_20120810.{target}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        c.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        out
    };
    let out = send(
        r#"{"TableName":"tab1","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#,
        "CreateTable",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.to_ascii_lowercase().contains("x-amzn-requestid:"));
    let out = send(r#"{}"#, "ListTables").await;
    assert!(out.contains(r#"{"TableNames":["tab1"]}"#), "{out}");

    // A client sending garbage does not hurt the server.
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n\r\n").await.unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    let out = send(r#"{}"#, "ListTables").await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");

    s.ctx.shutdown.trigger();
    server.await.unwrap().unwrap();
}

/// Reads one HTTP response (headers and a Content-Length body) from a kept-alive connection.
async fn read_response(c: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = c.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed early: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_registered_limited_and_drained() {
    let s = TestServer::with_limits(Limits {
        max_clients: 1,
        ..Limits::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(shale_dynamo::serve(
        listener,
        s.ctx.clone(),
        shale_dynamo::DynamoConfig::default(),
    ));
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    a.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let out = read_response(&mut a).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert_eq!(s.ctx.clients.connected(Some("dynamo")), 1);

    // A second client is over the limit.
    let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut out = String::new();
    b.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    assert!(out.contains("LimitExceededException"));
    let body = out.split("\r\n\r\n").nth(1).unwrap();
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["message"], "Too many connections");

    // Shutdown closes the idle kept-alive connection and serve returns.
    s.ctx.shutdown.trigger();
    server.await.unwrap().unwrap();
    let mut rest = Vec::new();
    a.read_to_end(&mut rest).await.unwrap();
    assert_eq!(s.ctx.clients.connected(Some("dynamo")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let s = TestServer::with_limits(Limits {
        idle_timeout_secs: 1,
        ..Limits::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(shale_dynamo::serve(
        listener,
        s.ctx.clone(),
        shale_dynamo::DynamoConfig::default(),
    ));
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    a.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let out = read_response(&mut a).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    // Then silence: the server closes the connection (the read ends) by itself.
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed =
        tokio::time::timeout(std::time::Duration::from_secs(20), a.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "connection not closed by the idle timeout");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    s.ctx.shutdown.trigger();
    server.await.unwrap().unwrap();
}
