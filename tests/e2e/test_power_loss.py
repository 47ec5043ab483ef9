"""Durability across a simulated power cut, with the real server process.

SIGKILL leaves the page cache alone, so test_durability.py passes whether or not anything was
fsynced. Here `meridian serve --test-power-loss-fs` runs RocksDB on a file system wrapper
that, on SIGUSR2, drops every byte and directory entry that was not fsynced from the data
directory and then exits at once (code 86) without closing anything — the disk as a power
cut leaves it (docs/design/power_loss.md). So:

  * every write acknowledged with dw=1 — one at a time, and concurrently so that group commit
    batches them under one fsync — is there after the restart;
  * the control: writes acknowledged with dw=0 (explicitly, or by the bucket default) after
    the last durable write are gone, so the test above could fail;
  * three nodes, w=3 dw=1: the node that lost power still has every write in its own copy
    (read with r=1 after the other two were stopped, so nothing repairs it), and its dw=0
    writes are gone.
"""
import re
import signal
import subprocess
import threading

import pytest

from cluster_util import running_cluster
from conftest import Endpoint, meridian_bin

POWER_LOSS_FLAG = "--test-power-loss-fs"
POWER_LOSS_EXIT_CODE = 86
EXIT_DEADLINE_S = 20
SEQUENTIAL_WRITES = 60
WRITER_THREADS = 8
WRITES_PER_THREAD = 25
LAZY_WRITES = 30
CONTROL_ROUNDS = 3
CLUSTER_FORM_DEADLINE_S = 45
CLUSTER_NODES = ["node1", "node2", "node3"]


def value_for(key):
    return ("value of %s|" % key).encode() + bytes(range(256))[: len(key) * 5 % 256]


