"""Every bad input of docs/api.md's error table gets its documented status and error code,
and changes nothing (each case re-reads the state afterwards)."""
import json

import pytest

from conftest import raw_connect, read_http_response


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert "\n" not in body["message"]


@pytest.fixture
def seeded(endpoint):
    """An endpoint with key 'k' = b'original' in bucket 'b'."""
    assert endpoint.session.put(endpoint.kv("k", "b"), data=b"original", timeout=10).status_code == 204
    return endpoint


DEFAULT_PROPS = {"consistency": "eventual", "conflict_policy": "siblings", "n": 3, "r": "quorum", "w": "quorum", "pr": 0,
                 "pw": 0, "dw": 0, "sloppy_quorum": True}


def assert_unchanged(endpoint):
    get = endpoint.session.get(endpoint.kv("k", "b"), timeout=10)
    assert get.status_code == 200, get.text
    assert get.content == b"original"
    props = endpoint.get("/v1/buckets/b").json()["props"]
    assert props == DEFAULT_PROPS


@pytest.mark.parametrize("bucket", ["bad!bucket", "a" * 65, "caf%C3%A9", "a%2Fb"])
def test_invalid_bucket(seeded, bucket):
    for method in ["GET", "PUT", "DELETE"]:
        response = seeded.request(method, "/v1/kv/%s/k" % bucket, data=b"x")
        assert_error(response, 400, "invalid_bucket")
    assert_error(seeded.request("PUT", "/v1/buckets/%s" % bucket, json={"dw": 1}), 400,
                 "invalid_bucket")
    assert_unchanged(seeded)


@pytest.mark.parametrize("path", ["/v1/kv/b/", "/v1/kv/b/%zz", "/v1/kv/b/%4", "/v1/kv/b/k%"])
def test_invalid_key(seeded, path):
    for method in ["GET", "PUT", "DELETE"]:
        status, headers, body = seeded.raw_request(method, path, body=b"x")
        assert status == 400, body
        assert json.loads(body)["error"] == "invalid_key"
    assert_unchanged(seeded)


@pytest.mark.parametrize("context", ["not-a-context", "AAAA", "!!!", "x" * 4000])
def test_malformed_context(seeded, context):
    headers = {"X-Meridian-Context": context}
    assert_error(seeded.session.put(seeded.kv("k", "b"), data=b"x", headers=headers, timeout=10),
                 400, "invalid_context")
    assert_error(seeded.session.delete(seeded.kv("k", "b"), headers=headers, timeout=10),
                 400, "invalid_context")
    assert_unchanged(seeded)


def test_foreign_context(seeded):
    seeded.session.put(seeded.kv("other", "b"), data=b"o", timeout=10)
    foreign = seeded.session.get(seeded.kv("other", "b"), timeout=10).headers["X-Meridian-Context"]
    headers = {"X-Meridian-Context": foreign}
    assert_error(seeded.session.put(seeded.kv("k", "b"), data=b"x", headers=headers, timeout=10),
                 400, "invalid_context")
    assert_error(seeded.session.delete(seeded.kv("k", "b"), headers=headers, timeout=10),
                 400, "invalid_context")
    assert_unchanged(seeded)
    assert seeded.session.get(seeded.kv("other", "b"), timeout=10).content == b"o"


@pytest.mark.parametrize("body", [
    b'{"unknown": 1}', b'{"dw": "1"}', b'{"dw": 7}', b'{"dw": -1}', b'{"dw": 1.5}',
    b'{"conflict_policy": "random"}', b'{"conflict_policy": 1}', b'{',
    b'[]', b'"lww"', b'', b'{"conflict_policy": "lww", "bogus": true}',
    b'{"n": 0}', b'{"n": 10}', b'{"n": "3"}', b'{"n": -1}', b'{"r": "majority"}',
    b'{"r": "2"}', b'{"w": 10}', b'{"w": 0}', b'{"pr": true}', b'{"pw": null}',
    b'{"sloppy_quorum": "false"}', b'{"sloppy_quorum": 0}',
    b'{"conflict_policy": "lww", "r": "bogus"}'])
