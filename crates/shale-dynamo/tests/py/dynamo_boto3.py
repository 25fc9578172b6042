"""boto3 against ShaleDB's DynamoDB front end.

Run by crates/shale-dynamo/tests/boto3.rs (in process, with a manual clock) and by
crates/shale-cli/tests/serve.rs (against the `shale serve` binary). The environment:

  SHALE_DYNAMO_ENDPOINT  http://HOST:PORT of the server
  SHALE_BOTO3_PHASES     comma-separated phases to run (default: items)
  SHALE_BOTO3_KEY/SECRET the credentials to sign with (default: fake/fake: the
                         server does not verify signatures unless configured to)
  SHALE_DYNAMO_NOW       the server clock in epoch seconds (phase ttl)

Phases:
  items   table lifecycle, every item operation, expressions (IN, NOT, size() in
          conditions and filters), small batches, a cancelled transaction, error codes
  paging  10,000 items in one partition: Query and Scan with Limit=100 through the
          paginators and through manual ExclusiveStartKey loops
  batch   BatchGetItem past 16 MB: UnprocessedKeys, retried until everything is read
  ttl     TTL expiry with the server's clock advanced by the test harness: the script
          prints `ADVANCE <seconds>` and waits for `advanced` on stdin
  sigv4   a server that verifies signatures: good, wrong secret, unknown key, wrong
          region, unsigned, incomplete Authorization

Each phase prints `phase <name> ok in <seconds>s`; the script ends with `boto3 ok`.
"""
import decimal
import os
import sys
import time

import boto3
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import Binary
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

EP = os.environ["SHALE_DYNAMO_ENDPOINT"]
KEY = os.environ.get("SHALE_BOTO3_KEY", "fake")
SECRET = os.environ.get("SHALE_BOTO3_SECRET", "fake")
CFG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
# The SDK's standard retries would hide the errors a phase checks for.
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def client(key=KEY, secret=SECRET, region="us-east-1", config=CFG):
    return boto3.client(
        "dynamodb", endpoint_url=EP, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret, config=config,
    )


def resource():
    return boto3.resource(
        "dynamodb", endpoint_url=EP, region_name="us-east-1",
        aws_access_key_id=KEY, aws_secret_access_key=SECRET, config=CFG,
    )


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"wanted {code}, got {got}: {e}"
        return e
    raise AssertionError(f"wanted {code}, but the call succeeded")


def create(c, name, pk=("pk", "S"), sk=None):
    schema = [{"AttributeName": pk[0], "KeyType": "HASH"}]
    defs = [{"AttributeName": pk[0], "AttributeType": pk[1]}]
    if sk:
        schema.append({"AttributeName": sk[0], "KeyType": "RANGE"})
        defs.append({"AttributeName": sk[0], "AttributeType": sk[1]})
    c.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=defs,
                   BillingMode="PAY_PER_REQUEST")
    c.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})


def drop(c, name):
    c.delete_table(TableName=name)
    c.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})


