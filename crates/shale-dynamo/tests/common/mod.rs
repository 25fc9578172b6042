//! Shared test harness: a database in a temp dir behind the DynamoDB router,
//! driven in-process, with a manual clock for TTL.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shale_dynamo::{DynamoConfig, router};
use shale_server::{Context, Limits, SyncPolicy};
use shaledb::{Db, ManualClock, Options};
use tower::ServiceExt;

/// 2026-01-01T00:00:00Z in ms.
pub const START_MS: u64 = 1_767_225_600_000;

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub ctx: Context,
    pub app: Router,
}

impl TestServer {
    pub fn new() -> Self {
        Self::with(
            tempfile::tempdir().unwrap(),
            Limits::default(),
            DynamoConfig::default(),
        )
    }

    pub fn with_limits(limits: Limits) -> Self {
        Self::with(
            tempfile::tempdir().unwrap(),
            limits,
            DynamoConfig::default(),
        )
    }

    pub fn with(dir: tempfile::TempDir, limits: Limits, config: DynamoConfig) -> Self {
        let clock = Arc::new(ManualClock::new(START_MS));
        let db = Db::open(
            dir.path().join("db"),
            Options {
                clock: clock.clone(),
                ..Options::default()
            },
        )
        .unwrap();
        let ctx = Context::new(db, limits, SyncPolicy::No);
        let app = router(ctx.clone(), config);
        TestServer {
            dir,
            clock,
            ctx,
            app,
        }
    }

    /// Closes the database and opens it again from disk.
    pub fn reopen(self) -> Self {
        let TestServer { dir, ctx, app, .. } = self;
        drop(app);
        drop(ctx);
        Self::with(dir, Limits::default(), DynamoConfig::default())
    }

    pub fn db(&self) -> &Db {
        &self.ctx.db
    }

    pub async fn raw(&self, req: Request<Body>) -> (u16, HeaderMap, Vec<u8>) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    pub async fn call_bytes(&self, op: &str, body: Vec<u8>) -> (u16, Value) {
        let req = Request::post("/")
            .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(Body::from(body))
            .unwrap();
        let (status, headers, body) = self.raw(req).await;
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/x-amz-json-1.0"
        );
        assert!(headers.get("x-amzn-requestid").is_some());
        (status, serde_json::from_slice(&body).unwrap())
    }

    pub async fn call(&self, op: &str, body: Value) -> (u16, Value) {
        self.call_bytes(op, serde_json::to_vec(&body).unwrap())
            .await
    }

    /// Calls `op` and asserts success.
    pub async fn ok(&self, op: &str, body: Value) -> Value {
        let (status, v) = self.call(op, body).await;
        assert_eq!(status, 200, "{op} failed: {v}");
        v
    }

    /// Calls `op`, asserts failure, returns (error name, message, body).
    pub async fn err(&self, op: &str, body: Value) -> (String, String, Value) {
        let (status, v) = self.call(op, body).await;
        assert_ne!(status, 200, "{op} unexpectedly succeeded: {v}");
        let ty = v["__type"].as_str().unwrap();
        let name = ty.rsplit('#').next().unwrap().to_string();
        (name, v["message"].as_str().unwrap_or("").to_string(), v)
    }

    /// Creates table `name` with partition key `pk` and optional sort key.
    pub async fn create(&self, name: &str, pk: (&str, &str), sk: Option<(&str, &str)>) {
        let mut defs = vec![json!({"AttributeName": pk.0, "AttributeType": pk.1})];
        let mut schema = vec![json!({"AttributeName": pk.0, "KeyType": "HASH"})];
        if let Some(sk) = sk {
            defs.push(json!({"AttributeName": sk.0, "AttributeType": sk.1}));
            schema.push(json!({"AttributeName": sk.0, "KeyType": "RANGE"}));
        }
        self.ok(
            "CreateTable",
            json!({"TableName": name, "AttributeDefinitions": defs, "KeySchema": schema, "BillingMode": "PAY_PER_REQUEST"}),
        )
        .await;
    }

    pub async fn put(&self, table: &str, item: Value) {
        self.ok("PutItem", json!({"TableName": table, "Item": item}))
            .await;
    }

    pub async fn get(&self, table: &str, key: Value) -> Option<Value> {
        let v = self
            .ok("GetItem", json!({"TableName": table, "Key": key}))
            .await;
        v.get("Item").cloned()
    }
}
