//! Test harness: a Db in a temporary directory, the Riak router over it, and a
//! tiny request helper (in-process through tower, or over TCP against `serve`).
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use shale_riak::RiakConfig;
use shale_server::{Context, Limits, SyncPolicy};
use shaledb::{Db, Options};
use tower::ServiceExt;

/// One answered request.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub ctx: Context,
    pub app: Router,
}

pub fn open_db(path: &std::path::Path) -> Db {
    Db::open(path, Options::default()).expect("open db")
}

impl Harness {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path());
        let ctx = Context::new(db, limits, SyncPolicy::No);
        let app = shale_riak::router(ctx.clone(), RiakConfig::default());
        Harness { dir, ctx, app }
    }

    /// Sends a request through the router.
    pub async fn req(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(b.body(body.into()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.req("GET", uri, &[], Body::empty()).await
    }

    pub async fn put(&self, uri: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        self.req("PUT", uri, headers, body.to_string()).await
    }
}

/// Starts `serve` on a free port; returns the address and the server task.
pub async fn start_server(
    ctx: Context,
    config: RiakConfig,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(shale_riak::serve(listener, ctx, config));
    (addr, task)
}

/// A raw HTTP/1.1 exchange over TCP (`Connection: close`); returns the status
/// line, the header block and the raw (possibly chunked) body.
pub async fn raw_http(addr: SocketAddr, request: &str) -> (String, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let body = out[split + 4..].to_vec();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    (status.to_string(), headers.to_string(), body)
}

/// Decodes a chunked body into its chunks.
pub fn dechunk(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(
            std::str::from_utf8(&body[..line_end]).expect("utf8").trim(),
            16,
        )
        .expect("hex size");
        if size == 0 {
            return chunks;
        }
        let start = line_end + 2;
        chunks.push(body[start..start + size].to_vec());
        body = &body[start + size + 2..];
    }
}
