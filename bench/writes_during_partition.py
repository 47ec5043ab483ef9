#!/usr/bin/python3
"""Writes in the first seconds of a partition (issue 10, item 4), measured on real processes.

"With w=1 and sloppy quorum, a write that reaches any live node is acknowledged within its
deadline even while a primary is unreachable but not yet known dead." For each setting of
--peer-suspect-after-ms (default: 0, i.e. only the failure detector routes around a silent
peer, against the default 1000) this starts a fresh cluster of `meridian serve` processes, each
listening for peers on its own loopback address (tests/e2e/partition.py), and runs a steady
w=1 write load through the node that will be isolated and through a node of the majority side:
blind PUTs of new keys (so keys of every partition, about 3/5 of them with the entry node a
primary). Two load shapes:
  --mode closed: --writers threads per entry node, each sending one write after the other (a
    client that waits for each reply: one stalled write stalls its writer);
  --mode open: --rate writes per second per entry node, each started on schedule on a thread
    of its own whatever the others do (what a large population of independent clients sends);
    this shows which writes fail, not how long clients are stalled.
After --before-s seconds the chosen node is cut off from every other with iptables (t0); the
load runs on for --after-s seconds, then the writes in flight finish and the partition heals.

Reported per 1-second bucket of start time, from --before-s before t0 to --after-s after it,
and per entry node: writes attempted (started), acknowledged (204) and failed (by HTTP status,
or the client error); and the throughput (acknowledgements completed in that second). Then a
summary: the failed-write rate and throughput in the first --after-s seconds against the
seconds before, the time from t0 to the first write through the isolated node acknowledged by
a fallback, and the failures of writes that were already in flight at t0.

Needs root and iptables; every rule is removed on exit, also on Ctrl-C. The machine, the date
and the command belong next to the figures (docs/replication.md "Writes in the first seconds of
a partition").

Usage: sudo /usr/bin/python3 bench/writes_during_partition.py [--bin build/release/meridian]
           [--suspect-after-ms 0,1000] [--runs 1] [--mode closed|open] [--writers 4]
           [--rate 50] [--before-s 10] [--after-s 10]
           [--nodes 5] [--victim node3] [--gossip-interval-ms 1000] [--partition-count 256]
"""
import argparse
import collections
import concurrent.futures
import os
import signal
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import partition  # noqa: E402 - after the path is set
from cluster_util import (Cluster, cluster_settled, members_alive, new_session,  # noqa: E402
                          parse_consistency, poll)

FORM_DEADLINE_S = 60
SETTLE_DEADLINE_S = 60
CALM_S = 3  # after the cluster settled, before the load starts
CLIENT_TIMEOUT_S = 15  # longer than every server deadline (forward 5 s, coordinator 4 s)
VALUE = b"x" * 100


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "meridian"))
    parser.add_argument("--suspect-after-ms", default="0,1000",
                        help="values of --peer-suspect-after-ms to compare, comma-separated")
    parser.add_argument("--runs", type=int, default=1, help="runs per setting")
    parser.add_argument("--mode", choices=["closed", "open"], default="closed")
    parser.add_argument("--writers", type=int, default=4,
                        help="closed mode: writer threads per entry node")
    parser.add_argument("--rate", type=int, default=50,
                        help="open mode: writes started per second per entry node")
    parser.add_argument("--before-s", type=int, default=10)
    parser.add_argument("--after-s", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--victim", default="node3", help="the node that is isolated")
    parser.add_argument("--gossip-interval-ms", type=int, default=1000)
    parser.add_argument("--partition-count", type=int, default=256)
    return parser.parse_args()


class Writer(threading.Thread):
    """Blind PUTs (?w=1) of new keys through one node, one after another, until told to stop;
    every request is recorded as (start, end, outcome, fallbacks) with times relative to the
    run's clock. `outcome` is the HTTP status or the client error's type."""

    def __init__(self, node, name, stop_event, clock_zero):
        super().__init__(name=name, daemon=True)
        self.node = node
        self.stop_event = stop_event
        self.clock_zero = clock_zero
        self.records = []

    def run(self):
        session = new_session()
        for i in range(100_000_000):
            if self.stop_event.is_set():
                return
            self.records.append(put_once(session, self.node, "%s-%08d" % (self.name, i),
                                         self.clock_zero))


def put_once(session, node, key, clock_zero):
    """One blind w=1 PUT: (start, end, outcome, fallbacks), times relative to clock_zero."""
    start = time.monotonic()
    fallbacks = None
    try:
        response = session.put(node.kv_url(key), params={"w": 1}, data=VALUE,
                               timeout=CLIENT_TIMEOUT_S)
        outcome = response.status_code
        if outcome == 204:
            fallbacks = parse_consistency(response).get("fallbacks")
    except Exception as error:  # noqa: BLE001 - a failed request is a data point
        outcome = type(error).__name__
    return start - clock_zero, time.monotonic() - clock_zero, outcome, fallbacks


class OpenLoad(threading.Thread):
    """Starts `rate` writes per second through one node on schedule, each on a pool thread (the
    pool is large enough for every write of forward_timeout_ms plus slack to be in flight), and
    keeps their records. A session per pool thread (keep-alive)."""

    def __init__(self, node, name, rate, stop_event, clock_zero):
        super().__init__(name=name, daemon=True)
        self.node = node
        self.rate = rate
        self.stop_event = stop_event
        self.clock_zero = clock_zero
        self.local = threading.local()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=rate * 8)
        self.futures = []
        self.records = []

    def session(self):
        if not hasattr(self.local, "session"):
            self.local.session = new_session()
        return self.local.session

    def run(self):
        began = time.monotonic()
        for i in range(100_000_000):
            if self.stop_event.is_set():
                break
            time.sleep(max(0.0, began + i / self.rate - time.monotonic()))  # the schedule
            key = "%s-%08d" % (self.name, i)
            self.futures.append(self.pool.submit(
                lambda key=key: put_once(self.session(), self.node, key, self.clock_zero)))
        self.records = [future.result() for future in self.futures]
        self.pool.shutdown()


