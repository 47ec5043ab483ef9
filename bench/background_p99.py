#!/usr/bin/python3
"""Foreground p99 while background work runs (issue 10, item 7), measured on real processes.

Two experiments on a fresh local cluster of `meridian serve` processes (5 nodes, n=3) each:

  catchup  A node (node5) is stopped cleanly for --away-s seconds while a steady write load
           (--away-rate writes/s of new keys, bucket `away`, through node2) goes on, so the
           fallbacks keep hints for it. Then it starts again and the hints are replayed to it.
  aae      node5 is stopped; --aae-keys keys it is a primary of are written with
           sloppy_quorum=false (bucket `aae`: only primaries take them, so no hints exist and
           node5 misses every one). Then it starts again and only active anti-entropy can
           repair them (no client reads that bucket).

  idle     the control (an A/A comparison): the same windows with nothing happening in the
           background. Its "change" is the noise of the verdict on this machine.

With --alternate, the catch-up or repair runs in every other window only: after each window
of it, background work is paused on every node for one window (POST /v1/cluster/background,
docs/operations.md "Background work"), then resumed (so node5's restart falls in a working
window). The verdict then compares the windows with
background work against the paused windows interleaved with them, which share the machine's
state of that minute (its drift, the data's compaction debt), instead of against windows minutes
before and after; the work takes twice as long.

In each, a foreground load runs through node1 throughout the measurement: `meridian bench`
YCSB workload a (50 % reads, 50 % updates, zipfian) over --fg-records keys of bucket `fg`, open
loop at --fg-rate operations per second (latency counted from each operation's intended
start, so a stalled server shows), in windows of --window-s seconds. Reported per window: the
p50/p99 of all operations, errors, and the background work in that window (hint records left,
anti-entropy keys received by node5, the governor's objects per kind). The baseline is the
windows before node5 is stopped (all five nodes up, nothing to catch up; after --warmup-windows
uncounted windows, so the initial load's flushes and compactions are over); "during" are the
windows from node5's restart until its catch-up is done (hints drained / every key repaired).

Usage: /usr/bin/python3 bench/background_p99.py [--bin build/release/meridian]
           [--experiment catchup,aae,idle] [--alternate] [--away-s 600] [--away-rate 500] [--aae-keys 100000]
           [--fg-rate 1000] [--fg-records 20000] [--window-s 10] [--baseline-windows 3]
           [--warmup-windows 6]
           [--aae-exchange-interval-ms 30000] [--json out.json] [--serve-arg=--flag=value ...]
The machine, the date and the command belong next to the figures (docs/replication.md
"Foreground latency while a node catches up").
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from cluster_util import (Cluster, cluster_settled, members_alive, new_session,  # noqa: E402
                          parse_metrics, poll)

NODES = 5
SETTLE_DEADLINE_S = 90
CATCHUP_WINDOWS_MAX = 60
BENCH_CONNECTIONS = 32
# A window of the anti-entropy experiment counts as repairing when node5 received at least this
# many keys in it.
REPAIR_WINDOW_KEYS_MIN = 100


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "meridian"))
    parser.add_argument("--experiment", default="catchup,aae")
    parser.add_argument("--away-s", type=int, default=600)
    parser.add_argument("--away-rate", type=int, default=500)
    parser.add_argument("--aae-keys", type=int, default=100_000)
    parser.add_argument("--aae-exchange-interval-ms", type=int, default=30_000)
    parser.add_argument("--fg-rate", type=int, default=1000)
    parser.add_argument("--fg-records", type=int, default=20_000)
    parser.add_argument("--window-s", type=int, default=10)
    parser.add_argument("--baseline-windows", type=int, default=3)
    parser.add_argument("--warmup-windows", type=int, default=6,
                        help="windows of foreground load run (and not counted) before the "
                             "baseline, so the flushes and compactions of the initial load are "
                             "over")
    parser.add_argument("--after-windows", type=int, default=3,
                        help="windows measured once the background work is done; the verdict "
                             "compares \"during\" with the baseline before and after together, "
                             "so a drift of the machine over the run cancels out")
    parser.add_argument("--alternate", action="store_true",
                        help="pause background work on every node for one window after each "
                             "window of catch-up or repair; compare with those paused windows")
    parser.add_argument("--gossip-interval-ms", type=int, default=1000)
    parser.add_argument("--json", help="write every window as JSON here")
    parser.add_argument("--keep-logs", help="copy every node's log into this directory")
    parser.add_argument("--serve-arg", action="append", default=[],
                        help="an extra `meridian serve` argument for every node (repeatable), "
                             "e.g. --serve-arg=--background-bytes-per-second=8388608")
    return parser.parse_args()


def metrics(node):
    return node.metrics(session=new_session())


def metric(values, name, default=0.0):
    return values.get(name, default)


def background_objects(values):
    """{kind: objects granted} from meridian_background_objects_total."""
    kinds = {}
    for series, value in values.items():
        if series.startswith("meridian_background_objects_total{"):
            kind = series.split('kind="', 1)[1].split('"', 1)[0]
            kinds[kind] = value
    return kinds


class Bench:
    """Runs `meridian bench` against one node and returns its JSON report."""

    def __init__(self, binary):
        self.binary = binary
        self.directory = tempfile.mkdtemp(prefix="meridian-p99-")
        self.count = 0

    def run(self, node, bucket, phase, records, rate=None, duration_s=None, workload="a",
            keep_props=False):
        self.count += 1
        path = os.path.join(self.directory, "bench-%d.json" % self.count)
        command = [self.binary, "bench", "--driver", "meridian-http",
                   "--address", "127.0.0.1:%d" % node.http_port, "--bucket", bucket,
                   "--phase", phase, "--records", str(records), "--workload", workload,
                   "--connections", str(BENCH_CONNECTIONS), "--max-error-rate", "1",
                   "--quiet", "--json", path]
        if rate:
            command += ["--target-rate", str(rate)]
        if duration_s:
            command += ["--duration", str(duration_s)]
        if keep_props:
            command += ["--keep-bucket-props"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        with open(path) as report:
            return json.load(report)


def window_summary(report):
    phase = report["phases"][-1]
    total = phase["total"]
    return {"ops": total["count"], "errors": total["errors"],
            "ops_per_s": round(total["ops_per_s"]),
            "p50_ms": total["latency_us"]["p50"] / 1000.0,
            "p99_ms": total["latency_us"]["p99"] / 1000.0,
            "p99_9_ms": total["latency_us"]["p99_9"] / 1000.0,
            "latency_histogram_ns": phase.get("latency_histogram_ns", [])}


def pooled_percentile(windows, percentile):
    """The percentile (ms) of every operation of `windows` together, from their histograms."""
    counts = {}
    for window in windows:
        for highest_ns, count in window["latency_histogram_ns"]:
            counts[highest_ns] = counts.get(highest_ns, 0) + count
    total = sum(counts.values())
    if total == 0:
        return 0.0
    rank = percentile / 100.0 * total
    seen = 0
    for highest_ns in sorted(counts):
        seen += counts[highest_ns]
        if seen >= rank:
            return highest_ns / 1e6
    return max(counts) / 1e6


def wait_storage_quiet(nodes):
    """Waits (at most SETTLE_DEADLINE_S) until no RocksDB flush or compaction runs or is owed
    on any of `nodes`, so the setup's writes are not still being compacted while "during" is
    measured. Prints how long it waited, or what was still busy."""
    started = time.monotonic()
    while True:
        busy = {}
        for node in nodes:
            values = metrics(node)
            jobs = (metric(values, "meridian_rocksdb_running_flushes") +
                    metric(values, "meridian_rocksdb_running_compactions"))
            owed = metric(values, "meridian_rocksdb_pending_compaction_bytes")
            if jobs or owed:
                busy[node.name] = {"jobs": int(jobs), "pending_bytes": int(owed)}
        waited = time.monotonic() - started
        if not busy:
            print("  storage quiet after %.0f s" % waited, flush=True)
            return
        if waited >= SETTLE_DEADLINE_S:
            print("  storage still busy after %.0f s: %s" % (waited, busy), flush=True)
            return
        time.sleep(1)  # polling interval, bounded by SETTLE_DEADLINE_S


def keep_logs(args, cluster, experiment):
    if not args.keep_logs:
        return
    os.makedirs(args.keep_logs, exist_ok=True)
    for node in cluster.nodes.values():
        with open(os.path.join(args.keep_logs, "%s-%s.log" % (experiment, node.name)),
                  "w") as out:
            out.write(node.log())
        # RocksDB's own log (flushes, compactions, write stalls).
        rocksdb_log = os.path.join(node.data_dir, "db", "LOG")
        if os.path.exists(rocksdb_log):
            shutil.copyfile(rocksdb_log,
                            os.path.join(args.keep_logs,
                                         "%s-%s.rocksdb.LOG" % (experiment, node.name)))


def start_cluster(args, extra_args):
    cluster = Cluster("p99", gossip_interval_ms=args.gossip_interval_ms,
                      extra_args=list(extra_args) + args.serve_arg)
    nodes = cluster.start(NODES)
    ids = [node.name for node in nodes]
    poll(cluster_settled(nodes, ids), SETTLE_DEADLINE_S, "the cluster forms")
    poll(members_alive(nodes, ids, alive=True), SETTLE_DEADLINE_S, "all alive")
    return cluster, nodes, ids


LOOP_SERIES = {"stalls": "meridian_event_loop_stalls_total",
               "tick_s": "meridian_node_tick_seconds_total",
               "slow_syncs": "meridian_commit_slow_syncs_total",
               "sync_s": "meridian_commit_sync_seconds_total",
               "inline_s": "meridian_commit_inline_write_seconds_total"}


class LoopWatch:
    """Each node's event-loop stalls (ticks 50 ms late or more), time in ticks, slow group
    commits, time in syncs and in WAL writes made on the loop (commits without a sync), per
    window: the difference of the cumulative counters."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.last = {}

    def sample(self):
        out = {}
        for node in self.nodes:
            try:
                values = metrics(node)
            except Exception:  # a stopped node has no metrics; its window is skipped
                self.last.pop(node.name, None)
                continue
            now = {key: metric(values, name) for key, name in LOOP_SERIES.items()}
            before = self.last.get(node.name)
            if before is not None and any(now[key] < before[key] for key in now):
                before = {key: 0.0 for key in now}  # the node restarted: counters began again
            self.last[node.name] = now
            if before is not None:
                out[node.name] = {key: round(now[key] - before[key], 3) for key in now}
        return out


