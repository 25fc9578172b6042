#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! BatchGetItem, BatchWriteItem, TransactWriteItems, TransactGetItems.

mod common;

use common::TestServer;
use serde_json::{Value, json};

fn k(id: &str) -> Value {
    json!({"id": {"S": id}})
}

#[tokio::test]
async fn batch_write_and_get() {
    let s = TestServer::new();
    s.create("one", ("id", "S"), None).await;
    s.create("two", ("id", "S"), None).await;
    let puts: Vec<Value> = (0..20)
        .map(|i| json!({"PutRequest": {"Item": {"id": {"S": format!("k{i}")}, "v": {"N": i.to_string()}}}}))
        .collect();
    let v = s
        .ok(
            "BatchWriteItem",
            json!({"RequestItems": {"one": puts, "two": [{"PutRequest": {"Item": {"id": {"S": "x"}}}}]}}),
        )
        .await;
    assert_eq!(v, json!({"UnprocessedItems": {}}));
    let v = s
        .ok(
            "BatchWriteItem",
            json!({"RequestItems": {"one": [{"DeleteRequest": {"Key": k("k0")}}, {"DeleteRequest": {"Key": k("k1")}}]}}),
        )
        .await;
    assert_eq!(v["UnprocessedItems"], json!({}));

    let keys: Vec<Value> = (0..5).map(|i| k(&format!("k{i}"))).collect();
    let v = s
        .ok(
            "BatchGetItem",
            json!({"RequestItems": {
                "one": {"Keys": keys, "ProjectionExpression": "v"},
                "two": {"Keys": [k("x"), k("missing")]}
            }}),
        )
        .await;
    let mut got: Vec<String> = v["Responses"]["one"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["v"]["N"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, ["2", "3", "4"]);
    assert_eq!(v["Responses"]["two"], json!([{"id": {"S": "x"}}]));
    assert_eq!(v["UnprocessedKeys"], json!({}));

    // Limits and duplicates.
    let too_many: Vec<Value> = (0..26)
        .map(|i| json!({"PutRequest": {"Item": {"id": {"S": format!("z{i}")}}}}))
        .collect();
    let (name, msg, _) = s
        .err("BatchWriteItem", json!({"RequestItems": {"one": too_many}}))
        .await;
    assert_eq!(name, "ValidationException");
    assert!(msg.contains("BatchWriteItem"), "{msg}");
    let keys: Vec<Value> = (0..101).map(|i| k(&format!("k{i}"))).collect();
    let (name, msg, _) = s
        .err(
            "BatchGetItem",
            json!({"RequestItems": {"one": {"Keys": keys}}}),
        )
        .await;
    assert_eq!(name, "ValidationException");
    assert_eq!(msg, "Too many items requested for the BatchGetItem call");
    let (_, msg, _) = s
        .err(
            "BatchGetItem",
            json!({"RequestItems": {"one": {"Keys": [k("a"), k("a")]}}}),
        )
        .await;
    assert_eq!(msg, "Provided list of item keys contains duplicates");
    let (_, msg, _) = s
        .err(
            "BatchWriteItem",
            json!({"RequestItems": {"one": [{"DeleteRequest": {"Key": k("q")}}, {"PutRequest": {"Item": k("q")}}]}}),
        )
        .await;
    assert_eq!(msg, "Provided list of item keys contains duplicates");
    // A bad request in a batch writes nothing.
    let (name, _, _) = s
        .err(
            "BatchWriteItem",
            json!({"RequestItems": {"one": [{"PutRequest": {"Item": k("good")}}, {"PutRequest": {"Item": {"id": {"N": "1"}}}}]}}),
        )
        .await;
    assert_eq!(name, "ValidationException");
    assert!(s.get("one", k("good")).await.is_none());
    let (name, _, _) = s
        .err(
            "BatchWriteItem",
            json!({"RequestItems": {"nosuch": [{"PutRequest": {"Item": k("a")}}]}}),
        )
        .await;
    assert_eq!(name, "ResourceNotFoundException");
}

#[tokio::test]
async fn transact_write_is_all_or_nothing() {
    let s = TestServer::new();
    s.create("acct", ("id", "S"), None).await;
    s.put("acct", json!({"id": {"S": "alice"}, "bal": {"N": "100"}}))
        .await;
    s.put("acct", json!({"id": {"S": "bob"}, "bal": {"N": "5"}}))
        .await;
    let transfer = |amount: &str| {
        json!({"TransactItems": [
            {"Update": {"TableName": "acct", "Key": k("alice"), "UpdateExpression": "SET bal = bal - :a",
                        "ConditionExpression": "bal >= :a", "ExpressionAttributeValues": {":a": {"N": amount}}}},
            {"Update": {"TableName": "acct", "Key": k("bob"), "UpdateExpression": "SET bal = bal + :a",
                        "ExpressionAttributeValues": {":a": {"N": amount}}}},
            {"Put": {"TableName": "acct", "Item": {"id": {"S": format!("log-{amount}")}}}},
            {"ConditionCheck": {"TableName": "acct", "Key": k("carol"), "ConditionExpression": "attribute_not_exists(id)"}}
        ]})
    };
    assert_eq!(s.ok("TransactWriteItems", transfer("30")).await, json!({}));
    assert_eq!(
        s.get("acct", k("alice")).await.unwrap()["bal"],
        json!({"N": "70"})
    );
    assert_eq!(
        s.get("acct", k("bob")).await.unwrap()["bal"],
        json!({"N": "35"})
    );

    let mut t = transfer("500");
    t["TransactItems"][0]["Update"]["ReturnValuesOnConditionCheckFailure"] = json!("ALL_OLD");
    let (name, msg, body) = s.err("TransactWriteItems", t).await;
    assert_eq!(name, "TransactionCanceledException");
    assert_eq!(
        msg,
        "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None, None]"
    );
    assert_eq!(
        body["CancellationReasons"],
        json!([
            {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
             "Item": {"id": {"S": "alice"}, "bal": {"N": "70"}}},
            {"Code": "None"}, {"Code": "None"}, {"Code": "None"}
        ])
    );
    // Nothing of the cancelled transaction was applied.
    assert_eq!(
        s.get("acct", k("alice")).await.unwrap()["bal"],
        json!({"N": "70"})
    );
    assert_eq!(
        s.get("acct", k("bob")).await.unwrap()["bal"],
        json!({"N": "35"})
    );
    assert!(s.get("acct", k("log-500")).await.is_none());

    // Two actions on one item are rejected up front.
    let (name, msg, _) = s
        .err(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Delete": {"TableName": "acct", "Key": k("bob")}},
                {"Put": {"TableName": "acct", "Item": {"id": {"S": "bob"}}}}
            ]}),
        )
        .await;
    assert_eq!(name, "ValidationException");
    assert_eq!(
        msg,
        "Transaction request cannot include multiple operations on one item"
    );

    let v = s
        .ok(
            "TransactGetItems",
            json!({"TransactItems": [
                {"Get": {"TableName": "acct", "Key": k("alice"), "ProjectionExpression": "bal"}},
                {"Get": {"TableName": "acct", "Key": k("nobody")}},
                {"Get": {"TableName": "acct", "Key": k("bob")}}
            ]}),
        )
        .await;
    assert_eq!(
        v["Responses"],
        json!([{"Item": {"bal": {"N": "70"}}}, {}, {"Item": {"id": {"S": "bob"}, "bal": {"N": "35"}}}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_counter_updates_are_not_lost() {
    let s = std::sync::Arc::new(TestServer::new());
    s.create("ctr", ("id", "S"), None).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                s.ok(
                    "UpdateItem",
                    json!({"TableName": "ctr", "Key": k("c"), "UpdateExpression": "ADD n :one",
                           "ExpressionAttributeValues": {":one": {"N": "1"}}}),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        s.get("ctr", k("c")).await.unwrap()["n"],
        json!({"N": "100"})
    );
}

/// A `BatchGetItem` whose items add up to more than 16 MB answers with the items
/// that fit and exactly the other keys in `UnprocessedKeys`; retrying those gets
/// the rest. `BatchWriteItem` never leaves anything unprocessed.
#[tokio::test]
async fn batch_get_past_sixteen_megabytes_returns_unprocessed_keys() {
    let s = TestServer::new();
    s.create("fat", ("id", "S"), None).await;
    let blob = "x".repeat(350_000);
    let ids: Vec<String> = (0..100).map(|i| format!("k{i:03}")).collect();
    for chunk in ids.chunks(25) {
        let puts: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"PutRequest": {"Item": {"id": {"S": id}, "v": {"S": blob}}}}))
            .collect();
        let v = s
            .ok("BatchWriteItem", json!({"RequestItems": {"fat": puts}}))
            .await;
        assert_eq!(v, json!({"UnprocessedItems": {}}));
    }
    // Each item is 2 + 4 + 1 + 350,000 bytes by DynamoDB's size rules.
    let per_response = 16 * 1024 * 1024 / 350_007;
    assert_eq!(per_response, 47);

    let returned = |v: &Value, table: &str| -> Vec<String> {
        v["Responses"][table]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"]["S"].as_str().unwrap().to_string())
            .collect()
    };
    let unprocessed = |v: &Value, table: &str| -> Vec<String> {
        v["UnprocessedKeys"][table]["Keys"]
            .as_array()
            .map(|ks| {
                ks.iter()
                    .map(|k| k["id"]["S"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let request = json!({"fat": {
        "Keys": ids.iter().map(|id| json!({"id": {"S": id}})).collect::<Vec<_>>(),
        "ConsistentRead": true
    }});
    let v = s.ok("BatchGetItem", json!({"RequestItems": request})).await;
    let first = returned(&v, "fat");
    let left = unprocessed(&v, "fat");
    assert_eq!(first.len(), per_response);
    assert!(
        v["Responses"]["fat"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["v"]["S"] == blob)
    );
    // Exactly the keys not returned are unprocessed, with the request's other parameters.
    let mut all: Vec<String> = first.iter().chain(&left).cloned().collect();
    all.sort();
    assert_eq!(all, ids);
    assert_eq!(v["UnprocessedKeys"]["fat"]["ConsistentRead"], true);

    // Retrying the unprocessed keys, as the SDKs do, gets everything exactly once.
    let mut got = first;
    let mut pending = v["UnprocessedKeys"].clone();
    let mut rounds = 1;
    while pending != json!({}) {
        let next = s.ok("BatchGetItem", json!({"RequestItems": pending})).await;
        got.extend(returned(&next, "fat"));
        pending = next["UnprocessedKeys"].clone();
        rounds += 1;
        assert!(rounds <= 5, "retries do not converge");
    }
    got.sort();
    assert_eq!(got, ids);
    assert_eq!(rounds, 3, "47 + 47 + 6 items");

    // Over two tables the cut is by the whole response: every key is returned or
    // unprocessed, never both, never neither.
    s.create("thin", ("id", "S"), None).await;
    s.put("thin", json!({"id": {"S": "small"}})).await;
    let v = s
        .ok(
            "BatchGetItem",
            json!({"RequestItems": {
                "fat": {"Keys": ids[..60].iter().map(|id| json!({"id": {"S": id}})).collect::<Vec<_>>()},
                "thin": {"Keys": [k("small")]}
            }}),
        )
        .await;
    assert_eq!(returned(&v, "fat").len(), per_response);
    let mut fat: Vec<String> = returned(&v, "fat");
    fat.extend(unprocessed(&v, "fat"));
    fat.sort();
    assert_eq!(fat, ids[..60]);
    let thin = (returned(&v, "thin"), unprocessed(&v, "thin"));
    assert_eq!(thin.0.len() + thin.1.len(), 1, "{thin:?}");

    // Under the limit nothing is left over; a missing key is in neither list.
    let v = s
        .ok(
            "BatchGetItem",
            json!({"RequestItems": {"fat": {"Keys": [k("k000"), k("k001"), k("missing")]}}}),
        )
        .await;
    assert_eq!(returned(&v, "fat").len(), 2);
    assert_eq!(v["UnprocessedKeys"], json!({}));
}
