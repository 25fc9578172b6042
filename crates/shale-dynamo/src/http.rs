//! The HTTP layer: `POST /` with `X-Amz-Target`, `GET /` health, error bodies,
//! request ids, body limits and signature checks.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as Extract};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::Rng;
use serde_json::Value;
use shale_server::Context;

use crate::config::DynamoConfig;
use crate::error::DynError;
use crate::ops::{SharedState, State, dispatch};
use crate::sigv4;

/// Largest request body DynamoDB accepts (16 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The content type of every DynamoDB JSON response.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The `X-Amz-Target` prefix of DynamoDB operations.
const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// The front end as an axum router (for `serve` and for tests).
pub fn router(ctx: Context, config: DynamoConfig) -> Router {
    let st = Arc::new(State {
        ctx,
        config,
        ddl: Mutex::new(()),
    });
    Router::new()
        .route("/", get(health).post(handle))
        .fallback(handle)
        .with_state(st)
}

/// What a connection beyond `max_clients` is sent before it is closed.
const REJECT: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 101\r\nconnection: close\r\n\r\n{\"__type\":\"com.amazonaws.dynamodb.v20120810#LimitExceededException\",\"message\":\"Too many connections\"}";

/// Serves DynamoDB requests on `listener` until the context's shutdown fires, then
/// lets in-flight requests finish. Connections go through the shared accept loop,
/// so they count against `max_clients` and show in the client registry as `dynamo`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: Context,
    config: DynamoConfig,
) -> std::io::Result<()> {
    let app = router(ctx.clone(), config);
    shale_server::serve_connections(
        listener,
        ctx,
        "dynamo",
        REJECT,
        move |stream, guard, ctx| {
            let svc = hyper_util::service::TowerToHyperService::new(app.clone());
            async move {
                let mut builder = hyper::server::conn::http1::Builder::new();
                if let Some(idle) = ctx.limits.idle_timeout() {
                    // A client that sends no (complete) request header for this long is dropped.
                    builder
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(idle);
                }
                let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "dynamo: connection ended");
                        }
                    }
                    _ = ctx.shutdown.wait() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
                drop(guard);
            }
        },
    )
    .await
}

async fn health(Extract(st): Extract<SharedState>, headers: HeaderMap) -> impl IntoResponse {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| st.config.addr.clone(), str::to_string);
    (StatusCode::OK, format!("healthy: {host}"))
}

fn request_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..52)
        .map(|_| {
            let i = rng.random_range(0..CHARS.len());
            char::from(CHARS.get(i).copied().unwrap_or(b'A'))
        })
        .collect()
}

fn reply(status: u16, body: &Value, rid: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [
            (header::CONTENT_TYPE.as_str(), CONTENT_TYPE.to_string()),
            ("x-amzn-requestid", rid.to_string()),
        ],
        bytes,
    )
        .into_response()
}

fn error(e: &DynError, rid: &str) -> Response {
    reply(e.status, &e.body(), rid)
}

fn too_large(limit: usize, rid: &str) -> Response {
    let e = DynError {
        status: 413,
        ..DynError::validation(format!("Request body exceeds the limit of {limit} bytes"))
    };
    error(&e, rid)
}

async fn handle(Extract(st): Extract<SharedState>, req: Request) -> Response {
    let rid = request_id();
    let started = Instant::now();
    let limit = st.ctx.limits.max_request_bytes.min(MAX_BODY_BYTES);
    let (parts, body) = req.into_parts();
    if parts.method != axum::http::Method::POST {
        return error(
            &DynError::new("UnknownOperationException", "Only POST is supported"),
            &rid,
        );
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().parse::<u64>().unwrap_or(u64::MAX));
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit, &rid);
    }
    let body = match axum::body::to_bytes(Body::new(body), limit).await {
        Ok(b) => b,
        Err(_) => return too_large(limit, &rid),
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target.strip_prefix(TARGET_PREFIX).unwrap_or_default();
    let known = crate::ops::OPERATIONS.iter().find(|o| **o == op).copied();
    let result = run(&st, &parts, &body, known, target);
    let (resp, failed) = match result {
        Ok(v) => (reply(200, &v, &rid), false),
        Err(e) => (error(&e, &rid), true),
    };
    st.ctx.metrics.record(
        "dynamo",
        known.unwrap_or("unknown"),
        started.elapsed(),
        failed,
    );
    resp
}

fn run(
    st: &State,
    parts: &axum::http::request::Parts,
    body: &[u8],
    op: Option<&'static str>,
    target: &str,
) -> Result<Value, DynError> {
    let Some(op) = op else {
        return Err(DynError::new(
            "UnknownOperationException",
            format!("Unknown operation: {target}"),
        ));
    };
    if !st.config.credentials.is_empty() {
        let req = sigv4::SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            headers: &parts.headers,
            body,
        };
        sigv4::verify(&req, &st.config.credentials, &st.config.region)?;
    }
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| DynError::serialization(format!("Malformed JSON: {e}")))?
    };
    if !v.is_object() {
        return Err(DynError::serialization(
            "Start of structure or map found where not expected",
        ));
    }
    st.ctx.blocking(|| dispatch(st, op, &v))
}