def measure_windows(args, bench, node, count, progress, label, loop_watch=None):
    windows = []
    for _ in range(count):
        windows.append(window_summary(
            bench.run(node, "fg", "run", args.fg_records, rate=args.fg_rate,
                      duration_s=args.window_s)))
        windows[-1].update(progress())
        if loop_watch is not None:
            windows[-1]["loops"] = loop_watch.sample()
        shown = {k: v for k, v in windows[-1].items() if k not in ("latency_histogram_ns", "loops")}
        print("  %s window %d: %s" % (label, len(windows), shown), flush=True)
        if windows[-1].get("loops"):
            print("    loops: %s" % " ".join(
                "%s stalls %d tick %.2fs slow-syncs %d sync %.2fs inline %.2fs" % (
                    name, v["stalls"], v["tick_s"], v["slow_syncs"], v["sync_s"], v["inline_s"])
                for name, v in sorted(windows[-1]["loops"].items())), flush=True)
    return windows


def set_paused(nodes, paused):
    """Pauses or resumes background work on every node of `nodes` (running ones)."""
    for node in nodes:
        response = new_session().post("http://127.0.0.1:%d/v1/cluster/background" % node.http_port,
                                      json={"paused": paused}, timeout=10)
        assert response.status_code == 200, (node.name, response.status_code, response.text)
        assert response.json()["paused"] is paused, response.text


