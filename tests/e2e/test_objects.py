"""Object semantics over HTTP and HTTPS: binary values, siblings and their resolution,
deletes, stale contexts, bucket properties and lww, quorum parameters and the consistency
receipt (docs/api.md)."""
import base64
import threading

import pytest

ALL_BYTES = bytes(range(256))

DEFAULT_PROPS = {"consistency": "eventual", "conflict_policy": "siblings", "n": 3, "r": "quorum", "w": "quorum", "pr": 0,
                 "pw": 0, "dw": 0, "sloppy_quorum": True}


def consistency(response):
    """The X-Meridian-Consistency header as a dict of ints, in the order sent."""
    header = response.headers["X-Meridian-Consistency"]
    fields = {}
    for part in header.split("; "):
        name, value = part.split("=")
        fields[name] = int(value)
    return fields


def sibling_values(response):
    assert response.status_code == 300, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["context"] == response.headers["X-Meridian-Context"]
    for sibling in body["siblings"]:
        assert isinstance(sibling["timestamp_ms"], int)
    return sorted(base64.b64decode(s["value"], validate=True) for s in body["siblings"])


@pytest.mark.parametrize("value", [ALL_BYTES, b"", ALL_BYTES * 4096], ids=["all-bytes", "empty", "1-MiB"])
def test_binary_values_round_trip(endpoint, value):
    for key in ["plain", "with/slash and space", "\x00nul", "caf\u00e9", "%41"]:
        put = endpoint.session.put(endpoint.kv(key), data=value, timeout=10)
        assert put.status_code == 204, put.text
        assert put.headers["X-Meridian-Context"]
        assert put.headers["X-Meridian-Durable"] in ("true", "false")
        get = endpoint.session.get(endpoint.kv(key), timeout=10)
        assert get.status_code == 200, get.text
        assert get.content == value
        assert get.headers["Content-Type"] == "application/octet-stream"
        assert get.headers["X-Meridian-Context"]


def test_keys_differ_by_encoding(endpoint):
    """'%41' encoded is a different key from 'A'."""
    assert endpoint.session.put(endpoint.kv("A"), data=b"letter", timeout=10).status_code == 204
    assert endpoint.session.get(endpoint.kv("%41"), timeout=10).status_code == 404


