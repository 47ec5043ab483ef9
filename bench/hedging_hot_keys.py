#!/usr/bin/python3
"""How many forwarded writes to often-written keys keep their hedging (issue 10, item 4).

Hedged forwarding (docs/design/replication.md) gives a write forwarded to a primary a
single-use version, whose entry stays in the key's clock after the value is overwritten; a key
takes at most `single_use_entries_max` (32) of them, after which its forwarded writes are
refused the fixed version and sent with an ordinary one (not hedged). Reaping rounds prune the
superseded entries (docs/design/tombstones.md, "Pruning single-use entries").

For each --reap-interval-ms setting this starts a fresh cluster of --nodes `meridian serve`
processes (default n = 3), then --keys writer threads each overwrite their own key for
--duration-s seconds, one write every --interval-ms, through the nodes in turn (so about 2 of 5
of the writes are forwarded). How a writer overwrites (--client):
  chained:    each HTTP PUT carries the context its previous PUT returned;
  read-write: a GET, then a PUT with the GET's context;
  resp-set:   a RESP SET (an overwriting write, no context).
Reported per setting, summed over the nodes' /metrics: forwarded writes given a
fixed version (meridian_forwards_fixed_total), those refused it because the key's clock was
full (meridian_fixed_versions_refused_total), the share that kept it (hedged), objects pruned,
and the most single-use entries any primary's copy of a key held at the end
(GET /v1/cluster/local).

Usage: /usr/bin/python3 bench/hedging_hot_keys.py [--bin build/release/meridian]
           [--reap-interval-ms 0,60000,1000] [--prune-soon-after-ms MS]
           [--aae-exchange-interval-ms 1000] [--nodes 5]
           [--keys 40] [--interval-ms 500] [--duration-s 120]
           [--client chained|read-write|resp-set]
"""
import argparse
import os
import socket
import sys
import threading
import time
from urllib.parse import quote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from cluster_util import Cluster, cluster_settled, new_session, poll  # noqa: E402

FORM_DEADLINE_S = 60
SINGLE_USE_COUNTER = 1 << 62  # core/version_vector.h kSingleUseCounter


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "meridian"))
    parser.add_argument("--reap-interval-ms", default="0,60000,1000",
                        help="comma-separated settings, one cluster each (0: no reaping, so no "
                             "pruning)")
    parser.add_argument("--prune-soon-after-ms", type=int, default=None,
                        help="pruning on demand (--reap-prune-soon-after-ms; default: the "
                             "server's, 200; 0: only the interval's rounds prune)")
    parser.add_argument("--aae-exchange-interval-ms", type=int, default=1000,
                        help="reaping needs an in-sync anti-entropy exchange first")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--interval-ms", type=int, default=500)
    parser.add_argument("--duration-s", type=float, default=120)
    parser.add_argument("--partition-count", type=int, default=64)
    parser.add_argument("--client", choices=["chained", "read-write", "resp-set"],
                        default="chained")
    return parser.parse_args()


def resp_port(node):
    fields = dict(part.split("=", 1) for part in node.ready_line.split()[2:] if "=" in part)
    return int(fields["resp"].rsplit(":", 1)[1])


