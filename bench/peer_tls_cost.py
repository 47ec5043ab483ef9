#!/usr/bin/python3
"""What mutual TLS between nodes costs (issue 11, item 1), measured on real processes.

For each round and each peer mode (`mtls`, the default, and `--peer-security
insecure-plaintext`) this starts a fresh 3-node cluster of `meridian serve` on loopback, sets
bucket `bench` to n=3, r=2, w=2 (every write and read crosses the peer transport), and runs
`meridian bench --driver meridian-http --workload a` through node1 (YCSB-A: 50 % reads, 50 %
updates, 100-byte values) for --duration seconds after a load phase. The modes alternate within
each round so that drift of the machine hits both alike. Reported per run: throughput and
p50/p99 latency of the run phase, and the median of each over the rounds.

Usage: /usr/bin/python3 bench/peer_tls_cost.py [--bin build/release/meridian] [--rounds 3]
           [--duration 15] [--records 10000] [--connections 32]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from cluster_util import Cluster, cluster_settled, new_session, poll  # noqa: E402

FORM_DEADLINE_S = 60
MODES = ("mtls", "insecure-plaintext")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "meridian"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--connections", type=int, default=32)
    return parser.parse_args()


def run_once(arguments, mode, round_index):
    extra = [] if mode == "mtls" else ["--peer-security", "insecure-plaintext"]
    cluster = Cluster("tls-cost-%d-%d" % (os.getpid(), round_index), extra_args=extra)
    try:
        nodes = cluster.start(3)
        poll(cluster_settled(nodes, ["node1", "node2", "node3"]), FORM_DEADLINE_S,
             "3 nodes form")
        response = new_session().put(nodes[0].http_url + "/v1/buckets/bench", timeout=10,
                                     json={"n": 3, "r": 2, "w": 2, "conflict_policy": "lww"})
        assert response.status_code == 200, response.text
        report_path = tempfile.mktemp(prefix="tls-cost-", suffix=".json")
        result = subprocess.run(
            [arguments.bin, "bench", "--driver", "meridian-http", "--address",
             "127.0.0.1:%d" % nodes[0].http_port, "--workload", "a", "--records",
             str(arguments.records), "--connections", str(arguments.connections), "--duration",
             str(arguments.duration), "--keep-bucket-props", "--json", report_path],
            capture_output=True, text=True, timeout=arguments.duration + 300)
        if result.returncode != 0:
            raise RuntimeError("bench failed: " + result.stderr)
        with open(report_path) as report_file:
            report = json.load(report_file)
        os.remove(report_path)
        run = report["phases"][1]
        total = run["total"]
        return {"ops": total["ops_per_s"], "p50_ms": total["latency_us"]["p50"] / 1000,
                "p99_ms": total["latency_us"]["p99"] / 1000, "errors": total["errors"]}
    finally:
        cluster.stop_all()
        for work_dir in cluster.work_dirs:
            subprocess.run(["rm", "-rf", work_dir], check=False)


def main():
    arguments = parse_arguments()
    os.environ["MERIDIAN_BIN"] = os.path.abspath(arguments.bin)
    results = {mode: [] for mode in MODES}
    for round_index in range(arguments.rounds):
        order = MODES if round_index % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            figures = run_once(arguments, mode, round_index)
            results[mode].append(figures)
            print("round %d %-18s %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  errors %d" % (
                round_index + 1, mode, figures["ops"], figures["p50_ms"], figures["p99_ms"],
                figures["errors"]), flush=True)
    print("\nmedians over %d rounds:" % arguments.rounds)
    medians = {}
    for mode in MODES:
        medians[mode] = {key: statistics.median(r[key] for r in results[mode])
                         for key in ("ops", "p50_ms", "p99_ms")}
        print("  %-18s %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms" % (
            mode, medians[mode]["ops"], medians[mode]["p50_ms"], medians[mode]["p99_ms"]))
    ratio = medians["mtls"]["ops"] / medians["insecure-plaintext"]["ops"]
    print("  mtls / plaintext throughput: %.2f" % ratio)


if __name__ == "__main__":
    main()
