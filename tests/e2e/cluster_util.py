"""Helpers for multi-process cluster tests: a Cluster of real `meridian serve` processes on
loopback (each with its own temp work dir, HTTP port and peer port), JSON views of the cluster
endpoints, bounded polling, and a load generator that records every failed request.

Cluster endpoints used (docs/api.md contract): GET /v1/cluster/status, GET /v1/cluster/ring
?partitions=true, POST /v1/cluster/leave|remove|join.

Every wait has a deadline. Cluster.stop_all() sends SIGTERM to every process it started,
waits up to a shared deadline, then SIGKILLs whatever is left; it never raises, so it is safe
in a fixture teardown after a failure. running_cluster() and finish_clusters() are the fixtures'
shared start and teardown: stop every process, print the node logs when the test failed, remove
the work dirs unless MERIDIAN_E2E_KEEP=1 asks to keep those of a failed test.
"""
import contextlib
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from urllib.parse import quote

import requests

from conftest import Server, peer_tls_args, setup_or_call_failed

GOSSIP_INTERVAL_MS = 200
REQUEST_TIMEOUT_S = 10
STOP_ALL_DEADLINE_S = 20
LOG_TAIL_LINES = 150


def new_session():
    """A requests session that ignores the environment (a proxy variable would divert
    loopback traffic)."""
    session = requests.Session()
    session.trust_env = False
    return session


class ClusterNode(Server):
    """One `meridian serve --peer ...` process. Remembers its ready line and the bound peer
    address; `restart()` starts it again on the same data dir and the same peer port."""

    def __init__(self, work_dir, name, args):
        super().__init__(work_dir, args)
        self.name = name
        self.ready_line = None
        self.peer_address = None
        self.session = new_session()

    def _read_ready_line(self):
        line = super()._read_ready_line()
        self.ready_line = line
        fields = dict(part.split("=", 1) for part in line.split()[2:] if "=" in part)
        assert "peer" in fields, "ready line without peer=: %r" % line
        self.peer_address = fields["peer"]
        assert not self.peer_address.endswith(":0"), line
        return line

    def start(self):
        super().start()
        self.session = new_session()
        return self

    def restart(self):
        """Starts again on the same data dir, binding the peer port it had before (a restarted
        node keeps its address, as in a real deployment)."""
        assert self.process is None or self.process.poll() is not None, "still running"
        args = list(self.args)
        index = args.index("--peer")
        args[index + 1] = self.peer_address
        self.args = args
        return self.start()

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    # --- HTTP -------------------------------------------------------------------------------

    def kv_url(self, key, bucket="default"):
        return "%s/v1/kv/%s/%s" % (self.http_url, bucket, quote(key, safe=""))

    def get_json(self, path, session=None):
        response = (session or self.session).get(self.http_url + path, timeout=REQUEST_TIMEOUT_S)
        if response.status_code != 200:
            raise AssertionError("GET %s on %s -> %d %s" % (path, self.name, response.status_code,
                                                            response.text[:500]))
        return response.json()

    def status(self, session=None):
        return self.get_json("/v1/cluster/status", session)

    def ring(self, session=None):
        return self.get_json("/v1/cluster/ring?partitions=true", session)

    def post_json(self, path, body):
        return self.session.post(self.http_url + path, json=body, timeout=REQUEST_TIMEOUT_S)

    def put(self, key, value, session=None, durable=True):
        return (session or self.session).put(self.kv_url(key) + ("?dw=1" if durable else ""),
                                             data=value, timeout=REQUEST_TIMEOUT_S)

    def get(self, key, session=None):
        return (session or self.session).get(self.kv_url(key), timeout=REQUEST_TIMEOUT_S)

    def kv(self, method, key, params=None, data=None, headers=None, session=None,
           bucket="default"):
        """One object request with query parameters (e.g. {"w": 2, "pw": 2}) and headers."""
        return (session or self.session).request(
            method, self.kv_url(key, bucket), params=params, data=data, headers=headers,
            timeout=REQUEST_TIMEOUT_S)

    def metrics(self, session=None):
        """GET /metrics parsed into {series (with its labels, as written): float}."""
        response = (session or self.session).get(self.http_url + "/metrics",
                                                 timeout=REQUEST_TIMEOUT_S)
        if response.status_code != 200:
            raise AssertionError("GET /metrics on %s -> %d" % (self.name, response.status_code))
        return parse_metrics(response.text)

    def log_tail(self, lines=LOG_TAIL_LINES):
        text = self.log().splitlines()
        return "\n".join(text[-lines:])


