//! `GET /` (the resource map), `GET /ping` and `GET /stats`.

use std::sync::atomic::Ordering;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::{Req, Res, St, method_not_allowed};

/// The Riak KV HTTP API version implemented (reported as `riak_kv_version`).
pub const RIAK_KV_VERSION: &str = "2.2.3";

/// Riak's resources and where they live, in the order Riak lists them.
const RESOURCES: [(&str, &str); 8] = [
    ("riak_kv_wm_buckets", "/buckets"),
    ("riak_kv_wm_index", "/buckets"),
    ("riak_kv_wm_keylist", "/buckets"),
    ("riak_kv_wm_link_walker", "/buckets"),
    ("riak_kv_wm_object", "/buckets"),
    ("riak_kv_wm_ping", "/ping"),
    ("riak_kv_wm_props", "/buckets"),
    ("riak_kv_wm_stats", "/stats"),
];

fn is_read(r: &Req) -> bool {
    r.method == Method::GET || r.method == Method::HEAD
}

/// `GET /`: JSON resource map for `Accept: application/json`, else HTML links.
pub(super) fn root(r: &Req) -> Res {
    if !is_read(r) {
        return Ok(method_not_allowed("GET, HEAD"));
    }
    let link: Vec<String> = RESOURCES
        .iter()
        .map(|(name, path)| format!("<{path}>; rel=\"{name}\""))
        .collect();
    let link = HeaderValue::from_str(&link.join(", ")).unwrap_or(HeaderValue::from_static(
        "</buckets>; rel=\"riak_kv_wm_buckets\"",
    ));
    let wants_json = r
        .headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        let map: Map<String, Value> = RESOURCES
            .iter()
            .map(|(n, p)| ((*n).to_string(), Value::String((*p).to_string())))
            .collect();
        let mut resp = super::json(&Value::Object(map));
        resp.headers_mut().insert(header::LINK, link);
        return Ok(resp);
    }
    let items: String = RESOURCES
        .iter()
        .map(|(n, p)| format!("<li><a href=\"{p}\">{n}</a></li>"))
        .collect();
    let html = format!("<html><body><ul>{items}</ul></body></html>");
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html")),
            (header::LINK, link),
        ],
        html,
    )
        .into_response())
}

/// `GET /ping` → `OK`.
pub(super) fn ping(r: &Req) -> Res {
    if !is_read(r) {
        return Ok(method_not_allowed("GET, HEAD"));
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "OK").into_response())
}

/// `GET /stats`: Riak's headline figures plus ShaleDB's engine statistics.
pub(super) fn stats(st: &St, r: &Req) -> Res {
    if !is_read(r) {
        return Ok(method_not_allowed("GET, HEAD"));
    }
    let gets = st.gets.load(Ordering::Relaxed);
    let puts = st.puts.load(Ordering::Relaxed);
    let s = st.ctx.db.stats();
    let node = st.config.node_name.as_str();
    let body = json!({
        "riak_kv_version": RIAK_KV_VERSION,
        "nodename": node,
        "connected_nodes": [],
        "ring_members": [node],
        "ring_num_partitions": 1,
        "storage_backend": "shaledb",
        "node_gets": gets,
        "node_gets_total": gets,
        "node_puts": puts,
        "node_puts_total": puts,
        "vnode_gets": gets,
        "vnode_gets_total": gets,
        "vnode_puts": puts,
        "vnode_puts_total": puts,
        "uptime_secs": st.ctx.uptime().as_secs(),
        "shale_engine_writes": s.writes,
        "shale_engine_gets": s.gets,
        "shale_engine_flushes": s.flushes,
        "shale_engine_wal_syncs": s.wal_syncs,
        "shale_engine_user_bytes_written": s.user_bytes_written,
        "shale_engine_disk_bytes_written": s.disk_bytes_written,
        "shale_engine_memtable_bytes": s.memtable_bytes,
        "shale_engine_pending_compaction_bytes": s.pending_compaction_bytes,
        "shale_engine_background_errors": s.background_errors,
    });
    Ok(super::json(&body))
}
