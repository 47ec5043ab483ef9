"""`meridian dev`: starts a local cluster of N real nodes, prints every endpoint, serves requests
through any node, and stops every node cleanly on Ctrl-C (SIGINT)."""
import os
import re
import selectors
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import meridian_bin

DEADLINE_S = 60


def consecutive_free_ports(count):
    """A base port such that base..base+count-1 are free on 127.0.0.1 (checked by binding)."""
    for base in range(20000 + (os.getpid() * 7) % 20000, 60000, 97):
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    pytest.fail("no free port range")


def read_until(process, pattern, deadline):
    """Reads the process's stdout until a line matches `pattern`; returns all lines read."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    lines = []
    buffer = b""
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            continue
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            lines.append(line.decode())
            if re.search(pattern, lines[-1]):
                return lines
    pytest.fail("no line matching %r; got %r" % (pattern, lines))


def shard_count(data_dir):
    """A node's shards, from its data directory: db/, then db-shard-1/, db-shard-2/..."""
    count = 1 if os.path.isdir(os.path.join(data_dir, "db")) else 0
    while count and os.path.isdir(os.path.join(data_dir, "db-shard-%d" % count)):
        count += 1
    return count


def stop(process):
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("meridian dev did not stop within 30 s of SIGINT")


def test_dev_starts_a_three_node_cluster_and_ctrl_c_stops_it():
    http_base = consecutive_free_ports(6)  # 3 HTTP ports, then 3 peer ports
    peer_base = http_base + 3
    root = tempfile.mkdtemp(prefix="meridian-dev-")
    process = subprocess.Popen(
        [meridian_bin(), "dev", "--nodes", "3", "--http-base-port", str(http_base),
         "--peer-base-port", str(peer_base), "--data-root", root],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + DEADLINE_S
        lines = read_until(process, r"Press Ctrl-C", deadline)
        urls = [re.search(r"http://(\S+)", line).group(1) for line in lines
                if re.match(r"\s+node\d", line)]
        assert len(urls) == 3, lines
        # Every node serves every key: write through node 1, read through node 3, until the
        # cluster has formed (joins take a few gossip rounds).
        while True:
            status = requests.get("http://%s/v1/cluster/status" % urls[0], timeout=5).json()
            up = [m for m in status["members"] if m["status"] == "up"]
            if len(up) == 3:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.1)  # polling the cluster's formation, bounded by the deadline
        for i in range(20):
            response = requests.put("http://%s/v1/kv/default/dev-%d" % (urls[0], i),
                                    data=b"value-%d" % i, timeout=5)
            assert response.status_code == 204, response.text
        for i in range(20):
            response = requests.get("http://%s/v1/kv/default/dev-%d" % (urls[2], i), timeout=5)
            assert response.status_code == 200, response.text
            assert response.content == b"value-%d" % i
        for i in range(3):
            assert os.path.isdir(os.path.join(root, "node%d" % (i + 1), "db"))
            # The three nodes share the CPUs: one shard per CPU each would run three times as
            # many shard threads as there are CPUs.
            cpus = len(os.sched_getaffinity(0))
            assert shard_count(os.path.join(root, "node%d" % (i + 1))) == max(1, cpus // 3)
            # And they share the machine's background budget (docs/design/governor.md
            # "Defaults"): each node a third of what one node alone would take, at least 1 MiB/s,
            # split over its shards (each shard's share rounded down).
            mib = 1 << 20
            budget = max(min(max(4 * mib * cpus, 4 * mib), 32 * mib) // 3, mib)
            shards = max(1, cpus // 3)
            background = requests.post("http://%s/v1/cluster/background" % urls[i], data=b"{}",
                                       timeout=5).json()
            assert background == {"bytes_per_second": shards * (budget // shards),
                                  "paused": False, "shards": shards}, background
            # Named as dev names them, with the certificate that proves it (mutual TLS).
            assert os.path.isfile(os.path.join(root, "certs", "node-node%d.crt" % (i + 1)))
        assert sorted(m["id"] for m in status["members"]) == ["node1", "node2", "node3"]
    finally:
        stop(process)
    assert process.returncode == 0, process.stderr.read().decode()
    # Every node process is gone: its HTTP port no longer accepts connections.
    for port in range(http_base, http_base + 3):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_dev_gives_a_lone_node_a_shard_per_cpu_and_keeps_an_existing_nodes_count():
    http_base = consecutive_free_ports(2)
    root = tempfile.mkdtemp(prefix="meridian-dev-")
    cpus = len(os.sched_getaffinity(0))

    def run(*extra):
        process = subprocess.Popen(
            [meridian_bin(), "dev", "--nodes", "1", "--http-base-port", str(http_base),
             "--peer-base-port", str(http_base + 1), "--resp-base-port", "0", "--data-root", root,
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            read_until(process, r"Press Ctrl-C", time.monotonic() + DEADLINE_S)
        finally:
            stop(process)
        assert process.returncode == 0, process.stderr.read().decode()

    run("--shards", "3")
    assert shard_count(os.path.join(root, "node1")) == 3
    # Without --shards an existing node keeps its count (the machine's CPUs do not matter).
    run()
    assert shard_count(os.path.join(root, "node1")) == 3
    root = tempfile.mkdtemp(prefix="meridian-dev-")
    run()
    assert shard_count(os.path.join(root, "node1")) == min(cpus, 256)


def test_dev_refuses_a_data_root_of_an_older_dev_cluster(tmp_path):
    """A data root from before mutual TLS (nodes named after their addresses, no certificates)
    is refused with what to do, instead of starting nodes that do not know each other."""
    os.makedirs(tmp_path / "node1" / "db")
    result = subprocess.run([meridian_bin(), "dev", "--nodes", "1", "--data-root", str(tmp_path)],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "made by an older meridian" in result.stderr and "rm -rf" in result.stderr, \
        result.stderr
    assert not (tmp_path / "certs").exists()
