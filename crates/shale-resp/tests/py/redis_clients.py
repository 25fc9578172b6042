"""Drives ShaleDB's Redis front end with redis-py, in RESP2 and RESP3 mode.

Usage: python3 redis_clients.py PORT. Exits non-zero (with a traceback) on any
mismatch.
"""
import sys

import redis


def exercise(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol, decode_responses=True)
    p = f"p{protocol}:"
    assert r.ping() is True
    r.flushdb()
    # strings
    assert r.set(p + "s", "hello") is True
    assert r.get(p + "s") == "hello"
    assert r.set(p + "s", "x", nx=True) is None
    assert r.set(p + "t", "v", ex=100) is True
    assert 99 <= r.ttl(p + "t") <= 100
    assert r.incr(p + "n") == 1
    assert r.incrby(p + "n", 41) == 42
    assert r.incrbyfloat(p + "f", 1.5) == 1.5
    assert r.mset({p + "a": "1", p + "b": "2"}) is True
    assert r.mget([p + "a", p + "b", p + "zz"]) == ["1", "2", None]
    assert r.append(p + "s", "!") == 6
    assert r.getrange(p + "s", 0, 4) == "hello"
    assert r.exists(p + "a", p + "b") == 2
    assert r.type(p + "a") == "string"
    # hashes
    assert r.hset(p + "h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hget(p + "h", "a") == "1"
    assert r.hgetall(p + "h") == {"a": "1", "b": "2"}
    assert r.hincrby(p + "h", "a", 5) == 6
    assert r.hincrbyfloat(p + "h", "b", 0.5) == 2.5
    assert sorted(r.hkeys(p + "h")) == ["a", "b"]
    assert r.hlen(p + "h") == 2
    assert r.hdel(p + "h", "a") == 1
    assert r.hexists(p + "h", "b")
    assert dict(r.hscan_iter(p + "h")) == {"b": "2.5"}
    # scan
    for i in range(50):
        r.set(f"{p}scan:{i}", i)
    assert len(set(r.scan_iter(match=p + "scan:*", count=7))) == 50
    # pipeline (non-transactional and transactional)
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.incr(p + "pipe")
    assert pipe.execute()[-1] == 100
    pipe = r.pipeline()
    pipe.set(p + "x", "1").incr(p + "x").get(p + "x")
    assert pipe.execute() == [True, 2, "2"]
    # WATCH: an optimistic transfer, then one that another client breaks.
    r.set(p + "acct", 10)
    with r.pipeline() as pipe:
        pipe.watch(p + "acct")
        bal = int(pipe.get(p + "acct"))
        pipe.multi()
        pipe.set(p + "acct", bal - 3)
        assert pipe.execute() == [True]
    other = redis.Redis(host="127.0.0.1", port=port, protocol=protocol, decode_responses=True)
    with r.pipeline() as pipe:
        pipe.watch(p + "acct")
        other.incr(p + "acct")
        pipe.multi()
        pipe.set(p + "acct", 0)
        try:
            pipe.execute()
            raise AssertionError("WATCH did not abort")
        except redis.WatchError:
            pass
    assert r.get(p + "acct") == "8"
    # transaction() helper retries on WatchError
    def incr_twice(pipe):
        v = int(pipe.get(p + "acct"))
        pipe.multi()
        pipe.set(p + "acct", v + 2)
    r.transaction(incr_twice, p + "acct")
    assert r.get(p + "acct") == "10"
    # errors
    try:
        r.hget(p + "s", "x")
        raise AssertionError("expected WRONGTYPE")
    except redis.ResponseError as e:
        assert str(e).startswith("WRONGTYPE")
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.dbsize() > 50
    r.close()
    other.close()


def main():
    port = int(sys.argv[1])
    exercise(port, 2)
    exercise(port, 3)
    print("ok")


if __name__ == "__main__":
    main()
