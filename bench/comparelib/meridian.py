"""Meridian: single nodes, the three-node cluster (mutual TLS), bucket properties, and runs of
`meridian bench` (the load generator of the cluster, strong and memory sections, against
Meridian or etcd)."""
import json
import os
from dataclasses import dataclass

from . import parse
from .common import Failure, http_ok, http_request, log
from .context import Run
from .processes import server_failed, wait_until

READY_S = 30           # a node's ready line
CLUSTER_READY_S = 60   # 3 members up, partitions settled
BUCKET_SPREAD_S = 30   # bucket properties on every node
BENCH_LIMIT_S = 3600


@dataclass
class Node:
    process: object
    label: str
    dir: str
    http: str
    resp: str
    peer: str


def read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def shard_args(run: Run) -> list[str]:
    """Every node's --shards in the resp, http, cluster and strong sections, always explicit: the
    server's own default is one shard per CPU, and every earlier run used one."""
    return ["--shards", str(run.options.shards)] if run.shards_flag else []


def shard_text(run: Run) -> str:
    """The same for results.md's configuration lines."""
    return "".join(" " + arg for arg in shard_args(run))


def start_node(run: Run, label: str, directory: str, *args: str) -> Node:
    """`meridian serve --data-dir DIR/data ARGS`, ready when it printed its ready line (at most
    30 s); its listener addresses come from that line. Without --shards in ARGS (the memory
    section) it runs one shard, as every earlier run did (the server's default is one per
    CPU)."""
    if run.shards_flag and "--shards" not in args:
        args = (*args, "--shards", "1")
    os.makedirs(directory, exist_ok=True)
    stdout, stderr = os.path.join(directory, "stdout"), os.path.join(directory, "stderr")
    process = run.supervisor.start_server(
        label, stdout, stderr, [run.bin, "serve", "--data-dir", os.path.join(directory, "data"), *args])
    if not wait_until(lambda: parse.meridian_ready(read_text(stdout)), READY_S, process):
        # One more look: it may have become ready just as it was given up on.
        if not parse.meridian_ready(read_text(stdout)):
            server_failed(label, process, [stdout, stderr])
    addresses = parse.ready_addresses(read_text(stdout))
    return Node(process, label, directory, addresses["http"], addresses["resp"], addresses["peer"])


def set_bucket(http: str, props: str, bucket: str = "bench") -> None:
    """PUT /v1/buckets/BUCKET with the JSON `props`; anything but 200 ends the run."""
    try:
        status, body = http_request(f"http://{http}/v1/buckets/{bucket}", "PUT", props.encode(), 10)
    except (OSError, ValueError):
        raise Failure(f"setting bucket {bucket} on {http} failed") from None
    if status != 200:
        raise Failure(f"setting bucket {bucket} on {http} to {props} failed: "
                      f"{body.decode(errors='replace')}\n{status}")


@dataclass
class Cluster:
    nodes: list
    dir: str

    @property
    def addr1(self) -> str:
        """node1's HTTP address: where the load goes."""
        return self.nodes[0].http

    @property
    def processes(self) -> list:
        return [node.process for node in self.nodes]


def cluster_ready(http: str) -> bool:
    status = http_ok(f"http://{http}/v1/cluster/status", timeout_s=2)
    ring = http_ok(f"http://{http}/v1/cluster/ring?partitions=true", timeout_s=2)
    if status is None or ring is None:
        return False
    try:
        return parse.cluster_settled(json.loads(status), json.loads(ring))
    except ValueError:
        return False


