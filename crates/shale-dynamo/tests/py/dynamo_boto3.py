"""boto3 against ShaleDB's DynamoDB front end (run by tests/boto3.rs).

The server is started with one credential (AKIDSHALETEST / shale-test-secret) so
that SigV4 verification is exercised by a real SDK too.
"""
import decimal
import os
import sys

import boto3
from boto3.dynamodb.types import Binary
from botocore.config import Config
from botocore.exceptions import ClientError

EP = os.environ["SHALE_DYNAMO_ENDPOINT"]
CFG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(key="AKIDSHALETEST", secret="shale-test-secret"):
    return boto3.client(
        "dynamodb", endpoint_url=EP, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret, config=CFG,
    )


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"wanted {code}, got {got}: {e}"
        return e
    raise AssertionError(f"wanted {code}, but the call succeeded")


c = client()
res = boto3.resource(
    "dynamodb", endpoint_url=EP, region_name="us-east-1",
    aws_access_key_id="AKIDSHALETEST", aws_secret_access_key="shale-test-secret", config=CFG,
)

# --- table lifecycle -------------------------------------------------------------
spec = dict(
    TableName="boto",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
    BillingMode="PAY_PER_REQUEST",
)
c.create_table(**spec)
c.get_waiter("table_exists").wait(TableName="boto", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
desc = c.describe_table(TableName="boto")["Table"]
assert desc["TableStatus"] == "ACTIVE", desc
assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
assert "boto" in c.list_tables()["TableNames"]
e = expect_error("ResourceInUseException", c.create_table, **spec)
assert e.response["Error"]["Message"] == "Table already exists: boto"
expect_error("ResourceNotFoundException", c.describe_table, TableName="missing")

# --- items with expressions (resource API: Python types) ----------------------------
t = res.Table("boto")
t.put_item(Item={
    "pk": "a", "sk": 1, "name": "x", "price": decimal.Decimal("1.50"), "tags": {"red", "blue"},
    "data": b"\x00\x01", "m": {"l": [1, "two", None, True]},
})
item = t.get_item(Key={"pk": "a", "sk": 1}, ConsistentRead=True)["Item"]
assert item["price"] == decimal.Decimal("1.5"), item
assert item["tags"] == {"red", "blue"}, item
assert item["data"] == Binary(b"\x00\x01"), item
assert item["m"]["l"] == [1, "two", None, True], item

out = t.update_item(
    Key={"pk": "a", "sk": 1},
    UpdateExpression="SET price = price + :d, #n = :n ADD cnt :one DELETE tags :red",
    ExpressionAttributeNames={"#n": "name"},
    ExpressionAttributeValues={":d": decimal.Decimal("0.25"), ":n": "y", ":one": 1, ":red": {"red"}},
    ReturnValues="UPDATED_NEW",
)
assert out["Attributes"] == {"price": decimal.Decimal("1.75"), "name": "y", "cnt": 1, "tags": {"blue"}}, out
got = t.get_item(Key={"pk": "a", "sk": 1}, ProjectionExpression="#n, m.l[1]",
                 ExpressionAttributeNames={"#n": "name"})["Item"]
assert got == {"name": "y", "m": {"l": ["two"]}}, got

e = expect_error("ConditionalCheckFailedException", t.put_item,
                 Item={"pk": "a", "sk": 1}, ConditionExpression="attribute_not_exists(pk)")
assert e.response["Error"]["Message"] == "The conditional request failed"
e = expect_error("ValidationException", t.update_item, Key={"pk": "a", "sk": 1},
                 UpdateExpression="SET = :x", ExpressionAttributeValues={":x": 1})
assert "Syntax error" in e.response["Error"]["Message"], e
e = expect_error("ValidationException", t.put_item, Item={"pk": 5, "sk": 1})
assert "Type mismatch for key pk" in e.response["Error"]["Message"], e
e = expect_error("ValidationException", t.get_item, Key={"pk": "a"})
assert e.response["Error"]["Message"] == "The provided key element does not match the schema"

old = t.delete_item(Key={"pk": "a", "sk": 1}, ConditionExpression="cnt = :one",
                    ExpressionAttributeValues={":one": 1}, ReturnValues="ALL_OLD")["Attributes"]
assert old["name"] == "y"
assert "Item" not in t.get_item(Key={"pk": "a", "sk": 1})

# --- batch write, query and scan paging ----------------------------------------------
with t.batch_writer() as bw:
    for i in range(1200):
        bw.put_item(Item={"pk": f"p{i % 2}", "sk": i, "v": i % 10})

sks = []
pages = 0
for page in c.get_paginator("query").paginate(
    TableName="boto", KeyConditionExpression="pk = :p AND sk >= :lo",
    ExpressionAttributeValues={":p": {"S": "p0"}, ":lo": {"N": "100"}},
    PaginationConfig={"PageSize": 77},
):
    pages += 1
    sks.extend(int(i["sk"]["N"]) for i in page["Items"])
assert sks == list(range(100, 1200, 2)), sks[:10]
assert pages >= 8, pages

back = t.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "p1"},
               ScanIndexForward=False, Limit=3)
