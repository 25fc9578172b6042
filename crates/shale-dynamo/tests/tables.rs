#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable, and the
//! catalog surviving a restart.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn lifecycle() {
    let s = TestServer::new();
    let v = s
        .ok(
            "CreateTable",
            json!({
                "TableName": "Music",
                "AttributeDefinitions": [
                    {"AttributeName": "Artist", "AttributeType": "S"},
                    {"AttributeName": "Song", "AttributeType": "S"}
                ],
                "KeySchema": [
                    {"AttributeName": "Artist", "KeyType": "HASH"},
                    {"AttributeName": "Song", "KeyType": "RANGE"}
                ],
                "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 7}
            }),
        )
        .await;
    let d = &v["TableDescription"];
    assert_eq!(d["TableStatus"], "ACTIVE");
    assert_eq!(d["TableName"], "Music");
    assert_eq!(d["ProvisionedThroughput"]["WriteCapacityUnits"], 7);
    assert_eq!(
        d["TableArn"],
        "arn:aws:dynamodb:us-east-1:000000000000:table/Music"
    );
    assert_eq!(
        d["KeySchema"][1],
        json!({"AttributeName": "Song", "KeyType": "RANGE"})
    );

    let (name, msg, _) = s
        .err(
            "CreateTable",
            json!({
                "TableName": "Music",
                "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST"
            }),
        )
        .await;
    assert_eq!(name, "ResourceInUseException");
    assert_eq!(msg, "Table already exists: Music");

    s.put(
        "Music",
        json!({"Artist": {"S": "A"}, "Song": {"S": "x"}, "n": {"N": "1"}}),
    )
    .await;
    s.put("Music", json!({"Artist": {"S": "A"}, "Song": {"S": "y"}}))
        .await;
    let v = s.ok("DescribeTable", json!({"TableName": "Music"})).await;
    assert_eq!(v["Table"]["ItemCount"], 2);
    assert!(v["Table"]["TableSizeBytes"].as_u64().unwrap() > 0);
    assert!(v["Table"]["CreationDateTime"].as_f64().unwrap() > 1.7e9);

    let v = s
        .ok(
            "UpdateTable",
            json!({"TableName": "Music", "BillingMode": "PAY_PER_REQUEST"}),
        )
        .await;
    assert_eq!(
        v["TableDescription"]["BillingModeSummary"]["BillingMode"],
        "PAY_PER_REQUEST"
    );

    let v = s.ok("DeleteTable", json!({"TableName": "Music"})).await;
    assert_eq!(v["TableDescription"]["TableStatus"], "DELETING");
    let (name, _, _) = s.err("DescribeTable", json!({"TableName": "Music"})).await;
    assert_eq!(name, "ResourceNotFoundException");
    let (name, _, _) = s.err("DeleteTable", json!({"TableName": "Music"})).await;
    assert_eq!(name, "ResourceNotFoundException");
    assert!(
        !s.db()
            .list_keyspaces()
            .contains(&"dynamo.Music".to_string())
    );

    // Re-created empty.
    s.create("Music", ("Artist", "S"), None).await;
    let v = s.ok("Scan", json!({"TableName": "Music"})).await;
    assert_eq!(v["Count"], 0);
}

#[tokio::test]
async fn create_table_validation() {
    let s = TestServer::new();
    let cases = [
        (
            json!({"TableName": "t01", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}]}),
            "ReadCapacityUnits and WriteCapacityUnits must both be specified",
        ),
        (
            json!({"TableName": "t01", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "X"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
            "Member must satisfy enum value set: [B, N, S]",
        ),
        (
            json!({"TableName": "t01", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}, {"AttributeName": "b", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
            "Number of attributes in KeySchema does not exactly match",
        ),
        (
            json!({"TableName": "t01", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "RANGE"}], "BillingMode": "PAY_PER_REQUEST"}),
            "The first KeySchemaElement is not a HASH key type",
        ),
        (
            json!({"TableName": "t01", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "b", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
            "Some index key attributes are not defined in AttributeDefinitions",
        ),
        (
            json!({"TableName": "t01", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
                   "GlobalSecondaryIndexes": [{"IndexName": "i"}]}),
            "secondary indexes",
        ),
        (
            json!({"TableName": "t", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
            "Member must have length greater than or equal to 3",
        ),
    ];
    for (body, want) in cases {
        let (name, msg, _) = s.err("CreateTable", body.clone()).await;
        assert_eq!(name, "ValidationException", "{body}");
        assert!(msg.contains(want), "{msg} / {want}");
    }
    let v = s.ok("ListTables", json!({})).await;
    assert_eq!(v["TableNames"], json!([]));
}

#[tokio::test]
async fn list_tables_pages() {
    let s = TestServer::new();
    for i in 0..7 {
        s.create(&format!("table{i}"), ("id", "S"), None).await;
    }
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"Limit": 3});
        if let Some(st) = &start {
            body["ExclusiveStartTableName"] = json!(st);
        }
        let v = s.ok("ListTables", body).await;
        pages += 1;
        for n in v["TableNames"].as_array().unwrap() {
            seen.push(n.as_str().unwrap().to_string());
        }
        match v.get("LastEvaluatedTableName") {
            Some(l) => start = Some(l.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (0..7).map(|i| format!("table{i}")).collect::<Vec<_>>()
    );
    let (name, _, _) = s.err("ListTables", json!({"Limit": 0})).await;
    assert_eq!(name, "ValidationException");
}

#[tokio::test]
async fn tables_and_items_survive_reopen() {
    let s = TestServer::new();
    s.create("persist", ("pk", "N"), Some(("sk", "S"))).await;
    s.ok(
        "UpdateTimeToLive",
        json!({"TableName": "persist", "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": true}}),
    )
    .await;
    for i in 0..50 {
        s.put("persist", json!({"pk": {"N": (i % 5).to_string()}, "sk": {"S": format!("s{i:03}")}, "v": {"N": i.to_string()}}))
            .await;
    }
    let s = s.reopen();
    let v = s.ok("DescribeTable", json!({"TableName": "persist"})).await;
    assert_eq!(v["Table"]["ItemCount"], 50);
    assert_eq!(v["Table"]["KeySchema"][0]["AttributeName"], "pk");
    let v = s
        .ok("DescribeTimeToLive", json!({"TableName": "persist"}))
        .await;
    assert_eq!(v["TimeToLiveDescription"]["TimeToLiveStatus"], "ENABLED");
    let item = s
        .get("persist", json!({"pk": {"N": "2"}, "sk": {"S": "s017"}}))
        .await
        .unwrap();
    assert_eq!(item["v"], json!({"N": "17"}));
    let v = s
        .ok(
            "Query",
            json!({"TableName": "persist", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"N": "3"}}}),
        )
        .await;
    assert_eq!(v["Count"], 10);
}