def start_cluster(run: Run, directory: str) -> Cluster:
    """Three nodes over mutual TLS (a CA made for DIR by `meridian cert`): node1 bootstraps,
    node2 and node3 join through node1's peer address; ready when node1 sees 3 members up owning
    partitions and no partition moving (at most 60 s)."""
    os.makedirs(directory, exist_ok=True)
    certs = os.path.join(directory, "certs")
    name = f"compare-{run.pid}"
    run.supervisor.run_quiet([run.bin, "cert", "ca", "--dir", certs, "--cluster-name", name])
    nodes = []
    for k in (1, 2, 3):
        run.supervisor.run_quiet([run.bin, "cert", "node", "--dir", certs, "--name", f"node{k}"])
        tls = ["--peer-tls-ca", f"{certs}/ca.crt", "--peer-tls-cert", f"{certs}/node-node{k}.crt",
               "--peer-tls-key", f"{certs}/node-node{k}.key"]
        seeds = ["--seeds", nodes[0].peer] if nodes else []
        nodes.append(start_node(run, f"meridian node{k}", os.path.join(directory, f"node{k}"),
                                "--name", f"node{k}", "--http", "127.0.0.1:0", "--peer", "127.0.0.1:0",
                                "--cluster-name", name, *seeds, *tls, *shard_args(run)))
    cluster = Cluster(nodes, directory)
    if not wait_until(lambda: cluster_ready(cluster.addr1), CLUSTER_READY_S):
        status = http_ok(f"http://{cluster.addr1}/v1/cluster/status", timeout_s=2)
        if status:
            os.write(2, status)
        server_failed("the Meridian cluster (3 members up, partitions settled within 60 s)",
                      nodes[0].process, [os.path.join(node.dir, "stderr") for node in nodes])
    return cluster


def set_bucket_everywhere(cluster: Cluster, bucket: str, props: str, check) -> None:
    """Sets BUCKET through node1 and waits (at most 30 s) until `check(props)` holds for its
    properties on every node (they spread by gossip)."""
    set_bucket(cluster.addr1, props, bucket)

    def holds(node: Node) -> bool:
        body = http_ok(f"http://{node.http}/v1/buckets/{bucket}", timeout_s=2)
        try:
            return body is not None and bool(check(json.loads(body)["props"]))
        except (ValueError, KeyError, TypeError):
            return False

    if not wait_until(lambda: all(holds(node) for node in cluster.nodes), BUCKET_SPREAD_S):
        raise Failure(f"bucket {bucket} did not reach {props} on all three nodes within 30 s")


def eventual_props_ok(props: dict) -> bool:
    """{"n":3,"r":2,"w":2,"conflict_policy":"lww"}"""
    return (props.get("n") == 3 and props.get("r") == 2 and props.get("w") == 2
            and props.get("conflict_policy") == "lww")


EVENTUAL_PROPS = '{"n":3,"r":2,"w":2,"conflict_policy":"lww"}'


def save_url(url: str, path: str, timeout_s: float = 5, keep=None) -> None:
    """The body of a 2xx answer into `path` (an empty file when the request fails); `keep`
    filters its lines."""
    body = http_ok(url, timeout_s=timeout_s) or b""
    if keep is not None:
        body = b"".join(line for line in body.splitlines(keepends=True) if keep(line))
    with open(path, "wb") as handle:
        handle.write(body)


def bench(run: Run, section: str, system: str, workload: str, round_: int, phase: str,
          records: int, *args: str, connections: int = 50) -> None:
    """One `meridian bench` run (100-byte values, --json into raw/SECTION-rR-SYSTEM-WORKLOAD.json,
    at most an hour) and its measurement: the total of PHASE."""
    path = run.raw_path(f"{section}-r{round_}-{system}-{workload.replace(' ', '_')}.json")
    text_path = path[:-len(".json")] + ".txt"
    rc = run.supervisor.run_tool(
        text_path, BENCH_LIMIT_S,
        [run.bin, "bench", "--records", str(records), "--value-size", "100",
         "--connections", str(connections), "--json", path, "--quiet", *args])
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise Failure(f"meridian bench ({system} {workload}) wrote no JSON (exit {rc}); "
                      f"see {text_path}.err")
    if rc != 0:
        head = "\n".join(read_text(text_path + ".err").splitlines()[:3])
        log(f"    WARNING: meridian bench exit {rc} (error rate above 1%?): {head}")
    try:
        report = parse.bench_report(read_text(path))
        total = parse.bench_total(report, phase)
        conflicts = parse.bench_conflicts(report, phase)
    except parse.ParseError as error:
        raise Failure(f"{error} in {path}") from None
    if total.count <= 0:
        raise Failure(f"meridian bench ({system} {workload}) completed no operations")
    not_found = parse.jq_text(total.not_found)
    run.recorder.measurement(section, system, workload, round_, total.ops_per_s, total.p50_ms,
                             total.p99_ms, total.errors, os.path.basename(path),
                             f"count={total.count} not_found={not_found} conflicts={conflicts}")
    if not_found != "0":
        log(f"    WARNING: {not_found} reads found no value")