def measure_paused(args, bench, nodes, node, progress, paused_windows, loop_watch=None):
    """With --alternate: one window with background work paused everywhere, then resumed."""
    if not args.alternate:
        return
    set_paused(nodes, True)
    paused_windows += measure_windows(args, bench, node, 1, progress, "paused", loop_watch)
    set_paused(nodes, False)


def catchup(args, bench):
    cluster, nodes, ids = start_cluster(args, [])
    try:
        node1, node2, node5 = nodes[0], nodes[1], nodes[4]
        bench.run(node1, "fg", "load", args.fg_records)

        def progress():
            hints = sum(metric(metrics(node), "meridian_hint_records") for node in nodes[:4])
            return {"hint_records": int(hints),
                    "hint_replay_objects": int(sum(background_objects(metrics(node)).get(
                        "hint_replay", 0) for node in nodes[:4]))}

        watch = LoopWatch(nodes)
        watch.sample()
        measure_windows(args, bench, node1, args.warmup_windows, progress, "warm-up", watch)
        wait_storage_quiet(nodes)
        baseline = measure_windows(args, bench, node1, args.baseline_windows, progress,
                                   "baseline", watch)
        node5.stop()
        poll(members_alive(nodes[:4], [ids[4]], False), SETTLE_DEADLINE_S, "node5 seen down")
        started = time.monotonic()
        away_records = args.away_s * args.away_rate
        bench.run(node2, "away", "load", away_records, rate=args.away_rate)
        away_s = time.monotonic() - started
        hints = progress()["hint_records"]
        print("  away %.0f s, %d writes, %d hint records" % (away_s, away_records, hints),
              flush=True)
        wait_storage_quiet(nodes[:4])
        node5.restart()
        restarted = time.monotonic()
        during = []
        paused = []
        caught_up_s = None
        while len(during) < CATCHUP_WINDOWS_MAX:
            during += measure_windows(args, bench, node1, 1, progress, "catch-up", watch)
            if during[-1]["hint_records"] == 0:
                caught_up_s = time.monotonic() - restarted
                break
            measure_paused(args, bench, nodes, node1, progress, paused, watch)
        after = measure_windows(args, bench, node1, args.after_windows, progress, "after", watch)
        return {"experiment": "catchup", "after": after, "away_s": round(away_s),
                "away_writes": away_records,
                "hint_records_at_restart": hints, "caught_up_within_s": caught_up_s,
                "baseline": baseline, "during": during, "paused": paused}
    finally:
        cluster.stop_all()
        keep_logs(args, cluster, "catchup")
        cluster.remove_work_dirs()


