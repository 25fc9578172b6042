//! Bucket listing, key listing (whole or streamed) and bucket properties.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Req, Res, St, blocking, method_not_allowed, text};
use crate::layout::BucketId;
use crate::reply::Fail;
use crate::store;

/// `GET /buckets?buckets=true` (and `/types/T/buckets?buckets=true`).
pub(super) async fn list_buckets(st: &St, btype: &[u8], r: Req) -> Res {
    if r.method != Method::GET && r.method != Method::HEAD {
        return Ok(method_not_allowed("GET, HEAD"));
    }
    if !r.flag("buckets") {
        return Err(Fail::bad_request(
            "Bucket list must be requested with ?buckets=true",
        ));
    }
    let ks = st.keyspace()?;
    let names = blocking(st, || store::list_buckets(&ks, btype))?;
    let names: Vec<String> = names.iter().map(|b| text(b)).collect();
    Ok(super::json(&json!({ "buckets": names })))
}

/// `GET /buckets/B/keys?keys=true|stream`.
pub(super) async fn list_keys(st: &St, b: BucketId, r: Req) -> Res {
    if r.method != Method::GET && r.method != Method::HEAD {
        return Ok(method_not_allowed("GET, HEAD, POST"));
    }
    let ks = st.keyspace()?;
    match r.param("keys") {
        Some("true") => {
            let mut keys = Vec::new();
            blocking(st, || {
                store::for_each_key(&ks, &b, |k| {
                    keys.push(text(k));
                    true
                })
            })?;
            Ok(super::json(&json!({ "keys": keys })))
        }
        Some("stream") => Ok(stream_keys(st, ks, b)),
        _ => Err(Fail::bad_request(
            "Key list must be requested with ?keys=true or ?keys=stream",
        )),
    }
}

/// Streams `{"keys":[...]}` objects, one per chunk of keys, as the scan goes.
fn stream_keys(st: &St, ks: shaledb::Keyspace, b: BucketId) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let chunk = st.config.stream_chunk_keys;
    tokio::task::spawn_blocking(move || {
        let mut keys: Vec<String> = Vec::new();
        let mut sent_any = false;
        let send = |keys: &mut Vec<String>| {
            let body = json!({ "keys": std::mem::take(keys) }).to_string();
            tx.blocking_send(Bytes::from(body)).is_ok()
        };
        let result = store::for_each_key(&ks, &b, |k| {
            keys.push(text(k));
            if keys.len() >= chunk {
                sent_any = true;
                return send(&mut keys);
            }
            true
        });
        if let Err(e) = result {
            // The status is already sent; end the stream early.
            tracing::warn!(status = %e.status, error = %e.body.trim(), "riak: key stream failed");
            return;
        }
        if !keys.is_empty() || !sent_any {
            send(&mut keys);
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Riak's default bucket properties.
fn defaults(b: &BucketId) -> Map<String, Value> {
    let mut m = match json!({
        "allow_mult": false,
        "basic_quorum": false,
        "big_vclock": 50,
        "chash_keyfun": {"mod": "riak_core_util", "fun": "chash_std_keyfun"},
        "dvv_enabled": false,
        "dw": "quorum",
        "last_write_wins": false,
        "linkfun": {"mod": "riak_kv_wm_link_walker", "fun": "mapreduce_linkfun"},
        "n_val": 3,
        "notfound_ok": true,
        "old_vclock": 86400,
        "postcommit": [],
        "pr": 0,
        "precommit": [],
        "pw": 0,
        "r": "quorum",
        "rw": "quorum",
        "small_vclock": 50,
        "w": "quorum",
        "young_vclock": 20
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if b.bucket.is_empty() {
        // The props of a bucket type (`/types/T/props`).
        m.insert("active".into(), Value::Bool(true));
    } else {
        m.insert("name".into(), Value::String(text(&b.bucket)));
    }
    if !b.is_default_type() {
        m.insert("bucket_type".into(), Value::String(text(&b.btype)));
    }
    m
}

/// Checks the properties a client may set; the names Riak computes are refused.
fn validate(props: &Map<String, Value>) -> Result<(), Fail> {
    for (k, v) in props {
        let ok = match k.as_str() {
            "n_val" => v.as_u64().is_some_and(|n| n >= 1),
            "allow_mult" | "last_write_wins" | "basic_quorum" | "notfound_ok" | "dvv_enabled" => {
                v.is_boolean()
            }
            _ => true,
        };
        if !ok {
            return Err(Fail::bad_request(format!(
                "Invalid bucket property {k}: {v}"
            )));
        }
    }
    Ok(())
}

/// `GET/PUT/DELETE /buckets/B/props`, and `/types/T/props` (an empty bucket name
/// addresses the type's own props, which bucket props overlay).
pub(super) async fn props(st: &St, b: BucketId, r: Req) -> Res {
    let ks = st.keyspace()?;
    let wo = st.ctx.write_options();
    match r.method {
        Method::GET | Method::HEAD => {
            // Riak's defaults, overlaid by the type's props, then the bucket's.
            let type_id = BucketId {
                btype: b.btype.clone(),
                bucket: Vec::new(),
            };
            let (of_type, of_bucket) = blocking(st, || {
                let of_type = store::get_props(&ks, &type_id)?;
                let of_bucket = if b.bucket.is_empty() {
                    Map::new()
                } else {
                    store::get_props(&ks, &b)?
                };
                Ok::<_, Fail>((of_type, of_bucket))
            })?;
            let mut props = defaults(&b);
            for (k, v) in of_type.into_iter().chain(of_bucket) {
                props.insert(k, v);
            }
            Ok(super::json(&json!({ "props": props })))
        }
        Method::PUT | Method::POST => {
            let (_, body) = r.read_body(st.ctx.limits.max_request_bytes).await?;
            let parsed: Value = serde_json::from_slice(&body).map_err(|e| {
                Fail::bad_request(format!("Invalid JSON in bucket properties: {e}"))
            })?;
            let Some(Value::Object(mut new)) = parsed.get("props").cloned() else {
                return Err(Fail::bad_request(
                    "Bucket properties must be a JSON object {\"props\":{...}}",
                ));
            };
            validate(&new)?;
            for computed in ["name", "bucket_type", "active"] {
                new.remove(computed);
            }
            blocking(st, || {
                let mut stored = store::get_props(&ks, &b)?;
                stored.append(&mut new);
                store::set_props(&ks, &wo, &b, Some(&stored))
            })?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Method::DELETE => {
            blocking(st, || store::set_props(&ks, &wo, &b, None))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Ok(method_not_allowed("GET, HEAD, PUT, POST, DELETE")),
    }
}
