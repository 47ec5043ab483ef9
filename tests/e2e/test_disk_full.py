"""Issue 11 item 4, with the real binary on a real disk that fills up: a node whose data
directory is on a small tmpfs answers writes with 507 Insufficient Storage once the free space
falls below its reserve (RESP: -ERR), keeps serving reads, says so on /health and /metrics,
and takes writes again by itself once space returns. Without a reserve the disk really fills:
the failed WAL write is answered as an error instead of aborting the process, and the node
recovers without a restart. No acknowledged write is lost, across a restart too.

Needs root (mount -t tmpfs); skipped otherwise."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis
import requests

from conftest import Server

MIB = 1 << 20
DISK_BYTES = 128 * MIB


@pytest.fixture
def small_disk():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    work_dir = tempfile.mkdtemp(prefix="meridian-e2e-disk-")
    mount_point = os.path.join(work_dir, "disk")
    os.mkdir(mount_point)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % DISK_BYTES, "tmpfs",
                              mount_point], capture_output=True, text=True)
    if mounted.returncode != 0:
        shutil.rmtree(work_dir, ignore_errors=True)
        pytest.skip("cannot mount a tmpfs here: " + mounted.stderr.strip())
    servers = []
    yield work_dir, mount_point, servers
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.stop()
    subprocess.run(["umount", "-l", mount_point], check=False)
    shutil.rmtree(work_dir, ignore_errors=True)


def start_node(small_disk, *args):
    work_dir, mount_point, servers = small_disk
    server = Server(work_dir, ["--write-buffer-bytes", str(1 * MIB), "--block-cache-bytes",
                               str(4 * MIB), "--resp", "127.0.0.1:0"] + list(args))
    server.data_dir = os.path.join(mount_point, "data")
    servers.append(server)
    return server.start()


def fill_until_free(mount_point, free_bytes):
    """Writes a filler file so that about `free_bytes` stay free; returns its path."""
    path = os.path.join(mount_point, "filler")
    stat = os.statvfs(mount_point)
    available = stat.f_bavail * stat.f_frsize
    size = max(0, available - free_bytes)
    with open(path, "ab") as filler:
        chunk = b"\0" * MIB
        while size > 0:
            filler.write(chunk[:min(size, MIB)])
            size -= min(size, MIB)
    return path


def put(server, key, value, timeout=10):
    return requests.put("%s/v1/kv/default/%s" % (server.http_url, key), data=value,
                        timeout=timeout)


def get(server, key):
    return requests.get("%s/v1/kv/default/%s" % (server.http_url, key), timeout=10)


def metric(server, name):
    text = requests.get(server.http_url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


def wait_for(predicate, deadline_s, what):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("not within %ds: %s" % (deadline_s, what))


# With two shards (docs/operations.md "Shards") each shard has its own database and storage
# condition; the node refuses and recovers as one, and its gauges say so once.
SHARDS = [1, 2]


@pytest.mark.parametrize("shards", SHARDS)
def test_below_the_reserve_writes_get_507_reads_go_on_and_writes_resume_when_space_returns(
        small_disk, shards):
    _, mount_point, _ = small_disk
    server = start_node(small_disk, "--storage-reserve-bytes", str(48 * MIB), "--shards",
                        str(shards))
    acked = {}
    for i in range(20):
        value = ("value-%d-" % i).encode() * 100
        assert put(server, "k%d" % i, value).status_code == 204
        acked["k%d" % i] = value
    assert requests.get(server.http_url + "/health", timeout=10).status_code == 200
    assert metric(server, "meridian_storage_writable") == 1

    filler = fill_until_free(mount_point, 40 * MIB)
    wait_for(lambda: put(server, "probe", b"x").status_code == 507, 10,
             "a write answered 507 once the free space fell below the reserve")
    for i in range(10):  # keys of every shard
        assert put(server, "refused-%d" % i, b"x").status_code == 507, i
    refused = put(server, "k-refused", b"never stored")
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"] == "insufficient_storage"
    assert "below the reserve of 48 MiB" in refused.json()["message"], refused.text
    deleted = requests.delete(server.http_url + "/v1/kv/default/k0", timeout=10)
    assert deleted.status_code == 507, deleted.text  # a tombstone is new data too
    client = redis.Redis(port=server.resp_port, socket_timeout=10)
    with pytest.raises(redis.exceptions.ResponseError, match="below the reserve"):
        client.set("resp-key", "v")

    for key, value in acked.items():  # reads go on
        response = get(server, key)
        assert response.status_code == 200 and response.content == value, key
    assert client.get("k1") is not None
    assert get(server, "k-refused").status_code == 404
    health = requests.get(server.http_url + "/health", timeout=10)
    assert health.status_code == 503
    assert health.json()["status"] == "read_only"
    assert "below the reserve" in health.json()["reason"]
    assert metric(server, "meridian_storage_writable") == 0
    assert metric(server, "meridian_storage_below_reserve") == 1
    assert metric(server, "meridian_storage_free_bytes") < 48 * MIB
    assert metric(server, "meridian_storage_reserve_bytes") == 48 * MIB
    assert metric(server, "meridian_writes_refused_storage_total") >= 3

    os.unlink(filler)
    wait_for(lambda: put(server, "after", b"back").status_code == 204, 10,
             "writes resumed by themselves once space returned")
    assert requests.get(server.http_url + "/health", timeout=10).status_code == 200
    assert client.set("resp-key", "v")
    for i in range(10):  # on every shard
        assert put(server, "resumed-%d" % i, b"x").status_code == 204, i
    assert server.process.poll() is None
    for key, value in acked.items():
        assert get(server, key).content == value, key


@pytest.mark.parametrize("shards", SHARDS)
def test_a_really_full_disk_fails_writes_without_aborting_and_the_node_recovers_by_itself(
        small_disk, shards):
    _, mount_point, _ = small_disk
    server = start_node(small_disk, "--storage-reserve-bytes", "0", "--shards", str(shards))
    acked = {}
    for i in range(10):
        value = os.urandom(1000)
        assert put(server, "k%d" % i, value).status_code == 204
        acked["k%d" % i] = value

    filler = fill_until_free(mount_point, 0)
    descriptor = os.open(filler, os.O_WRONLY | os.O_APPEND)
    try:
        while True:  # to the last block
            os.write(descriptor, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(descriptor)
    failures = []
    for i in range(200):  # 256 KiB each: what RocksDB preallocated fills within a few
        value = os.urandom(256 * 1024)
        response = put(server, "big%d" % i, value)
        if response.status_code == 204:
            acked["big%d" % i] = value
            continue
        failures.append((response.status_code, response.text))
        if len(failures) >= 3:
            break
    assert failures, "the disk never filled"
    assert server.process.poll() is None, "the node died on a full disk:\n" + server.log()
    for status, text in failures:
        assert status in (507, 503), text
    assert any(status == 507 for status, _ in failures), failures
    assert "No space left on device" in failures[0][1] or "no space" in failures[0][1].lower(), \
        failures[0]

    for key, value in acked.items():  # every acknowledged write is readable meanwhile
        response = get(server, key)
        assert response.status_code == 200 and response.content == value, key
    health = requests.get(server.http_url + "/health", timeout=10)
    assert health.status_code == 503, (health.text, failures)
    assert health.json()["error"] == "insufficient_storage", health.text
    assert metric(server, "meridian_storage_writable") == 0
    assert metric(server, "meridian_storage_failed") == 1

    os.unlink(filler)
    wait_for(lambda: put(server, "after", b"back").status_code == 204, 20,
             "writes resumed by themselves once space returned")
    acked["after"] = b"back"
    for i in range(10):  # on every shard
        wait_for(lambda: put(server, "resumed-%d" % i, b"x").status_code == 204, 20,
                 "writes to resumed-%d resumed" % i)
        acked["resumed-%d" % i] = b"x"
    assert requests.get(server.http_url + "/health", timeout=10).status_code == 200
    assert metric(server, "meridian_storage_failed") == 0
    assert metric(server, "meridian_storage_commit_failures_total") >= 1 or \
        metric(server, "meridian_storage_recoveries_total") >= 1
    for key, value in acked.items():
        assert get(server, key).content == value, key

    assert server.stop() == 0, server.log()
    server.start()
    for key, value in acked.items():  # and after a restart
        assert get(server, key).content == value, key
    assert "Assertion" not in server.log(), server.log()  # librocksdb's asserts abort
    assert "storage recovered" in server.log(), server.log()
