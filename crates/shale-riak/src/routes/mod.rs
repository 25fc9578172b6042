//! Request routing: one fallback handler parses the raw path (so bucket and key
//! segments are percent-decoded to bytes exactly once) and calls the route.

mod buckets;
mod index;
mod meta;
mod objects;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use shale_server::Context;
use shaledb::Keyspace;

use crate::config::RiakConfig;
use crate::layout::{BucketId, DEFAULT_TYPE};
use crate::reply::Fail;

/// What every request handler shares.
pub(crate) struct Shared {
    pub ctx: Context,
    pub config: RiakConfig,
    ks: Option<Keyspace>,
    /// Object reads answered (`node_gets_total` in `/stats`).
    pub gets: AtomicU64,
    /// Object writes answered (`node_puts_total` in `/stats`).
    pub puts: AtomicU64,
}

impl Shared {
    /// The Riak keyspace (opened when the router was built, else now).
    pub fn keyspace(&self) -> Result<Keyspace, Fail> {
        match &self.ks {
            Some(ks) => Ok(ks.clone()),
            None => Ok(self.ctx.db.keyspace(&self.config.keyspace)?),
        }
    }

    /// Counts an object read.
    pub fn count_get(&self) {
        self.gets.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an object write.
    pub fn count_put(&self) {
        self.puts.fetch_add(1, Ordering::Relaxed);
    }
}

type St = Arc<Shared>;

/// The Riak HTTP API as an axum router over `ctx.db`.
pub fn router(ctx: Context, config: RiakConfig) -> Router {
    let ks = match ctx.db.keyspace(&config.keyspace) {
        Ok(ks) => Some(ks),
        Err(e) => {
            tracing::warn!(error = %e, keyspace = %config.keyspace, "riak: cannot open keyspace yet");
            None
        }
    };
    let shared = Arc::new(Shared {
        ctx,
        config,
        ks,
        gets: AtomicU64::new(0),
        puts: AtomicU64::new(0),
    });
    Router::new().fallback(dispatch).with_state(shared)
}

/// A parsed request: method, headers, query parameters and the body (unread).
pub(crate) struct Req {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Vec<(String, String)>,
    pub body: Body,
}

impl Req {
    /// The value of query parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// True if query parameter `name` is `true`.
    pub fn flag(&self, name: &str) -> bool {
        self.param(name) == Some("true")
    }

    /// Reads the whole body, refusing more than the server's request limit (413,
    /// before reading anything when `Content-Length` already says so).
    pub async fn read_body(self, limit: usize) -> Result<(HeaderMap, Vec<u8>), Fail> {
        if let Some(len) = self.headers.get(header::CONTENT_LENGTH) {
            let len: u64 = len
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| Fail::bad_request("Malformed Content-Length header"))?;
            if len > limit as u64 {
                return Err(Fail::too_large(limit));
            }
        }
        let mut out = Vec::new();
        let mut stream = self.body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk: Bytes =
                chunk.map_err(|e| Fail::bad_request(format!("Error reading body: {e}")))?;
            if out.len() + chunk.len() > limit {
                return Err(Fail::too_large(limit));
            }
            out.extend_from_slice(&chunk);
        }
        Ok((self.headers, out))
    }
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Longest bucket type or bucket name accepted (the layout stores a u16 length).
const MAX_NAME: usize = u16::MAX as usize;

async fn dispatch(State(st): State<St>, req: Request) -> Response {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let segs: Vec<Vec<u8>> = parts
        .uri
        .path()
        .split('/')
        .skip(1)
        .map(|s| percent_encoding::percent_decode_str(s).collect())
        .collect();
    let r = Req {
        method: parts.method,
        headers: parts.headers,
        query: parse_query(parts.uri.query()),
        body,
    };
    let (name, result) = route(&st, segs, r).await;
    let resp = result.unwrap_or_else(IntoResponse::into_response);
    let status = resp.status();
    let failed = status.is_server_error()
        || (status.is_client_error()
            && status != StatusCode::NOT_FOUND
            && status != StatusCode::PRECONDITION_FAILED);
    st.ctx.metrics.record("riak", name, start.elapsed(), failed);
    resp
}

/// The result of a route: a response or an error reply.
pub(crate) type Res = Result<Response, Fail>;

