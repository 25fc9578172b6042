//! The optional admin HTTP endpoint: `/metrics` (Prometheus) and `/health`.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::Context;

/// Protocols whose client counts `/metrics` reports.
const PROTOCOLS: [&str; 4] = ["redis", "memcache", "dynamo", "riak"];

/// Serves `/metrics` and `/health` on `listener` until shutdown.
pub async fn serve_admin(listener: TcpListener, ctx: Context) -> std::io::Result<()> {
    let shutdown = ctx.shutdown.clone();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(ctx);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}

async fn metrics(State(ctx): State<Context>) -> impl IntoResponse {
    let connected: Vec<(&str, usize)> = PROTOCOLS
        .iter()
        .map(|p| (*p, ctx.clients.connected(Some(p))))
        .collect();
    let mut body = ctx.metrics.prometheus(&connected);
    let stats = ctx.db.stats();
    body.push_str(&engine_metrics(&stats));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// `200 OK`, or `503` when the engine refuses writes (a background error, or a
/// failed write or WAL sync that poisoned it) or the server is shutting down.
async fn health(State(ctx): State<Context>) -> (StatusCode, String) {
    if let Some(why) = ctx.write_failure() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("ERROR: writes refused until restart: {why}\n"),
        )
    } else if ctx.db.stats().background_errors > 0 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR: background errors; writes refused until restart\n".to_string(),
        )
    } else if ctx.shutdown.is_triggered() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING DOWN\n".to_string(),
        )
    } else {
        (StatusCode::OK, "OK\n".to_string())
    }
}

/// The engine's own figures as Prometheus gauges and counters.
fn engine_metrics(s: &shaledb::Stats) -> String {
    let rows: [(&str, &str, &str, f64); 12] = [
        (
            "shale_engine_writes_total",
            "counter",
            "Engine write calls.",
            s.writes as f64,
        ),
        (
            "shale_engine_gets_total",
            "counter",
            "Engine point lookups.",
            s.gets as f64,
        ),
        (
            "shale_engine_wal_syncs_total",
            "counter",
            "WAL fsyncs.",
            s.wal_syncs as f64,
        ),
        (
            "shale_engine_flushes_total",
            "counter",
            "Memtable flushes.",
            s.flushes as f64,
        ),
        (
            "shale_engine_user_bytes_written_total",
            "counter",
            "Bytes written by users.",
            s.user_bytes_written as f64,
        ),
        (
            "shale_engine_disk_bytes_written_total",
            "counter",
            "Bytes written to disk.",
            s.disk_bytes_written as f64,
        ),
        (
            "shale_engine_write_amplification",
            "gauge",
            "Disk bytes per user byte.",
            s.write_amplification,
        ),
        (
            "shale_engine_pending_compaction_bytes",
            "gauge",
            "Compaction debt in bytes.",
            s.pending_compaction_bytes as f64,
        ),
        (
            "shale_engine_memtable_bytes",
            "gauge",
            "Bytes in memtables.",
            s.memtable_bytes as f64,
        ),
        (
            "shale_engine_block_cache_bytes",
            "gauge",
            "Bytes in the block cache.",
            s.block_cache_bytes as f64,
        ),
        (
            "shale_engine_stall_micros_total",
            "counter",
            "Time writes spent stalled.",
            s.stall_micros as f64,
        ),
        (
            "shale_engine_background_errors_total",
            "counter",
            "Background errors.",
            s.background_errors as f64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in rows {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;

    use shaledb::{Db, MemFs, Options, WriteBatch};

    use super::*;
    use crate::{Limits, SyncPolicy};

    fn mem_db() -> (MemFs, Db) {
        let mem = MemFs::new();
        let opts = Options {
            fs: Arc::new(mem.clone()),
            ..Options::default()
        };
        let db = Db::open("/db", opts).unwrap();
        (mem, db)
    }

    #[test]
    fn health_sees_a_db_poisoned_by_a_write_that_bypassed_the_context() {
        // DynamoDB and Riak commit through `Db`/`Transaction` directly: /health must
        // still turn 503 when one of their writes poisons the engine.
        let (mem, db) = mem_db();
        let ctx = Context::new(db.clone(), Limits::default(), SyncPolicy::No);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let check = || rt.block_on(health(State(ctx.clone())));
        // A refusal of the request itself changes nothing.
        let too_big = vec![0u8; 64 << 20];
        assert!(matches!(
            db.put(&too_big[..], "v"),
            Err(shaledb::Error::InvalidArgument(_))
        ));
        assert_eq!(check(), (StatusCode::OK, "OK\n".to_string()));
        assert_eq!(ctx.write_failure(), None);
        mem.crash();
        let mut tx = db.transaction();
        tx.put("k", "v").unwrap();
        tx.commit().unwrap_err();
        let (status, body) = check();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(ctx.write_failure().is_some());
    }

    #[test]
    fn health_is_503_once_a_failed_write_poisons_the_db() {
        let (mem, db) = mem_db();
        let ctx = Context::new(db, Limits::default(), SyncPolicy::No);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let check = || rt.block_on(health(State(ctx.clone())));
        let mut batch = WriteBatch::new();
        batch.put("k", "v");
        ctx.write(batch).unwrap();
        assert_eq!(check(), (StatusCode::OK, "OK\n".to_string()));
        // A power cut under the running Db: its open WAL handle fails from now on.
        mem.crash();
        let mut batch = WriteBatch::new();
        batch.put("k", "w");
        ctx.write(batch).unwrap_err();
        let (status, body) = check();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            body.starts_with("ERROR: writes refused until restart: "),
            "{body}"
        );
        // The engine agrees: the next write is refused as poisoned.
        let mut batch = WriteBatch::new();
        batch.put("k", "x");
        assert!(matches!(ctx.write(batch), Err(shaledb::Error::Poisoned(_))));
    }
}
