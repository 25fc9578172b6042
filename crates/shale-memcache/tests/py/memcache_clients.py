"""Drives ShaleDB's memcache front end with the real pymemcache client.

Usage: memcache_clients.py HOST PORT. Prints OK and exits 0 when every check holds.
"""
import sys

from pymemcache.client.base import Client
from pymemcache import serde


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    c = Client((host, port), serde=serde.pickle_serde, connect_timeout=5, timeout=10)
    raw = Client((host, port), connect_timeout=5, timeout=10)

    assert c.version().startswith(b"1.6"), c.version()
    assert c.set("s", "hello") is True
    assert c.get("s") == "hello"
    assert c.set("i", 42) is True
    assert c.get("i") == 42, "ints round-trip through the serde flags"
    assert c.set("l", [1, "two", {"three": 3}]) is True
    assert c.get("l") == [1, "two", {"three": 3}]
    assert c.get("missing") is None
    assert c.get_many(["s", "i", "missing"]) == {"s": "hello", "i": 42}
    assert c.set_many({"a": 1, "b": 2}) == []
    assert c.get_many(["a", "b"]) == {"a": 1, "b": 2}

    # add / replace
    assert c.add("s", "nope", noreply=False) is False
    assert c.add("new", "x", noreply=False) is True
    assert c.replace("nothere", "x", noreply=False) is False
    assert c.replace("new", "y", noreply=False) is True
    assert c.get("new") == "y"

    # gets / cas
    value, cas = c.gets("s")
    assert value == "hello" and cas is not None
    assert c.cas("s", "world", cas) is True
    assert c.cas("s", "again", cas) is False
    assert c.get("s") == "world"
    assert c.cas("nothere", "x", b"1") is None

    # incr / decr on raw numbers
    assert raw.set("n", "10") is True
    assert raw.incr("n", 5) == 15
    assert raw.decr("n", 20) == 0
    assert raw.incr("n", 2**64 - 1) == 2**64 - 1
    assert raw.incr("n", 1) == 0
    assert raw.incr("nothere", 1) is None

    # append / prepend
    assert raw.set("t", "mid") is True
    assert raw.append("t", "-end", noreply=False) is True
    assert raw.prepend("t", "start-", noreply=False) is True
    assert raw.get("t") == b"start-mid-end"
    assert raw.append("nothere", "x", noreply=False) is False

    # touch / delete
    assert raw.touch("t", 100, noreply=False) is True
    assert raw.touch("nothere", 100, noreply=False) is False
    assert raw.delete("t", noreply=False) is True
    assert raw.delete("t", noreply=False) is False
    assert raw.get("t") is None

    # expiry: a negative exptime is already expired
    assert raw.set("gone", "x", expire=-1) is True
    assert raw.get("gone") is None

    # noreply (pymemcache's default for set)
    raw.set("nr", "v", noreply=True)
    assert raw.get("nr") == b"v"

    # stats
    stats = raw.stats()
    assert stats[b"version"] == b"1.6.18-shale", stats
    assert int(stats[b"curr_connections"]) >= 1
    assert int(stats[b"cmd_get"]) > 0

    # flush_all
    assert raw.flush_all(noreply=False) is True
    assert raw.get_many(["a", "b", "s", "n"]) == {}
    c.close()
    raw.close()
    print("OK")


if __name__ == "__main__":
    main()