def cut_power(server):
    """SIGUSR2, then waits for the exit (a deadline, not a sleep): the power is gone. Returns
    the unsynced bytes the cut dropped, from the server's log line about it."""
    cuts_before = len(dropped_bytes_lines(server))
    server.process.send_signal(signal.SIGUSR2)
    try:
        code = server.process.wait(timeout=EXIT_DEADLINE_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise AssertionError("no exit within %ds of SIGUSR2\n%s" % (EXIT_DEADLINE_S,
                                                                    server.log()))
    server.process.stdout.close()
    assert code == POWER_LOSS_EXIT_CODE, "exit code %s after SIGUSR2\n%s" % (code, server.log())
    cuts = dropped_bytes_lines(server)
    assert len(cuts) == cuts_before + 1, server.log()
    return int(cuts[-1])


def dropped_bytes_lines(server):
    """The bytes each simulated power cut in the server's log dropped, in order."""
    return re.findall(r"simulated power loss: dropped (\d+) unsynced bytes", server.log())


def put(session, endpoint, key, params):
    response = session.put(endpoint.kv(key), params=params, data=value_for(key), timeout=10)
    assert response.status_code == 204, (key, response.status_code, response.text)
    return response


def missing(endpoint, keys):
    """The keys whose value is not (exactly) there."""
    lost = []
    for key in keys:
        response = endpoint.session.get(endpoint.kv(key), timeout=10)
        if response.status_code != 200 or response.content != value_for(key):
            lost.append((key, response.status_code))
    return lost


def test_flag_is_announced_loudly_and_refused_in_a_config_file(start_server, tmp_path):
    server = start_server(POWER_LOSS_FLAG)
    assert "TEST ONLY: --test-power-loss-fs is on" in server.log()
    config = tmp_path / "meridian.toml"
    config.write_text("test_power_loss_fs = true\n")
    refused = subprocess.run([meridian_bin(), "serve", "--config", str(config), "--data-dir",
                              str(tmp_path / "data"), "--http", "127.0.0.1:0"],
                             capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2, refused
    assert b"test_power_loss_fs is test-only" in refused.stderr, refused.stderr


def test_acknowledged_durable_writes_survive_power_loss(start_server):
    server = start_server(POWER_LOSS_FLAG)
    endpoint = Endpoint(server, "http", None)
    acknowledged = []
    # One request at a time: one fsync each.
    for i in range(SEQUENTIAL_WRITES):
        key = "durable-sequential-%04d" % i
        response = put(endpoint.session, endpoint, key, {"dw": 1})
        assert response.headers["X-Meridian-Durable"] == "true"
        acknowledged.append(key)
    # Concurrent requests: group commit answers a batch of them after one fsync.
    results, failures = {}, []
    start = threading.Barrier(WRITER_THREADS)

    def writer(thread):
        session = endpoint.new_session()
        keys = []
        try:
            start.wait(timeout=30)
            for i in range(WRITES_PER_THREAD):
                key = "durable-concurrent-%02d-%04d" % (thread, i)
                response = put(session, endpoint, key, {"dw": 1})
                assert response.headers["X-Meridian-Durable"] == "true"
                keys.append(key)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append((thread, repr(error)))
        results[thread] = keys

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(WRITER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"
    assert not failures, failures
    for keys in results.values():
        acknowledged.extend(keys)
    assert len(acknowledged) == SEQUENTIAL_WRITES + WRITER_THREADS * WRITES_PER_THREAD

    cut_power(server)
    server.start()  # same data directory (and still on the power-loss file system)
    lost = missing(Endpoint(server, "http", None), acknowledged)
    assert not lost, "%d of %d acknowledged dw=1 writes lost, e.g. %s" % (
        len(lost), len(acknowledged), lost[:5])


def test_control_writes_without_dw_are_lost_at_power_loss(start_server):
    """The control: the same cut loses acknowledged dw=0 writes, so the test above can fail.
    Deterministic: a standalone node fsyncs only for a dw>=1 request (or a cluster-state
    change, which a standalone node never has), and RocksDB syncs its WAL only when asked or
    when it flushes a memtable (64 MiB; these are a few KiB) — so nothing covers the writes
    made after the last dw=1 one, and every one of them must be gone."""
    server = start_server(POWER_LOSS_FLAG)
    endpoint = Endpoint(server, "http", None)
    put(endpoint.session, endpoint, "fence", {"dw": 1})
    lazy = []
    for i in range(LAZY_WRITES):
        explicit = "lazy-explicit-%04d" % i
        response = put(endpoint.session, endpoint, explicit, {"dw": 0})
        assert response.headers["X-Meridian-Durable"] == "false"
        default = "lazy-bucket-default-%04d" % i  # the default bucket's dw is 0
        response = put(endpoint.session, endpoint, default, None)
        assert response.headers["X-Meridian-Durable"] == "false"
        lazy += [explicit, default]
    assert not missing(endpoint, lazy), "acknowledged writes not readable before the cut"

    cut_power(server)
    server.start()
    endpoint = Endpoint(server, "http", None)
    assert not missing(endpoint, ["fence"]), "the dw=1 write before them was lost"
    lost = missing(endpoint, lazy)
    assert len(lost) >= 1, "no dw=0 write was lost: the power cut drops nothing?"
    assert len(lost) == len(lazy), "%d of %d dw=0 writes survived a power cut with no fsync " \
        "after them: %s" % (len(lazy) - len(lost), len(lazy),
                            sorted(set(lazy) - {key for key, _ in lost})[:5])


@pytest.fixture
def power_loss_cluster(request):
    """Three nodes on the power-loss file system, formed and settled; stopped at teardown
    (cluster_util.running_cluster: logs printed on failure)."""
    with running_cluster(request, "e2e-power-loss", CLUSTER_NODES, CLUSTER_FORM_DEADLINE_S,
                         extra_args=[POWER_LOSS_FLAG, "--partition-count", "16"]) as made:
        yield made


def test_power_loss_of_one_replica_keeps_its_copy_of_w3_dw1_writes(power_loss_cluster):
    nodes = [power_loss_cluster[name] for name in CLUSTER_NODES]
    victim = power_loss_cluster["node3"]
    durable = []
    for i in range(SEQUENTIAL_WRITES):
        key = "replicated-%04d" % i
        coordinator = nodes[i % len(nodes)]
        response = coordinator.kv("PUT", key, params={"w": 3, "dw": 1}, data=value_for(key))
        assert response.status_code == 204, (key, response.status_code, response.text)
        durable.append(key)
    # The control, last: coordinated by the victim itself, acknowledged by its own unsynced
    # copy (w=1 dw=0). No fsync of a write of the test follows them on the victim — but its
    # own background work may: a synced write (a partition's strong configuration moving
    # after the ring settled, a handoff's last batch) makes every earlier write durable too.
    # A cut that found nothing unsynced is tried again with new keys, up to CONTROL_ROUNDS
    # times; the check below then holds for the last round's keys.
    for round_index in range(CONTROL_ROUNDS):
        lazy = []
        for i in range(LAZY_WRITES):
            key = "replicated-lazy-%d-%04d" % (round_index, i)
            response = victim.kv("PUT", key, params={"w": 1, "dw": 0}, data=value_for(key))
            assert response.status_code == 204, (key, response.status_code, response.text)
            lazy.append(key)
        dropped = cut_power(victim)
        if dropped > 0 or round_index + 1 == CONTROL_ROUNDS:
            break
        victim.restart()

    # Nothing may repair the victim's copy: its peers stop before it comes back.
    codes = {node.name: node.stop() for node in nodes if node is not victim}
    assert all(code == 0 for code in codes.values()), codes
    victim.restart()

    def read_local(key):  # r=1: the victim's own copy answers
        return victim.kv("GET", key, params={"r": 1})

    lost = []
    for key in durable:
        response = read_local(key)
        if response.status_code != 200 or response.content != value_for(key):
            lost.append((key, response.status_code))
    assert not lost, "%d of %d w=3 dw=1 writes missing on the node that lost power, e.g. %s" \
        % (len(lost), len(durable), lost[:5])
    lazy_lost = [key for key in lazy if read_local(key).status_code == 404]
    assert lazy_lost, "no dw=0 write was lost on the node that lost power"
