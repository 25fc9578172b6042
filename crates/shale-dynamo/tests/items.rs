#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! PutItem, GetItem, DeleteItem, UpdateItem: types, numbers, keys, conditions,
//! update expressions, ReturnValues and projections.

mod common;

use common::TestServer;
use serde_json::{Value, json};

async fn table() -> TestServer {
    let s = TestServer::new();
    s.create("items", ("id", "S"), None).await;
    s
}

fn key(id: &str) -> Value {
    json!({"id": {"S": id}})
}

#[tokio::test]
async fn every_type_round_trips() {
    let s = table().await;
    let item = json!({
        "id": {"S": "all"}, "s": {"S": "héllo \u{0}"}, "n": {"N": "-12.5"}, "b": {"B": "AAECAw=="},
        "t": {"BOOL": false}, "z": {"NULL": true},
        "m": {"M": {"inner": {"L": [{"N": "1"}, {"S": "two"}, {"M": {}}, {"L": []}]}}},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5", "-3"]}, "bs": {"BS": ["AQ==", "Ag=="]},
        "empty": {"S": ""}
    });
    s.put("items", item.clone()).await;
    assert_eq!(s.get("items", key("all")).await.unwrap(), item);
}

#[tokio::test]
async fn numbers_are_normalised_and_checked() {
    let s = table().await;
    for (input, stored) in [
        ("1.50", "1.5"),
        ("-0", "0"),
        ("0.0", "0"),
        ("1E3", "1000"),
        ("-1.25e-2", "-0.0125"),
        ("00012", "12"),
        (
            "12345678901234567890123456789012345678",
            "12345678901234567890123456789012345678",
        ),
        ("1e125", &format!("1{}", "0".repeat(125))),
        ("1e-130", &format!("0.{}1", "0".repeat(129))),
    ] {
        s.put("items", json!({"id": {"S": "n"}, "v": {"N": input}}))
            .await;
        let got = s.get("items", key("n")).await.unwrap();
        assert_eq!(got["v"]["N"], stored, "{input}");
    }
    for (bad, want) in [
        (
            "abc",
            "The parameter cannot be converted to a numeric value: abc",
        ),
        ("1e126", "Number overflow"),
        ("1e-131", "Number underflow"),
        (
            "123456789012345678901234567890123456789",
            "38 significant digits",
        ),
        ("", "The parameter cannot be converted"),
    ] {
        let (name, msg, _) = s
            .err(
                "PutItem",
                json!({"TableName": "items", "Item": {"id": {"S": "bad"}, "v": {"N": bad}}}),
            )
            .await;
        assert_eq!(name, "ValidationException");
        assert!(msg.contains(want), "{bad}: {msg}");
    }
    assert!(s.get("items", key("bad")).await.is_none());
}

#[tokio::test]
async fn key_checks() {
    let s = table().await;
    let cases = [
        (
            json!({"other": {"S": "x"}}),
            "One or more parameter values were invalid: Missing the key id in the item",
        ),
        (
            json!({"id": {"N": "1"}}),
            "One or more parameter values were invalid: Type mismatch for key id expected: S actual: N",
        ),
        (
            json!({"id": {"S": ""}}),
            "The AttributeValue for a key attribute cannot contain an empty string value. Key: id",
        ),
    ];
    for (item, want) in cases {
        let (name, msg, _) = s
            .err("PutItem", json!({"TableName": "items", "Item": item}))
            .await;
        assert_eq!(name, "ValidationException");
        assert!(msg.contains(want), "{msg}");
    }
    for k in [
        json!({"id": {"N": "1"}}),
        json!({"id": {"S": "a"}, "x": {"S": "b"}}),
        json!({}),
    ] {
        let (name, msg, _) = s
            .err("GetItem", json!({"TableName": "items", "Key": k}))
            .await;
        assert_eq!(name, "ValidationException");
        assert_eq!(msg, "The provided key element does not match the schema");
    }
    let (name, _, _) = s
        .err("GetItem", json!({"TableName": "nosuch", "Key": key("a")}))
        .await;
    assert_eq!(name, "ResourceNotFoundException");
}