def test_concurrent_blind_writes_become_siblings_then_resolve(endpoint):
    writers = 4
    values = [b"writer-%d-" % i + ALL_BYTES for i in range(writers)]
    statuses = []
    barrier = threading.Barrier(writers, timeout=10)

    def write(value):
        session = endpoint.new_session()
        barrier.wait()
        statuses.append(session.put(endpoint.kv("contended"), data=value, timeout=10).status_code)

    threads = [threading.Thread(target=write, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert statuses == [204] * writers

    get = endpoint.session.get(endpoint.kv("contended"), timeout=10)
    assert sibling_values(get) == sorted(values)

    resolve = endpoint.session.put(endpoint.kv("contended"), data=b"resolved", timeout=10,
                                   headers={"X-Meridian-Context": get.headers["X-Meridian-Context"]})
    assert resolve.status_code == 204, resolve.text
    after = endpoint.session.get(endpoint.kv("contended"), timeout=10)
    assert after.status_code == 200
    assert after.content == b"resolved"


def test_write_context_overwrites_own_write(endpoint):
    first = endpoint.session.put(endpoint.kv("mine"), data=b"v1", timeout=10)
    second = endpoint.session.put(endpoint.kv("mine"), data=b"v2", timeout=10,
                                  headers={"X-Meridian-Context": first.headers["X-Meridian-Context"]})
    assert second.status_code == 204
    get = endpoint.session.get(endpoint.kv("mine"), timeout=10)
    assert get.status_code == 200
    assert get.content == b"v2"


def test_delete_then_write_after_delete(endpoint):
    assert endpoint.session.put(endpoint.kv("gone"), data=b"v", timeout=10).status_code == 204
    delete = endpoint.session.delete(endpoint.kv("gone"), timeout=10)
    assert delete.status_code == 204
    assert delete.headers["X-Meridian-Context"]
    get = endpoint.session.get(endpoint.kv("gone"), timeout=10)
    assert get.status_code == 404
    assert get.json()["error"] == "not_found"
    context = get.headers["X-Meridian-Context"]
    assert context, "a deleted key keeps its history"

    again = endpoint.session.put(endpoint.kv("gone"), data=b"back", timeout=10,
                                 headers={"X-Meridian-Context": context})
    assert again.status_code == 204
    get = endpoint.session.get(endpoint.kv("gone"), timeout=10)
    assert get.status_code == 200
    assert get.content == b"back"

    # Deleting a key that never existed is not an error; it still reads as missing.
    assert endpoint.session.delete(endpoint.kv("never"), timeout=10).status_code == 204
    assert endpoint.session.get(endpoint.kv("never"), timeout=10).status_code == 404


def test_blind_write_after_delete_is_readable(endpoint):
    assert endpoint.session.put(endpoint.kv("k"), data=b"v", timeout=10).status_code == 204
    assert endpoint.session.delete(endpoint.kv("k"), timeout=10).status_code == 204
    assert endpoint.session.put(endpoint.kv("k"), data=b"new", timeout=10).status_code == 204
    get = endpoint.session.get(endpoint.kv("k"), timeout=10)
    if get.status_code == 200:
        assert get.content == b"new"
    else:
        assert b"new" in sibling_values(get)


def test_stale_context_never_overwrites_newer_data(endpoint):
    endpoint.session.put(endpoint.kv("race"), data=b"v1", timeout=10)
    stale = endpoint.session.get(endpoint.kv("race"), timeout=10).headers["X-Meridian-Context"]
    newer = endpoint.session.put(endpoint.kv("race"), data=b"v2", timeout=10,
                                 headers={"X-Meridian-Context": stale})
    assert newer.status_code == 204
    late = endpoint.session.put(endpoint.kv("race"), data=b"v3", timeout=10,
                                headers={"X-Meridian-Context": stale})
    assert late.status_code == 204
    get = endpoint.session.get(endpoint.kv("race"), timeout=10)
    assert sibling_values(get) == [b"v2", b"v3"]

    # A stale delete does not remove the newer value either.
    assert endpoint.session.delete(endpoint.kv("race"), timeout=10,
                                   headers={"X-Meridian-Context": stale}).status_code == 204
    get = endpoint.session.get(endpoint.kv("race"), timeout=10)
    values = [get.content] if get.status_code == 200 else sibling_values(get)
    assert b"v2" in values and b"v3" in values


def test_bucket_props_and_lww(endpoint):
    get = endpoint.get("/v1/buckets/fresh")
    assert get.status_code == 200
    assert get.json() == {"bucket": "fresh", "props": DEFAULT_PROPS, "sealed": False}

    put = endpoint.request("PUT", "/v1/buckets/fresh", json={"conflict_policy": "lww"})
    assert put.status_code == 200, put.text
    assert put.json() == {"bucket": "fresh", "props": dict(DEFAULT_PROPS, conflict_policy="lww"),
                          "sealed": False}
    put = endpoint.request("PUT", "/v1/buckets/fresh", json={"dw": 1})
    expected = dict(DEFAULT_PROPS, conflict_policy="lww", dw=1)
    assert put.json()["props"] == expected
    assert endpoint.get("/v1/buckets/fresh").json()["props"] == expected

    for value in [b"older", b"newer", b"newest"]:
        write = endpoint.session.put(endpoint.kv("k", bucket="fresh"), data=value, timeout=10)
        assert write.status_code == 204
        assert write.headers["X-Meridian-Durable"] == "true", "the bucket's dw=1 applies"
    get = endpoint.session.get(endpoint.kv("k", bucket="fresh"), timeout=10)
    assert get.status_code == 200, "lww keeps one value"
    assert get.content == b"newest"

    # Other buckets keep the defaults.
    assert endpoint.get("/v1/buckets/other").json()["props"] == DEFAULT_PROPS


def test_bucket_quorum_props_numbers_and_symbols(endpoint):
    """Quorum settings are JSON numbers when numeric and strings when symbolic."""
    put = endpoint.request("PUT", "/v1/buckets/q",
                           json={"r": "one", "w": "all", "pr": 1, "pw": "one", "dw": "quorum",
                                 "sloppy_quorum": False})
    assert put.status_code == 200, put.text
    expected = dict(DEFAULT_PROPS, r="one", w="all", pr=1, pw="one", dw="quorum",
                    sloppy_quorum=False)
    assert put.json() == {"bucket": "q", "props": expected, "sealed": False}
    assert endpoint.get("/v1/buckets/q").json()["props"] == expected
    # n may be lowered (raising it above the cluster's one member is refused).
    put = endpoint.request("PUT", "/v1/buckets/q", json={"n": 1, "r": 1, "w": 1, "pr": 0, "pw": 0,
                                                         "dw": 0})
    assert put.status_code == 200, put.text
    assert put.json()["props"] == dict(expected, n=1, r=1, w=1, pr=0, pw=0, dw=0)
    # The bucket's settings apply to requests: all of n=1 is one replica.
    write = endpoint.session.put(endpoint.kv("k", bucket="q"), data=b"v", timeout=10)
    assert write.status_code == 204, write.text
    assert consistency(write)["n"] == 1


def test_consistency_header_on_every_object_reply(endpoint):
    """One node: every key has one replica (n=3 capped by the node count)."""
    put = endpoint.session.put(endpoint.kv("receipt"), data=b"v", timeout=10)
    assert put.status_code == 204, put.text
    assert list(consistency(put)) == ["n", "w", "replies", "primaries", "fallbacks", "durable",
                                      "hinted"]
    assert consistency(put)["n"] == 1
    assert consistency(put)["w"] == 1
    assert consistency(put)["replies"] == 1
    assert consistency(put)["primaries"] == 1
    assert consistency(put)["fallbacks"] == 0
    assert consistency(put)["hinted"] == 0

    get = endpoint.session.get(endpoint.kv("receipt"), timeout=10)
    assert get.status_code == 200
    assert consistency(get) == {"n": 1, "r": 1, "replies": 1, "primaries": 1, "fallbacks": 0,
                                "behind": 0}

    delete = endpoint.session.delete(endpoint.kv("receipt"), timeout=10)
    assert delete.status_code == 204
    assert consistency(delete)["n"] == 1
    assert consistency(delete)["w"] == 1
    assert consistency(delete)["replies"] == 1

    missing = endpoint.session.get(endpoint.kv("receipt"), timeout=10)
    assert missing.status_code == 404
    assert consistency(missing)["n"] == 1
    assert consistency(missing)["replies"] == 1

    # Siblings (300) carry it too.
    endpoint.session.put(endpoint.kv("two"), data=b"a", timeout=10)
    endpoint.session.put(endpoint.kv("two"), data=b"b", timeout=10)
    siblings = endpoint.session.get(endpoint.kv("two"), timeout=10)
    assert siblings.status_code == 300
    assert consistency(siblings)["r"] == 1


def test_quorum_query_parameters_within_one_replica(endpoint):
    """Every symbol and 1 resolve within the single replica; dw=all syncs it."""
    for w in ["one", "quorum", "all", "1"]:
        put = endpoint.session.put(endpoint.kv("q") + "?w=%s&pw=1&sloppy_quorum=false" % w,
                                   data=w.encode(), timeout=10)
        assert put.status_code == 204, put.text
        assert consistency(put)["w"] == 1
        assert consistency(put)["primaries"] == 1
        context = put.headers["X-Meridian-Context"]
    durable = endpoint.session.put(endpoint.kv("q") + "?dw=all", data=b"synced", timeout=10,
                                   headers={"X-Meridian-Context": context})
    assert durable.status_code == 204, durable.text
    assert durable.headers["X-Meridian-Durable"] == "true"
    assert consistency(durable)["durable"] == 1
    for r in ["one", "quorum", "all", "1"]:
        get = endpoint.session.get(endpoint.kv("q") + "?r=%s&pr=%s&sloppy_quorum=true" % (r, r),
                                   timeout=10)
        assert get.status_code in (200, 300), get.text
        assert consistency(get)["r"] == 1
    delete = endpoint.session.delete(endpoint.kv("q") + "?w=all&pw=one&dw=0", timeout=10)
    assert delete.status_code == 204, delete.text


def test_dw_query_overrides_bucket(endpoint):
    durable = endpoint.session.put(endpoint.kv("d") + "?dw=1", data=b"x", timeout=10)
    assert durable.status_code == 204
    assert durable.headers["X-Meridian-Durable"] == "true"
    lazy = endpoint.session.put(endpoint.kv("d") + "?dw=0", data=b"y", timeout=10,
                                headers={"X-Meridian-Context": durable.headers["X-Meridian-Context"]})
    assert lazy.status_code == 204
    assert lazy.headers["X-Meridian-Durable"] == "false"
