#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Random request bodies to every operation: never a panic or a 500, always a
//! DynamoDB JSON answer, and the server keeps working. Seeded, so deterministic.

mod common;

use common::TestServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

const KEYS: &[&str] = &[
    "TableName",
    "Key",
    "Item",
    "KeySchema",
    "AttributeDefinitions",
    "ExpressionAttributeValues",
    "ExpressionAttributeNames",
    "ConditionExpression",
    "UpdateExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
    "Limit",
    "ExclusiveStartKey",
    "RequestItems",
    "TransactItems",
    "S",
    "N",
    "B",
    "SS",
    "NS",
    "BS",
    "M",
    "L",
    "BOOL",
    "NULL",
    "pk",
    "sk",
    "Put",
    "Update",
    "Delete",
    "ConditionCheck",
    "Get",
    "Keys",
    "Segment",
    "TotalSegments",
    "Select",
    "ReturnValues",
    "TimeToLiveSpecification",
    "AttributeName",
    "AttributeType",
    "KeyType",
    "Enabled",
    "BillingMode",
    "PutRequest",
    "DeleteRequest",
    "ScanIndexForward",
    ":v",
    "#n",
    "ProvisionedThroughput",
    "ReadCapacityUnits",
    "WriteCapacityUnits",
    "AttributesToGet",
];

const STRINGS: &[&str] = &[
    "tbl",
    "tbl2",
    "a",
    "1",
    "-1.5e3",
    "1e999",
    ":v",
    "#n",
    "pk = :v",
    "pk = :v AND sk > :v",
    "SET a = :v",
    "SET a = a + :v REMOVE b ADD c :v",
    "attribute_exists(pk)",
    "S",
    "N",
    "B",
    "HASH",
    "RANGE",
    "PAY_PER_REQUEST",
    "PROVISIONED",
    "",
    "(((",
    "a.b[1]",
    "a[99999999999999999999]",
    "AAEC",
    "!!",
    "COUNT",
    "ALL_NEW",
    "size(a) > :v",
    "begins_with(sk, :v)",
    "NOT NOT NOT a = :v",
    "\u{0}",
    "é",
    "a = :v OR",
    "#n.#n[0] = :v",
];

fn value(rng: &mut StdRng, depth: u32) -> Value {
    let pick = if depth >= 4 {
        rng.random_range(0..5)
    } else {
        rng.random_range(0..8)
    };
    match pick {
        0 => json!(STRINGS[rng.random_range(0..STRINGS.len())]),
        1 => json!(rng.random_range(-5i64..200)),
        2 => json!(rng.random_bool(0.5)),
        3 => Value::Null,
        4 => json!(if rng.random_bool(0.5) { i64::MAX } else { -1 }),
        5 | 6 => {
            let mut m = Map::new();
            for _ in 0..rng.random_range(0..5) {
                m.insert(
                    KEYS[rng.random_range(0..KEYS.len())].to_string(),
                    value(rng, depth + 1),
                );
            }
            Value::Object(m)
        }
        _ => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| value(rng, depth + 1))
                .collect(),
        ),
    }
}

/// A mostly well-formed request for `op` with one part replaced by noise.
fn request(rng: &mut StdRng, op: &str) -> Value {
    let base = match op {
        "PutItem" => json!({"TableName": "tbl", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}}),
        "GetItem" | "DeleteItem" => {
            json!({"TableName": "tbl", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}})
        }
        "UpdateItem" => json!({"TableName": "tbl", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                               "UpdateExpression": "SET x = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
        "Query" => json!({"TableName": "tbl", "KeyConditionExpression": "pk = :v",
                          "ExpressionAttributeValues": {":v": {"S": "a"}}}),
        "BatchWriteItem" => {
            json!({"RequestItems": {"tbl": [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": "2"}}}}]}})
        }
        "TransactWriteItems" => {
            json!({"TransactItems": [{"Put": {"TableName": "tbl", "Item": {"pk": {"S": "c"}, "sk": {"N": "3"}}}}]})
        }
        _ => json!({"TableName": "tbl"}),
    };
    let mut b = base;
    let o = b.as_object_mut().unwrap();
    match rng.random_range(0..4) {
        0 => {
            // Replace one field with noise.
            let k = KEYS[rng.random_range(0..KEYS.len())];
            o.insert(k.to_string(), value(rng, 0));
        }
        1 => {
            // Noise inside the attribute values.
            for k in ["Item", "Key", "ExpressionAttributeValues"] {
                if let Some(Value::Object(m)) = o.get_mut(k) {
                    let name = m.keys().next().cloned().unwrap_or_else(|| "pk".into());
                    m.insert(name, value(rng, 1));
                }
            }
        }
        2 => {
            let k = [
                "ConditionExpression",
                "UpdateExpression",
                "KeyConditionExpression",
                "FilterExpression",
                "ProjectionExpression",
            ][rng.random_range(0..5)];
            o.insert(
                k.to_string(),
                json!(STRINGS[rng.random_range(0..STRINGS.len())]),
            );
        }
        _ => return value(rng, 0),
    }
    b
}

#[tokio::test]
async fn random_requests_never_break_the_server() {
    let s = TestServer::new();
    s.create("tbl", ("pk", "S"), Some(("sk", "N"))).await;
    let ops = [
        "CreateTable",
        "DescribeTable",
        "ListTables",
        "DeleteTable",
        "UpdateTable",
        "PutItem",
        "GetItem",
        "DeleteItem",
        "UpdateItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
        "UpdateTimeToLive",
        "DescribeTimeToLive",
    ];
    let mut rng = StdRng::seed_from_u64(0x5a1e);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..3000 {
        let op = ops[i % ops.len()];
        if op == "DeleteTable" && rng.random_bool(0.9) {
            continue;
        }
        let body = request(&mut rng, op);
        let (status, v) = s.call(op, body.clone()).await;
        assert!(matches!(status, 200 | 400), "{op} {body} → {status} {v}");
        if status == 400 {
            assert!(v["__type"].as_str().unwrap().contains('#'), "{v}");
        }
        *statuses.entry(status).or_insert(0) += 1;
        // Keep the table around for the next requests.
        if s.call("DescribeTable", json!({"TableName": "tbl"})).await.0 != 200 {
            s.create("tbl", ("pk", "S"), Some(("sk", "N"))).await;
        }
    }
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&400).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    s.ok("ListTables", json!({})).await;
    s.ok("Scan", json!({"TableName": "tbl"})).await;
}