#[tokio::test]
async fn conditional_put_and_delete() {
    let s = table().await;
    let put = |cond: &str, v: i32| {
        json!({"TableName": "items", "Item": {"id": {"S": "c"}, "v": {"N": v.to_string()}},
               "ConditionExpression": cond, "ExpressionAttributeValues": {":v": {"N": "1"}}})
    };
    // attribute_not_exists on a new item passes; :v unused would be an error, so use it.
    s.ok("PutItem", put("attribute_not_exists(id) OR v = :v", 1))
        .await;
    let (name, msg, _) = s
        .err("PutItem", put("attribute_not_exists(id) AND v = :v", 2))
        .await;
    assert_eq!(name, "ConditionalCheckFailedException");
    assert_eq!(msg, "The conditional request failed");
    let mut with_old = put("attribute_not_exists(id) AND v = :v", 2);
    with_old["ReturnValuesOnConditionCheckFailure"] = json!("ALL_OLD");
    let (_, _, body) = s.err("PutItem", with_old).await;
    assert_eq!(body["Item"], json!({"id": {"S": "c"}, "v": {"N": "1"}}));
    s.ok("PutItem", put("v = :v", 3)).await;
    let v = s
        .ok(
            "PutItem",
            json!({"TableName": "items", "Item": {"id": {"S": "c"}}, "ReturnValues": "ALL_OLD"}),
        )
        .await;
    assert_eq!(v["Attributes"], json!({"id": {"S": "c"}, "v": {"N": "3"}}));
    let (name, _, _) = s
        .err(
            "DeleteItem",
            json!({"TableName": "items", "Key": key("c"), "ConditionExpression": "attribute_exists(v)"}),
        )
        .await;
    assert_eq!(name, "ConditionalCheckFailedException");
    let v = s
        .ok(
            "DeleteItem",
            json!({"TableName": "items", "Key": key("c"), "ReturnValues": "ALL_OLD"}),
        )
        .await;
    assert_eq!(v["Attributes"], json!({"id": {"S": "c"}}));
    assert!(s.get("items", key("c")).await.is_none());
    // Deleting a missing item succeeds without Attributes.
    let v = s
        .ok(
            "DeleteItem",
            json!({"TableName": "items", "Key": key("c"), "ReturnValues": "ALL_OLD"}),
        )
        .await;
    assert_eq!(v, json!({}));
}