fn name_of(seg: &[u8], what: &str) -> Result<Vec<u8>, Fail> {
    if seg.is_empty() {
        return Err(Fail::bad_request(format!("{what} name must not be empty")));
    }
    if seg.len() > MAX_NAME {
        return Err(Fail::bad_request(format!(
            "{what} name longer than {MAX_NAME} bytes"
        )));
    }
    Ok(seg.to_vec())
}

async fn route(st: &St, segs: Vec<Vec<u8>>, r: Req) -> (&'static str, Res) {
    let s: Vec<&[u8]> = segs.iter().map(Vec::as_slice).collect();
    match s.as_slice() {
        [] | [b""] => ("root", meta::root(&r)),
        [b"ping"] => ("ping", meta::ping(&r)),
        [b"stats"] => ("stats", meta::stats(st, &r)),
        [b"buckets"] => (
            "list_buckets",
            buckets::list_buckets(st, DEFAULT_TYPE, r).await,
        ),
        [b"types", t, b"buckets"] => match name_of(t, "Bucket type") {
            Ok(t) => ("list_buckets", buckets::list_buckets(st, &t, r).await),
            Err(e) => ("list_buckets", Err(e)),
        },
        [b"types", t, b"props"] => match name_of(t, "Bucket type") {
            Ok(btype) => {
                let b = BucketId {
                    btype,
                    bucket: Vec::new(),
                };
                ("props", buckets::props(st, b, r).await)
            }
            Err(e) => ("props", Err(e)),
        },
        [b"mapred", ..] | [b"search", ..] | [b"solr", ..] | [b"riak", ..] => {
            ("unsupported", Err(unsupported(s[0])))
        }
        [b"buckets", b, rest @ ..] => bucket_route(st, DEFAULT_TYPE, b, rest, r).await,
        [b"types", t, b"buckets", b, rest @ ..] => bucket_route(st, t, b, rest, r).await,
        _ => ("unknown", Err(Fail::not_found())),
    }
}

async fn bucket_route(
    st: &St,
    btype: &[u8],
    bucket: &[u8],
    rest: &[&[u8]],
    r: Req,
) -> (&'static str, Res) {
    let b = match (name_of(btype, "Bucket type"), name_of(bucket, "Bucket")) {
        (Ok(btype), Ok(bucket)) => BucketId { btype, bucket },
        (Err(e), _) | (_, Err(e)) => return ("bad_bucket", Err(e)),
    };
    match rest {
        [b"keys"] => match r.method {
            Method::POST => ("put", objects::create(st, b, r).await),
            _ => ("list_keys", buckets::list_keys(st, b, r).await),
        },
        [b"keys", key] => {
            let key = match name_of(key, "Key") {
                Ok(k) => k,
                Err(e) => return ("bad_key", Err(e)),
            };
            match r.method {
                Method::GET | Method::HEAD => ("get", objects::get(st, b, key, r).await),
                Method::PUT | Method::POST => ("put", objects::put(st, b, key, r).await),
                Method::DELETE => ("delete", objects::delete(st, b, key, r).await),
                _ => (
                    "bad_method",
                    Ok(method_not_allowed("GET, HEAD, PUT, POST, DELETE")),
                ),
            }
        }
        [b"props"] => ("props", buckets::props(st, b, r).await),
        [b"keys", _, _, ..] => ("unsupported", Err(unsupported(b"link walking"))),
        [b"datatypes", ..] => ("unsupported", Err(unsupported(b"datatypes"))),
        [b"index", name, terms @ ..] => ("index", index::query(st, b, name, terms, r).await),
        _ => ("unknown", Err(Fail::not_found())),
    }
}

/// 501 for a Riak feature ShaleDB does not implement (see `docs/riak.md`).
fn unsupported(what: &[u8]) -> Fail {
    Fail::new(
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "{} is not supported by ShaleDB's Riak API (see docs/riak.md)",
            text(what)
        ),
    )
}

/// 405 with the methods the resource allows.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, allow), (header::CONTENT_TYPE, "text/plain")],
        "Method Not Allowed\n",
    )
        .into_response()
}

/// Runs blocking engine work for `st` off the reactor's hot path.
pub(crate) fn blocking<R>(st: &St, f: impl FnOnce() -> R) -> R {
    st.ctx.blocking(f)
}

/// A JSON response.
pub(crate) fn json(value: &serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Text of a bucket, key or term for JSON output (lossy for non-UTF-8 bytes).
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