# --- items ---------------------------------------------------------------------------
def phase_items():
    c = client()
    res = resource()
    spec = dict(
        TableName="boto",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    c.create_table(**spec)
    c.get_waiter("table_exists").wait(TableName="boto", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    desc = c.describe_table(TableName="boto")["Table"]
    assert desc["TableStatus"] == "ACTIVE", desc
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert desc["KeySchema"] == spec["KeySchema"], desc
    assert "boto" in c.list_tables()["TableNames"]
    e = expect_error("ResourceInUseException", c.create_table, **spec)
    assert e.response["Error"]["Message"] == "Table already exists: boto"
    expect_error("ResourceNotFoundException", c.describe_table, TableName="missing")
    for i in range(3):
        create(c, f"boto_list{i}")
    names = [n for page in c.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2})
             for n in page["TableNames"]]
    assert names == sorted(names) and {"boto", "boto_list0", "boto_list1", "boto_list2"} <= set(names), names

    # PutItem / GetItem / UpdateItem / DeleteItem with Python types.
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
    out = t.update_item(
        Key={"pk": "a", "sk": 1},
        UpdateExpression="SET m.l = list_append(m.l, :more), seen = if_not_exists(seen, :now) REMOVE #d",
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":more": ["z"], ":now": 5},
        ReturnValues="ALL_NEW",
    )
    assert out["Attributes"]["m"]["l"] == [1, "two", None, True, "z"], out
    assert out["Attributes"]["seen"] == 5 and "data" not in out["Attributes"], out
    out = t.update_item(Key={"pk": "a", "sk": 1}, UpdateExpression="SET seen = :n",
                        ExpressionAttributeValues={":n": 6}, ReturnValues="UPDATED_OLD")
    assert out["Attributes"] == {"seen": 5}, out
    got = t.get_item(Key={"pk": "a", "sk": 1}, ProjectionExpression="#n, m.l[1]",
                     ExpressionAttributeNames={"#n": "name"})["Item"]
    assert got == {"name": "y", "m": {"l": ["two"]}}, got
    old = t.put_item(Item={"pk": "a", "sk": 2, "v": 1}, ReturnValues="ALL_OLD")
    assert "Attributes" not in old, old

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
    e = expect_error("ValidationException", t.put_item, Item={"pk": "a", "sk": 3},
                     ConditionExpression="v = :v", ExpressionAttributeValues={":v": 1, ":w": 2})
    assert "unused in expressions" in e.response["Error"]["Message"], e
    e = expect_error("ValidationException", t.put_item, Item={"pk": "a", "sk": 3, "big": "x" * (401 * 1024)})
    assert e.response["Error"]["Message"] == "Item size has exceeded the maximum allowed size", e
    assert "Item" not in t.get_item(Key={"pk": "a", "sk": 3})

    # Conditions with IN, NOT and size(): each passing one applies its ADD.
    t.put_item(Item={"pk": "c", "sk": 0, "color": "red", "name": "abcde", "tags": {"a", "b", "c"},
                     "l": [1, 2], "n": 7})
    conds = [
        ("color IN (:r, :g)", {":r": "red", ":g": "green"}, True),
        ("color IN (:g, :b)", {":g": "green", ":b": "blue"}, False),
        ("n IN (:s, :seven)", {":s": "7", ":seven": 7}, True),
        ("NOT color IN (:g)", {":g": "green"}, True),
        ("NOT (color = :r)", {":r": "red"}, False),
        ("NOT attribute_exists(missing)", {}, True),
        ("size(name) = :five", {":five": 5}, True),
        ("size(name) > :five", {":five": 5}, False),
        ("size(tags) IN (:two, :three) AND size(l) = :two", {":two": 2, ":three": 3}, True),
        ("NOT size(name) < :five AND NOT contains(tags, :z)", {":five": 5, ":z": "z"}, True),
        ("size(missing) >= :zero", {":zero": 0}, False),
    ]
    passed = 0
    for cond, vals, want in conds:
        kwargs = dict(Key={"pk": "c", "sk": 0}, UpdateExpression="ADD probes :one",
                      ConditionExpression=cond, ExpressionAttributeValues={**vals, ":one": 1})
        if want:
            t.update_item(**kwargs)
            passed += 1
        else:
            expect_error("ConditionalCheckFailedException", t.update_item, **kwargs)
        probes = t.get_item(Key={"pk": "c", "sk": 0})["Item"].get("probes", 0)
        assert probes == passed, (cond, probes, passed)
    # The same through boto3's condition builders.
    t.put_item(Item={"pk": "c", "sk": 0, "color": "red", "name": "abcde"},
               ConditionExpression=Attr("color").is_in(["red", "green"]) & ~Attr("name").size().lt(5))
    expect_error("ConditionalCheckFailedException", t.delete_item, Key={"pk": "c", "sk": 0},
                 ConditionExpression=~Attr("color").is_in(["red"]))
    t.delete_item(Key={"pk": "c", "sk": 0}, ConditionExpression=Attr("name").size().eq(5))
    assert "Item" not in t.get_item(Key={"pk": "c", "sk": 0})

    # Filters with IN, NOT and size() on Query and Scan.
    colors = ["red", "green", "blue"]
    with t.batch_writer() as bw:
        for i in range(30):
            bw.put_item(Item={"pk": "f", "sk": i, "color": colors[i % 3], "name": "x" * (i % 5)})
    filters = [
        (Attr("color").is_in(["red", "green"]), lambda i: i % 3 != 2),
        (~Attr("color").is_in(["red"]), lambda i: i % 3 != 0),
        (Attr("name").size().gt(2), lambda i: i % 5 > 2),
        (~Attr("name").size().eq(0) & Attr("color").is_in(["blue"]), lambda i: i % 5 != 0 and i % 3 == 2),
    ]
    for f, pred in filters:
        want = [i for i in range(30) if pred(i)]
        q = t.query(KeyConditionExpression=Key("pk").eq("f"), FilterExpression=f)
        assert [int(i["sk"]) for i in q["Items"]] == want, (f, q["Items"])
        assert q["ScannedCount"] == 30 and q["Count"] == len(want), q
        sc = t.scan(FilterExpression=f & Attr("pk").eq("f"))
        assert sorted(int(i["sk"]) for i in sc["Items"]) == want, f
    raw = c.scan(TableName="boto", FilterExpression="pk = :f AND NOT color IN (:r, :g) AND size(#n) BETWEEN :a AND :b",
                 ExpressionAttributeNames={"#n": "name"},
                 ExpressionAttributeValues={":f": {"S": "f"}, ":r": {"S": "red"}, ":g": {"S": "green"},
                                            ":a": {"N": "1"}, ":b": {"N": "3"}})
    assert sorted(int(i["sk"]["N"]) for i in raw["Items"]) == [i for i in range(30) if i % 3 == 2 and 1 <= i % 5 <= 3]
    cnt = c.query(TableName="boto", KeyConditionExpression="pk = :f AND sk BETWEEN :lo AND :hi", Select="COUNT",
                  ExpressionAttributeValues={":f": {"S": "f"}, ":lo": {"N": "10"}, ":hi": {"N": "19"}})
    assert cnt["Count"] == 10 and "Items" not in cnt, cnt

    old = t.delete_item(Key={"pk": "a", "sk": 1}, ConditionExpression="cnt = :one",
                        ExpressionAttributeValues={":one": 1}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["name"] == "y"
    assert "Item" not in t.get_item(Key={"pk": "a", "sk": 1})

    # Small batches: nothing unprocessed.
    resp = c.batch_write_item(RequestItems={"boto": [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)]})
    assert resp["UnprocessedItems"] == {}, resp
    resp = c.batch_write_item(RequestItems={"boto": [
        {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(0, 25, 2)]})
    assert resp["UnprocessedItems"] == {}, resp
    resp = c.batch_get_item(RequestItems={"boto": {
        "Keys": [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(25)], "ProjectionExpression": "sk"}})
    assert sorted(int(i["sk"]["N"]) for i in resp["Responses"]["boto"]) == list(range(1, 25, 2)), resp
    assert resp["UnprocessedKeys"] == {}
    expect_error("ValidationException", c.batch_get_item, RequestItems={"boto": {
        "Keys": [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(101)]}})
    expect_error("ValidationException", c.batch_write_item, RequestItems={"boto": [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(26)]})

    # Transactions: a cancelled condition writes nothing.
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
    c.transact_write_items(TransactItems=[
        {"Update": {"TableName": "boto", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}},
                    "UpdateExpression": "SET bal = bal - :a", "ConditionExpression": "bal >= :a",
                    "ExpressionAttributeValues": {":a": {"N": "4"}}}},
        {"Put": {"TableName": "boto", "Item": {"pk": {"S": "t"}, "sk": {"N": "2"}, "bal": {"N": "4"}}}},
    ])
    tg = c.transact_get_items(TransactItems=[
        {"Get": {"TableName": "boto", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}}}},
        {"Get": {"TableName": "boto", "Key": {"pk": {"S": "t"}, "sk": {"N": "2"}}}},
        {"Get": {"TableName": "boto", "Key": {"pk": {"S": "t"}, "sk": {"N": "3"}}}},
    ])
    assert tg["Responses"][0]["Item"]["bal"] == {"N": "6"}, tg
    assert tg["Responses"][1]["Item"]["bal"] == {"N": "4"}, tg
    assert "Item" not in tg["Responses"][2]

    # Delete.
    for i in range(3):
        drop(c, f"boto_list{i}")
    drop(c, "boto")
    assert "boto" not in c.list_tables()["TableNames"]
    expect_error("ResourceNotFoundException", c.delete_table, TableName="boto")


