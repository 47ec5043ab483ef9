"""A real `meridian serve --front-end-threads 1`: the HTTP, HTTPS and RESP front ends run on a
thread of their own and hand every request to the node's thread (src/runtime/cross_loop.h).
Everything that crosses between the two loops is exercised through the real binary: reads and
writes from many connections at once over all three front ends, pipelined RESP, /metrics (the
node's series are rendered on the node's thread), /health, a backup, a SIGHUP that reloads the
users, and a SIGTERM that drains requests in flight and exits 0.
"""
import concurrent.futures
import os
import signal
import subprocess

import redis
import requests

from cluster_util import poll
from front_end_load import put_and_get_concurrently, session
from test_auth import add_user, call

TOOL_TIMEOUT_S = 120


def test_every_front_end_works_from_a_thread_of_its_own(start_server, certificate):
    server = start_server("--front-end-threads", "1", "--resp", "127.0.0.1:0", tls=True)
    assert server.resp_port
    assert "the front ends' event loop (HTTP, HTTPS, RESP)" in server.log()
    http = session()

    assert put_and_get_concurrently(server, certificate[0], "threads") == 400

    # RESP, pipelined: every reply in order, and the HTTP writes are visible through it.
    client = redis.Redis(host="127.0.0.1", port=server.resp_port, socket_timeout=10)
    pipe = client.pipeline(transaction=False)
    for i in range(200):
        pipe.set("p%d" % i, "x%d" % i)
    for i in range(200):
        pipe.get("p%d" % i)
    replies = pipe.execute()
    assert replies[:200] == [True] * 200
    assert replies[200:] == [b"x%d" % i for i in range(200)]
    bench = subprocess.run(["redis-benchmark", "-p", str(server.resp_port), "-c", "20", "-n",
                            "20000", "-P", "16", "-t", "set,get", "-r", "10000", "-q"],
                           capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    assert bench.returncode == 0, bench.stderr
    assert "ERR" not in bench.stdout + bench.stderr, bench.stdout + bench.stderr

    # /metrics: the front ends' series and the node's (rendered on the node's thread) at once.
    metrics = http.get(server.http_url + "/metrics", timeout=10)
    assert metrics.status_code == 200
    assert 'meridian_requests_total{op="put",status="204"} 400' in metrics.text
    assert "meridian_event_loop_stalls_total" in metrics.text
    assert "meridian_input_budget_used_bytes" in metrics.text
    assert http.get(server.http_url + "/health", timeout=10).json() == {"status": "ok"}

    # A backup starts on the node's thread; its report comes back to the front end.
    target = os.path.join(server.work_dir, "backup")
    backup = http.post(server.http_url + "/v1/cluster/backup", json={"directory": target},
                       timeout=60)
    assert backup.status_code == 200, backup.text
    assert os.path.isfile(os.path.join(target, "backup.json"))

    assert server.stop() == 0
    assert "stopped" in server.log()


def test_sighup_reloads_the_users_of_front_ends_on_their_own_thread(tmp_path, start_server):
    users = str(tmp_path / "users.json")
    add_user(users, "ops", "admin")
    server = start_server("--front-end-threads", "1", "--users-file", users)
    late = add_user(users, "late", "readwrite")
    assert call(server, "GET", "/v1/kv/b/k", late).status_code == 401
    server.process.send_signal(signal.SIGHUP)
    poll(lambda: (call(server, "GET", "/v1/kv/b/k", late).status_code == 404, None), 10,
         "the new user is known after SIGHUP")


def test_a_stop_finishes_the_requests_in_flight(start_server):
    server = start_server("--front-end-threads", "1")
    # Many writes in flight from several connections, then SIGTERM: every request that got an
    # answer got a complete one, the server exits 0, and what was acknowledged is kept.
    acknowledged = []

    def writer(j):
        s = session()
        ok = []
        for i in range(200):
            try:
                put = s.put("%s/v1/kv/stop/k%d-%d" % (server.http_url, j, i), data=b"v",
                            timeout=10)
            except requests.ConnectionError:
                break
            if put.status_code != 204:
                break
            ok.append("k%d-%d" % (j, i))
        return ok

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(writer, j) for j in range(4)]
        poll(lambda: (call(server, "GET", "/v1/kv/stop/k0-20").status_code == 200, None), 30,
             "writes are flowing")
        assert server.stop() == 0
        for future in futures:
            acknowledged += future.result()
    assert len(acknowledged) >= 21
    server.start()
    s = session()
    for key in acknowledged:
        got = s.get("%s/v1/kv/stop/%s" % (server.http_url, key), timeout=10)
        assert got.status_code == 200, (key, got.status_code)
