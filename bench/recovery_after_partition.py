#!/usr/bin/python3
"""Recovery after a network partition (issue 10, item 3), measured on real processes.

Starts a cluster of `meridian serve` processes, each listening for peers on its own loopback
address (tests/e2e/partition.py), and for each partition length (default 5, 15, 30 and 60 s)
and run: cuts one node off from all others with iptables, holds the partition, heals it, and
measures from the heal
  * alive: until every node sees every other alive (GET /v1/cluster/status on every node), and
  * write: until a PUT with w=2 submitted through the healed node succeeds (one attempt every
    50 ms; coordinator and forward deadlines of 1 s, so an early attempt fails fast).
The victim rotates over the nodes; between runs the cluster settles (all alive, then a calm
period). Prints one line per run and a Markdown table (median and max per length) to paste into
docs/benchmarks.md. Needs root and iptables; every rule is removed on exit, also on Ctrl-C.

Usage: sudo /usr/bin/python3 bench/recovery_after_partition.py [--bin build/release/meridian]
           [--partitions 5,15,30,60] [--runs 3] [--nodes 5] [--gossip-interval-ms 1000]
"""
import argparse
import os
import signal
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import partition  # noqa: E402 - after the path is set
from cluster_util import Cluster, cluster_settled, members_alive, poll  # noqa: E402

FORM_DEADLINE_S = 60
DETECT_DEADLINE_S = 30
OBSERVE_DEADLINE_S = 120  # a recovery slower than this is reported as a failure
CALM_S = 3  # after the cluster settled, before the next partition
WRITE_ATTEMPT_INTERVAL_S = 0.05
# Node defaults (docs/design/failure_detection.md): the failure detector's window is one
# heartbeat interval plus the silence it forgives.
FD_WINDOW_MS = 1000 + 3000


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "meridian"))
    parser.add_argument("--partitions", default="5,15,30,60",
                        help="partition lengths in seconds, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per partition length")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--gossip-interval-ms", type=int, default=1000)
    return parser.parse_args()


def put_w2(node, key):
    try:
        response = node.kv("PUT", key, params={"w": 2}, data=b"recovery-probe")
    except Exception:  # noqa: BLE001 - refused, reset, timed out: not yet
        return False
    return response.status_code == 204


def measure_once(nodes, ids, victim, partitioner, partition_s):
    """Isolates `victim` for partition_s, heals, returns (alive_s, write_s) after the heal."""
    hosts = [partition.host_of(node.peer_address) for node in nodes]
    others = [node for node in nodes if node is not victim]
    partitioner.isolate(partition.host_of(victim.peer_address), hosts)
    cut_at = time.monotonic()
    try:
        if partition_s >= 8:  # long enough for the failure detector: check the cut is real
            poll(members_alive(others, [victim.name], alive=False), DETECT_DEADLINE_S,
                 "the others see %s down" % victim.name)
        time.sleep(max(0.0, cut_at + partition_s - time.monotonic()))  # hold the partition
    finally:
        partitioner.heal()
    healed_at = time.monotonic()
    alive_s = write_s = None
    attempt = 0
    while (alive_s is None or write_s is None) and time.monotonic() - healed_at < OBSERVE_DEADLINE_S:
        if alive_s is None:
            try:
                done, _ = members_alive(nodes, ids, alive=True)()
            except Exception:  # noqa: BLE001 - a status request that failed: not yet
                done = False
            if done:
                alive_s = time.monotonic() - healed_at
        if write_s is None:
            attempt += 1
            if put_w2(victim, "probe-%d-%d" % (int(healed_at), attempt)):
                write_s = time.monotonic() - healed_at
        time.sleep(WRITE_ATTEMPT_INTERVAL_S)  # pacing of the probes, bounded by the deadline
    return alive_s, write_s


def describe(values):
    present = [v for v in values if v is not None]
    if len(present) < len(values):
        return "not recovered in %d of %d" % (len(values) - len(present), len(values))
    return "%.2f / %.2f" % (statistics.median(present), max(present))


def main():
    arguments = parse_arguments()
    os.environ["MERIDIAN_BIN"] = os.path.abspath(arguments.bin)
    problem = partition.iptables_problem()
    if problem:
        sys.exit("recovery_after_partition: %s" % problem)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks remove the rules and stop the nodes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    lengths = [int(text) for text in arguments.partitions.split(",")]
    bound_s = (2 * arguments.gossip_interval_ms + FD_WINDOW_MS) / 1000
    cluster = Cluster("recovery-bench-%d" % os.getpid(), arguments.gossip_interval_ms,
                      extra_args=["--coordinator-timeout-ms", "1000", "--forward-timeout-ms",
                                  "1000"],
                      peer_hosts=partition.loopback_hosts())
    results = {length: [] for length in lengths}
    try:
        with partition.Partitioner() as partitioner:
            nodes = cluster.start(arguments.nodes)
            ids = [node.name for node in nodes]
            poll(cluster_settled(nodes, ids), FORM_DEADLINE_S, "the cluster forms")
            run = 0
            for length in lengths:
                for _ in range(arguments.runs):
                    poll(members_alive(nodes, ids, alive=True), OBSERVE_DEADLINE_S,
                         "all alive before the next partition")
                    time.sleep(CALM_S)  # a settled cluster, not one still catching up
                    victim = nodes[run % len(nodes)]
                    run += 1
                    alive_s, write_s = measure_once(nodes, ids, victim, partitioner, length)
                    results[length].append((alive_s, write_s))
                    print("partition %3d s of %s: all alive after %s s, w=2 write through it "
                          "after %s s" % (length, victim.name,
                                          "%.2f" % alive_s if alive_s is not None else "-",
                                          "%.2f" % write_s if write_s is not None else "-"),
                          flush=True)
    finally:
        cluster.stop_all()
        cluster.remove_work_dirs()

    print("\n| partition | runs | all alive after the heal, median / max (s) | w=2 write through "
          "the healed node, median / max (s) | bound (s) |")
    print("|---|---|---|---|---|")
    for length in lengths:
        print("| %d s | %d | %s | %s | %.1f |" % (
            length, len(results[length]), describe([a for a, _ in results[length]]),
            describe([w for _, w in results[length]]), bound_s))
    slow = [(length, a, w) for length in lengths for a, w in results[length]
            if a is None or w is None or a > bound_s or w > bound_s]
    if slow:
        print("\nover the bound of %.1f s (2 gossip intervals + the failure detector's window): %s"
              % (bound_s, slow))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
