#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Time to live, with the Db's manual clock.

mod common;

use std::time::Duration;

use common::{START_MS, TestServer};
use serde_json::json;

#[tokio::test]
async fn expired_items_vanish_from_every_read() {
    let s = TestServer::new();
    s.create("sess", ("id", "S"), None).await;
    let v = s
        .ok("DescribeTimeToLive", json!({"TableName": "sess"}))
        .await;
    assert_eq!(v["TimeToLiveDescription"]["TimeToLiveStatus"], "DISABLED");
    let v = s
        .ok(
            "UpdateTimeToLive",
            json!({"TableName": "sess", "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": true}}),
        )
        .await;
    assert_eq!(
        v["TimeToLiveSpecification"],
        json!({"AttributeName": "exp", "Enabled": true})
    );
    let (_, msg, _) = s
        .err(
            "UpdateTimeToLive",
            json!({"TableName": "sess", "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": true}}),
        )
        .await;
    assert_eq!(msg, "TimeToLive is already enabled");
    let v = s
        .ok("DescribeTimeToLive", json!({"TableName": "sess"}))
        .await;
    assert_eq!(
        v["TimeToLiveDescription"],
        json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})
    );

    let now_s = START_MS / 1000;
    s.put(
        "sess",
        json!({"id": {"S": "short"}, "exp": {"N": (now_s + 60).to_string()}}),
    )
    .await;
    s.put(
        "sess",
        json!({"id": {"S": "long"}, "exp": {"N": (now_s + 3600).to_string()}}),
    )
    .await;
    s.put(
        "sess",
        json!({"id": {"S": "past"}, "exp": {"N": (now_s - 1).to_string()}}),
    )
    .await;
    s.put("sess", json!({"id": {"S": "none"}})).await;
    s.put(
        "sess",
        json!({"id": {"S": "text"}, "exp": {"S": "not a number"}}),
    )
    .await;

    assert!(s.get("sess", json!({"id": {"S": "past"}})).await.is_none());
    assert!(s.get("sess", json!({"id": {"S": "short"}})).await.is_some());
    let v = s.ok("Scan", json!({"TableName": "sess"})).await;
    assert_eq!(v["Count"], 4);

    s.clock.advance(Duration::from_secs(61));
    assert!(s.get("sess", json!({"id": {"S": "short"}})).await.is_none());
    let v = s
        .ok("Scan", json!({"TableName": "sess", "Select": "COUNT"}))
        .await;
    assert_eq!(v["Count"], 3);
    // An expired item counts as absent for conditions.
    s.ok(
        "PutItem",
        json!({"TableName": "sess", "Item": {"id": {"S": "short"}}, "ConditionExpression": "attribute_not_exists(id)"}),
    )
    .await;
    let v = s
        .ok(
            "BatchGetItem",
            json!({"RequestItems": {"sess": {"Keys": [{"id": {"S": "long"}}, {"id": {"S": "past"}}]}}}),
        )
        .await;
    assert_eq!(v["Responses"]["sess"].as_array().unwrap().len(), 1);

    s.clock.advance(Duration::from_secs(3600));
    let v = s
        .ok("Scan", json!({"TableName": "sess", "Select": "COUNT"}))
        .await;
    assert_eq!(v["Count"], 3, "none, text, and the re-put short remain");

    // Compaction reclaims the expired entries: the engine no longer has them.
    let ks = s.db().keyspace("dynamo.sess").unwrap();
    ks.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(ks.iter().count(), 3);

    let v = s
        .ok(
            "UpdateTimeToLive",
            json!({"TableName": "sess", "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": false}}),
        )
        .await;
    assert_eq!(v["TimeToLiveSpecification"]["Enabled"], false);
}