#[tokio::test]
async fn expression_errors() {
    let s = table().await;
    let cases = [
        (
            json!({"ConditionExpression": "a = = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
            "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= :v\"",
        ),
        (
            json!({"ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": {"N": "1"}, ":w": {"N": "2"}}}),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
        ),
        (
            json!({"ConditionExpression": "#a = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
            "An expression attribute name used in the document path is not defined; attribute name: #a",
        ),
        (
            json!({"ConditionExpression": "a = :x"}),
            "An expression attribute value used in expression is not defined; attribute value: :x",
        ),
        (
            json!({"ExpressionAttributeValues": {":v": {"N": "1"}}}),
            "ExpressionAttributeValues can only be specified when using expressions",
        ),
        (
            json!({"ConditionExpression": "foo(a)"}),
            "Invalid function name; function: foo",
        ),
        (
            json!({"ConditionExpression": "attribute_type(a, :t)", "ExpressionAttributeValues": {":t": {"S": "Q"}}}),
            "Invalid attribute type name found; type: Q",
        ),
    ];
    for (extra, want) in cases {
        let mut body = json!({"TableName": "items", "Item": {"id": {"S": "e"}}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (name, msg, _) = s.err("PutItem", body).await;
        assert_eq!(name, "ValidationException");
        assert!(msg.contains(want), "{msg}\n  wanted: {want}");
    }
    assert!(s.get("items", key("e")).await.is_none());
}

#[tokio::test]
async fn update_expressions_and_return_values() {
    let s = table().await;
    let upd = |expr: &str, rv: &str, vals: Value| {
        let mut b = json!({"TableName": "items", "Key": key("u"), "UpdateExpression": expr, "ReturnValues": rv});
        if !vals.as_object().unwrap().is_empty() {
            b["ExpressionAttributeValues"] = vals;
        }
        b
    };
    // Creates the item from its key.
    let v = s
        .ok(
            "UpdateItem",
            upd(
                "SET cnt = :zero, #n = :name, l = :l, m = :m ADD tags :t",
                "ALL_NEW",
                json!({":zero": {"N": "0"}, ":name": {"S": "x"}, ":l": {"L": [{"N": "1"}]},
                       ":m": {"M": {"a": {"M": {"b": {"N": "1"}}}}}, ":t": {"SS": ["a", "b"]}}),
            )
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("ExpressionAttributeNames".into(), json!({"#n": "name"}));
                Value::Object(o)
            })
            .unwrap(),
        )
        .await;
    assert_eq!(v["Attributes"]["id"], json!({"S": "u"}));
    assert_eq!(v["Attributes"]["name"], json!({"S": "x"}));

    let v = s
        .ok(
            "UpdateItem",
            upd(
                "SET cnt = cnt + :inc",
                "UPDATED_NEW",
                json!({":inc": {"N": "2.5"}}),
            ),
        )
        .await;
    assert_eq!(v["Attributes"], json!({"cnt": {"N": "2.5"}}));
    let v = s
        .ok(
            "UpdateItem",
            upd(
                "SET cnt = cnt - :inc",
                "UPDATED_OLD",
                json!({":inc": {"N": "0.5"}}),
            ),
        )
        .await;
    assert_eq!(v["Attributes"], json!({"cnt": {"N": "2.5"}}));
    let v = s
        .ok(
            "UpdateItem",
            upd(
                "SET l = list_append(l, :more), fresh = if_not_exists(fresh, :d), m.a.c = :d",
                "UPDATED_NEW",
                json!({":more": {"L": [{"S": "z"}]}, ":d": {"N": "7"}}),
            ),
        )
        .await;
    assert_eq!(
        v["Attributes"],
        json!({"l": {"L": [{"N": "1"}, {"S": "z"}]}, "fresh": {"N": "7"}, "m": {"M": {"a": {"M": {"c": {"N": "7"}}}}}})
    );
    let v = s
        .ok(
            "UpdateItem",
            upd(
                "ADD cnt :one DELETE tags :a REMOVE l[0]",
                "ALL_NEW",
                json!({":one": {"N": "1"}, ":a": {"SS": ["a"]}}),
            ),
        )
        .await;
    let a = &v["Attributes"];
    assert_eq!(a["cnt"], json!({"N": "3"}));
    assert_eq!(a["tags"], json!({"SS": ["b"]}));
    assert_eq!(a["l"], json!({"L": [{"S": "z"}]}));
    let v = s
        .ok("UpdateItem", upd("REMOVE fresh, m", "ALL_OLD", json!({})))
        .await;
    assert_eq!(v["Attributes"]["fresh"], json!({"N": "7"}));
    let got = s.get("items", key("u")).await.unwrap();
    assert!(got.get("fresh").is_none() && got.get("m").is_none());

    // Errors.
    let cases = [
        (
            upd("SET id = :v", "NONE", json!({":v": {"S": "x"}})),
            "Cannot update attribute id. This attribute is part of the key",
        ),
        (
            upd("SET #n = #n + :v", "NONE", json!({":v": {"N": "1"}})),
            "An expression attribute name used in the document path is not defined",
        ),
        (
            upd("SET name = name + :v", "NONE", json!({":v": {"N": "1"}})),
            "An operand in the update expression has an incorrect data type",
        ),
        (
            upd("SET q = nothere + :v", "NONE", json!({":v": {"N": "1"}})),
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            upd("SET a.b.c = :v", "NONE", json!({":v": {"N": "1"}})),
            "The document path provided in the update expression is invalid for update",
        ),
        (
            upd("SET a = :v, a = :v", "NONE", json!({":v": {"N": "1"}})),
            "Two document paths overlap",
        ),
        (
            upd("ADD name :v", "NONE", json!({":v": {"N": "1"}})),
            "An operand in the update expression has an incorrect data type",
        ),
        (
            upd("SET a = :v", "SOMETIMES", json!({":v": {"N": "1"}})),
            "Return values set to invalid value",
        ),
        (
            upd("SET cnt = :v + :v", "NONE", json!({":v": {"N": "9e125"}})),
            "Number overflow",
        ),
        (
            upd("SET cnt = cnt + :v", "NONE", json!({":v": {"N": "1e125"}})),
            "38 significant digits",
        ),
    ];
    for (body, want) in cases {
        let (name, msg, _) = s.err("UpdateItem", body).await;
        assert_eq!(name, "ValidationException");
        assert!(msg.contains(want), "{msg}\n  wanted: {want}");
    }
    // Conditional update.
    let mut b = upd(
        "SET cnt = :v",
        "NONE",
        json!({":v": {"N": "100"}, ":big": {"N": "10"}}),
    );
    b["ConditionExpression"] = json!("cnt > :big");
    let (name, _, _) = s.err("UpdateItem", b).await;
    assert_eq!(name, "ConditionalCheckFailedException");
    assert_eq!(
        s.get("items", key("u")).await.unwrap()["cnt"],
        json!({"N": "3"})
    );
}

#[tokio::test]
async fn projection_on_get() {
    let s = table().await;
    s.put(
        "items",
        json!({"id": {"S": "p"}, "a": {"N": "1"}, "b": {"M": {"c": {"L": [{"S": "x"}, {"S": "y"}]}, "d": {"S": "e"}}}, "status": {"S": "on"}}),
    )
    .await;
    let v = s
        .ok(
            "GetItem",
            json!({"TableName": "items", "Key": key("p"), "ProjectionExpression": "a, b.c[1], #s",
                   "ExpressionAttributeNames": {"#s": "status"}, "ConsistentRead": true}),
        )
        .await;
    assert_eq!(
        v["Item"],
        json!({"a": {"N": "1"}, "b": {"M": {"c": {"L": [{"S": "y"}]}}}, "status": {"S": "on"}})
    );
    let v = s
        .ok(
            "GetItem",
            json!({"TableName": "items", "Key": key("p"), "AttributesToGet": ["a"]}),
        )
        .await;
    assert_eq!(v["Item"], json!({"a": {"N": "1"}}));
}

#[tokio::test]
async fn set_and_value_validation() {
    let s = table().await;
    for (v, want) in [
        (json!({"SS": []}), "may not be empty"),
        (json!({"NS": ["1", "1.0"]}), "contains duplicates"),
        (
            json!({"NULL": false}),
            "Null attribute value types must have the value of true",
        ),
        (json!({"S": "a", "N": "1"}), "more than one datatypes"),
    ] {
        let (name, msg, _) = s
            .err(
                "PutItem",
                json!({"TableName": "items", "Item": {"id": {"S": "v"}, "x": v}}),
            )
            .await;
        assert_eq!(name, "ValidationException");
        assert!(msg.contains(want), "{msg}");
    }
    let mut deep = json!({"S": "leaf"});
    for _ in 0..40 {
        deep = json!({"L": [deep]});
    }
    let (name, msg, _) = s
        .err(
            "PutItem",
            json!({"TableName": "items", "Item": {"id": {"S": "v"}, "x": deep}}),
        )
        .await;
    assert_eq!(name, "ValidationException");
    assert!(msg.contains("Nesting Levels"), "{msg}");
}

/// `ConditionExpression` with `IN`, `NOT` and `size()` on UpdateItem, PutItem and
/// DeleteItem: each passing condition applies its write, each failing one does not.
#[tokio::test]
async fn conditions_with_in_not_and_size() {
    let s = table().await;
    let item = json!({
        "id": {"S": "f"}, "color": {"S": "red"}, "n": {"N": "7"}, "name": {"S": "abcde"},
        "tags": {"SS": ["a", "b", "c"]}, "l": {"L": [{"N": "1"}, {"S": "x"}]},
        "m": {"M": {"k": {"N": "1"}}}, "bin": {"B": "AAEC"}
    });
    s.put("items", item.clone()).await;
    let n = |v: i64| json!({"N": v.to_string()});
    let st = |v: &str| json!({"S": v});
    let cases: Vec<(&str, Value, bool)> = vec![
        (
            "color IN (:r, :g)",
            json!({":r": st("red"), ":g": st("green")}),
            true,
        ),
        (
            "color IN (:g, :b)",
            json!({":g": st("green"), ":b": st("blue")}),
            false,
        ),
        (
            "n IN (:r, :seven)",
            json!({":r": st("red"), ":seven": n(7)}),
            true,
        ),
        ("n IN (:r)", json!({":r": st("7")}), false),
        ("missing IN (:r)", json!({":r": st("red")}), false),
        ("NOT color IN (:g)", json!({":g": st("green")}), true),
        ("NOT (color IN (:r))", json!({":r": st("red")}), false),
        ("NOT color = :r", json!({":r": st("red")}), false),
        ("NOT attribute_exists(missing)", json!({}), true),
        ("NOT NOT attribute_exists(color)", json!({}), true),
        (
            "NOT (n BETWEEN :lo AND :hi)",
            json!({":lo": n(1), ":hi": n(10)}),
            false,
        ),
        ("size(name) = :five", json!({":five": n(5)}), true),
        ("size(name) > :five", json!({":five": n(5)}), false),
        ("size(tags) = :three", json!({":three": n(3)}), true),
        ("size(l) = :two", json!({":two": n(2)}), true),
        ("size(m) = :k", json!({":k": n(1)}), true),
        ("size(bin) = :three", json!({":three": n(3)}), true),
        ("size(missing) >= :zero", json!({":zero": n(0)}), false),
        (
            "size(tags) IN (:two, :three)",
            json!({":two": n(2), ":three": n(3)}),
            true,
        ),
        (
            "NOT size(name) < :five AND color IN (:r, :g) AND NOT contains(tags, :z)",
            json!({":five": n(5), ":r": st("red"), ":g": st("green"), ":z": st("z")}),
            true,
        ),
        (
            "size(name) < :five OR NOT color IN (:r)",
            json!({":five": n(5), ":r": st("red")}),
            false,
        ),
    ];
    let mut passed = 0;
    for (cond, vals, want) in &cases {
        let mut vals = vals.clone();
        vals[":one"] = n(1);
        let body = json!({"TableName": "items", "Key": key("f"), "ConditionExpression": cond,
                          "UpdateExpression": "ADD probes :one", "ExpressionAttributeValues": vals});
        let (status, v) = s.call("UpdateItem", body).await;
        if *want {
            assert_eq!(status, 200, "{cond}: {v}");
            passed += 1;
        } else {
            assert_eq!(status, 400, "{cond}: {v}");
            assert_eq!(
                v["__type"], "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                "{cond}"
            );
        }
        let got = s.get("items", key("f")).await.unwrap();
        assert_eq!(got["probes"], n(passed), "after {cond}");
    }
    assert_eq!(passed, cases.iter().filter(|c| c.2).count() as i64);

    // PutItem and DeleteItem with the same functions.
    let put = |cond: &str, vals: Value| {
        json!({"TableName": "items", "Item": {"id": {"S": "f"}, "replaced": {"BOOL": true}},
               "ConditionExpression": cond, "ExpressionAttributeValues": vals})
    };
    let (name, _, _) = s
        .err("PutItem", put("size(tags) = :two", json!({":two": n(2)})))
        .await;
    assert_eq!(name, "ConditionalCheckFailedException");
    let (name, _, _) = s
        .err(
            "DeleteItem",
            json!({"TableName": "items", "Key": key("f"), "ConditionExpression": "NOT color IN (:r, :g)",
                   "ExpressionAttributeValues": {":r": st("red"), ":g": st("green")}}),
        )
        .await;
    assert_eq!(name, "ConditionalCheckFailedException");
    assert_eq!(s.get("items", key("f")).await.unwrap()["color"], st("red"));
    s.ok(
        "PutItem",
        put(
            "color IN (:r) AND size(name) = :five",
            json!({":r": st("red"), ":five": n(5)}),
        ),
    )
    .await;
    assert_eq!(
        s.get("items", key("f")).await.unwrap(),
        json!({"id": {"S": "f"}, "replaced": {"BOOL": true}})
    );
    s.ok(
        "DeleteItem",
        json!({"TableName": "items", "Key": key("f"), "ConditionExpression": "NOT size(id) IN (:z) AND replaced IN (:t)",
               "ExpressionAttributeValues": {":z": n(0), ":t": {"BOOL": true}}}),
    )
    .await;
    assert!(s.get("items", key("f")).await.is_none());
}

/// `FilterExpression` with `IN`, `NOT` and `size()` on Query and Scan: the items
/// returned are exactly those the filter selects, in key order for Query.
#[tokio::test]
async fn filters_with_in_not_and_size() {
    let s = TestServer::new();
    s.create("filt", ("p", "S"), Some(("n", "N"))).await;
    const COLORS: [&str; 3] = ["red", "green", "blue"];
    let mut writes = Vec::new();
    for i in 0..24usize {
        let tags: Vec<String> = (0..=i % 4).map(|t| format!("t{t}")).collect();
        writes.push(json!({"PutRequest": {"Item": {
            "p": {"S": if i < 12 { "a" } else { "b" }}, "n": {"N": i.to_string()},
            "color": {"S": COLORS[i % 3]}, "name": {"S": "x".repeat(i % 5)}, "tags": {"SS": tags}
        }}}));
    }
    for chunk in writes.chunks(25) {
        s.ok("BatchWriteItem", json!({"RequestItems": {"filt": chunk}}))
            .await;
    }
    let color = |i: usize| COLORS[i % 3];
    let name_len = |i: usize| i % 5;
    let tag_count = |i: usize| i % 4 + 1;
    let n = |v: i64| json!({"N": v.to_string()});
    let st = |v: &str| json!({"S": v});
    type Pred = Box<dyn Fn(usize) -> bool>;
    let cases: Vec<(&str, Value, Pred)> = vec![
        (
            "color IN (:r, :g)",
            json!({":r": st("red"), ":g": st("green")}),
            Box::new(move |i| color(i) != "blue"),
        ),
        (
            "NOT color IN (:r)",
            json!({":r": st("red")}),
            Box::new(move |i| color(i) != "red"),
        ),
        (
            "size(name) > :two",
            json!({":two": n(2)}),
            Box::new(move |i| name_len(i) > 2),
        ),
        (
            "NOT (size(tags) = :one) AND color IN (:b)",
            json!({":one": n(1), ":b": st("blue")}),
            Box::new(move |i| tag_count(i) != 1 && color(i) == "blue"),
        ),
        (
            "size(tags) IN (:two, :four) OR NOT size(name) <> :zero",
            json!({":two": n(2), ":four": n(4), ":zero": n(0)}),
            Box::new(move |i| matches!(tag_count(i), 2 | 4) || name_len(i) == 0),
        ),
    ];
    for (filter, vals, pred) in &cases {
        let mut qvals = vals.clone();
        qvals[":p"] = st("a");
        let v = s
            .ok(
                "Query",
                json!({"TableName": "filt", "KeyConditionExpression": "p = :p", "FilterExpression": filter,
                       "ExpressionAttributeValues": qvals}),
            )
            .await;
        let got: Vec<usize> = v["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["n"]["N"].as_str().unwrap().parse().unwrap())
            .collect();
        let want: Vec<usize> = (0..12).filter(|i| pred(*i)).collect();
        assert_eq!(got, want, "Query {filter}");
        assert_eq!(v["ScannedCount"], 12);
        assert_eq!(v["Count"], want.len());

        let v = s
            .ok(
                "Scan",
                json!({"TableName": "filt", "FilterExpression": filter, "ExpressionAttributeValues": vals}),
            )
            .await;
        let mut got: Vec<usize> = v["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["n"]["N"].as_str().unwrap().parse().unwrap())
            .collect();
        got.sort_unstable();
        let want: Vec<usize> = (0..24).filter(|i| pred(*i)).collect();
        assert!(
            !want.is_empty() && want.len() < 24,
            "{filter} selects a proper subset"
        );
        assert_eq!(got, want, "Scan {filter}");
        assert_eq!(v["ScannedCount"], 24);
    }
}
