"""A real `meridian serve --shards 2`: the node's partitions split over two state machines, each
with its own event loop, thread and RocksDB (docs/operations.md "Shards"). Requests from many
connections over HTTP, HTTPS and RESP (pipelined, so one connection's commands reach both shards
and their replies must come back in order), a bucket's properties holding on both shards at
once, a change of consistency checked on both shards, a backup of both shards restored into a
new data directory, a SIGTERM with writes in flight and a SIGKILL,
each followed by a restart that finds every acknowledged write, and the shard count fixed for
the data directory.
"""
import concurrent.futures
import os
import subprocess

import redis
import requests

from cluster_util import poll
from front_end_load import put_and_get_concurrently, session
from conftest import meridian_bin

TOOL_TIMEOUT_S = 120


def test_two_shards_serve_every_front_end(start_server, certificate):
    server = start_server("--shards", "2", "--resp", "127.0.0.1:0", tls=True)
    assert "shards: 2" in server.log()
    assert os.path.isdir(os.path.join(server.data_dir, "db-shard-1"))
    http = session()

    assert put_and_get_concurrently(server, certificate[0], "shards") == 400

    # One pipelined connection whose commands go to both shards: replies in command order.
    client = redis.Redis(host="127.0.0.1", port=server.resp_port, socket_timeout=10)
    pipe = client.pipeline(transaction=False)
    for i in range(300):
        pipe.set("p%d" % i, "x%d" % i)
    for i in range(300):
        pipe.get("p%d" % i)
    replies = pipe.execute()
    assert replies[:300] == [True] * 300
    assert replies[300:] == [b"x%d" % i for i in range(300)]
    assert client.mget(["p1", "p2", "nope", "p3"]) == [b"x1", b"x2", None, b"x3"]
    bench = subprocess.run(["redis-benchmark", "-p", str(server.resp_port), "-c", "20", "-n",
                            "20000", "-P", "16", "-t", "set,get", "-r", "10000", "-q"],
                           capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    assert bench.returncode == 0, bench.stderr
    assert "ERR" not in bench.stdout + bench.stderr, bench.stdout + bench.stderr

    # A bucket's properties, set through shard 0, hold on both shards as soon as the change
    # is acknowledged: blind writes to last-write-wins keys leave one value wherever they live.
    assert http.put(server.http_url + "/v1/buckets/last", json={"conflict_policy": "lww"},
                    timeout=10).status_code == 200
    for i in range(40):
        url = "%s/v1/kv/last/k%d" % (server.http_url, i)
        assert http.put(url, data=b"a", timeout=10).status_code == 204
        assert http.put(url, data=b"b", timeout=10).status_code == 204
        got = http.get(url, timeout=10)
        assert got.status_code == 200 and got.content == b"b", (i, got.status_code, got.text)

    # A change of consistency, checked on both shards: a strong bucket whose keys live on both.
    strong = http.put(server.http_url + "/v1/buckets/s", json={"consistency": "strong"},
                      timeout=10)
    assert strong.status_code == 200, strong.text
    for i in range(20):
        url = "%s/v1/kv/s/k%d" % (server.http_url, i)
        assert http.put(url, data=b"s%d" % i, timeout=10).status_code == 204
        got = http.get(url, timeout=10)
        assert got.status_code == 200 and got.content == b"s%d" % i, (i, got.status_code)
    # A bucket holding data (on both shards) keeps its consistency.
    refused = http.put(server.http_url + "/v1/buckets/last", json={"consistency": "strong"},
                       timeout=10)
    assert refused.status_code == 400 and "holds data" in refused.text, refused.text
    assert http.get(server.http_url + "/v1/buckets/last", timeout=10).json()["props"][
        "consistency"] == "eventual"
    # A backup copies both shards' databases (backup format 2).
    target = os.path.join(server.work_dir, "backup")
    backup = http.post(server.http_url + "/v1/cluster/backup", json={"directory": target},
                       timeout=60)
    assert backup.status_code == 200, backup.text
    assert os.path.isdir(os.path.join(target, "db")), os.listdir(target)
    assert os.path.isdir(os.path.join(target, "db-shard-1")), os.listdir(target)
    with open(os.path.join(target, "backup.json")) as manifest:
        assert '"shards": 2' in manifest.read()

    metrics = http.get(server.http_url + "/metrics", timeout=10)
    assert metrics.status_code == 200
    assert "meridian_event_loop_stalls_total" in metrics.text
    assert "meridian_storage_writable 1" in metrics.text
    assert http.get(server.http_url + "/health", timeout=10).json() == {"status": "ok"}

    assert server.stop() == 0
    assert "stopped" in server.log()
    server.start()
    s = session()
    for i in range(0, 400, 7):
        got = s.get("%s/v1/kv/shards/k%d" % (server.http_url, i), timeout=10)
        assert got.status_code == 200 and got.content == b"v%d" % i, (i, got.status_code)
    assert s.get(server.http_url + "/v1/buckets/last", timeout=10).json()["props"][
        "conflict_policy"] == "lww"
    assert server.stop() == 0

    # The backup restored into a new data directory serves every shard's keys again.
    restored_dir = os.path.join(server.work_dir, "restored")
    restore = subprocess.run([meridian_bin(), "restore", "--from", target, "--data-dir",
                              restored_dir], capture_output=True, text=True, timeout=120)
    assert restore.returncode == 0, restore.stderr
    assert sorted(name for name in os.listdir(restored_dir)) == ["db", "db-shard-1"]
    server.data_dir = restored_dir
    server.start()
    for i in range(0, 400, 7):
        got = s.get("%s/v1/kv/shards/k%d" % (server.http_url, i), timeout=10)
        assert got.status_code == 200 and got.content == b"v%d" % i, (i, got.status_code)
    assert s.get(server.http_url + "/v1/buckets/last", timeout=10).json()["props"][
        "conflict_policy"] == "lww"


def test_writes_in_flight_at_a_stop_and_a_crash_are_kept_on_both_shards(start_server):
    server = start_server("--shards", "2")

    def write_until_refused(prefix, count):
        def writer(j):
            s = session()
            ok = []
            for i in range(count):
                key = "%s%d-%d" % (prefix, j, i)
                try:
                    put = s.put("%s/v1/kv/stop/%s?dw=1" % (server.http_url, key), data=b"v",
                                timeout=10)
                except requests.ConnectionError:
                    break
                if put.status_code != 204:
                    break
                ok.append(key)
            return ok
        return writer

    for ending in ("stop", "kill"):
        acknowledged = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(write_until_refused(ending, 300), j) for j in range(4)]
            poll(lambda: (session().get("%s/v1/kv/stop/%s0-20" % (server.http_url, ending),
                                        timeout=10).status_code == 200, None), 30,
                 "writes are flowing")
            if ending == "stop":
                assert server.stop() == 0
            else:
                server.kill()
            for future in futures:
                acknowledged += future.result()
        assert len(acknowledged) >= 21
        server.start()
        s = session()
        missing = [key for key in acknowledged
                   if s.get("%s/v1/kv/stop/%s" % (server.http_url, key),
                            timeout=10).status_code != 200]
        assert missing == [], "acknowledged writes lost after a %s: %s" % (ending, missing[:10])
    assert server.stop() == 0


