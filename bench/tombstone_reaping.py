#!/usr/bin/env python3
"""Space returns after deletes (issue 10 item 6): writes N keys (default 1,000,000) to a cluster
of real `meridian serve` processes, deletes them all, waits until every tombstone is reaped and
RocksDB compacted the deletions away, and reports the disk use at each step — `du` of the data
directories and the nodes' meridian_rocksdb_live_sst_bytes — plus how long each step took.

Usage: MERIDIAN_BIN=build/release/meridian bench/tombstone_reaping.py [--keys N] [--nodes 3]

Keys go through RESP (pipelined SET and DEL, one client thread per node). DEL reads the key and
deletes it with the context it read, so the tombstone covers every replica's value (all nodes up:
every write reached every replica). Every wait has a deadline; processes are stopped at exit.
"""
import argparse
import os
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from cluster_util import Cluster, cluster_settled, poll  # noqa: E402

FORM_DEADLINE_S = 90
PIPELINE = 64
VALUE = b"v" * 100


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--reap-deadline-s", type=int, default=1800)
    parser.add_argument("--compact-deadline-s", type=int, default=900)
    return parser.parse_args()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command(*parts):
    out = b"*%d\r\n" % len(parts)
    for part in parts:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return out


def run_resp(port, keys, make, errors):
    """Sends make(key) for every key, PIPELINE at a time; counts error replies. A connection
    the server closes (or resets) is opened again and the unanswered batch re-sent (SET and
    DEL are idempotent); after 20 consecutive failures the run stops with an error."""
    connection, reader, failures = None, None, 0
    start = 0
    while start < len(keys):
        batch = keys[start:start + PIPELINE]
        try:
            if connection is None:
                connection = socket.create_connection(("127.0.0.1", port), timeout=60)
                reader = connection.makefile("rb")
            connection.sendall(b"".join(make(key) for key in batch))
            for _ in batch:
                line = reader.readline()
                if not line:
                    raise ConnectionError("closed by the server")
                if line.startswith(b"-"):
                    errors.append(line.decode(errors="replace").strip())
            start += len(batch)
            failures = 0
        except OSError as error:
            failures += 1
            errors.append("reconnect: %s" % error)
            if failures > 20:
                raise
            if connection is not None:
                connection.close()
            connection = None
            time.sleep(0.2)
    if connection is not None:
        connection.close()


def run_everywhere(ports, keys, make):
    errors = []
    threads = [threading.Thread(target=run_resp, args=(port, keys[index::len(ports)], make, errors))
               for index, port in enumerate(ports)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reconnects = [error for error in errors if error.startswith("reconnect")]
    if reconnects:
        print("  %d reconnects (batches re-sent), e.g. %s" % (len(reconnects), reconnects[0]))
    return [error for error in errors if not error.startswith("reconnect")]


def du_bytes(paths):
    total = 0
    for path in paths:
        output = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True)
        total += int(output.stdout.split()[0])
    return total


def metric_sum(nodes, name):
    return sum(node.metrics().get(name, 0) for node in nodes)


def snapshot(label, nodes, started):
    disk = du_bytes([node.work_dir for node in nodes])
    sst = metric_sum(nodes, "meridian_rocksdb_live_sst_bytes")
    memtables = metric_sum(nodes, "meridian_rocksdb_memtable_bytes")
    reaped = metric_sum(nodes, "meridian_reap_tombstones_reaped_total")
    print("%-34s t=%7.1fs  du=%8.1f MB  live_sst=%8.1f MB  memtables=%6.1f MB  reaped=%d" % (
        label, time.monotonic() - started, disk / 1e6, sst / 1e6, memtables / 1e6, reaped),
        flush=True)
    return disk, sst


def main():
    arguments = parse_arguments()
    ports = [free_port() for _ in range(arguments.nodes)]
    cluster = Cluster("bench-reap-%d" % time.monotonic_ns(), gossip_interval_ms=500,
                      extra_args=["--aae-exchange-interval-ms", "2000",
                                  "--reap-interval-ms", "1000"])
    try:
        first = cluster.start_node("node1", extra_args=["--resp", "127.0.0.1:%d" % ports[0]])
        for index in range(1, arguments.nodes):
            cluster.start_node("node%d" % (index + 1), seeds=[first.peer_address],
                               extra_args=["--resp", "127.0.0.1:%d" % ports[index]])
        nodes = [cluster["node%d" % (index + 1)] for index in range(arguments.nodes)]
        poll(cluster_settled(nodes, [node.name for node in nodes]), FORM_DEADLINE_S,
             "cluster forms")
        started = time.monotonic()
        keys = [b"k%08d" % index for index in range(arguments.keys)]
        snapshot("empty", nodes, started)

        errors = run_everywhere(ports, keys, lambda key: command(b"SET", key, VALUE))
        print("written %d keys (%d errors: %s)" % (len(keys), len(errors), errors[:3]))
        written = snapshot("after writes", nodes, started)

        errors = run_everywhere(ports, keys, lambda key: command(b"DEL", key))
        print("deleted %d keys (%d errors: %s)" % (len(keys), len(errors), errors[:3]))
        snapshot("after deletes (tombstones)", nodes, started)

        expected = len(keys) * min(3, arguments.nodes)  # n = 3: every primary reaps its copy
        last = [0.0]

        def reaped():
            total = metric_sum(nodes, "meridian_reap_tombstones_reaped_total")
            if time.monotonic() - last[0] > 30:
                last[0] = time.monotonic()
                snapshot("  reaping...", nodes, started)
            return total >= expected, total

        poll(reaped, arguments.reap_deadline_s, "every tombstone reaped", interval_s=2)
        snapshot("every tombstone reaped", nodes, started)

        floor = [None]

        def compacted():
            disk, sst = snapshot("  compacting...", nodes, started)
            # Settled: the data directories no longer shrink, and hold less than half of what
            # the writes left (WAL, memtables flushed, SST files).
            done = floor[0] is not None and disk >= floor[0] * 0.98 and disk < written[0] * 0.5
            floor[0] = disk if floor[0] is None else min(floor[0], disk)
            return done, disk

        poll(compacted, arguments.compact_deadline_s, "compaction returns the space",
             interval_s=15)
        final = snapshot("space returned", nodes, started)
        print("RESULT keys=%d nodes=%d: live SST %.1f MB -> %.1f MB, du %.1f MB -> %.1f MB" % (
            len(keys), arguments.nodes, written[1] / 1e6, final[1] / 1e6, written[0] / 1e6,
            final[0] / 1e6))
        for node in nodes:
            metrics = node.metrics()
            print("  %s: %s" % (node.name, ", ".join(
                "%s=%d" % (name, value) for name, value in sorted(metrics.items())
                if name.startswith("meridian_reap_"))))
    finally:
        cluster.stop_all()
        cluster.remove_work_dirs()


if __name__ == "__main__":
    main()
