"""Connection limits and timeouts (raw sockets), /health and /metrics."""
import re
import socket
import time

from conftest import Endpoint, raw_connect, read_http_response, wait_for_eof


def test_health(endpoint):
    response = endpoint.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics_count_requests(endpoint):
    for _ in range(3):
        endpoint.session.put(endpoint.kv("m"), data=b"v", timeout=10)
        endpoint.session.get(endpoint.kv("m"), timeout=10)
    endpoint.session.get(endpoint.kv("missing"), timeout=10)
    response = endpoint.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    counts = {}
    for line in response.text.splitlines():
        match = re.match(r"^meridian_requests_total\{(.*)\} (\S+)$", line)
        if match:
            counts[match.group(1)] = float(match.group(2))
    assert counts, response.text
    assert sum(counts.values()) >= 7
    assert any('status="204"' in labels and value >= 3 for labels, value in counts.items()), counts
    assert any('status="404"' in labels and value >= 1 for labels, value in counts.items()), counts
    assert "meridian_request_duration_seconds" in response.text


def test_metrics_show_rocksdb_memory_against_the_configured_cache(start_server):
    server = start_server("--block-cache-bytes", "33554432")
    endpoint = Endpoint(server, "http", None)
    for i in range(50):
        endpoint.session.put(endpoint.kv("mem%d" % i), data=b"v" * 100, timeout=10)
    text = endpoint.get("/metrics").text
    values = {}
    for line in text.splitlines():
        match = re.match(r"^(meridian_rocksdb_\w+) (\d+)$", line)
        if match:
            values[match.group(1)] = int(match.group(2))
    assert values.get("meridian_rocksdb_block_cache_capacity_bytes") == 33554432, text
    assert values["meridian_rocksdb_memtable_bytes"] > 50 * 100, values
    assert values["meridian_rocksdb_block_cache_usage_bytes"] <= 33554432, values
    assert "meridian_rocksdb_table_readers_bytes" in values, values
    # Background jobs: a fresh node with 50 keys in its memtable compacts nothing.
    assert values["meridian_rocksdb_running_compactions"] <= 1, values
    assert values["meridian_rocksdb_pending_compaction_bytes"] == 0, values
    assert "meridian_rocksdb_running_flushes" in values, values


def test_metrics_count_event_loop_stalls_and_group_commits(start_server):
    server = start_server()
    endpoint = Endpoint(server, "http", None)
    for i in range(5):
        # dw=1: each acknowledged write waited for a group commit's sync.
        response = endpoint.session.put(endpoint.kv("sync%d" % i) + "?dw=1", data=b"v",
                                        timeout=10)
        assert response.status_code == 204, response.text
        # dw=0 (the default): committed by a WAL write on the event loop, no sync.
        response = endpoint.session.put(endpoint.kv("unsynced%d" % i), data=b"v", timeout=10)
        assert response.status_code == 204, response.text
    text = endpoint.get("/metrics").text
    values = {}
    for line in text.splitlines():
        match = re.match(r"^(meridian_(?:event_loop|node_tick|node_slow|commit)_\w+) ([0-9.e+-]+)$",
                         line)
        if match:
            values[match.group(1)] = float(match.group(2))
    assert values.get("meridian_commit_syncs_total", 0) >= 1, text
    assert values.get("meridian_commit_inline_writes_total", 0) >= 1, text
    assert "meridian_commit_inline_write_seconds_total" in values, values
    assert values["meridian_commit_sync_seconds_total"] > 0, values
    assert values["meridian_commit_longest_sync_seconds"] > 0, values
    for name in ("meridian_event_loop_stalls_total", "meridian_event_loop_stall_seconds_total",
                 "meridian_event_loop_longest_stall_seconds", "meridian_node_tick_seconds_total",
                 "meridian_node_slow_ticks_total", "meridian_commit_slow_syncs_total"):
        assert name in values, (name, values)