def test_the_shard_count_is_fixed_for_a_data_directory(start_server):
    server = start_server("--shards", "2")
    assert server.stop() == 0
    refused = subprocess.run([meridian_bin(), "serve", "--data-dir", server.data_dir, "--http",
                              "127.0.0.1:0", "--shards", "1"], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1, refused.stdout
    assert "created as shard 0 of 2" in refused.stderr, refused.stderr
    assert "shards=2 opens it" in refused.stderr, refused.stderr


def test_shards_0_takes_a_shard_per_cpu_and_an_existing_data_directorys_count(start_server):
    """`--shards 0`: one shard per CPU this process may run on for a new data directory (the
    partition count is far above it here), and the count it was created with afterwards."""
    cpus = len(os.sched_getaffinity(0))
    auto = start_server("--shards", "0")
    if cpus > 1:
        assert "shards: %d" % cpus in auto.log(), auto.log()
        assert os.path.isdir(os.path.join(auto.data_dir, "db-shard-%d" % (cpus - 1)))
    assert not os.path.isdir(os.path.join(auto.data_dir, "db-shard-%d" % cpus))
    http = session()
    assert http.put(auto.http_url + "/v1/kv/a/k", data=b"v", timeout=10).status_code == 204
    assert auto.stop() == 0
    auto.start()  # the same arguments: --shards 0 again
    assert auto.log().count("shards: %d" % cpus) == (2 if cpus > 1 else 0)
    assert http.get(auto.http_url + "/v1/kv/a/k", timeout=10).content == b"v"
    assert auto.stop() == 0

    # A data directory created with one shard keeps one under --shards 0.
    one = start_server("--shards", "1")
    assert one.stop() == 0
    one.args = ["--shards", "0"]
    one.start()
    assert "shards:" not in one.log()
    assert not os.path.isdir(os.path.join(one.data_dir, "db-shard-1"))
    assert one.stop() == 0