def resp_set(connection, key, value):
    """One SET on an open RESP connection; True on +OK."""
    parts = [b"SET", key.encode(), value]
    connection.sendall(b"*%d\r\n" % len(parts) +
                       b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = connection.recv(4096)
        if not chunk:
            return False
        reply += chunk
    return reply.startswith(b"+OK")


class Writer(threading.Thread):
    """Overwrites one key through the nodes in turn (see --client)."""

    def __init__(self, nodes, key, offset, interval_s, stop_at, client):
        super().__init__(daemon=True)
        self.nodes, self.key, self.offset = nodes, key, offset
        self.interval_s, self.stop_at, self.client = interval_s, stop_at, client
        self.acked = self.failed = 0
        self.session = new_session()
        self.connections = {}

    def write(self, node, value, context):
        """One overwrite; (acknowledged, the context to carry to the next one)."""
        if self.client == "resp-set":
            if node.name not in self.connections:
                self.connections[node.name] = socket.create_connection(
                    ("127.0.0.1", resp_port(node)), timeout=15)
            return resp_set(self.connections[node.name], self.key, value), None
        if context is None:  # read-write, or no token to carry (the first write)
            read = node.kv("GET", self.key, session=self.session)
            context = read.headers.get("X-Meridian-Context")
        headers = {"X-Meridian-Context": context} if context else None
        response = node.kv("PUT", self.key, data=value, headers=headers, session=self.session)
        if response.status_code not in (200, 204):
            return False, None
        carried = response.headers.get("X-Meridian-Context") or None
        return True, carried if self.client == "chained" else None

    def run(self):
        context = None
        turn = self.offset
        next_at = time.monotonic()
        while time.monotonic() < self.stop_at:
            node = self.nodes[turn % len(self.nodes)]
            turn += 1
            acked, context = self.write(node, b"v%d" % turn, context)
            if acked:
                self.acked += 1
            else:
                self.failed += 1
            next_at += self.interval_s
            time.sleep(max(0.0, next_at - time.monotonic()))
        for connection in self.connections.values():
            connection.close()


def metric_sum(nodes, name):
    return sum(node.metrics().get(name, 0) for node in nodes)


def most_single_use_entries(nodes, keys):
    most = 0
    for node in nodes:
        for key in keys:
            local = node.get_json("/v1/cluster/local/default/" + quote(key, safe=""))
            if local["holds_replica"] and local["object"] is not None:
                entries = sum(1 for _, counter in local["object"]["clock"]
                              if counter == SINGLE_USE_COUNTER)
                most = max(most, entries)
    return most


def run_once(arguments, reap_interval_ms):
    os.environ["MERIDIAN_BIN"] = os.path.abspath(arguments.bin)
    cluster = Cluster("hedging-hot-keys-%d-%d" % (os.getpid(), reap_interval_ms),
                      extra_args=["--partition-count", str(arguments.partition_count),
                                  "--reap-interval-ms", str(reap_interval_ms),
                                  "--aae-exchange-interval-ms",
                                  str(arguments.aae_exchange_interval_ms),
                                  "--resp", "127.0.0.1:0"] +
                      ([] if arguments.prune_soon_after_ms is None else
                       ["--reap-prune-soon-after-ms", str(arguments.prune_soon_after_ms)]))
    try:
        nodes = cluster.start(arguments.nodes)
        names = [node.name for node in nodes]
        poll(cluster_settled(nodes, names), FORM_DEADLINE_S, "the cluster forms")
        keys = ["hot-%03d" % i for i in range(arguments.keys)]
        stop_at = time.monotonic() + arguments.duration_s
        writers = [Writer(nodes, key, i, arguments.interval_ms / 1000.0, stop_at,
                          arguments.client)
                   for i, key in enumerate(keys)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        fixed = metric_sum(nodes, "meridian_forwards_fixed_total")
        refused = metric_sum(nodes, "meridian_fixed_versions_refused_total")
        return {
            "reap_interval_ms": reap_interval_ms,
            "writes_acked": sum(w.acked for w in writers),
            "writes_failed": sum(w.failed for w in writers),
            "forwards_fixed": int(fixed),
            "fixed_refused": int(refused),
            "hedged_share": (fixed - refused) / fixed if fixed else 0.0,
            "objects_pruned": int(metric_sum(nodes, "meridian_reap_objects_pruned_total")),
            "reap_rounds": int(metric_sum(
                nodes, 'meridian_reap_rounds_total{result="committed"}')),
            "undone": int(metric_sum(nodes, "meridian_reap_prunes_on_demand_undone_total")),
            "prunes_on_demand": int(metric_sum(
                nodes, "meridian_reap_prunes_proposed_on_demand_total")),
            "most_single_use_entries": most_single_use_entries(nodes, keys),
        }
    finally:
        cluster.stop_all()
        cluster.remove_work_dirs()


def main():
    arguments = parse_arguments()
    print("# %s, %d nodes, %d keys, a write per key every %d ms for %.0f s (%s), aae every %d "
          "ms, prune_soon_after_ms %s" % (
              time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), arguments.nodes,
              arguments.keys, arguments.interval_ms, arguments.duration_s, arguments.client,
              arguments.aae_exchange_interval_ms,
              "default" if arguments.prune_soon_after_ms is None
              else arguments.prune_soon_after_ms))
    print("| reap_interval_ms | writes acked (failed) | forwarded with a fixed version | refused "
          "it | hedged | reaping rounds | objects pruned | prunes proposed on demand (undone) | "
          "most single-use entries in a copy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for setting in arguments.reap_interval_ms.split(","):
        result = run_once(arguments, int(setting))
        print("| %d | %d (%d) | %d | %d | %.1f %% | %d | %d | %d (%d) | %d |" % (
            result["reap_interval_ms"], result["writes_acked"], result["writes_failed"],
            result["forwards_fixed"], result["fixed_refused"], 100 * result["hedged_share"],
            result["reap_rounds"], result["objects_pruned"], result["prunes_on_demand"],
            result["undone"],
            result["most_single_use_entries"]), flush=True)


if __name__ == "__main__":
    main()