def aae(args, bench):
    cluster, nodes, ids = start_cluster(
        args, ["--aae-exchange-interval-ms", str(args.aae_exchange_interval_ms)])
    try:
        node1, node2, node5 = nodes[0], nodes[1], nodes[4]
        session = new_session()
        response = session.put("http://127.0.0.1:%d/v1/buckets/aae" % node1.http_port,
                               json={"sloppy_quorum": False, "conflict_policy": "lww"},
                               timeout=10)
        assert response.status_code in (200, 204), response.text
        bench.run(node1, "fg", "load", args.fg_records)

        def received():
            return int(metric(metrics(node5), "meridian_aae_keys_received_total"))

        def progress():
            values = metrics(node5)
            return {"aae_keys_received_node5": int(metric(values,
                                                           "meridian_aae_keys_received_total")),
                    "aae_exchanges_node5": int(metric(values, "meridian_aae_exchanges_total"))}

        measure_windows(args, bench, node1, args.warmup_windows, progress, "warm-up")
        wait_storage_quiet(nodes)
        baseline = measure_windows(args, bench, node1, args.baseline_windows, progress,
                                   "baseline")
        node5.stop()
        poll(members_alive(nodes[:4], [ids[4]], False), SETTLE_DEADLINE_S, "node5 seen down")
        # node5 is a primary of about 3/5 of the keys: write enough that it misses --aae-keys.
        records = args.aae_keys * 5 // 3 + args.aae_keys // 20
        bench.run(node2, "aae", "load", records, keep_props=True)
        hints = sum(metric(metrics(node), "meridian_hint_records") for node in nodes[:4])
        print("  wrote %d keys with node5 down; hint records: %d" % (records, hints),
              flush=True)
        # The burst's flushes and compactions belong to the setup, not to the repair.
        wait_storage_quiet(nodes[:4])
        node5.restart()
        poll(members_alive(nodes[:4], [ids[4]], True), SETTLE_DEADLINE_S, "node5 seen up")
        restarted = time.monotonic()
        before = received()
        during = []
        paused = []
        repaired_s = None
        last_change = time.monotonic()
        # Done once node5 received nothing more for a whole exchange interval (each pair of
        # primaries is compared once per interval) plus a window.
        quiet_s = (args.aae_exchange_interval_ms / 1000.0 + args.window_s) * (
            2 if args.alternate else 1)
        while len(during) < CATCHUP_WINDOWS_MAX:
            if during:
                measure_paused(args, bench, nodes, node1, progress, paused)
            during += measure_windows(args, bench, node1, 1, progress, "repair")
            got = during[-1]["aae_keys_received_node5"] - before
            during[-1]["repaired_so_far"] = got
            # A trickle of a few keys (exchanges finding the last stragglers) is not the repair.
            if len(during) == 1 or got - during[-2]["repaired_so_far"] >= REPAIR_WINDOW_KEYS_MIN:
                last_change = time.monotonic()
                repaired_s = last_change - restarted
            elif got > 0 and time.monotonic() - last_change >= quiet_s:
                break
        # The windows after the last repair are not "during".
        while (len(during) > 1 and during[-1]["repaired_so_far"] - during[-2]["repaired_so_far"]
               < REPAIR_WINDOW_KEYS_MIN):
            during.pop()
            paused.pop()
        after = measure_windows(args, bench, node1, args.after_windows, progress, "after")
        return {"experiment": "aae", "after": after, "keys_written_node5_down": records,
                "hint_records": hints,
                "keys_repaired": during[-1]["aae_keys_received_node5"] - before if during else 0,
                "repaired_within_s": repaired_s, "baseline": baseline, "during": during,
                "paused": paused}
    finally:
        cluster.stop_all()
        keep_logs(args, cluster, "aae")
        cluster.remove_work_dirs()