class Cluster:
    """Nodes of one cluster, all on loopback. Node 1 bootstraps (--peer HOST:0); later nodes
    join through node 1's bound peer address with --seeds. Peers listen on 127.0.0.1, or each on
    the next host of `peer_hosts` (an iterator, e.g. partition.loopback_hosts(), so that nodes
    can be partitioned from each other by address)."""

    def __init__(self, cluster_name, gossip_interval_ms=GOSSIP_INTERVAL_MS, extra_args=(),
                 peer_hosts=None, binary=None):
        self.cluster_name = cluster_name
        self.binary = binary  # the `meridian` its nodes start with; None: $MERIDIAN_BIN
        self.gossip_interval_ms = gossip_interval_ms
        self.extra_args = list(extra_args)
        self.peer_hosts = peer_hosts
        self.nodes = {}  # name -> ClusterNode, in start order
        self.work_dirs = []

    def start_node(self, name, seeds=None, extra_args=()):
        work_dir = tempfile.mkdtemp(prefix="meridian-cluster-%s-" % name)
        self.work_dirs.append(work_dir)
        host = next(self.peer_hosts) if self.peer_hosts is not None else "127.0.0.1"
        args = ["--peer", "%s:0" % host, "--name", name, "--cluster-name", self.cluster_name,
                "--gossip-interval-ms", str(self.gossip_interval_ms)]
        if seeds:
            args += ["--seeds", ",".join(seeds)]
        args += self.extra_args + list(extra_args)
        if "--peer-security" not in args and "--peer-tls-ca" not in args:
            args += peer_tls_args(name)
        node = ClusterNode(work_dir, name, args)
        node.binary = self.binary
        self.nodes[name] = node
        return node.start()

    def start(self, count):
        """Starts node1..node<count>: node1 bootstraps, the others join through it."""
        first = self.start_node("node1")
        for i in range(2, count + 1):
            self.start_node("node%d" % i, seeds=[first.peer_address])
        return [self.nodes["node%d" % i] for i in range(1, count + 1)]

    def __getitem__(self, name):
        return self.nodes[name]

    def running(self):
        return [node for node in self.nodes.values() if node.running]

    def stop_all(self):
        """SIGTERM to every running process, then wait (shared deadline), then SIGKILL.
        Returns {name: exit code} of the processes that were running; never raises."""
        codes = {}
        running = [node for node in self.nodes.values() if node.running]
        for node in running:
            try:
                node.process.send_signal(signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + STOP_ALL_DEADLINE_S
        for node in running:
            try:
                codes[node.name] = node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.process.kill()
                try:
                    node.process.wait(timeout=STOP_ALL_DEADLINE_S)
                except subprocess.TimeoutExpired:
                    pass
                codes[node.name] = "SIGKILLed after not stopping within %ds of SIGTERM" % (
                    STOP_ALL_DEADLINE_S)
            try:
                node.process.stdout.close()
            except Exception:  # noqa: BLE001 - teardown must not raise
                pass
        return codes

    def logs(self):
        parts = []
        for node in self.nodes.values():
            parts.append("---- %s (%s, peer %s) last %d log lines ----\n%s" % (
                node.name, node.work_dir, node.peer_address, LOG_TAIL_LINES, node.log_tail()))
        return "\n".join(parts)

    def remove_work_dirs(self):
        for directory in self.work_dirs:
            shutil.rmtree(directory, ignore_errors=True)


def parse_metrics(text):
    """Prometheus text format -> {series: float}; `series` is the name with its labels as
    written, e.g. 'meridian_hints_pending' or 'meridian_requests_total{op="get",status="200"}'."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        values[series] = float(value)
    return values


def parse_consistency(response):
    """The X-Meridian-Consistency receipt of a response as {field: int}; {} when absent."""
    header = response.headers.get("X-Meridian-Consistency")
    if not header:
        return {}
    receipt = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        receipt[name] = int(value)
    return receipt


def members_alive(observers, ids, alive):
    """A poll condition: every node in `observers` reports each member in `ids` with
    alive == `alive` (its failure detector's opinion)."""
    def condition():
        views = {}
        done = True
        for node in observers:
            members = members_by_id(node.status())
            views[node.name] = {m: (members[m]["alive"], round(members[m]["phi"], 2))
                                for m in ids}
            if any(members[m]["alive"] != alive for m in ids):
                done = False
        return done, views
    return condition


# --- polling -------------------------------------------------------------------------------

def poll(condition, timeout_s, what, interval_s=0.1):
    """Calls condition() -> (done, observation) until done or the deadline; returns the last
    observation, or raises AssertionError naming `what` and the last observation. Connection
    errors and non-200 answers count as "not yet"."""
    deadline = time.monotonic() + timeout_s
    observation = None
    while True:
        try:
            done, observation = condition()
        except (requests.RequestException, ValueError, KeyError, AssertionError) as error:
            done, observation = False, "error: %r" % (error,)
        if done:
            return observation
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not reached within %ss; last observation:\n%s"
                                 % (what, timeout_s, observation))
        time.sleep(interval_s)  # polling interval, bounded by the deadline


def make_strong(nodes, bucket, deadline_s=30):
    """Sets `bucket` strong through the first node and waits until every node knows it (until
    then a node answers 503: the bucket is sealed there, docs/api.md)."""
    response = nodes[0].session.put(nodes[0].http_url + "/v1/buckets/" + bucket,
                                    json={"consistency": "strong"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["props"]["consistency"] == "strong", response.text

    def everywhere():
        for node in nodes:
            props = node.get_json("/v1/buckets/" + bucket)["props"]
            if props["consistency"] != "strong":
                return False, "%s still says %s" % (node.name, props["consistency"])
        return True, "all strong"

    poll(everywhere, deadline_s, "every node knows bucket %s is strong" % bucket)


def members_by_id(status):
    return {member["id"]: member for member in status["members"]}


def summarize_status(name, status):
    members = ", ".join("%s:%s/%s/inc%s/own%s/in%s" % (
        m["id"], m["status"], "alive" if m["alive"] else "DEAD", m["incarnation"],
        m["partitions_owned"], m["partitions_incoming"]) for m in status["members"])
    return "%s: ring_version=%s claimant=%s [%s]" % (name, status["ring_version"],
                                                     status["claimant"], members)


def ring_problems(ring):
    """Partitions without an owner and partitions with a pending owner."""
    unowned = [p["partition"] for p in ring["partitions"] if not p["owner"]]
    pending = [(p["partition"], p["owner"], p["pending_owner"]) for p in ring["partitions"]
               if p["pending_owner"]]
    return unowned, pending


def cluster_settled(nodes, expected_ids, require_all_alive=True):
    """A poll condition: every node in `nodes` lists exactly `expected_ids` as "up" members
    (others may be listed as "removed"), considers them alive, all agree on ring_version, every
    expected member owns partitions, and every node's ring has an owner for each partition and
    no pending owner."""
    def condition():
        lines, versions, claimants = [], set(), set()
        done = True
        for node in nodes:
            status = node.status()
            lines.append(summarize_status(node.name, status))
            members = members_by_id(status)
            up = {m for m, v in members.items() if v["status"] == "up"}
            others = {v["status"] for m, v in members.items() if m not in expected_ids}
            if up != set(expected_ids) or not others <= {"removed"}:
                done = False
            if require_all_alive and not all(members[m]["alive"] for m in up):
                done = False
            if any(members[m]["partitions_owned"] == 0 for m in up):
                done = False
            versions.add(status["ring_version"])
            claimants.add(status["claimant"])
            ring = node.ring()
            unowned, pending = ring_problems(ring)
            if unowned or pending or len(ring["partitions"]) != ring["partition_count"]:
                done = False
                lines.append("  %s ring v%s: %d unowned, %d pending e.g. %s" % (
                    node.name, ring["version"], len(unowned), len(pending), pending[:3]))
            versions.add(ring["version"])
        if len(versions) != 1 or len(claimants) != 1:
            done = False
        return done, "\n".join(lines)
    return condition


# --- load ----------------------------------------------------------------------------------

def value_of(key):
    return ("value-of-%s-" % key).encode() + bytes(range(256))[: len(key) * 7 % 256]


class Load:
    """A thread that, until stopped or its bounds run out, PUTs unique keys (?dw=1) through
    random nodes of `pool` and GETs random acknowledged keys through random nodes. Every
    non-success (status, body, exception, wrong value) is recorded in `failures`."""

    def __init__(self, pool, prefix, ops_max, seconds_max, seed=1):
        self.pool = list(pool)
        self.prefix = prefix
        self.ops_max = ops_max
        self.seconds_max = seconds_max
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.acknowledged = {}  # key -> value, in write order
        self.failures = []  # (elapsed_s, op, node, key, status or exception, body)
        self.reads_ok = 0
        self.phase = "before"
        self.phase_of_key = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="load-" + prefix, daemon=True)
        self.started_at = None

    def add_node(self, node):
        with self.lock:
            self.pool.append(node)

    def set_phase(self, phase):
        with self.lock:
            self.phase = phase

    def start(self):
        self.started_at = time.monotonic()
        self.thread.start()
        return self

    def stop(self, join_timeout_s=30):
        self.stop_event.set()
        self.thread.join(timeout=join_timeout_s)
        assert not self.thread.is_alive(), "the load thread did not stop"

    def counts(self):
        with self.lock:
            return len(self.acknowledged), len(self.failures), self.reads_ok

    def _fail(self, op, node, key, outcome, body):
        with self.lock:
            self.failures.append((round(time.monotonic() - self.started_at, 3), op, node.name,
                                  key, outcome, body))

    def _run(self):
        try:
            self._run_bounded()
        except Exception as error:  # noqa: BLE001 - a crash of the load is a recorded failure
            with self.lock:
                self.failures.append((round(time.monotonic() - self.started_at, 3), "LOAD",
                                      "-", "-", "load thread crashed: %r" % (error,), b""))

    def _run_bounded(self):
        sessions = {}
        deadline = self.started_at + self.seconds_max
        for i in range(self.ops_max):
            if self.stop_event.is_set() or time.monotonic() > deadline:
                return
            with self.lock:
                pool = list(self.pool)
                phase = self.phase
                keys = list(self.acknowledged) if i % 2 else None
            node = self.random.choice(pool)
            session = sessions.setdefault(node.name, new_session())
            if keys:  # a read of an acknowledged key
                key = self.random.choice(keys)
                try:
                    response = node.get(key, session=session)
                except requests.RequestException as error:
                    self._fail("GET", node, key, repr(error), b"")
                    continue
                if response.status_code != 200 or response.content != value_of(key):
                    self._fail("GET", node, key, response.status_code, response.content[:300])
                else:
                    with self.lock:
                        self.reads_ok += 1
                continue
            key = "%s-%06d" % (self.prefix, i)
            try:
                response = node.put(key, value_of(key), session=session)
            except requests.RequestException as error:
                self._fail("PUT", node, key, repr(error), b"")
                continue
            if response.status_code != 204:
                self._fail("PUT", node, key, response.status_code, response.content[:300])
                continue
            with self.lock:
                self.acknowledged[key] = value_of(key)
                self.phase_of_key[key] = phase


def read_everywhere(nodes, expected, max_reported=10):
    """GETs every key in `expected` through every node; returns a list of problems
    (node, key, status, body) -- empty when every read returned 200 with the right value."""
    problems = []
    for node in nodes:
        session = new_session()
        for key, value in expected.items():
            try:
                response = node.get(key, session=session)
            except requests.RequestException as error:
                problems.append((node.name, key, repr(error), b""))
                continue
            if response.status_code != 200 or response.content != value:
                problems.append((node.name, key, response.status_code, response.content[:200]))
    return problems


def describe_problems(problems, total, max_reported=10):
    by_node = {}
    for problem in problems:
        by_node[problem[0]] = by_node.get(problem[0], 0) + 1
    return "%d failed reads of %d keys (per node: %s); first ones:\n%s" % (
        len(problems), total, by_node, "\n".join(repr(p) for p in problems[:max_reported]))


def write_keys(nodes, prefix, count):
    """PUTs `count` unique keys with ?dw=1, round-robin through `nodes`; every PUT must be
    acknowledged with 204. Returns {key: value}."""
    written = {}
    sessions = [new_session() for _ in nodes]
    for i in range(count):
        key = "%s-%05d" % (prefix, i)
        node = nodes[i % len(nodes)]
        response = node.put(key, value_of(key), session=sessions[i % len(nodes)])
        assert response.status_code == 204, "PUT %s through %s -> %d %s" % (
            key, node.name, response.status_code, response.text[:300])
        assert response.headers.get("X-Meridian-Durable") == "true", response.headers
        written[key] = value_of(key)
    return written


def keep_dirs():
    return os.environ.get("MERIDIAN_E2E_KEEP") == "1"


# --- fixtures: start and teardown ----------------------------------------------------------

def finish_clusters(request, clusters, require_clean_stop=False, failed=False):
    """The teardown of the clusters a fixture started, in order: stops every process of each
    (Cluster.stop_all: SIGTERM, SIGKILL after a deadline), prints each one's node logs if the
    test failed (conftest.setup_or_call_failed, or failed=True from a caller that knows better),
    and removes its work dirs unless the test failed and MERIDIAN_E2E_KEEP=1 (keep_dirs()).
    Every cluster is stopped even if an earlier one had trouble.

    With require_clean_stop, a node that does not exit 0 on SIGTERM also prints the logs (of its
    cluster and of every later one), and fails the test at teardown (AssertionError after all are
    stopped) unless it had failed already."""
    failed = failed or setup_or_call_failed(request)
    unclean = {}  # node name -> exit code (or why it was SIGKILLed)
    for cluster in clusters:
        codes = cluster.stop_all()
        if require_clean_stop:
            unclean.update({name: code for name, code in codes.items() if code != 0})
        if failed or unclean:
            print(cluster.logs())
        if not (failed and keep_dirs()):
            cluster.remove_work_dirs()
    assert failed or not unclean, "nodes did not stop cleanly on SIGTERM: %s" % unclean


@contextlib.contextmanager
def running_cluster(request, name, node_ids, form_deadline_s, extra_args=(), peer_hosts=None,
                    what=None, require_clean_stop=False):
    """For a fixture: `with running_cluster(request, ...) as cluster: yield cluster`.

    Starts Cluster(name, extra_args=extra_args, peer_hosts=peer_hosts) with len(node_ids) nodes
    (node1 bootstraps, the others join through it), polls cluster_settled(nodes, node_ids) for up
    to form_deadline_s (`what` names the wait in a failure; default "<n>-node cluster forms"),
    and yields the Cluster. On leaving, also when starting or forming failed:
    finish_clusters(request, [cluster], require_clean_stop). An exception out of the with-block
    before the fixture's yield (the cluster did not form, a check of the fixture failed) counts
    as a failure: pytest records the setup's failure only after the fixture's teardown ran."""
    cluster = Cluster(name, extra_args=extra_args, peer_hosts=peer_hosts)
    failed = False
    try:
        nodes = cluster.start(len(node_ids))
        poll(cluster_settled(nodes, node_ids), form_deadline_s,
             what or "%d-node cluster forms" % len(node_ids))
        yield cluster
    except Exception:
        failed = True
        raise
    finally:
        finish_clusters(request, [cluster], require_clean_stop, failed=failed)