def run_once(arguments, suspect_after_ms, run_index):
    """One cluster, one partition; returns {entry: [records]} with times relative to t0."""
    cluster = Cluster("writes-bench-%d-%d" % (os.getpid(), run_index),
                      arguments.gossip_interval_ms,
                      extra_args=["--partition-count", str(arguments.partition_count),
                                  "--peer-suspect-after-ms", str(suspect_after_ms)],
                      peer_hosts=partition.loopback_hosts())
    try:
        with partition.Partitioner() as partitioner:
            nodes = cluster.start(arguments.nodes)
            ids = [node.name for node in nodes]
            poll(cluster_settled(nodes, ids), FORM_DEADLINE_S, "the cluster forms")
            poll(members_alive(nodes, ids, alive=True), SETTLE_DEADLINE_S, "all alive")
            time.sleep(CALM_S)  # a settled cluster, not one still catching up
            victim = cluster[arguments.victim]
            majority = next(node for node in nodes if node is not victim)
            hosts = [partition.host_of(node.peer_address) for node in nodes]
            stop_event = threading.Event()
            clock_zero = time.monotonic()
            writers = {"isolated": [], "majority": []}
            for entry, node in (("isolated", victim), ("majority", majority)):
                if arguments.mode == "open":
                    writers[entry].append(OpenLoad(node, entry[0], arguments.rate, stop_event,
                                                   clock_zero))
                else:
                    writers[entry] += [Writer(node, "%s-%d" % (entry[0], index), stop_event,
                                              clock_zero) for index in range(arguments.writers)]
                for writer in writers[entry]:
                    writer.start()
            time.sleep(arguments.before_s)  # steady load before the cut (the experiment's span)
            # t0 is when the first DROP rule goes in: installing all of them (one iptables
            # call per direction and peer) takes a few tens of ms more.
            t0 = time.monotonic() - clock_zero
            partitioner.isolate(partition.host_of(victim.peer_address), hosts)
            cut_s = time.monotonic() - clock_zero - t0
            time.sleep(arguments.after_s)  # the load runs on through the partition
            stop_event.set()
            for entry_writers in writers.values():
                for writer in entry_writers:
                    writer.join(timeout=CLIENT_TIMEOUT_S + 5)
                    assert not writer.is_alive(), "a writer did not finish"
            partitioner.heal()
            print("run %d (peer_suspect_after_ms=%d): %s isolated (via %s and %s); the rules "
                  "took %.3f s to install" % (run_index, suspect_after_ms, victim.name,
                                              victim.name, majority.name, cut_s), flush=True)
            return {entry: [(start - t0, end - t0, outcome, fallbacks)
                            for writer in entry_writers
                            for start, end, outcome, fallbacks in writer.records]
                    for entry, entry_writers in writers.items()}
    finally:
        cluster.stop_all()
        cluster.remove_work_dirs()


