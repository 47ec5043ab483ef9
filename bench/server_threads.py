#!/usr/bin/python3
"""One standalone `meridian serve` at each thread layout, driven by redis-benchmark over RESP:
throughput and the server's CPU per request (issue 13, items 1 and 2; docs/benchmarks.md
"Shards on the real server").

For every round, workload and layout (alternated: 1 shard, 2 shards, ... then the next round),
this starts a fresh server on an empty data directory with `--shards S --front-end-threads T`,
runs `redis-benchmark -c 50 -n N -d 100 -r 1000000 -t set|get [-P 16] -q` against it, and reads
the server's CPU time (utime + stime of every thread, /proc/PID/stat) before and after. CPU per
request is the server's CPU over the requests: the load generator's is not in it. Per thread
(/proc/PID/task/*/stat, by thread name: the node's loop is `meridian`, then `shard-1`...,
`front-ends`, `commit`) it also reports where that CPU went.

Workloads: set (unpipelined), set-p16 and get-p16 (pipelined 16 deep; the GETs read keys a
SET run of the same size wrote first, so most of them are found).

Usage: /usr/bin/python3 bench/server_threads.py [--bin build/release/meridian]
           [--layouts 1:0,2:0,2:1] [--workloads set,set-p16,get-p16] [--rounds 2]
           [--requests 200000]
A layout is SHARDS:FRONT_END_THREADS. Prints one line per run and a Markdown table of medians.
"""
import argparse
import collections
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_DEADLINE_S = 30
BENCH_DEADLINE_S = 600


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "meridian"))
    parser.add_argument("--layouts", default="1:0,2:0,2:1",
                        help="SHARDS:FRONT_END_THREADS, comma-separated")
    parser.add_argument("--workloads", default="set,set-p16,get-p16")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200000)
    parser.add_argument("--port", type=int, default=16391)
    args = parser.parse_args()
    layouts = []
    for item in args.layouts.split(","):
        shards, threads = item.split(":")
        layouts.append((int(shards), int(threads)))
    args.layouts = layouts
    args.workloads = args.workloads.split(",")
    for workload in args.workloads:
        if workload not in ("set", "set-p16", "get-p16"):
            parser.error("unknown workload %r" % workload)
    return args


def thread_cpu(pid):
    """CPU seconds by thread name, and in total."""
    by_name = collections.Counter()
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        by_name[name] += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return by_name


def redis_benchmark(port, test, requests, pipeline):
    command = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "-d", "100",
               "-r", "1000000", "-t", test, "-q"]
    if pipeline:
        command += ["-P", str(pipeline)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=BENCH_DEADLINE_S)
    if done.returncode != 0:
        raise RuntimeError("redis-benchmark failed: %s" % done.stderr)
    match = re.findall(r"([0-9.]+) requests per second", done.stdout.replace("\r", "\n"))
    if not match:
        raise RuntimeError("no throughput in %r" % done.stdout[-300:])
    return float(match[-1])


class Server:
    def __init__(self, binary, port, shards, threads):
        self.dir = tempfile.mkdtemp(prefix="meridian-server-threads-")
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.process = subprocess.Popen(
            [binary, "serve", "--data-dir", os.path.join(self.dir, "data"), "--http",
             "127.0.0.1:0", "--resp", "127.0.0.1:%d" % port, "--shards", str(shards),
             "--front-end-threads", str(threads)],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_DEADLINE_S
        line = self.process.stdout.readline()
        if not line.startswith(b"meridian ready:") or time.monotonic() > deadline:
            raise RuntimeError("no ready line: %r" % line)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_once(args, shards, threads, workload):
    server = Server(args.bin, args.port, shards, threads)
    try:
        test, pipeline = {"set": ("set", 0), "set-p16": ("set", 16),
                          "get-p16": ("get", 16)}[workload]
        if test == "get":
            redis_benchmark(args.port, "set", args.requests, 16)  # keys to find
        before = thread_cpu(server.process.pid)
        rate = redis_benchmark(args.port, test, args.requests, pipeline)
        after = thread_cpu(server.process.pid)
    finally:
        server.stop()
    used = {name: after[name] - before.get(name, 0) for name in after}
    total = sum(used.values())
    return rate, total / args.requests * 1e6, {
        name: seconds / args.requests * 1e6 for name, seconds in used.items() if seconds > 0}


def main():
    args = parse_arguments()
    results = collections.defaultdict(list)
    for round_number in range(args.rounds):
        for workload in args.workloads:
            for shards, threads in args.layouts:
                rate, cpu_us, per_thread = run_once(args, shards, threads, workload)
                results[(workload, shards, threads)].append((rate, cpu_us))
                print("round %d %-8s shards=%d front_end_threads=%d: %9.0f req/s, %5.1f us CPU/req"
                      " (%s)" % (round_number + 1, workload, shards, threads, rate, cpu_us,
                                 ", ".join("%s %.1f" % item for item in sorted(per_thread.items()))),
                      flush=True)
    print()
    print("| workload | shards | front-end threads | req/s (median) | server CPU us/req (median) |")
    print("|---|---|---|---|---|")
    for workload in args.workloads:
        for shards, threads in args.layouts:
            runs = results[(workload, shards, threads)]
            print("| %s | %d | %d | %.0f (%s) | %.1f |" % (
                workload, shards, threads, statistics.median(r for r, _ in runs),
                ", ".join("%.0f" % r for r, _ in runs), statistics.median(c for _, c in runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