def test_metrics_show_the_background_budget_and_hint_bytes(start_server):
    server = start_server("--background-bytes-per-second", "1000000",
                          "--background-streams-max", "2", "--hint-bytes-max", "5000")
    text = Endpoint(server, "http", None).get("/metrics").text
    values = {}
    for line in text.splitlines():
        match = re.match(r"^(meridian_(?:background|hint)_\w+(?:\{[^}]*\})?) (\d+)$", line)
        if match:
            values[match.group(1)] = int(match.group(2))
    assert values.get("meridian_background_bytes_per_second_limit") == 1000000, text
    assert values.get("meridian_background_streams_limit") == 2, text
    assert values.get("meridian_hint_bytes") == 0, text
    for kind in ("ownership_handoff", "replica_copy", "hint_replay", "anti_entropy_repair",
                 "tombstone_reaping"):
        assert values.get('meridian_background_bytes_total{kind="%s"}' % kind) == 0, text
        assert values.get('meridian_background_streams{kind="%s"}' % kind) == 0, text
        for limit in ("bytes", "streams"):
            series = 'meridian_background_throttled_total{kind="%s",limit="%s"}' % (kind, limit)
            assert values.get(series) == 0, text


def test_slow_client_is_timed_out(start_server):
    server = start_server("--request-timeout-ms", "300")
    endpoint = Endpoint(server, "http", None)
    with raw_connect(server.http_port) as sock:
        sock.sendall(b"PUT /v1/kv/default/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        waited = wait_for_eof(sock, deadline_s=10)
    assert waited >= 0.2
    assert endpoint.session.get(endpoint.kv("slow"), timeout=10).status_code == 404
    # Headers that never finish are cut off as well.
    with raw_connect(server.http_port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        wait_for_eof(sock, deadline_s=10)
    assert endpoint.get("/health").status_code == 200


def test_idle_connection_is_closed(start_server):
    server = start_server("--idle-timeout-ms", "300")
    with raw_connect(server.http_port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = read_http_response(sock)
        assert status == 200
        waited = wait_for_eof(sock, deadline_s=10)
    assert waited >= 0.2


def test_keep_alive_serves_many_requests_on_one_connection(http_endpoint):
    with raw_connect(http_endpoint.server.http_port) as sock:
        for _ in range(5):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body = read_http_response(sock)
            assert status == 200 and b"ok" in body


def test_connection_cap(start_server):
    server = start_server("--max-connections", "2")
    held = [raw_connect(server.http_port) for _ in range(2)]
    try:
        # Both are busy: a request half sent after a whole one (its 200 shows the server read
        # the segment). Idle connections would be closed to make room (test_hardening.py).
        for sock in held:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\n")
            assert read_http_response(sock)[0] == 200
        with raw_connect(server.http_port) as third:
            try:
                third.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                pass  # already closed by the server
            third.settimeout(10)
            try:
                assert third.recv(65536) == b"", "the third connection must be closed unanswered"
            except ConnectionResetError:
                pass
        # The held connections still work.
        held[0].sendall(b"Host: x\r\n\r\n")
        assert read_http_response(held[0])[0] == 200
    finally:
        for sock in held:
            sock.close()
    # Once they are gone, new connections are served again (the server notices asynchronously).
    deadline = time.monotonic() + 10
    while True:
        try:
            with raw_connect(server.http_port) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if read_http_response(sock)[0] == 200:
                    break
        except (AssertionError, OSError):
            pass
        assert time.monotonic() < deadline, "connections were not released"
        time.sleep(0.05)  # pacing between bounded retries, not synchronisation
    metrics = Endpoint(server, "http", None).get("/metrics").text
    assert re.search(r"^meridian_\w*rejected\w*(\{[^}]*\})? [1-9]", metrics, re.M), metrics


def test_server_stops_cleanly_on_sigterm(start_server):
    server = start_server()
    assert server.stop() == 0