def bucket_of(seconds):
    return int(seconds // 1)


def failures_text(counter):
    return ", ".join("%s×%d" % (outcome, count) for outcome, count in sorted(
        counter.items(), key=lambda item: str(item[0]))) or "-"


def report(records_by_entry, arguments, suspect_after_ms, runs):
    """Prints the per-second table and the summary for one setting (records of all runs)."""
    print("\n### peer_suspect_after_ms = %d (%d run%s; counts summed over runs)\n" % (
        suspect_after_ms, runs, "" if runs == 1 else "s"))
    print("| second | via isolated: attempted / acked / failed | acks/s | via majority: "
          "attempted / acked / failed | acks/s |")
    print("|---|---|---|---|---|")
    for second in range(-arguments.before_s, arguments.after_s):
        cells = []
        for entry in ("isolated", "majority"):
            started = [r for r in records_by_entry[entry] if bucket_of(r[0]) == second]
            acked = sum(1 for r in started if r[2] == 204)
            failed = collections.Counter(r[2] for r in started if r[2] != 204)
            completed = sum(1 for r in records_by_entry[entry]
                            if r[2] == 204 and bucket_of(r[1]) == second)
            cells.append("%d / %d / %s" % (len(started), acked, failures_text(failed)))
            cells.append("%.0f" % (completed / runs))
        print("| %+d | %s |" % (second, " | ".join(cells)))

    print()
    for entry in ("isolated", "majority"):
        records = records_by_entry[entry]
        before = [r for r in records if -arguments.before_s <= r[0] < 0]
        after = [r for r in records if 0 <= r[0] < arguments.after_s]
        failed_after = [r for r in after if r[2] != 204]
        acks_before = sum(1 for r in records if r[2] == 204 and -arguments.before_s <= r[1] < 0)
        acks_after = sum(1 for r in records if r[2] == 204 and 0 <= r[1] < arguments.after_s)
        in_flight = [r for r in records if r[0] < 0 <= r[1]]
        in_flight_failed = collections.Counter(r[2] for r in in_flight if r[2] != 204)
        first_fallback = min((r[1] for r in records if r[0] >= 0 and r[2] == 204
                              and (r[3] or 0) >= 1), default=None)
        longest_gap = 0.0
        previous = 0.0
        for end in sorted(r[1] for r in records if r[2] == 204 and 0 <= r[1] < arguments.after_s):
            longest_gap = max(longest_gap, end - previous)
            previous = end
        print("via %s: first %d s: %d attempted, %d failed (%.1f %%: %s); throughput %.0f acks/s "
              "(before: %.0f, %d failed of %d); in flight at t0: %d, failed %s; first "
              "fallback-acknowledged write %s after t0 (earliest of the runs); longest "
              "stretch without an acknowledgement %.2f s" % (
                  entry, arguments.after_s, len(after), len(failed_after),
                  100.0 * len(failed_after) / max(1, len(after)),
                  failures_text(collections.Counter(r[2] for r in failed_after)),
                  acks_after / arguments.after_s / runs, acks_before / arguments.before_s / runs,
                  sum(1 for r in before if r[2] != 204), len(before), len(in_flight),
                  failures_text(in_flight_failed),
                  "%.2f s" % first_fallback if first_fallback is not None else "never",
                  longest_gap))


def main():
    arguments = parse_arguments()
    os.environ["MERIDIAN_BIN"] = os.path.abspath(arguments.bin)
    problem = partition.iptables_problem()
    if problem:
        sys.exit("writes_during_partition: %s" % problem)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks remove the rules and stop the nodes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = [int(text) for text in arguments.suspect_after_ms.split(",")]
    results = {}
    run_index = 0
    for setting in settings:
        merged = {"isolated": [], "majority": []}
        for _ in range(arguments.runs):
            run_index += 1
            for entry, records in run_once(arguments, setting, run_index).items():
                merged[entry] += records
        results[setting] = merged
    print("\ncommand: %s\nwhen: %s" % (" ".join(sys.argv), time.strftime("%Y-%m-%d %H:%M %Z")))
    for setting in settings:
        report(results[setting], arguments, setting, arguments.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
