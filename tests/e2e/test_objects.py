"""Object semantics over HTTP and HTTPS: binary values, siblings and their resolution,
deletes, stale contexts, bucket properties and lww (docs/api.md)."""
import base64
import threading

import pytest

ALL_BYTES = bytes(range(256))


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
    assert get.json() == {"bucket": "fresh", "props": {"conflict_policy": "siblings", "dw": 0}}

    put = endpoint.request("PUT", "/v1/buckets/fresh", json={"conflict_policy": "lww"})
    assert put.status_code == 200, put.text
    assert put.json() == {"bucket": "fresh", "props": {"conflict_policy": "lww", "dw": 0}}
    put = endpoint.request("PUT", "/v1/buckets/fresh", json={"dw": 1})
    assert put.json()["props"] == {"conflict_policy": "lww", "dw": 1}
    assert endpoint.get("/v1/buckets/fresh").json()["props"] == {"conflict_policy": "lww", "dw": 1}

    for value in [b"older", b"newer", b"newest"]:
        write = endpoint.session.put(endpoint.kv("k", bucket="fresh"), data=value, timeout=10)
        assert write.status_code == 204
        assert write.headers["X-Meridian-Durable"] == "true", "the bucket's dw=1 applies"
    get = endpoint.session.get(endpoint.kv("k", bucket="fresh"), timeout=10)
    assert get.status_code == 200, "lww keeps one value"
    assert get.content == b"newest"

    # Other buckets keep the defaults.
    assert endpoint.get("/v1/buckets/other").json()["props"]["conflict_policy"] == "siblings"


def test_dw_query_overrides_bucket(endpoint):
    durable = endpoint.session.put(endpoint.kv("d") + "?dw=1", data=b"x", timeout=10)
    assert durable.status_code == 204
    assert durable.headers["X-Meridian-Durable"] == "true"
    lazy = endpoint.session.put(endpoint.kv("d") + "?dw=0", data=b"y", timeout=10,
                                headers={"X-Meridian-Context": durable.headers["X-Meridian-Context"]})
    assert lazy.status_code == 204
    assert lazy.headers["X-Meridian-Durable"] == "false"
