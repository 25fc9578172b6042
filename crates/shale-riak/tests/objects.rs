#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Objects: lifecycle, metadata, vclock/ETag, conditional requests, returnbody,
//! generated keys, bad input and persistence.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::Harness;
use shale_server::{Context, Limits, SyncPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lifecycle() {
    let h = Harness::new();
    let r = h.get("/buckets/b/keys/k").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text(), "not found\n");

    let r = h
        .put("/buckets/b/keys/k", &[("Content-Type", "text/plain")], "v1")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());

    let r = h.get("/buckets/b/keys/k").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "v1");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.header("x-riak-vclock").is_some());
    assert!(r.header("etag").unwrap().starts_with('"'));
    assert!(r.header("last-modified").unwrap().ends_with("GMT"));
    assert_eq!(r.header("link"), Some("</buckets/b>; rel=\"up\""));

    // POST to a key overwrites like PUT.
    let r = h
        .req(
            "POST",
            "/buckets/b/keys/k",
            &[("Content-Type", "application/json")],
            "{\"a\":1}",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.get("/buckets/b/keys/k").await;
    assert_eq!(r.text(), "{\"a\":1}");
    assert_eq!(r.header("content-type"), Some("application/json"));

    // HEAD: headers without the body.
    let r = h.req("HEAD", "/buckets/b/keys/k", &[], Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert!(r.header("etag").is_some());

    let r = h
        .req("DELETE", "/buckets/b/keys/k", &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.get("/buckets/b/keys/k").await.status,
        StatusCode::NOT_FOUND
    );
    let r = h
        .req("DELETE", "/buckets/b/keys/k", &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Default content type, and typed buckets: `default` is the untyped namespace.
    h.put("/types/default/buckets/b/keys/t", &[], "x").await;
    let r = h.get("/buckets/b/keys/t").await;
    assert_eq!(r.text(), "x");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    h.put("/types/maps/buckets/b/keys/t", &[], "typed").await;
    assert_eq!(h.get("/buckets/b/keys/t").await.text(), "x");
    let r = h.get("/types/maps/buckets/b/keys/t").await;
    assert_eq!(r.text(), "typed");
    assert_eq!(
        r.header("link"),
        Some("</types/maps/buckets/b>; rel=\"up\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_metadata_round_trips_and_is_replaced() {
    let h = Harness::new();
    let r = h
        .put(
            "/buckets/b/keys/m",
            &[
                ("X-Riak-Meta-Color", "blue"),
                ("X-Riak-Meta-Owner", "ada lovelace"),
            ],
            "v",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.get("/buckets/b/keys/m").await;
    assert_eq!(r.header("x-riak-meta-color"), Some("blue"));
    assert_eq!(r.header("x-riak-meta-owner"), Some("ada lovelace"));
    h.put("/buckets/b/keys/m", &[("X-Riak-Meta-Size", "9")], "v")
        .await;
    let r = h.get("/buckets/b/keys/m").await;
    assert_eq!(r.header("x-riak-meta-size"), Some("9"));
    assert_eq!(r.header("x-riak-meta-color"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vclock_and_etag_change_with_each_write() {
    let h = Harness::new();
    h.put("/buckets/b/keys/v", &[], "1").await;
    let a = h.get("/buckets/b/keys/v").await;
    // Re-reading does not change them.
    let a2 = h.get("/buckets/b/keys/v").await;
    assert_eq!(a.header("etag"), a2.header("etag"));
    assert_eq!(a.header("x-riak-vclock"), a2.header("x-riak-vclock"));
    let vclock = a.header("x-riak-vclock").unwrap().to_string();
    h.put("/buckets/b/keys/v", &[("X-Riak-Vclock", &vclock)], "2")
        .await;
    let b = h.get("/buckets/b/keys/v").await;
    assert_ne!(a.header("etag"), b.header("etag"));
    assert_ne!(a.header("x-riak-vclock"), b.header("x-riak-vclock"));
    assert_eq!(b.text(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_requests() {
    let h = Harness::new();
    // If-None-Match: * creates only if absent.
    let r = h
        .put("/buckets/c/keys/k", &[("If-None-Match", "*")], "first")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h
        .put("/buckets/c/keys/k", &[("If-None-Match", "*")], "second")
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(h.get("/buckets/c/keys/k").await.text(), "first");

    let got = h.get("/buckets/c/keys/k").await;
    let etag = got.header("etag").unwrap().to_string();
    let lm = got.header("last-modified").unwrap().to_string();

    // If-None-Match on GET: 304 when it matches, 200 when not.
    let r = h
        .req(
            "GET",
            "/buckets/c/keys/k",
            &[("If-None-Match", &etag)],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = h
        .req(
            "GET",
            "/buckets/c/keys/k",
            &[("If-None-Match", "\"other\"")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // If-Modified-Since: 304 at the last-modified time, 200 before it.
    let r = h
        .req(
            "GET",
            "/buckets/c/keys/k",
            &[("If-Modified-Since", &lm)],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = h
        .req(
            "GET",
            "/buckets/c/keys/k",
            &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // If-Unmodified-Since: a write fails if the object changed after the date.
    let r = h
        .put(
            "/buckets/c/keys/k",
            &[("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
            "x",
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = h
        .put(
            "/buckets/c/keys/k",
            &[("If-Unmodified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")],
            "second",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // If-Match: the old ETag no longer matches; the current one does.
    let r = h
        .put("/buckets/c/keys/k", &[("If-Match", &etag)], "third")
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let current = h
        .get("/buckets/c/keys/k")
        .await
        .header("etag")
        .unwrap()
        .to_string();
    let r = h
        .put("/buckets/c/keys/k", &[("If-Match", &current)], "third")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get("/buckets/c/keys/k").await.text(), "third");

    // If-Match on a missing object and on delete.
    let r = h
        .put("/buckets/c/keys/missing", &[("If-Match", "*")], "x")
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = h
        .req(
            "DELETE",
            "/buckets/c/keys/k",
            &[("If-Match", "\"nope\"")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(h.get("/buckets/c/keys/k").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returnbody_and_generated_keys() {
    let h = Harness::new();
    let r = h
        .put(
            "/buckets/r/keys/k?returnbody=true",
            &[("Content-Type", "text/plain"), ("X-Riak-Meta-A", "1")],
            "body",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "body");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-riak-meta-a"), Some("1"));
    assert!(r.header("x-riak-vclock").is_some());

    let r = h
        .req(
            "POST",
            "/buckets/r/keys",
            &[("Content-Type", "text/plain")],
            "gen",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.starts_with("/buckets/r/keys/"), "{loc}");
    assert!(loc.len() > "/buckets/r/keys/".len() + 10);
    assert_eq!(h.get(&loc).await.text(), "gen");

    let r = h
        .req("POST", "/buckets/r/keys?returnbody=true", &[], "gen2")
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.text(), "gen2");
    let loc2 = r.header("location").unwrap();
    assert_ne!(loc, loc2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let limits = Limits {
        max_request_bytes: 1024,
        ..Limits::default()
    };
    let h = Harness::with_limits(limits);
    // Empty bucket or key.
    assert_eq!(
        h.put("/buckets//keys/k", &[], "v").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.put("/buckets/b/keys/", &[], "v").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get("/types//buckets/b/keys/k").await.status,
        StatusCode::BAD_REQUEST
    );
    // Oversized body, declared or streamed.
    let big = "x".repeat(2000);
    let r = h.put("/buckets/b/keys/big", &[], &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().contains("1024"));
    let r = h
        .req(
            "PUT",
            "/buckets/b/keys/big",
            &[("Content-Length", "99999999999999")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let stream = futures_stream(vec![vec![b'a'; 600], vec![b'b'; 600]]);
    let r = h.req("PUT", "/buckets/b/keys/big", &[], stream).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        h.get("/buckets/b/keys/big").await.status,
        StatusCode::NOT_FOUND
    );
    // Malformed Content-Length.
    let r = h
        .req(
            "PUT",
            "/buckets/b/keys/k",
            &[("Content-Length", "abc")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Unknown index type and bad int.
    let r = h
        .put("/buckets/b/keys/k", &[("X-Riak-Index-foo", "1")], "v")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h
        .put(
            "/buckets/b/keys/k",
            &[("X-Riak-Index-age_int", "twelve")],
            "v",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("age_int"));
    assert_eq!(
        h.get("/buckets/b/keys/k").await.status,
        StatusCode::NOT_FOUND
    );
    // Unknown resource and method.
    assert_eq!(h.get("/nope").await.status, StatusCode::NOT_FOUND);
    let r = h
        .req("PATCH", "/buckets/b/keys/k", &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.header("allow").is_some());
    // A key of non-UTF-8 bytes is fine.
    let r = h.put("/buckets/b/keys/%FF%00z", &[], "bin").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get("/buckets/b/keys/%FF%00z").await.text(), "bin");
}

fn futures_stream(chunks: Vec<Vec<u8>>) -> Body {
    let s = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(c))),
    );
    Body::from_stream(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_names_are_plain_names() {
    let h = Harness::new();
    let r = h
        .put("/buckets/..%2F..%2Fetc/keys/..%2Fpasswd", &[], "safe")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.get("/buckets/..%2F..%2Fetc/keys/..%2Fpasswd")
            .await
            .text(),
        "safe"
    );
    let r = h.get("/buckets?buckets=true").await;
    assert_eq!(r.json()["buckets"], serde_json::json!(["../../etc"]));
    let r = h.get("/buckets/..%2F..%2Fetc/keys?keys=true").await;
    assert_eq!(r.json()["keys"], serde_json::json!(["../passwd"]));
    // Nothing was created outside the database directory.
    let parent = h.dir.path().parent().unwrap();
    assert!(!parent.join("passwd").exists());
    assert!(!parent.join("etc").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_and_indexes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = common::open_db(dir.path());
        let ctx = Context::new(db, Limits::default(), SyncPolicy::Always);
        let app = shale_riak::router(ctx.clone(), shale_riak::RiakConfig::default());
        let h = Harness {
            dir: tempfile::tempdir().unwrap(),
            ctx,
            app,
        };
        let r = h
            .put(
                "/buckets/p/keys/k",
                &[
                    ("Content-Type", "text/plain"),
                    ("X-Riak-Index-n_int", "-3"),
                    ("X-Riak-Meta-M", "m"),
                ],
                "kept",
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        h.req("PUT", "/buckets/p/props", &[], "{\"props\":{\"n_val\":1}}")
            .await;
    }
    let db = common::open_db(dir.path());
    let ctx = Context::new(db, Limits::default(), SyncPolicy::Always);
    let app = shale_riak::router(ctx.clone(), shale_riak::RiakConfig::default());
    let h = Harness {
        dir: tempfile::tempdir().unwrap(),
        ctx,
        app,
    };
    let r = h.get("/buckets/p/keys/k").await;
    assert_eq!(r.text(), "kept");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-riak-meta-m"), Some("m"));
    assert_eq!(r.header("x-riak-index-n_int"), Some("-3"));
    let r = h.get("/buckets/p/index/n_int/-5/0").await;
    assert_eq!(r.json()["keys"], serde_json::json!(["k"]));
    assert_eq!(h.get("/buckets/p/props").await.json()["props"]["n_val"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_encoding_and_links_are_kept() {
    let h = Harness::new();
    let r = h
        .put(
            "/buckets/l/keys/k",
            &[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Encoding", "identity"),
                (
                    "Link",
                    "</buckets/l/keys/k2>; riaktag=\"friend\", </buckets/l>; rel=\"up\"",
                ),
            ],
            "v",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.get("/buckets/l/keys/k").await;
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("content-encoding"), Some("identity"));
    assert_eq!(
        r.header("link"),
        Some("</buckets/l>; rel=\"up\", </buckets/l/keys/k2>; riaktag=\"friend\"")
    );
    // A rewrite without them drops them.
    h.put("/buckets/l/keys/k", &[], "v2").await;
    let r = h.get("/buckets/l/keys/k").await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("link"), Some("</buckets/l>; rel=\"up\""));
}