def test_invalid_props(seeded, body):
    response = seeded.request("PUT", "/v1/buckets/b", data=body,
                              headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_props")
    assert_unchanged(seeded)


@pytest.mark.parametrize("props,property_named", [
    ({"r": 4}, "r=4 exceeds n=3"),
    ({"w": 4}, "w=4 exceeds n=3"),
    ({"r": "all", "pr": 4}, "pr=4 exceeds r=all"),
    ({"pr": "all"}, "pr=all (3) exceeds r=quorum (2)"),
    ({"pw": 3}, "pw=3 exceeds w=quorum (2)"),
    ({"dw": "all"}, "dw=all (3) exceeds w=quorum (2)"),
    ({"conflict_policy": "lww", "r": 5}, "r=5 exceeds n=3"),
])
def test_props_above_their_bound(seeded, props, property_named):
    """A setting above n (or pr/pw/dw above r/w) is refused as a whole, naming it."""
    response = seeded.request("PUT", "/v1/buckets/b", json=props)
    assert_error(response, 400, "invalid_props")
    assert property_named in response.json()["message"]
    assert_unchanged(seeded)


@pytest.mark.parametrize("query", ["dw=10", "dw=", "dw=true", "unknown=1", "dw=1&dw=0x",
                                   "dw=1&dw=1", "w=many", "w=-1", "pw=QUORUM", "r=1", "pr=1",
                                   "sloppy_quorum=yes", "sloppy_quorum", "w=1&sloppy_quorum=1",
                                   "sloppy_quorum=true&sloppy_quorum=false", "w=%zz"])
def test_invalid_parameter(seeded, query):
    url = seeded.kv("k", "b") + "?" + query
    for response in [seeded.session.put(url, data=b"x", timeout=10),
                     seeded.session.delete(url, timeout=10)]:
        assert_error(response, 400, "invalid_parameter")
        assert "X-Meridian-Consistency" not in response.headers
    assert_unchanged(seeded)


@pytest.mark.parametrize("query", ["r=10", "r=", "r=most", "r=1&r=1", "pr=x", "w=1", "pw=1",
                                   "dw=1", "sloppy_quorum=no", "bogus=1"])
def test_invalid_get_parameter(seeded, query):
    response = seeded.session.get(seeded.kv("k", "b") + "?" + query, timeout=10)
    assert_error(response, 400, "invalid_parameter")
    assert_unchanged(seeded)


@pytest.mark.parametrize("method,query", [
    ("PUT", "w=2"), ("PUT", "w=9"), ("DELETE", "w=2"), ("PUT", "dw=2"), ("PUT", "pw=2"),
    ("PUT", "w=one&dw=2"), ("GET", "r=2"), ("GET", "pr=2"), ("GET", "r=one&pr=all&pr=1")])
def test_quorum_above_the_single_replica(seeded, method, query):
    """One node: n=3 is capped to one replica, so asking for two cannot be met (and the
    request changes nothing)."""
    response = seeded.request(method, "/v1/kv/b/k?" + query, data=b"changed")
    assert_error(response, 400, "invalid_parameter")
    if query != "r=one&pr=all&pr=1":  # that one is refused at the edge (pr repeated)
        assert "exceeds" in response.json()["message"], response.json()
    assert_unchanged(seeded)


def test_w2_message_explains_the_replica_count(seeded):
    response = seeded.session.put(seeded.kv("k", "b") + "?w=2", data=b"changed", timeout=10)
    assert_error(response, 400, "invalid_parameter")
    message = response.json()["message"]
    assert "w=2 exceeds" in message
    assert "1 replica" in message, message
    assert_unchanged(seeded)


@pytest.mark.parametrize("method,path", [("POST", "/v1/kv/b/k"), ("PATCH", "/v1/kv/b/k"),
                                          ("POST", "/v1/buckets/b"), ("DELETE", "/v1/buckets/b"),
                                          ("POST", "/health"), ("PUT", "/metrics")])
def test_method_not_allowed(seeded, method, path):
    response = seeded.request(method, path, data=b"x")
    assert_error(response, 405, "method_not_allowed")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and method not in allowed
    assert_unchanged(seeded)


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/kv", "/v1/kv/b", "/v2/kv/b/k", "/nothing",
                                  "/v1/buckets/b/extra"])
def test_unknown_path(seeded, path):
    assert_error(seeded.get(path), 404, "not_found")
    assert_unchanged(seeded)


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET /health HTTP/9.9\r\n\r\n",
    b"GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n",
    b"PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
], ids=["garbage", "version", "header", "length"])
def test_malformed_http(http_endpoint, request_bytes):
    assert http_endpoint.session.put(http_endpoint.kv("k", "b"), data=b"original",
                                     timeout=10).status_code == 204
    with raw_connect(http_endpoint.server.http_port) as sock:
        sock.sendall(request_bytes)
        status, headers, body = read_http_response(sock)
    assert status == 400
    assert b'"bad_request"' in body
    assert_unchanged(http_endpoint)


def test_oversized_key_and_value(start_server):
    server = start_server("--key-bytes-max", "16", "--value-bytes-max", "64")
    from conftest import Endpoint
    endpoint = Endpoint(server, "http", None)
    assert endpoint.session.put(endpoint.kv("k", "b"), data=b"original", timeout=10).status_code == 204

    assert endpoint.session.put(endpoint.kv("x" * 16, "b"), data=b"v" * 64, timeout=10).status_code == 204
    for method in ["GET", "PUT", "DELETE"]:
        response = endpoint.session.request(method, endpoint.kv("x" * 17, "b"), data=b"v", timeout=10)
        assert_error(response, 413, "key_too_large")
    response = endpoint.session.put(endpoint.kv("k", "b"), data=b"v" * 65, timeout=10)
    assert_error(response, 413, "value_too_large")
    big = endpoint.session.put(endpoint.kv("k", "b"), data=b"v" * (1 << 20), timeout=10)
    assert big.status_code == 413
    assert big.json()["error"] in ("value_too_large", "body_too_large")
    assert endpoint.session.get(endpoint.kv("x" * 17, "b"), timeout=10).status_code == 413
    assert_unchanged(endpoint)
