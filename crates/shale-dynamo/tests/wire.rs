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

#[tokio::test]
async fn error_type_prefixes_follow_dynamodb() {
    // DynamoDB's framework errors are `com.amazon.coral.service#`, validation errors
    // `com.amazon.coral.validate#`, its own errors `com.amazonaws.dynamodb.v20120810#`.
    let s = TestServer::new();
    s.create("tbl", ("id", "S"), None).await;
    let cases = [
        (
            "DescribeTable",
            json!({}),
            "com.amazon.coral.validate#ValidationException",
        ),
        (
            "DescribeTable",
            json!({"TableName": "nope"}),
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        ),
        (
            "CreateTable",
            json!({"TableName": "tbl", "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
            "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
        ),
        (
            "PutItem",
            json!({"TableName": "tbl", "Item": {"id": {"S": "a"}}, "ConditionExpression": "attribute_exists(id)"}),
            "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        ),
        (
            "TransactWriteItems",
            json!({"TransactItems": [{"ConditionCheck": {"TableName": "tbl", "Key": {"id": {"S": "a"}},
                                                         "ConditionExpression": "attribute_exists(id)"}}]}),
            "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        ),
        (
            "PutItem",
            json!({"TableName": "tbl", "Item": {"id": {"S": 5}}}),
            "com.amazon.coral.service#SerializationException",
        ),
        (
            "NoSuchOperation",
            json!({}),
            "com.amazon.coral.service#UnknownOperationException",
        ),
    ];
    for (op, body, want) in cases {
        let (status, v) = s.call(op, body).await;
        assert_eq!(status, 400, "{op}: {v}");
        assert_eq!(v["__type"], want, "{op}: {v}");
    }
}

/// A request for `op` with `body`, signed by `key`/`secret` for `region` unless
/// `auth` overrides the `Authorization` header (`Some("")`: none at all).
fn signed(
    op: &str,
    body: &str,
    key: &str,
    secret: &str,
    region: &str,
    auth: Option<&str>,
) -> Request<Body> {
    let mut h = axum::http::HeaderMap::new();
    h.insert("host", "localhost:8000".parse().unwrap());
    h.insert("x-amz-date", "20260101T000000Z".parse().unwrap());
    h.insert(
        "x-amz-target",
        format!("DynamoDB_20120810.{op}").parse().unwrap(),
    );
    h.insert(
        "content-type",
        "application/x-amz-json-1.0".parse().unwrap(),
    );
    let sig = shale_dynamo::sigv4::sign(
        &shale_dynamo::sigv4::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: body.as_bytes(),
        },
        key,
        secret,
        region,
    );
    let mut req = Request::post("/");
    for (k, v) in &h {
        req = req.header(k, v);
    }
    match auth {
        Some("") => {}
        Some(a) => req = req.header("authorization", a),
        None => req = req.header("authorization", sig),
    }
    req.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn signatures_are_verified_when_credentials_are_set() {
    let config = shale_dynamo::DynamoConfig {
        credentials: vec![shale_dynamo::Credential {
            access_key_id: "AKIDSHALE".into(),
            secret_access_key: "secret".into(),
        }],
        ..shale_dynamo::DynamoConfig::default()
    };
    let s = TestServer::with(tempfile::tempdir().unwrap(), Limits::default(), config);
    let send = |req: Request<Body>| {
        let s = &s;
        async move {
            let (status, _, body) = s.raw(req).await;
            let v: Value = serde_json::from_slice(&body).unwrap();
            (status, v)
        }
    };
    let good = |op: &str, body: &str| signed(op, body, "AKIDSHALE", "secret", "us-east-1", None);
    let create = r#"{"TableName":"sig","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    let (status, v) = send(good("CreateTable", create)).await;
    assert_eq!(status, 200, "{v}");
    let put = r#"{"TableName":"sig","Item":{"id":{"S":"x"}}}"#;

    let valid_cred = "Credential=AKIDSHALE/20260101/us-east-1/dynamodb/aws4_request";
    let no_sig = format!("AWS4-HMAC-SHA256 {valid_cred}");
    let four = "AWS4-HMAC-SHA256 Credential=AKIDSHALE/20260101/us-east-1/dynamodb, SignedHeaders=host, Signature=00";
    let wrong_alg = format!("AWS4-HMAC-SHA1 {valid_cred}, SignedHeaders=host, Signature=00");
    let cases: Vec<(Request<Body>, &str, String)> = vec![
        (
            signed("PutItem", put, "AKIDSHALE", "secret", "us-east-1", Some("")),
            "com.amazon.coral.service#MissingAuthenticationTokenException",
            "Request is missing Authentication Token".into(),
        ),
        (
            signed("PutItem", put, "AKIDSHALE", "secret", "us-east-1", Some("Bearer abc")),
            "com.amazon.coral.service#MissingAuthenticationTokenException",
            "Request is missing Authentication Token".into(),
        ),
        (
            signed("PutItem", put, "AKIDSHALE", "secret", "us-east-1", Some(&no_sig)),
            "com.amazon.coral.service#IncompleteSignatureException",
            format!(
                "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={no_sig}"
            ),
        ),
        (
            signed("PutItem", put, "AKIDSHALE", "secret", "us-east-1", Some(four)),
            "com.amazon.coral.service#IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDSHALE/20260101/us-east-1/dynamodb'".into(),
        ),
        (
            signed("PutItem", put, "AKIDSHALE", "secret", "us-east-1", Some(&wrong_alg)),
            "com.amazon.coral.service#IncompleteSignatureException",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1' (only AWS4-HMAC-SHA256 for now). ".into(),
        ),
        (
            signed("PutItem", put, "AKIDSHALE", "secret", "eu-west-1", None),
            "com.amazon.coral.service#InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'eu-west-1'. ".into(),
        ),
        (
            signed("PutItem", put, "AKIDNOBODY", "secret", "us-east-1", None),
            "com.amazon.coral.service#UnrecognizedClientException",
            "The security token included in the request is invalid.".into(),
        ),
        (
            signed("PutItem", put, "AKIDSHALE", "wrong", "us-east-1", None),
            "com.amazon.coral.service#InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ),
    ];
    for (req, ty, msg) in cases {
        let (status, v) = send(req).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["__type"], ty, "{v}");
        assert_eq!(v["message"], msg, "{v}");
    }
    // A scope naming another service (the signature itself would match).
    let good_put = good("PutItem", put);
    let other_service = good_put
        .headers()
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace("/dynamodb/", "/s3/");
    let (_, v) = send(signed(
        "PutItem",
        put,
        "AKIDSHALE",
        "secret",
        "us-east-1",
        Some(&other_service),
    ))
    .await;
    assert_eq!(
        v["message"],
        "Credential should be scoped to correct service: 'dynamodb'. "
    );
    // Without X-Amz-Date the header is incomplete.
    let mut req = good("PutItem", put);
    req.headers_mut().remove("x-amz-date");
    let (_, v) = send(req).await;
    assert_eq!(
        v["__type"],
        "com.amazon.coral.service#IncompleteSignatureException"
    );
    assert!(
        v["message"].as_str().unwrap().starts_with(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 "
        ),
        "{v}"
    );

    // None of the rejected writes happened; a correctly signed one does.
    let get = r#"{"TableName":"sig","Key":{"id":{"S":"x"}}}"#;
    let (status, v) = send(good("GetItem", get)).await;
    assert_eq!((status, v), (200, json!({})));
    let (status, _) = send(good_put).await;
    assert_eq!(status, 200);
    let (_, v) = send(good("GetItem", get)).await;
    assert_eq!(v, json!({"Item": {"id": {"S": "x"}}}));
}