def idle(args, bench):
    cluster, nodes, ids = start_cluster(args, [])
    try:
        node1 = nodes[0]
        bench.run(node1, "fg", "load", args.fg_records)

        def progress():
            return {}

        measure_windows(args, bench, node1, args.warmup_windows, progress, "warm-up")
        wait_storage_quiet(nodes)
        baseline = measure_windows(args, bench, node1, args.baseline_windows, progress,
                                   "baseline")
        during, paused = [], []
        for _ in range(args.baseline_windows):
            during += measure_windows(args, bench, node1, 1, progress, "idle")
            measure_paused(args, bench, nodes, node1, progress, paused)
        after = measure_windows(args, bench, node1, args.after_windows, progress, "after")
        return {"experiment": "idle", "baseline": baseline, "during": during, "after": after,
                "paused": paused}
    finally:
        cluster.stop_all()
        keep_logs(args, cluster, "idle")
        cluster.remove_work_dirs()


def pair_summary(pairs):
    """How (paused, working) window pairs compare at p99: how many differ by more than 20 % each
    way, and the median working/paused ratio."""
    higher = sum(1 for off, on in pairs if on["p99_ms"] > 1.2 * off["p99_ms"])
    lower = sum(1 for off, on in pairs if on["p99_ms"] < off["p99_ms"] / 1.2)
    ratios = sorted(on["p99_ms"] / off["p99_ms"] for off, on in pairs if off["p99_ms"] > 0)
    median = (ratios[(len(ratios) - 1) // 2] + ratios[len(ratios) // 2]) / 2 if ratios else 0
    return ("p99 more than 20 %% higher in %d, more than 20 %% lower in %d, of %d; median "
            "working/paused p99 %.2f" % (higher, lower, len(pairs), median))


def summarize(result):
    """Pooled percentiles (every operation of the phase's windows together) decide; the mean
    of per-window p99s and the worst window are shown beside them."""
    def mean(windows, field):
        return sum(window[field] for window in windows) / max(1, len(windows))

    def change(during, base):
        return 100.0 * (during - base) / base if base else 0.0
    base, busy = result["baseline"], result["during"]
    after = result.get("after", [])
    lines = ["%s: %d baseline windows, %d during, %d after" % (
        result["experiment"], len(base), len(busy), len(after))]
    for percentile in (50, 99, 99.9):
        b, d = pooled_percentile(base, percentile), pooled_percentile(busy, percentile)
        line = "  pooled p%s: baseline %.2f ms, during %.2f ms: %+.0f %%" % (
            percentile, b, d, change(d, b))
        if after:
            a = pooled_percentile(base + after, percentile)
            line += "; against before+after %.2f ms: %+.0f %%" % (a, change(d, a))
        lines.append(line)
    paused = result.get("paused", [])
    if paused:
        lines.append("  interleaved: %d windows paused, %d with background work" % (
            len(paused), len(busy)))
        for percentile in (50, 99, 99.9):
            p, d = pooled_percentile(paused, percentile), pooled_percentile(busy, percentile)
            lines.append("  pooled p%s: paused %.2f ms, with background work %.2f ms: %+.0f %%" % (
                percentile, p, d, change(d, p)))
        pairs = list(zip(paused, busy))
        lines.append("  pairs (a working window, then the paused one after it): " +
                     pair_summary(pairs))
        # A repair ends in a trickle (single keys written meanwhile) that keeps "still
        # repairing" true for many windows: the pairs whose working window repaired in bulk.
        if busy and "aae_keys_received_node5" in busy[0]:
            bulk = []
            received = base[-1]["aae_keys_received_node5"] if base else 0
            for off, on in pairs:
                if on["aae_keys_received_node5"] - received > 1000:
                    bulk.append((off, on))
                received = off["aae_keys_received_node5"]
            if bulk:
                p = pooled_percentile([off for off, _ in bulk], 99)
                d = pooled_percentile([on for _, on in bulk], 99)
                lines.append("  pairs whose working window repaired more than 1,000 keys: pooled "
                             "p99 paused %.2f ms, working %.2f ms: %+.0f %%; %s" % (
                                 p, d, change(d, p), pair_summary(bulk)))
    b, d = mean(base, "p99_ms"), mean(busy, "p99_ms")
    worst = max((w["p99_ms"] for w in busy), default=0)
    lines.append("  window p99: baseline mean %.2f ms, during mean %.2f ms (%+.0f %%), worst "
                 "window %.2f ms" % (b, d, change(d, b), worst))
    return "\n".join(lines)


def main():
    args = parse_arguments()
    os.environ["MERIDIAN_BIN"] = os.path.abspath(args.bin)
    bench = Bench(os.path.abspath(args.bin))
    results = []
    for experiment in args.experiment.split(","):
        print("experiment %s" % experiment, flush=True)
        results.append({"catchup": catchup, "aae": aae, "idle": idle}[experiment](args, bench))
        print(summarize(results[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"args": vars(args), "results": results}, out, indent=2)
    for result in results:
        print(summarize(result))


if __name__ == "__main__":
    main()
