"""Drives ShaleDB's Riak HTTP API with the `requests` client, as Riak clients do.

Usage: python3 riak_http.py http://127.0.0.1:PORT
Prints one line per check and exits non-zero on the first failure.
"""

import json
import sys

import requests

BASE = sys.argv[1].rstrip("/")
S = requests.Session()


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


def url(path):
    return BASE + path


# Ping and the resource map.
r = S.get(url("/ping"))
check("ping", r.status_code == 200 and r.text == "OK", r.text)
r = S.get(url("/"), headers={"Accept": "application/json"})
check("resource map", r.json()["riak_kv_wm_ping"] == "/ping", r.text)

# Object lifecycle with metadata.
r = S.get(url("/buckets/py/keys/k1"))
check("missing is 404", r.status_code == 404 and r.text == "not found\n", r.text)
r = S.put(
    url("/buckets/py/keys/k1"),
    data=json.dumps({"name": "ada"}),
    headers={"Content-Type": "application/json", "X-Riak-Meta-Team": "engines"},
)
check("put 204", r.status_code == 204, r.status_code)
r = S.get(url("/buckets/py/keys/k1"))
check("get 200", r.status_code == 200 and r.json() == {"name": "ada"}, r.text)
check("content type", r.headers["Content-Type"] == "application/json", r.headers)
check("meta", r.headers.get("X-Riak-Meta-Team") == "engines", r.headers)
vclock = r.headers["X-Riak-Vclock"]
etag = r.headers["ETag"]
last_modified = r.headers["Last-Modified"]
check("vclock/etag", len(vclock) > 0 and etag.startswith('"'), r.headers)

# Conditional requests.
r = S.get(url("/buckets/py/keys/k1"), headers={"If-None-Match": etag})
check("if-none-match 304", r.status_code == 304, r.status_code)
r = S.get(url("/buckets/py/keys/k1"), headers={"If-Modified-Since": last_modified})
check("if-modified-since 304", r.status_code == 304, r.status_code)
r = S.put(url("/buckets/py/keys/k1"), data="x", headers={"If-None-Match": "*"})
check("create-only 412", r.status_code == 412, r.status_code)
r = S.put(
    url("/buckets/py/keys/k1?returnbody=true"),
    data="v2",
    headers={"Content-Type": "text/plain", "If-Match": etag, "X-Riak-Vclock": vclock},
)
check("if-match + returnbody", r.status_code == 200 and r.text == "v2", (r.status_code, r.text))
r = S.put(url("/buckets/py/keys/k1"), data="v3", headers={"If-Match": etag})
check("stale if-match 412", r.status_code == 412, r.status_code)
r = S.put(
    url("/buckets/py/keys/k1"),
    data="v3",
    headers={"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
)
check("if-unmodified-since 412", r.status_code == 412, r.status_code)

# Generated keys.
r = S.post(url("/buckets/py/keys"), data="gen", headers={"Content-Type": "text/plain"})
check("post 201", r.status_code == 201 and "Location" in r.headers, r.headers)
r = S.get(url(r.headers["Location"]))
check("generated key readable", r.text == "gen", r.text)

# Key listing, whole and streamed.
for k in ["a", "b", "c"]:
    S.put(url(f"/buckets/list/keys/{k}"), data=k, headers={"Content-Type": "text/plain"})
r = S.get(url("/buckets/list/keys?keys=true"))
check("keys=true", sorted(r.json()["keys"]) == ["a", "b", "c"], r.text)
r = S.get(url("/buckets/list/keys?keys=stream"), stream=True)
raw = b"".join(r.iter_content(chunk_size=None)).decode()
dec = json.JSONDecoder()
streamed, pos = [], 0
while pos < len(raw):
    obj, pos = dec.raw_decode(raw, pos)
    streamed.extend(obj["keys"])
check("keys=stream", sorted(streamed) == ["a", "b", "c"], raw)
r = S.get(url("/buckets?buckets=true"))
check("buckets", {"list", "py"} <= set(r.json()["buckets"]), r.text)

# Bucket properties.
r = S.put(
    url("/buckets/list/props"),
    data=json.dumps({"props": {"n_val": 2, "allow_mult": True}}),
    headers={"Content-Type": "application/json"},
)
check("props put", r.status_code == 204, r.status_code)
props = S.get(url("/buckets/list/props")).json()["props"]
check("props get", props["n_val"] == 2 and props["allow_mult"] is True, props)
r = S.put(url("/buckets/list/props"), data="{oops", headers={"Content-Type": "application/json"})
check("bad props 400", r.status_code == 400, r.status_code)

# Secondary indexes.
for key, city, age in [("u1", "paris", 30), ("u2", "oslo", -4), ("u3", "paris", 61)]:
    r = S.put(
        url(f"/buckets/people/keys/{key}"),
        data=key,
        headers={
            "Content-Type": "text/plain",
            "X-Riak-Index-city_bin": city,
            "X-Riak-Index-age_int": str(age),
        },
    )
    check(f"indexed put {key}", r.status_code == 204, r.status_code)
r = S.get(url("/buckets/people/index/city_bin/paris"))
check("2i exact", r.json()["keys"] == ["u1", "u3"], r.text)
r = S.get(url("/buckets/people/index/age_int/-10/40"))
check("2i int range", r.json()["keys"] == ["u2", "u1"], r.text)
r = S.get(url("/buckets/people/index/city_bin/a/p"))
check("2i bin range", r.json()["keys"] == ["u2"], r.text)
r = S.get(url("/buckets/people/index/age_int/notanumber"))
check("2i bad int 400", r.status_code == 400, r.status_code)
r = S.delete(url("/buckets/people/keys/u1"))
check("delete 204", r.status_code == 204, r.status_code)
r = S.get(url("/buckets/people/index/city_bin/paris"))
check("2i after delete", r.json()["keys"] == ["u3"], r.text)
r = S.delete(url("/buckets/people/keys/u1"))
check("delete missing 404", r.status_code == 404, r.status_code)

# Stats.
stats = S.get(url("/stats")).json()
check("stats", stats["riak_kv_version"] == "2.2.3" and stats["node_puts_total"] > 0, stats)
print("all checks passed")