# --- paging --------------------------------------------------------------------------
def phase_paging():
    c = client()
    n = 10_000
    create(c, "paging", ("pk", "S"), ("sk", "N"))
    t = resource().Table("paging")
    with t.batch_writer() as bw:
        for i in range(n):
            bw.put_item(Item={"pk": "q", "sk": i, "v": i % 7})
    q = dict(TableName="paging", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "q"}})

    # Query through the paginator: every item once, in sort-key order.
    sks, pages = [], 0
    for page in c.get_paginator("query").paginate(**q, PaginationConfig={"PageSize": 100}):
        pages += 1
        assert page["Count"] <= 100, page["Count"]
        sks.extend(int(i["sk"]["N"]) for i in page["Items"])
    assert sks == list(range(n)), (len(sks), sks[:5])
    # 100 full pages, the last of which still has a LastEvaluatedKey, then an empty one.
    assert pages == 101, pages

    # Query backwards by hand with ExclusiveStartKey.
    sks, start, pages = [], None, 0
    while True:
        kwargs = dict(q, Limit=100, ScanIndexForward=False)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = c.query(**kwargs)
        pages += 1
        assert page["Count"] == len(page["Items"]) <= 100
        sks.extend(int(i["sk"]["N"]) for i in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        assert start == {"pk": {"S": "q"}, "sk": page["Items"][-1]["sk"]}, start
    assert sks == list(range(n - 1, -1, -1)), sks[:5]
    assert pages == 101, pages

    # Scan through the paginator with a filter: ScannedCount covers all, Count the matches.
    scanned, count, seen = 0, 0, []
    for page in c.get_paginator("scan").paginate(
        TableName="paging", FilterExpression="v = :z", ExpressionAttributeValues={":z": {"N": "3"}},
        PaginationConfig={"PageSize": 100},
    ):
        assert page["ScannedCount"] <= 100
        scanned += page["ScannedCount"]
        count += page["Count"]
        seen.extend(int(i["sk"]["N"]) for i in page["Items"])
    assert scanned == n, scanned
    assert count == len(seen) == len([i for i in range(n) if i % 7 == 3]), count
    assert sorted(seen) == [i for i in range(n) if i % 7 == 3]

    # Scan by hand: every item exactly once.
    seen, start, pages = [], None, 0
    while True:
        kwargs = dict(TableName="paging", Limit=100)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = c.scan(**kwargs)
        pages += 1
        seen.extend(int(i["sk"]["N"]) for i in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert len(seen) == n and sorted(seen) == list(range(n)), len(seen)
    assert pages == 101, pages
    # The resource API's high-level Query with a small Limit and a filter, by hand.
    got, start = [], None
    while True:
        kwargs = dict(KeyConditionExpression=Key("pk").eq("q") & Key("sk").between(2000, 2999),
                      FilterExpression=Attr("v").is_in([0, 1]), Limit=100)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = t.query(**kwargs)
        got.extend(int(i["sk"]) for i in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert got == [i for i in range(2000, 3000) if i % 7 in (0, 1)], got[:5]
    drop(c, "paging")


# --- batch with unprocessed keys -----------------------------------------------------------
def phase_batch():
    c = client()
    create(c, "batchfat", ("id", "S"))
    blob = "x" * 350_000
    ids = [f"k{i:03}" for i in range(100)]
    for chunk in range(0, 100, 25):
        resp = c.batch_write_item(RequestItems={"batchfat": [
            {"PutRequest": {"Item": {"id": {"S": i}, "v": {"S": blob}}}} for i in ids[chunk:chunk + 25]]})
        assert resp["UnprocessedItems"] == {}, resp
    keys = [{"id": {"S": i}} for i in ids]
    resp = c.batch_get_item(RequestItems={"batchfat": {"Keys": keys}})
    returned = [i["id"]["S"] for i in resp["Responses"]["batchfat"]]
    left = [k["id"]["S"] for k in resp["UnprocessedKeys"]["batchfat"]["Keys"]]
    # 16 MB of 350,007-byte items is 47 of them; exactly the other keys are unprocessed.
    assert len(returned) == 47, len(returned)
    assert all(i["v"]["S"] == blob for i in resp["Responses"]["batchfat"])
    assert sorted(returned + left) == ids, (returned, left)
    # Retry the unprocessed keys until none are left, as applications do.
    got, pending, rounds = list(returned), resp["UnprocessedKeys"], 1
    while pending:
        resp = c.batch_get_item(RequestItems=pending)
        got.extend(i["id"]["S"] for i in resp["Responses"]["batchfat"])
        pending = resp["UnprocessedKeys"]
        rounds += 1
        assert rounds <= 5
    assert sorted(got) == ids and len(got) == 100, len(got)
    assert rounds == 3, rounds
    drop(c, "batchfat")


# --- TTL with the server's clock ---------------------------------------------------------
def advance(seconds):
    print(f"ADVANCE {seconds}", flush=True)
    line = sys.stdin.readline()
    assert line.strip() == "advanced", repr(line)


def phase_ttl():
    now = int(os.environ["SHALE_DYNAMO_NOW"])
    c = client()
    create(c, "ttl", ("id", "S"))
    t = resource().Table("ttl")
    assert c.describe_time_to_live(TableName="ttl")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    c.update_time_to_live(TableName="ttl", TimeToLiveSpecification={"AttributeName": "exp", "Enabled": True})
    ttl = c.describe_time_to_live(TableName="ttl")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}, ttl
    e = expect_error("ValidationException", c.update_time_to_live, TableName="ttl",
                     TimeToLiveSpecification={"AttributeName": "exp", "Enabled": True})
    assert e.response["Error"]["Message"] == "TimeToLive is already enabled"

    t.put_item(Item={"id": "short", "exp": now + 60})
    t.put_item(Item={"id": "long", "exp": now + 3600})
    t.put_item(Item={"id": "past", "exp": now - 1})
    t.put_item(Item={"id": "forever"})
    t.put_item(Item={"id": "text", "exp": "not a number"})
    assert "Item" in t.get_item(Key={"id": "short"})
    assert "Item" not in t.get_item(Key={"id": "past"})
    assert t.scan(Select="COUNT")["Count"] == 4

    advance(61)
    assert "Item" not in t.get_item(Key={"id": "short"})
    assert t.query(KeyConditionExpression=Key("id").eq("short"))["Count"] == 0
    assert sorted(i["id"] for i in t.scan()["Items"]) == ["forever", "long", "text"]
    resp = c.batch_get_item(RequestItems={"ttl": {"Keys": [{"id": {"S": "short"}}, {"id": {"S": "long"}}]}})
    assert [i["id"]["S"] for i in resp["Responses"]["ttl"]] == ["long"], resp
    tg = c.transact_get_items(TransactItems=[{"Get": {"TableName": "ttl", "Key": {"id": {"S": "short"}}}}])
    assert "Item" not in tg["Responses"][0], tg
    # An expired item counts as absent for conditions.
    expect_error("ConditionalCheckFailedException", t.update_item, Key={"id": "short"},
                 UpdateExpression="SET x = :x", ConditionExpression="attribute_exists(id)",
                 ExpressionAttributeValues={":x": 1})
    t.put_item(Item={"id": "short", "exp": now + 120}, ConditionExpression="attribute_not_exists(id)")
    assert "Item" in t.get_item(Key={"id": "short"})

    advance(3600)
    assert sorted(i["id"] for i in t.scan()["Items"]) == ["forever", "text"]
    assert "Item" not in t.get_item(Key={"id": "long"})
    c.update_time_to_live(TableName="ttl", TimeToLiveSpecification={"AttributeName": "exp", "Enabled": False})
    assert c.describe_time_to_live(TableName="ttl")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    drop(c, "ttl")


# --- signatures ----------------------------------------------------------------------------
def phase_sigv4():
    c = client()
    create(c, "signed", ("id", "S"))
    c.put_item(TableName="signed", Item={"id": {"S": "good"}})

    def rejected(code, cl):
        e = expect_error(code, cl.put_item, TableName="signed", Item={"id": {"S": "bad"}})
        return e.response["Error"]["Message"]

    msg = rejected("InvalidSignatureException", client(secret="wrong", config=NO_RETRY))
    assert msg.startswith("The request signature we calculated does not match"), msg
    msg = rejected("UnrecognizedClientException", client(key="AKIDNOBODY", config=NO_RETRY))
    assert msg == "The security token included in the request is invalid.", msg
    msg = rejected("InvalidSignatureException", client(region="eu-west-1", config=NO_RETRY))
    assert msg.strip() == "Credential should be scoped to a valid region, not 'eu-west-1'.", msg
    unsigned = client(config=NO_RETRY.merge(Config(signature_version=UNSIGNED)))
    msg = rejected("MissingAuthenticationTokenException", unsigned)
    assert msg == "Request is missing Authentication Token", msg

    # An Authorization header without its Signature: the SDK sends what a hook leaves.
    incomplete = client(config=NO_RETRY)

    def strip_signature(request, **_):
        auth = request.headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        request.headers["Authorization"] = auth.split(", Signature=")[0]

    incomplete.meta.events.register("before-send.dynamodb.PutItem", strip_signature)
    msg = rejected("IncompleteSignatureException", incomplete)
    assert msg.startswith("Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 "), msg

    items = c.scan(TableName="signed")["Items"]
    assert items == [{"id": {"S": "good"}}], items
    drop(c, "signed")


PHASES = {"items": phase_items, "paging": phase_paging, "batch": phase_batch, "ttl": phase_ttl,
          "sigv4": phase_sigv4}

for name in os.environ.get("SHALE_BOTO3_PHASES", "items").split(","):
    started = time.monotonic()
    PHASES[name]()
    print(f"phase {name} ok in {time.monotonic() - started:.2f}s", flush=True)
print("boto3 ok", flush=True)
sys.exit(0)