assert [int(i["sk"]) for i in back["Items"]] == [1199, 1197, 1195], back
assert "LastEvaluatedKey" in back

count = 0
pages = 0
for page in c.get_paginator("scan").paginate(
    TableName="boto", FilterExpression="v = :z", ExpressionAttributeValues={":z": {"N": "3"}},
    PaginationConfig={"PageSize": 100},
):
    pages += 1
    count += page["Count"]
assert count == 120, count
assert pages >= 12, pages

resp = c.batch_get_item(RequestItems={"boto": {
    "Keys": [{"pk": {"S": "p0"}, "sk": {"N": str(i)}} for i in range(0, 200, 2)],
    "ProjectionExpression": "sk",
}})
assert len(resp["Responses"]["boto"]) == 100, resp
assert resp["UnprocessedKeys"] == {}
e = expect_error("ValidationException", c.batch_get_item, RequestItems={"boto": {
    "Keys": [{"pk": {"S": "p0"}, "sk": {"N": str(i)}} for i in range(101)]}})

# --- transactions --------------------------------------------------------------------
c.transact_write_items(TransactItems=[
    {"Put": {"TableName": "boto", "Item": {"pk": {"S": "t"}, "sk": {"N": "1"}, "bal": {"N": "10"}}}},
])
e = expect_error("TransactionCanceledException", c.transact_write_items, TransactItems=[
    {"Update": {"TableName": "boto", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}},
                "UpdateExpression": "SET bal = bal - :a", "ConditionExpression": "bal >= :a",
                "ExpressionAttributeValues": {":a": {"N": "50"}}}},
    {"Put": {"TableName": "boto", "Item": {"pk": {"S": "t"}, "sk": {"N": "2"}}}},
])
reasons = e.response["CancellationReasons"]
assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None"], reasons
assert "Item" not in c.get_item(TableName="boto", Key={"pk": {"S": "t"}, "sk": {"N": "2"}})
tg = c.transact_get_items(TransactItems=[
    {"Get": {"TableName": "boto", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}}}},
    {"Get": {"TableName": "boto", "Key": {"pk": {"S": "t"}, "sk": {"N": "2"}}}},
])
assert tg["Responses"][0]["Item"]["bal"] == {"N": "10"}, tg
assert "Item" not in tg["Responses"][1]

# --- TTL -----------------------------------------------------------------------------
c.update_time_to_live(TableName="boto", TimeToLiveSpecification={"AttributeName": "exp", "Enabled": True})
ttl = c.describe_time_to_live(TableName="boto")["TimeToLiveDescription"]
assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}, ttl
t.put_item(Item={"pk": "ttl", "sk": 1, "exp": 1})  # 1970: already expired
assert "Item" not in t.get_item(Key={"pk": "ttl", "sk": 1})

# --- signatures ----------------------------------------------------------------------
expect_error("InvalidSignatureException", client(secret="wrong").list_tables)
expect_error("UnrecognizedClientException", client(key="AKIDNOBODY").list_tables)

# --- delete --------------------------------------------------------------------------
c.delete_table(TableName="boto")
c.get_waiter("table_not_exists").wait(TableName="boto", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
assert "boto" not in c.list_tables()["TableNames"]
print("boto3 ok")
sys.exit(0)
