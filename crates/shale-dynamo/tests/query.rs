#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Query and Scan: key conditions, numeric and binary sort order, paging, filters,
//! counts, parallel scan segments and the 1 MB page limit.

mod common;

use std::collections::BTreeSet;

use common::TestServer;
use serde_json::{Value, json};

async fn batch_put(s: &TestServer, table: &str, items: Vec<Value>) {
    for chunk in items.chunks(25) {
        let reqs: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"PutRequest": {"Item": i}}))
            .collect();
        let v = s
            .ok("BatchWriteItem", json!({"RequestItems": {table: reqs}}))
            .await;
        assert_eq!(v["UnprocessedItems"], json!({}));
    }
}

fn sks(v: &Value, attr: &str, ty: &str) -> Vec<String> {
    v["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[attr][ty].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn numeric_sort_keys_sort_numerically() {
    let s = TestServer::new();
    s.create("nums", ("p", "S"), Some(("n", "N"))).await;
    let sorted = [
        "-1e125",
        "-123456789",
        "-1000",
        "-99.99",
        "-10",
        "-1.5",
        "-1",
        "-0.5",
        "-0.0001",
        "-1e-130",
        "0",
        "1e-130",
        "0.0001",
        "0.5",
        "1",
        "1.5",
        "10",
        "99.99",
        "1000",
        "123456789",
        "9.99e125",
    ];
    let normal: Vec<String> = sorted
        .iter()
        .map(|n| {
            shale_dynamo::types::number::Number::parse(n)
                .unwrap()
                .to_string()
        })
        .collect();
    let mut items: Vec<Value> = sorted
        .iter()
        .map(|n| json!({"p": {"S": "a"}, "n": {"N": n}}))
        .collect();
    items.reverse();
    batch_put(&s, "nums", items).await;
    let q = |extra: Value| {
        let mut b = json!({"TableName": "nums", "KeyConditionExpression": "p = :p",
                           "ExpressionAttributeValues": {":p": {"S": "a"}}});
        for (k, v) in extra.as_object().unwrap() {
            if k == "ExpressionAttributeValues" {
                for (kk, vv) in v.as_object().unwrap() {
                    b["ExpressionAttributeValues"][kk] = vv.clone();
                }
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let v = s.ok("Query", q(json!({}))).await;
    assert_eq!(sks(&v, "n", "N"), normal);
    let v = s.ok("Query", q(json!({"ScanIndexForward": false}))).await;
    let mut rev = normal.clone();
    rev.reverse();
    assert_eq!(sks(&v, "n", "N"), rev);

    let cases = [
        ("p = :p AND n < :x", json!({":x": {"N": "-1"}}), 6),
        ("p = :p AND n <= :x", json!({":x": {"N": "-1"}}), 7),
        ("p = :p AND n > :x", json!({":x": {"N": "0"}}), 10),
        ("p = :p AND n >= :x", json!({":x": {"N": "0"}}), 11),
        ("p = :p AND n = :x", json!({":x": {"N": "1.50"}}), 1),
        (
            "p = :p AND n BETWEEN :x AND :y",
            json!({":x": {"N": "-1"}, ":y": {"N": "1"}}),
            9,
        ),
        (":x < n AND p = :p", json!({":x": {"N": "1000"}}), 2),
    ];
    for (kc, vals, want) in cases {
        let v = s
            .ok(
                "Query",
                q(json!({"KeyConditionExpression": kc, "ExpressionAttributeValues": vals})),
            )
            .await;
        assert_eq!(v["Count"], want, "{kc}");
    }
    let v = s
        .ok(
            "Query",
            q(
                json!({"KeyConditionExpression": "p = :p AND n BETWEEN :x AND :y",
                     "ExpressionAttributeValues": {":x": {"N": "-1"}, ":y": {"N": "1"}}}),
            ),
        )
        .await;
    assert_eq!(sks(&v, "n", "N"), normal[6..15].to_vec());
}

#[tokio::test]
async fn string_and_binary_sort_keys() {
    let s = TestServer::new();
    s.create("strs", ("p", "S"), Some(("s", "S"))).await;
    let words = [
        "", "a", "a\u{0}", "a\u{0}b", "ab", "abc", "abd", "b", "é", "\u{ffff}",
    ];
    let items: Vec<Value> = words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| json!({"p": {"S": "x"}, "s": {"S": w}}))
        .collect();
    batch_put(&s, "strs", items).await;
    let v = s
        .ok(
            "Query",
            json!({"TableName": "strs", "KeyConditionExpression": "p = :p AND begins_with(s, :pre)",
                   "ExpressionAttributeValues": {":p": {"S": "x"}, ":pre": {"S": "a"}}}),
        )
        .await;
    assert_eq!(
        sks(&v, "s", "S"),
        ["a", "a\u{0}", "a\u{0}b", "ab", "abc", "abd"]
    );
    let v = s
        .ok(
            "Query",
            json!({"TableName": "strs", "KeyConditionExpression": "p = :p AND begins_with(s, :pre)",
                   "ExpressionAttributeValues": {":p": {"S": "x"}, ":pre": {"S": "a\u{0}"}}}),
        )
        .await;
    assert_eq!(sks(&v, "s", "S"), ["a\u{0}", "a\u{0}b"]);

    s.create("bins", ("p", "B"), Some(("b", "B"))).await;
    // 0x00, 0x00 0x00, 0x01, 0x7f, 0x80, 0xff, 0xff 0x00 in base64.
    let bins = ["AA==", "AAA=", "AQ==", "fw==", "gA==", "/w==", "/wA="];
    let mut items: Vec<Value> = bins
        .iter()
        .map(|b| json!({"p": {"B": "AQ=="}, "b": {"B": b}}))
        .collect();
    items.reverse();
    batch_put(&s, "bins", items).await;
    let v = s
        .ok(
            "Query",
            json!({"TableName": "bins", "KeyConditionExpression": "p = :p", "ExpressionAttributeValues": {":p": {"B": "AQ=="}}}),
        )
        .await;
    assert_eq!(sks(&v, "b", "B"), bins);
}

#[tokio::test]
async fn key_condition_errors() {
    let s = TestServer::new();
    s.create("kctab", ("p", "S"), Some(("n", "N"))).await;
    let cases = [
        (
            "n = :n",
            json!({":n": {"N": "1"}}),
            "Query condition missed key schema element: p",
        ),
        (
            "p = :n",
            json!({":n": {"N": "1"}}),
            "Condition parameter type does not match schema type",
        ),
        (
            "p = :p OR n = :n",
            json!({":p": {"S": "a"}, ":n": {"N": "1"}}),
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "p = :p AND begins_with(n, :n)",
            json!({":p": {"S": "a"}, ":n": {"N": "1"}}),
            "begins_with",
        ),
        (
            "p = :p AND x = :n",
            json!({":p": {"S": "a"}, ":n": {"N": "1"}}),
            "Query condition missed key schema element",
        ),
        (
            "p = :p AND n BETWEEN :b AND :a",
            json!({":p": {"S": "a"}, ":a": {"N": "1"}, ":b": {"N": "2"}}),
            "BETWEEN operator requires upper bound",
        ),
    ];
    let (_, msg, _) = s
        .err(
            "Query",
            json!({"TableName": "kctab", "KeyConditionExpression": "p = :p", "FilterExpression": "n > :n",
                   "ExpressionAttributeValues": {":p": {"S": "a"}, ":n": {"N": "1"}}}),
        )
        .await;
    assert_eq!(
        msg,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: n"
    );
    for (kc, vals, want) in cases {
        let (name, msg, _) = s
            .err("Query", json!({"TableName": "kctab", "KeyConditionExpression": kc, "ExpressionAttributeValues": vals}))
            .await;
        assert_eq!(name, "ValidationException", "{kc}");
        assert!(msg.contains(want), "{kc}: {msg}");
    }
}

#[tokio::test]
async fn paging_through_ten_thousand_items() {
    let s = TestServer::new();
    s.create("big", ("p", "S"), Some(("n", "N"))).await;
    let items: Vec<Value> = (0..10_000)
        .map(|i| json!({"p": {"S": if i % 2 == 0 { "even" } else { "odd" }}, "n": {"N": i.to_string()}, "v": {"N": (i % 7).to_string()}}))
        .collect();
    batch_put(&s, "big", items).await;

    // Query one partition, 97 at a time, both directions.
    for forward in [true, false] {
        let mut start: Option<Value> = None;
        let mut got = Vec::new();
        let mut pages = 0;
        loop {
            let mut b = json!({"TableName": "big", "KeyConditionExpression": "p = :p",
                               "ExpressionAttributeValues": {":p": {"S": "even"}}, "Limit": 97,
                               "ScanIndexForward": forward});
            if let Some(k) = &start {
                b["ExclusiveStartKey"] = k.clone();
            }
            let v = s.ok("Query", b).await;
            pages += 1;
            for i in v["Items"].as_array().unwrap() {
                got.push(i["n"]["N"].as_str().unwrap().parse::<u64>().unwrap());
            }
            match v.get("LastEvaluatedKey") {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
        let mut want: Vec<u64> = (0..10_000).filter(|i| i % 2 == 0).collect();
        if !forward {
            want.reverse();
        }
        assert_eq!(got, want);
        assert_eq!(pages, 5000 / 97 + 1);
    }

    // Scan everything 250 at a time with a filter: ScannedCount counts all, Count the matches.
    let mut start: Option<Value> = None;
    let (mut scanned, mut count) = (0, 0);
    let mut seen = BTreeSet::new();
    loop {
        let mut b = json!({"TableName": "big", "Limit": 250, "FilterExpression": "v = :z",
                           "ExpressionAttributeValues": {":z": {"N": "0"}}});
        if let Some(k) = &start {
            b["ExclusiveStartKey"] = k.clone();
        }
        let v = s.ok("Scan", b).await;
        scanned += v["ScannedCount"].as_u64().unwrap();
        count += v["Count"].as_u64().unwrap();
        for i in v["Items"].as_array().unwrap() {
            assert!(seen.insert(i["n"]["N"].as_str().unwrap().to_string()));
        }
        match v.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    assert_eq!(scanned, 10_000);
    assert_eq!(count, (0..10_000).filter(|i| i % 7 == 0).count() as u64);

    // Select COUNT.
    let v = s
        .ok(
            "Query",
            json!({"TableName": "big", "KeyConditionExpression": "p = :p AND n < :m", "Select": "COUNT",
                   "ExpressionAttributeValues": {":p": {"S": "odd"}, ":m": {"N": "100"}}}),
        )
        .await;
    assert_eq!(v["Count"], 50);
    assert!(v.get("Items").is_none());

    // Parallel scan: segments are disjoint and cover the table.
    let mut all = BTreeSet::new();
    let mut per_segment = Vec::new();
    for seg in 0..4 {
        let v = s
            .ok(
                "Scan",
                json!({"TableName": "big", "Segment": seg, "TotalSegments": 4, "Select": "COUNT"}),
            )
            .await;
        per_segment.push(v["Count"].as_u64().unwrap());
        let v = s
            .ok("Scan", json!({"TableName": "big", "Segment": seg, "TotalSegments": 4, "ProjectionExpression": "p", "Limit": 1}))
            .await;
        for i in v["Items"].as_array().unwrap() {
            all.insert((seg, i["p"]["S"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(per_segment.iter().sum::<u64>(), 10_000);
    let (name, _, _) = s
        .err(
            "Scan",
            json!({"TableName": "big", "Segment": 4, "TotalSegments": 4}),
        )
        .await;
    assert_eq!(name, "ValidationException");
}

#[tokio::test]
async fn pages_stop_at_one_megabyte() {
    let s = TestServer::new();
    s.create("fat", ("id", "N"), None).await;
    let blob = "x".repeat(100 * 1024);
    for i in 0..15 {
        s.put(
            "fat",
            json!({"id": {"N": i.to_string()}, "blob": {"S": blob}}),
        )
        .await;
    }
    let v = s.ok("Scan", json!({"TableName": "fat"})).await;
    let n = v["Count"].as_u64().unwrap();
    assert!((10..=11).contains(&n), "{n}");
    let k = v["LastEvaluatedKey"].clone();
    assert!(k.is_object());
    let v = s
        .ok("Scan", json!({"TableName": "fat", "ExclusiveStartKey": k}))
        .await;
    assert_eq!(v["Count"].as_u64().unwrap() + n, 15);
    assert!(v.get("LastEvaluatedKey").is_none());
}

#[tokio::test]
async fn filter_and_projection_on_query() {
    let s = TestServer::new();
    s.create("fqtab", ("p", "S"), Some(("s", "N"))).await;
    let items: Vec<Value> = (0..20)
        .map(|i| json!({"p": {"S": "k"}, "s": {"N": i.to_string()}, "tag": {"SS": if i % 3 == 0 { vec!["x", "y"] } else { vec!["y"] }}, "name": {"S": format!("n{i}")}}))
        .collect();
    batch_put(&s, "fqtab", items).await;
    let v = s
        .ok(
            "Query",
            json!({"TableName": "fqtab", "KeyConditionExpression": "p = :p AND s > :five", "FilterExpression": "contains(tag, :x)",
                   "ProjectionExpression": "#nm", "ExpressionAttributeNames": {"#nm": "name"},
                   "ExpressionAttributeValues": {":p": {"S": "k"}, ":x": {"S": "x"}, ":five": {"N": "5"}}}),
        )
        .await;
    assert_eq!(v["Count"], 5);
    assert_eq!(v["ScannedCount"], 14);
    assert_eq!(v["Items"][0], json!({"name": {"S": "n6"}}));
}
