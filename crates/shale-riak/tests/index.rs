#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Secondary indexes: exact and range queries on bin and int indexes (negative
//! ints too), `$bucket` and `$key`, paging, and index upkeep on overwrite and delete.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::Harness;
use serde_json::{Value, json};

async fn keys(h: &Harness, uri: &str) -> Value {
    let r = h.get(uri).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
    r.json()["keys"].clone()
}

async fn seed(h: &Harness) {
    for (k, email, age) in [
        ("alice", "alice@example.com", "34"),
        ("bob", "bob@example.com", "-7"),
        ("carol", "carol@example.org", "0"),
        ("dave", "dave@example.com, d@x.io", "-120"),
        ("erin", "erin@example.org", "9000000000"),
    ] {
        let r = h
            .put(
                &format!("/buckets/users/keys/{k}"),
                &[
                    ("X-Riak-Index-email_bin", email),
                    ("X-Riak-Index-age_int", age),
                ],
                k,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_and_range_queries() {
    let h = Harness::new();
    seed(&h).await;
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/bob@example.com").await,
        json!(["bob"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/d@x.io").await,
        json!(["dave"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/nobody").await,
        json!([])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/a/c").await,
        json!(["alice", "bob"])
    );
    assert_eq!(
        keys(
            &h,
            "/buckets/users/index/email_bin/carol@example.org/erin@example.org"
        )
        .await,
        json!(["carol", "dave", "erin"])
    );
    // dave has two terms in that range and is listed once.
    // Ints: ordered numerically, negatives included.
    assert_eq!(
        keys(&h, "/buckets/users/index/age_int/-7").await,
        json!(["bob"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/age_int/-200/0").await,
        json!(["dave", "bob", "carol"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/age_int/-7/100").await,
        json!(["bob", "carol", "alice"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/age_int/1/9999999999").await,
        json!(["alice", "erin"])
    );
    // Index names are case-insensitive like headers; URLs use lower case.
    assert_eq!(
        keys(&h, "/buckets/users/index/AGE_INT/0").await,
        json!(["carol"])
    );
    // return_terms.
    let r = h
        .get("/buckets/users/index/age_int/-10/1?return_terms=true")
        .await;
    assert_eq!(
        r.json(),
        json!({"results": [{"-7": "bob"}, {"0": "carol"}]})
    );
    // Headers come back on GET.
    let r = h.get("/buckets/users/keys/dave").await;
    assert_eq!(
        r.header("x-riak-index-email_bin"),
        Some("d@x.io, dave@example.com")
    );
    assert_eq!(r.header("x-riak-index-age_int"), Some("-120"));
    // Other buckets and types are separate.
    assert_eq!(
        keys(&h, "/buckets/other/index/age_int/-200/200").await,
        json!([])
    );
    assert_eq!(
        keys(&h, "/types/t/buckets/users/index/age_int/-200/200").await,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_indexes_and_paging() {
    let h = Harness::new();
    seed(&h).await;
    h.put("/buckets/other/keys/zed", &[], "z").await;
    assert_eq!(
        keys(&h, "/buckets/users/index/$bucket/users").await,
        json!(["alice", "bob", "carol", "dave", "erin"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/$key/b/d").await,
        json!(["bob", "carol"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/$key/bob/dave").await,
        json!(["bob", "carol", "dave"])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/%24key/carol").await,
        json!(["carol"])
    );

    // Paging through an int range two at a time.
    let mut all = Vec::new();
    let mut cont: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &cont {
            None => "/buckets/users/index/age_int/-1000/10000000000?max_results=2".to_string(),
            Some(c) => format!(
                "/buckets/users/index/age_int/-1000/10000000000?max_results=2&continuation={c}"
            ),
        };
        let v = h.get(&uri).await.json();
        pages += 1;
        all.extend(
            v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_string()),
        );
        match v.get("continuation") {
            Some(c) => {
                cont = Some(
                    c.as_str()
                        .unwrap()
                        .replace('+', "%2B")
                        .replace('/', "%2F")
                        .replace('=', "%3D"),
                )
            }
            None => break,
        }
    }
    assert_eq!(all, ["dave", "bob", "carol", "alice", "erin"]);
    assert_eq!(pages, 3);
    // Paging $bucket.
    let v = h
        .get("/buckets/users/index/$bucket/users?max_results=3")
        .await
        .json();
    assert_eq!(v["keys"], json!(["alice", "bob", "carol"]));
    assert!(v.get("continuation").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_entries_follow_overwrites_and_deletes() {
    let h = Harness::new();
    seed(&h).await;
    // Overwrite bob with a new email and no age.
    h.put(
        "/buckets/users/keys/bob",
        &[("X-Riak-Index-email_bin", "robert@example.com")],
        "b",
    )
    .await;
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/bob@example.com").await,
        json!([])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/robert@example.com").await,
        json!(["bob"])
    );
    assert_eq!(keys(&h, "/buckets/users/index/age_int/-7").await, json!([]));
    assert_eq!(
        h.get("/buckets/users/keys/bob")
            .await
            .header("x-riak-index-age_int"),
        None
    );
    // Delete dave: both his email terms go.
    let r = h
        .req("DELETE", "/buckets/users/keys/dave", &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/d@x.io").await,
        json!([])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/age_int/-1000/1000").await,
        json!(["carol", "alice"])
    );
    // A failed conditional write leaves the entries as they were.
    let r = h
        .put(
            "/buckets/users/keys/alice",
            &[("If-Match", "\"stale\""), ("X-Riak-Index-age_int", "1")],
            "a",
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        keys(&h, "/buckets/users/index/age_int/34").await,
        json!(["alice"])
    );
    assert_eq!(keys(&h, "/buckets/users/index/age_int/1").await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_index_queries() {
    let h = Harness::new();
    seed(&h).await;
    for uri in [
        "/buckets/users/index/age_int/old",
        "/buckets/users/index/age_int/1/x",
        "/buckets/users/index/age_int/99999999999999999999",
        "/buckets/users/index/age/1",
        "/buckets/users/index/age_int",
        "/buckets/users/index/age_int/1/2/3",
        "/buckets/users/index/age_int/1?max_results=0",
        "/buckets/users/index/age_int/1?continuation=%21%21",
    ] {
        let r = h.get(uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(!r.body.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_index_terms_are_refused() {
    let h = Harness::with_limits(shale_server::Limits {
        max_items_per_command: 3,
        ..Default::default()
    });
    let r = h
        .put(
            "/buckets/b/keys/k",
            &[("X-Riak-Index-t_int", "1, 2, 3")],
            "v",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h
        .put(
            "/buckets/b/keys/k",
            &[("X-Riak-Index-t_int", "1, 2, 3, 4")],
            "v",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(keys(&h, "/buckets/b/index/t_int/0/10").await, json!(["k"]));
    assert_eq!(
        h.get("/buckets/b/keys/k")
            .await
            .header("x-riak-index-t_int"),
        Some("1, 2, 3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inverted_ranges_are_empty() {
    let h = Harness::new();
    seed(&h).await;
    assert_eq!(
        keys(&h, "/buckets/users/index/age_int/100/-100").await,
        json!([])
    );
    assert_eq!(
        keys(&h, "/buckets/users/index/email_bin/z/a").await,
        json!([])
    );
    assert_eq!(keys(&h, "/buckets/users/index/$key/z/a").await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_leave_one_consistent_index_entry() {
    let h = std::sync::Arc::new(Harness::new());
    let mut tasks = Vec::new();
    for w in 0..6 {
        let h = std::sync::Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let term = format!("{}", w * 100 + i);
                let r = h
                    .put(
                        "/buckets/c/keys/shared",
                        &[("X-Riak-Index-n_int", &term)],
                        &term,
                    )
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let last = h.get("/buckets/c/keys/shared").await.text();
    let r = h
        .get("/buckets/c/index/n_int/0/10000?return_terms=true")
        .await;
    assert_eq!(r.json(), json!({"results": [{last.clone(): "shared"}]}));
}
