#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Bucket and key listing (whole and streamed), bucket properties, ping, stats,
//! the resource map, metrics and graceful shutdown.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::Harness;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_and_key_listing() {
    let h = Harness::new();
    assert_eq!(
        h.get("/buckets?buckets=true").await.json(),
        json!({"buckets": []})
    );
    for (b, k) in [
        ("b2", "x"),
        ("b1", "c"),
        ("b1", "a"),
        ("b1", "b"),
        ("b3", "y"),
    ] {
        let r = h.put(&format!("/buckets/{b}/keys/{k}"), &[], "v").await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    h.put("/types/t/buckets/tb/keys/z", &[], "v").await;
    h.req("DELETE", "/buckets/b3/keys/y", &[], Body::empty())
        .await;

    let r = h.get("/buckets?buckets=true").await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"buckets": ["b1", "b2"]}));
    assert_eq!(
        h.get("/types/t/buckets?buckets=true").await.json(),
        json!({"buckets": ["tb"]})
    );
    assert_eq!(h.get("/buckets").await.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        h.get("/buckets/b1/keys?keys=true").await.json(),
        json!({"keys": ["a", "b", "c"]})
    );
    assert_eq!(
        h.get("/buckets/none/keys?keys=true").await.json(),
        json!({"keys": []})
    );
    assert_eq!(
        h.get("/buckets/b1/keys").await.status,
        StatusCode::BAD_REQUEST
    );

    // In-process stream: the concatenated chunks hold every key once.
    let r = h.get("/buckets/b1/keys?keys=stream").await;
    assert_eq!(r.status, StatusCode::OK);
    let keys: Vec<String> = serde_json::Deserializer::from_slice(&r.body)
        .into_iter::<serde_json::Value>()
        .flat_map(|v| {
            v.unwrap()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(keys, ["a", "b", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_stream_is_chunked_over_http_and_shutdown_drains() {
    let h = Harness::new();
    for i in 0..5 {
        h.put(&format!("/buckets/s/keys/k{i}"), &[], "v").await;
    }
    let config = shale_riak::RiakConfig {
        stream_chunk_keys: 2,
        ..Default::default()
    };
    let (addr, task) = common::start_server(h.ctx.clone(), config).await;
    let (status, headers, body) = common::raw_http(
        addr,
        "GET /buckets/s/keys?keys=stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status.contains("200"), "{status}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{headers}"
    );
    let chunks: Vec<serde_json::Value> = common::dechunk(&body)
        .iter()
        .map(|c| serde_json::from_slice(c).unwrap())
        .collect();
    assert_eq!(
        chunks,
        [
            json!({"keys": ["k0", "k1"]}),
            json!({"keys": ["k2", "k3"]}),
            json!({"keys": ["k4"]})
        ]
    );
    // An empty bucket still streams one (empty) object.
    let (_, _, body) = common::raw_http(
        addr,
        "GET /buckets/empty/keys?keys=stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(common::dechunk(&body), [b"{\"keys\":[]}".to_vec()]);

    let (status, _, body) = common::raw_http(
        addr,
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status.contains("200"));
    assert_eq!(body, b"OK");

    h.ctx.shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_props() {
    let h = Harness::new();
    let r = h.get("/buckets/pb/props").await;
    assert_eq!(r.status, StatusCode::OK);
    let p = &r.json()["props"];
    assert_eq!(p["name"], "pb");
    assert_eq!(p["n_val"], 3);
    assert_eq!(p["allow_mult"], false);
    assert_eq!(p["last_write_wins"], false);

    let r = h
        .req(
            "PUT",
            "/buckets/pb/props",
            &[("Content-Type", "application/json")],
            "{\"props\":{\"n_val\":5,\"allow_mult\":true,\"custom\":\"x\"}}",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let p = h.get("/buckets/pb/props").await.json()["props"].clone();
    assert_eq!(
        (p["n_val"].clone(), p["allow_mult"].clone()),
        (json!(5), json!(true))
    );
    assert_eq!(p["custom"], "x");
    assert_eq!(p["name"], "pb");
    // A second PUT merges.
    h.req(
        "PUT",
        "/buckets/pb/props",
        &[],
        "{\"props\":{\"last_write_wins\":true}}",
    )
    .await;
    let p = h.get("/buckets/pb/props").await.json()["props"].clone();
    assert_eq!(
        (p["n_val"].clone(), p["last_write_wins"].clone()),
        (json!(5), json!(true))
    );
    // Typed buckets report their type; other buckets are untouched.
    let p = h.get("/types/t/buckets/pb/props").await.json()["props"].clone();
    assert_eq!(
        (p["bucket_type"].clone(), p["n_val"].clone()),
        (json!("t"), json!(3))
    );

    for bad in [
        "{not json",
        "[1,2]",
        "{\"props\":3}",
        "{\"props\":{\"n_val\":0}}",
        "{\"props\":{\"allow_mult\":\"yes\"}}",
    ] {
        let r = h.req("PUT", "/buckets/pb/props", &[], bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
    assert_eq!(h.get("/buckets/pb/props").await.json()["props"]["n_val"], 5);
    // DELETE resets to the defaults.
    let r = h
        .req("DELETE", "/buckets/pb/props", &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get("/buckets/pb/props").await.json()["props"]["n_val"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_stats_and_resource_map() {
    let h = Harness::new();
    let r = h.get("/ping").await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, "OK".to_string()));

    h.put("/buckets/s/keys/k", &[], "v").await;
    h.get("/buckets/s/keys/k").await;
    h.get("/buckets/s/keys/k").await;
    let s = h.get("/stats").await.json();
    assert_eq!(s["riak_kv_version"], "2.2.3");
    assert_eq!(s["node_gets_total"], 2);
    assert_eq!(s["node_puts_total"], 1);
    assert!(s["shale_engine_writes"].as_u64().unwrap() >= 1);

    let r = h
        .req("GET", "/", &[("Accept", "application/json")], Body::empty())
        .await;
    assert_eq!(
        r.json(),
        json!({"riak_kv_wm_buckets":"/buckets","riak_kv_wm_index":"/buckets","riak_kv_wm_keylist":"/buckets","riak_kv_wm_link_walker":"/buckets","riak_kv_wm_object":"/buckets","riak_kv_wm_ping":"/ping","riak_kv_wm_props":"/buckets","riak_kv_wm_stats":"/stats"})
    );
    let r = h.get("/").await;
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.text().contains("<a href=\"/ping\">riak_kv_wm_ping</a>"));
    assert!(
        r.header("link")
            .unwrap()
            .contains("</stats>; rel=\"riak_kv_wm_stats\"")
    );

    // Every request was recorded under the riak protocol.
    let snap = h.ctx.metrics.snapshot();
    let calls = |cmd: &str| {
        snap.iter()
            .filter(|c| c.protocol == "riak" && c.command == cmd)
            .map(|c| c.calls)
            .sum::<u64>()
    };
    assert_eq!(calls("get"), 2);
    assert_eq!(calls("put"), 1);
    assert_eq!(calls("ping"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_riak_clients_and_limited() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::with_limits(shale_server::Limits {
        max_clients: 1,
        ..Default::default()
    });
    let (addr, task) = common::start_server(h.ctx.clone(), shale_riak::RiakConfig::default()).await;
    // A keep-alive connection: once answered, it is registered.
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    a.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let mut got = Vec::new();
    while !got.ends_with(b"OK") {
        let n = a.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(h.ctx.clients.connected(Some("riak")), 1);
    // A second connection is over the limit.
    let (status, _, body) = common::raw_http(
        addr,
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status.contains("503"), "{status}");
    assert_eq!(body, b"max number of clients reached\n");
    assert_eq!(h.ctx.metrics.connections_rejected(), 1);
    drop(a);
    h.ctx.shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::with_limits(shale_server::Limits {
        idle_timeout_secs: 1,
        ..Default::default()
    });
    let (addr, task) = common::start_server(h.ctx.clone(), shale_riak::RiakConfig::default()).await;
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    a.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1024];
    // Read the answer, then wait for the server to close the idle connection
    // (read returns 0, or the reset it may send instead).
    let started = std::time::Instant::now();
    loop {
        match a.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(got.ends_with(b"OK"), "{}", String::from_utf8_lossy(&got));
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    h.ctx.shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_type_props_underlie_bucket_props() {
    let h = Harness::new();
    let p = h.get("/types/t/props").await.json()["props"].clone();
    assert_eq!(
        (p["n_val"].clone(), p["active"].clone()),
        (json!(3), json!(true))
    );
    assert!(p.get("name").is_none());
    let r = h
        .req(
            "PUT",
            "/types/t/props",
            &[],
            "{\"props\":{\"n_val\":2,\"allow_mult\":true}}",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    h.req(
        "PUT",
        "/types/t/buckets/b/props",
        &[],
        "{\"props\":{\"n_val\":4}}",
    )
    .await;
    let p = h.get("/types/t/buckets/b/props").await.json()["props"].clone();
    assert_eq!(
        (p["n_val"].clone(), p["allow_mult"].clone()),
        (json!(4), json!(true))
    );
    let p = h.get("/types/t/buckets/other/props").await.json()["props"].clone();
    assert_eq!(p["n_val"], 2);
    // Untyped buckets are not affected.
    assert_eq!(h.get("/buckets/b/props").await.json()["props"]["n_val"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_features_say_so() {
    let h = Harness::new();
    for (method, uri) in [
        ("POST", "/mapred"),
        ("GET", "/riak/b/k"),
        ("GET", "/buckets/b/keys/k/_,_,_"),
        ("GET", "/types/maps/buckets/b/datatypes/k"),
        ("GET", "/search/query/idx"),
    ] {
        let r = h.req(method, uri, &[], Body::empty()).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{uri}");
        assert!(r.text().contains("not supported"), "{uri}");
    }
}
