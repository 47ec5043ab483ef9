"""`meridian reshard`: a stopped node's data directory moved to another shard count, with the
real binary (docs/operations.md "Changing the shard count").

  * 1 -> 2 -> 3 -> 1 shards: after each, the node starts with the new count (shards = 0 takes
    it from the directory) and serves every acknowledged write with its value, every delete as
    absent, the bucket properties as set, and a write with a context read before the reshard
    supersedes the old value (no sibling);
  * refused while the node runs, for the count it already has, and with bad arguments;
  * an interrupted reshard (its new databases built and marked ready, the swap not done): the
    server refuses to start until `meridian reshard --data-dir D` finishes it.
"""
import os
import shutil
import subprocess

from conftest import meridian_bin
from front_end_load import session

TOOL_TIMEOUT_S = 120
KEYS = 120
DELETED = range(0, KEYS, 10)


def reshard(data_dir, *args):
    return subprocess.run([meridian_bin(), "reshard", "--data-dir", data_dir] + list(args),
                          capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)


def value_of(i):
    return ("value %d|" % i).encode() + bytes(range(256))[: i % 200]


def write_data(http, url):
    assert http.put(url + "/v1/buckets/last", json={"conflict_policy": "lww"},
                    timeout=10).status_code == 200
    for i in range(KEYS):
        bucket = "last" if i % 3 == 0 else "rs"
        assert http.put("%s/v1/kv/%s/k%d" % (url, bucket, i), data=value_of(i),
                        timeout=10).status_code == 204
    for i in DELETED:
        bucket = "last" if i % 3 == 0 else "rs"
        assert http.delete("%s/v1/kv/%s/k%d" % (url, bucket, i), timeout=10).status_code == 204


def check_data(http, url, rewritten=()):
    wrong = []
    for i in range(KEYS):
        bucket = "last" if i % 3 == 0 else "rs"
        got = http.get("%s/v1/kv/%s/k%d" % (url, bucket, i), timeout=10)
        if i in DELETED:
            if got.status_code != 404:
                wrong.append((i, got.status_code))
        elif i in rewritten:
            if got.status_code != 200 or got.content != b"rewritten":
                wrong.append((i, got.status_code, got.content[:20]))
        elif got.status_code != 200 or got.content != value_of(i):
            wrong.append((i, got.status_code, got.content[:20]))
    assert wrong == [], "wrong after the reshard: %s" % wrong[:10]
    props = http.get(url + "/v1/buckets/last", timeout=10).json()["props"]
    assert props["conflict_policy"] == "lww", props


def shard_databases(data_dir):
    return sorted(name for name in os.listdir(data_dir) if name.startswith("db"))


def test_reshard_up_and_down_keeps_every_write(start_server):
    server = start_server("--shards", "1")
    http = session()
    write_data(http, server.http_url)
    context = http.get(server.http_url + "/v1/kv/rs/k1", timeout=10).headers["X-Meridian-Context"]

    running = reshard(server.data_dir, "--shards", "2")
    assert running.returncode == 1, running.stdout
    assert "in use by a running node" in running.stderr, running.stderr
    assert server.stop() == 0

    server.args = []  # shards = 0: the count the directory has
    for count in (2, 3, 1):
        # Spelt with a trailing slash once: the old databases still go beside the directory.
        done = reshard(server.data_dir + ("/" if count == 3 else ""), "--shards", str(count))
        assert done.returncode == 0, done.stderr
        assert "to %d shards (%d objects" % (count, KEYS) in done.stdout, done.stdout
        aside = done.stdout.split("the old databases are in ")[1].split(" ")[0]
        assert os.path.isdir(os.path.join(aside, "db")), done.stdout
        assert aside.startswith(server.data_dir + ".before-reshard-"), aside
        shutil.rmtree(aside)
        expected = ["db"] + ["db-shard-%d" % s for s in range(1, count)]
        assert shard_databases(server.data_dir) == expected
        server.start()
        if count > 1:
            assert server.log().count("shards: %d" % count) == 1, server.log()
        check_data(http, server.http_url, rewritten=(1,) if count != 2 else ())
        if count == 2:
            # A context read before the first reshard still supersedes what it read.
            assert http.put(server.http_url + "/v1/kv/rs/k1", data=b"rewritten",
                            headers={"X-Meridian-Context": context},
                            timeout=10).status_code == 204
            got = http.get(server.http_url + "/v1/kv/rs/k1", timeout=10)
            assert got.status_code == 200 and got.content == b"rewritten", got.headers
        assert server.stop() == 0

    same = reshard(server.data_dir, "--shards", "1")
    assert same.returncode == 1 and "already has 1 shard; nothing to do" in same.stderr, same


def test_bad_arguments_are_usage_errors(tmp_path):
    missing = subprocess.run([meridian_bin(), "reshard", "--shards", "2"], capture_output=True,
                             text=True, timeout=TOOL_TIMEOUT_S)
    assert missing.returncode == 2 and "missing --data-dir" in missing.stderr, missing
    zero = reshard(str(tmp_path), "--shards", "0")
    assert zero.returncode == 2 and "--shards must be at least 1" in zero.stderr, zero
    empty = reshard(str(tmp_path), "--shards", "2")
    assert empty.returncode == 1 and "holds no node data" in empty.stderr, empty
    assert os.listdir(tmp_path) == []


def test_an_interrupted_reshard_is_finished_before_the_node_starts(start_server):
    server = start_server("--shards", "1")
    http = session()
    write_data(http, server.http_url)
    assert server.stop() == 0
    # The state a crash leaves between READY and the swap: the old database in place, the new
    # ones built and marked ready. Made from a finished reshard's result and its old database.
    done = reshard(server.data_dir, "--shards", "2")
    assert done.returncode == 0, done.stderr
    aside = done.stdout.split("the old databases are in ")[1].split(" ")[0]
    staging = os.path.join(server.data_dir, "reshard.staging")
    os.mkdir(staging)
    for name in ("db", "db-shard-1"):
        os.rename(os.path.join(server.data_dir, name), os.path.join(staging, name))
    os.rename(os.path.join(aside, "db"), os.path.join(server.data_dir, "db"))
    with open(os.path.join(staging, "READY"), "w") as marker:
        marker.write("2\n%s\n" % aside)

    server.args = []
    refused = subprocess.run([meridian_bin(), "serve", "--data-dir", server.data_dir, "--http",
                              "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1, refused.stdout
    assert "an interrupted reshard waits" in refused.stderr, refused.stderr
    other = reshard(server.data_dir, "--shards", "3")
    assert other.returncode == 1 and "finish it first" in other.stderr, other

    finished = reshard(server.data_dir)
    assert finished.returncode == 0, finished.stderr
    assert "finished the interrupted reshard" in finished.stdout, finished.stdout
    assert not os.path.exists(staging)
    assert shard_databases(server.data_dir) == ["db", "db-shard-1"]
    assert os.path.isdir(os.path.join(aside, "db"))
    server.start()
    assert "shards: 2" in server.log()
    check_data(http, server.http_url)
    assert server.stop() == 0
