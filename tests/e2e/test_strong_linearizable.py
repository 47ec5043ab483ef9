"""Strong buckets are linearizable under real network partitions and crashes
(docs/design/strong.md; issue 12), checked by the project's own checker, `meridian lincheck`.

Five `meridian serve` processes (n=3), each listening for peers on its own loopback address
(partition.py), one bucket set to consistency "strong". Client threads run random operations
on a few hot keys through random nodes over HTTP while a nemesis cuts links with iptables
(one node isolated, the cluster split 2|3) and SIGKILLs a node and starts it again on the same
data dir. Every operation goes into a history (sim/linearizability_history_file.h: JSON Lines,
call and return times from time.monotonic_ns()) that `meridian lincheck` must find
linearizable (exit 0).

The operations and how they are modelled (sim/linearizability.h, per-key registers):
  read         GET: 200 -> ok, observed the body; 404 -> ok, observed absent.
  write        PUT of a value unique to the write ("c<client>-<n>").
  delete       DELETE.
  create       PUT with If-None-Match: * -> cas(expected absent, value); 412 -> ok, not swapped.
  read-and-cas GET (recorded as a read), then, only when it saw a value, PUT with If-Match: <the
               GET's context> -> cas(expected <that value>, value). Every written value is
               unique, so "the key's version is the one the GET saw" holds exactly when "the key
               holds the value the GET saw": the value model checks the version condition. Not
               If-Match on a deleted key's context: deletes have versions of their own, and the
               model cannot tell one absence from another.
Outcomes: a 400 (or any status the API does not give these requests) fails the test; a 503,
another 5xx, a client timeout or a broken connection is "unknown" for a write, delete or cas
(it may or may not have been applied; only a refused connect proves it was not, "failed") and
"failed" for a read (a read changes nothing).

  test_history_under_partitions_is_linearizable: the run above, ~28 s of load; lincheck exits
    0, the history has enough successful operations, compare-and-sets and operations inside
    partitions not to pass vacuously, and after the heal every node reads the same value of
    every key (those final reads are in the history too).
  test_membership_changes_under_load_stay_linearizable: four nodes under the same load; a
    fifth joins, node2 leaves, node3 is killed and removed, so the hot keys' acceptors move
    (the partitions' configurations, docs/design/strong.md "Membership changes"); lincheck
    exits 0, moves happened, a write of every key through every remaining node succeeds and the
    final reads agree.
  test_lincheck_flags_a_tampered_history (the control): a short sequential history recorded on
    a healthy 3-node cluster is linearizable; the same history with one read changed to observe
    a value overwritten before the read began is not (exit 1) -- so the check above can fail.

Every loop is bounded in operations and time and every wait has a deadline (cluster_util.poll);
partitions are lifted (conftest.py's `partitioner`) and every process is stopped
(cluster_util.running_cluster) at teardown, also after a failure. Skipped without root or
iptables.
"""
import itertools
import json
import random
import subprocess
import threading
import time
from urllib.parse import quote

import pytest
import requests

import partition
from cluster_util import (cluster_settled, make_strong, members_by_id, new_session, poll,
                          running_cluster)
from conftest import meridian_bin

NODE_IDS = ["node%d" % i for i in range(1, 6)]
SMALL_IDS = ["node1", "node2", "node3"]
PARTITIONS = 64  # fewer than the default 256: a faster join, the same placement rules
BUCKET = "lin"
KEYS = ["lin-%d" % i for i in range(4)]
FORM_DEADLINE_S = 45
BUCKET_DEADLINE_S = 30
# Request deadlines well below the client's, so that a node that cannot reach a quorum usually
# answers 503 itself and a client rarely has to give up on it.
NODE_ARGS = ["--partition-count", str(PARTITIONS), "--coordinator-timeout-ms", "1500",
             "--forward-timeout-ms", "2000"]
REQUEST_TIMEOUT_S = 3  # per request of a client: a partitioned node never stalls one for long
CLIENTS = 6
LOAD_S = 28  # the clients' run; the nemesis starts no fault in its last FAULT_S
OPS_PER_CLIENT_MAX = 3000
FAULT_S = 4  # a partition or a node's downtime is held this long (the experiment's parameter)
HEAL_S = 2.5  # healthy time between two faults
PAUSE_AFTER_CONNECT_ERROR_S = 0.05  # a client does not spin on a node that is down
FINAL_READ_DEADLINE_S = 30
LINCHECK_TIMEOUT_S = 120
# Not vacuous: the run must produce at least this much.
OK_OPS_MIN = 100
CAS_SWAPPED_MIN = 10
OK_OPS_IN_PARTITIONS_MIN = 10


# --- the history ---------------------------------------------------------------------------

class History:
    """Operations of a run, in the format of sim/linearizability_history_file.h, plus what the
    clients saw that no correct node may answer (`problems`). Thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.ids = itertools.count(1)
        self.problems = []  # (client, request, status or error, body)
        self.errors = {}  # answers other than 2xx/404/412 by status or exception: count

    def note_error(self, what):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def add(self, **fields):
        with self.lock:
            fields["id"] = next(self.ids)
            self.ops.append(fields)
        return fields

    def problem(self, *what):
        with self.lock:
            self.problems.append(what)

    def write(self, path):
        with self.lock:
            lines = [json.dumps(op, sort_keys=True) for op in self.ops]
        with open(path, "w") as out:
            out.write("\n".join(lines) + "\n")
        return path

    def summary(self):
        with self.lock:
            ops = list(self.ops)
        counts = {}
        for op in ops:
            name = "%s/%s" % (op["op"], op["outcome"])
            counts[name] = counts.get(name, 0) + 1
        return counts


def refused(error):
    """Whether a request error proves the request never reached the server: the connection
    was refused or could not be made (the node is down), so nothing can have been applied."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    return (isinstance(error, requests.ConnectionError)
            and "NewConnectionError" in repr(error))


class Client:
    """One client of the history: issues operations through nodes and records each one."""

    def __init__(self, index, history):
        self.index = index
        self.history = history
        self.sessions = {}
        self.written = itertools.count(1)
        self.last_error_refused = False

    def _send(self, node, method, key, value=None, headers=None):
        """(call_ns, return_ns, response or None, error or None)."""
        session = self.sessions.setdefault(node.name, new_session())
        url = "%s/v1/kv/%s/%s" % (node.http_url, BUCKET, quote(key, safe=""))
        call = time.monotonic_ns()
        try:
            response = session.request(method, url, data=value, headers=headers,
                                       timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as error:
            self.last_error_refused = refused(error)
            self.history.note_error("refused" if self.last_error_refused
                                    else type(error).__name__)
            # A broken connection is not reused.
            self.sessions.pop(node.name, None)
            return call, time.monotonic_ns(), None, error
        self.last_error_refused = False
        returned = time.monotonic_ns()
        if response.status_code not in (200, 204, 404, 412):
            self.history.note_error(response.status_code)
        return call, returned, response, None

    def _unexpected(self, node, what, response, error):
        self.history.problem(self.index, "%s through %s" % (what, node.name),
                             response.status_code if response is not None else repr(error),
                             response.text[:300] if response is not None else "")

    def read(self, node, key):
        """GET: the recorded operation and the context it returned (None unless a value)."""
        call, returned, response, error = self._send(node, "GET", key)
        fields = dict(client=self.index, key=key, op="read", call=call)
        status = response.status_code if response is not None else None
        if status == 200:
            context = response.headers.get("X-Meridian-Context", "")
            if not context.startswith("s."):
                self._unexpected(node, "GET %s (context %r)" % (key, context), response, None)
            try:
                observed = response.content.decode()
            except UnicodeDecodeError:
                self._unexpected(node, "GET %s (not a value of this test)" % key, response, None)
                observed = response.content.decode(errors="replace")
            return self.history.add(outcome="ok", observed=observed, **{"return": returned},
                                    **fields), context
        if status == 404:
            return self.history.add(outcome="ok", observed=None, **{"return": returned},
                                    **fields), None
        if status is not None and status < 500:
            self._unexpected(node, "GET %s" % key, response, error)
        return self.history.add(outcome="failed", **{"return": returned}, **fields), None

    def _change(self, node, method, key, fields, value=None, headers=None, cas=False):
        call, returned, response, error = self._send(
            node, method, key, value=value.encode() if value is not None else None,
            headers=headers)
        fields = dict(fields, client=self.index, key=key, call=call)
        status = response.status_code if response is not None else None
        if status is not None and 200 <= status < 300:
            if cas:
                fields["succeeded"] = True
            return self.history.add(outcome="ok", **{"return": returned}, **fields)
        if status == 412 and cas:
            return self.history.add(outcome="ok", succeeded=False, **{"return": returned},
                                    **fields)
        if status is None and self.last_error_refused:
            return self.history.add(outcome="failed", **{"return": returned}, **fields)
        if status is not None and status < 500:  # a 400 or anything else: a bug
            self._unexpected(node, "%s %s %s" % (method, key, headers or ""), response, error)
        return self.history.add(outcome="unknown", **{"return": None}, **fields)

    def new_value(self):
        return "c%d-%d" % (self.index, next(self.written))

    def write(self, node, key):
        value = self.new_value()
        return self._change(node, "PUT", key, dict(op="write", value=value), value=value)

    def delete(self, node, key):
        return self._change(node, "DELETE", key, dict(op="delete"))

    def create(self, node, key):
        value = self.new_value()
        return self._change(node, "PUT", key, dict(op="cas", expected=None, value=value),
                            value=value, headers={"If-None-Match": "*"}, cas=True)

    def read_and_cas(self, node_for_read, node_for_cas, key):
        """GET, then If-Match on its context when it saw a value. Returns the cas or None."""
        read, context = self.read(node_for_read, key)
        if read["outcome"] != "ok" or read["observed"] is None or not context:
            return None
        value = self.new_value()
        return self._change(node_for_cas, "PUT", key,
                            dict(op="cas", expected=read["observed"], value=value), value=value,
                            headers={"If-Match": context}, cas=True)


def run_lincheck(path):
    """(exit code, output) of `meridian lincheck path`."""
    result = subprocess.run([meridian_bin(), "lincheck", str(path)], capture_output=True,
                            text=True, timeout=LINCHECK_TIMEOUT_S)
    return result.returncode, (result.stdout + result.stderr).strip()


# --- the cluster ---------------------------------------------------------------------------

@pytest.fixture
def cluster(request):
    """Five nodes, each listening for peers on its own loopback address, formed, settled and
    with BUCKET strong everywhere; stopped at teardown (logs printed on failure)."""
    with running_cluster(request, "e2e-lin-%d" % time.monotonic_ns(), NODE_IDS, FORM_DEADLINE_S,
                         extra_args=NODE_ARGS, peer_hosts=partition.loopback_hosts()) as made:
        nodes = [made[name] for name in NODE_IDS]
        hosts = [partition.host_of(node.peer_address) for node in nodes]
        assert len(set(hosts)) == len(nodes) and "127.0.0.1" not in hosts, hosts
        make_strong(nodes, BUCKET, BUCKET_DEADLINE_S)
        yield nodes


@pytest.fixture
def small_cluster(request):
    """Three nodes on 127.0.0.1 (no partitions), BUCKET strong everywhere."""
    with running_cluster(request, "e2e-lin-small-%d" % time.monotonic_ns(), SMALL_IDS,
                         FORM_DEADLINE_S, extra_args=NODE_ARGS) as made:
        nodes = [made[name] for name in SMALL_IDS]
        make_strong(nodes, BUCKET, BUCKET_DEADLINE_S)
        yield nodes


def primaries(node, key):
    location = node.get_json("/v1/cluster/locate/%s/%s" % (BUCKET, quote(key, safe="")))
    return list(location["primaries"])


# --- the nemesis ---------------------------------------------------------------------------

class Nemesis:
    """A thread that, until its deadline, cycles through: isolate a node, heal, split 2|3, heal,
    SIGKILL a node and start it again, heal. The victims are primaries of the hot keys (a key's
    first primary coordinates its writes), a different key each time. Records each fault's
    interval; always heals and restarts what it killed before it ends."""

    def __init__(self, nodes, partitioner, key_primaries, deadline):
        self.nodes = {node.name: node for node in nodes}
        self.hosts = {node.name: partition.host_of(node.peer_address) for node in nodes}
        self.partitioner = partitioner
        self.key_primaries = key_primaries  # [[node names] per key of KEYS]
        self.deadline = deadline  # monotonic seconds: no fault starts after deadline - FAULT_S
        self.stop_event = threading.Event()
        self.faults = []  # (kind, description, start_ns, end_ns)
        self.errors = []
        self.thread = threading.Thread(target=self._run, name="nemesis", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self, join_timeout_s=60):
        self.stop_event.set()
        self.thread.join(timeout=join_timeout_s)
        if self.thread.is_alive():
            self.errors.append("the nemesis did not stop within %ss" % join_timeout_s)

    def _hold(self, seconds):
        self.stop_event.wait(max(0.0, min(seconds, self.deadline - time.monotonic())))

    def _time_left(self):
        return not self.stop_event.is_set() and time.monotonic() + FAULT_S <= self.deadline

    def _isolate(self, round_):
        victim = self.key_primaries[round_ % len(KEYS)][0]
        start = time.monotonic_ns()
        self.partitioner.isolate(self.hosts[victim], list(self.hosts.values()))
        self._hold(FAULT_S)
        self.partitioner.heal()
        self.faults.append(("partition", "%s isolated" % victim, start, time.monotonic_ns()))

    def _split(self, round_):
        # The first two primaries of a key on the small side: that key is served there only.
        minority = self.key_primaries[(round_ + 1) % len(KEYS)][:2]
        majority = [name for name in self.hosts if name not in minority]
        start = time.monotonic_ns()
        self.partitioner.partition([self.hosts[n] for n in minority],
                                   [self.hosts[n] for n in majority])
        self._hold(FAULT_S)
        self.partitioner.heal()
        self.faults.append(("partition", "%s | %s" % (minority, majority), start,
                            time.monotonic_ns()))

    def _kill(self, round_):
        victim = self.nodes[self.key_primaries[(round_ + 2) % len(KEYS)][0]]
        start = time.monotonic_ns()
        victim.kill()
        self._hold(FAULT_S)
        victim.restart()
        self.faults.append(("crash", "%s SIGKILLed, restarted" % victim.name, start,
                            time.monotonic_ns()))

    def _run(self):
        try:
            for round_ in range(10):
                for fault in (self._isolate, self._split, self._kill):
                    self._hold(HEAL_S)
                    if not self._time_left():
                        return
                    fault(round_)
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.errors.append("nemesis: %r" % (error,))
        finally:
            try:
                self.partitioner.heal()
            except Exception as error:  # noqa: BLE001 - reported by the test
                self.errors.append("heal: %r" % (error,))
            for node in self.nodes.values():
                if not node.running:
                    try:
                        node.restart()
                    except Exception as error:  # noqa: BLE001 - reported by the test
                        self.errors.append("restart of %s: %r" % (node.name, error))


def run_client(client, nodes, deadline, seed):
    """Random operations on KEYS through random nodes until `deadline` or the count bound."""
    rng = random.Random(seed)
    try:
        for _ in range(OPS_PER_CLIENT_MAX):
            if time.monotonic() >= deadline:
                return
            key = rng.choice(KEYS)
            node = rng.choice(nodes)
            roll = rng.random()
            if roll < 0.30:
                client.read(node, key)
            elif roll < 0.50:
                client.write(node, key)
            elif roll < 0.60:
                client.delete(node, key)
            elif roll < 0.72:
                client.create(node, key)
            else:
                client.read_and_cas(node, rng.choice(nodes), key)
            if client.last_error_refused:
                time.sleep(PAUSE_AFTER_CONNECT_ERROR_S)  # the node is down: not a busy loop
    except Exception as error:  # noqa: BLE001 - a crashed client is a failure of the test
        client.history.problem(client.index, "client crashed", repr(error), "")


def final_reads_agree(client, nodes):
    """A poll condition: every key read through every node (recorded) gives the same answer."""
    def condition():
        views = {}
        done = True
        for key in KEYS:
            for node in nodes:
                read, _ = client.read(node, key)
                seen = read["observed"] if read["outcome"] == "ok" else "(failed)"
                views.setdefault(key, {})[node.name] = seen
            answers = set(views[key].values())
            if len(answers) != 1 or "(failed)" in answers:
                done = False
        return done, views
    return condition


def test_history_under_partitions_is_linearizable(cluster, partitioner, tmp_path):
    nodes = cluster
    key_primaries = [primaries(nodes[0], key) for key in KEYS]
    history = History()
    started = time.monotonic()
    deadline = started + LOAD_S
    nemesis = Nemesis(nodes, partitioner, key_primaries, deadline).start()
    clients = [Client(i, history) for i in range(CLIENTS)]
    threads = [threading.Thread(target=run_client, args=(client, nodes, deadline, 1000 + i),
                                name="client-%d" % i, daemon=True)
               for i, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    # A client's last request ends REQUEST_TIMEOUT_S (twice: read-and-cas) after the deadline.
    join_deadline = deadline + 2 * REQUEST_TIMEOUT_S + 30
    for thread in threads:
        thread.join(timeout=max(0.1, join_deadline - time.monotonic()))
    nemesis.stop()  # heals, and restarts a node it killed
    stuck = [thread.name for thread in threads if thread.is_alive()]

    # After the heal: every node answers every key, and they agree (the reads join the history).
    final_reader = Client(CLIENTS, history)
    final_views = None
    final_error = None
    try:
        final_views = poll(final_reads_agree(final_reader, nodes), FINAL_READ_DEADLINE_S,
                           "after the heal, every node reads the same value of every key")
    except AssertionError as error:
        final_error = error

    # The history is written and checked before anything else is asserted: it is the evidence.
    path = history.write(tmp_path / "history.jsonl")
    code, verdict = run_lincheck(path)
    counts = history.summary()
    ok_ops = [op for op in history.ops if op["outcome"] == "ok"]
    swapped = [op for op in ok_ops if op["op"] == "cas" and op["succeeded"]]
    partitions = [(start, end) for kind, _, start, end in nemesis.faults if kind == "partition"]
    in_partitions = [op for op in ok_ops if op["client"] < CLIENTS and any(
        start <= op["call"] and op["return"] <= end for start, end in partitions)]
    unavailable = sum(1 for op in history.ops if op["outcome"] != "ok")
    report = ("%d operations (%d ok, %d successful cas, %d ok inside a partition, %d not ok) in "
              "%.1f s; by op/outcome %s; errors %s; faults: %s; history %s; lincheck exit %d: %s"
              % (len(history.ops), len(ok_ops), len(swapped), len(in_partitions), unavailable,
                 time.monotonic() - started, counts, history.errors,
                 [(kind, what, round((end - start) / 1e9, 1))
                  for kind, what, start, end in nemesis.faults], path, code, verdict))
    print(report)
    assert code == 0, "the history is not linearizable (or lincheck could not decide):\n" + report
    assert not stuck, "client threads did not stop: %s\n%s" % (stuck, report)
    assert not nemesis.errors, "%s\n%s" % (nemesis.errors, report)
    assert not history.problems, "answers no node may give: %s\n%s" % (history.problems[:20],
                                                                       report)
    assert final_error is None, "%s\n%s" % (final_error, report)
    assert len(ok_ops) >= OK_OPS_MIN, report
    assert len(swapped) >= CAS_SWAPPED_MIN, report
    assert len(partitions) >= 2 and any(kind == "crash" for kind, *_ in nemesis.faults), report
    assert len(in_partitions) >= OK_OPS_IN_PARTITIONS_MIN, report
    print("final values: %s" % {key: next(iter(view.values()))
                                for key, view in final_views.items()})


def test_lincheck_flags_a_tampered_history(small_cluster, tmp_path):
    nodes = small_cluster
    history = History()
    client = Client(0, history)
    # Sequential: each operation returns before the next is called, through rotating nodes.
    rotation = itertools.cycle(nodes)
    for key in ("t-0", "t-1"):
        for _ in range(4):
            client.write(next(rotation), key)
            client.read(next(rotation), key)
        client.create(next(rotation), key)  # refused: the key exists
        client.read_and_cas(next(rotation), next(rotation), key)
        client.read(next(rotation), key)
        client.delete(next(rotation), key)
        client.read(next(rotation), key)
        client.create(next(rotation), key)
        client.read(next(rotation), key)
    assert not history.problems, history.problems
    not_ok = [op for op in history.ops if op["outcome"] != "ok"]
    assert not not_ok, "a healthy cluster failed operations: %s" % not_ok
    swaps = [op["succeeded"] for op in history.ops if op["op"] == "cas"]
    assert swaps == [False, True, True] * 2, swaps

    code, verdict = run_lincheck(history.write(tmp_path / "recorded.jsonl"))
    assert code == 0, verdict

    # A read of t-0 that began after a later write of t-0 had returned now claims to have seen
    # the first write's value: a stale read, which no linearization allows (values are unique).
    ops = history.ops
    first = next(op for op in ops if op["key"] == "t-0" and op["op"] == "write")
    later = next(op for op in ops if op["key"] == "t-0" and op["op"] == "write"
                 and op["call"] > first["return"])
    stale = next(op for op in ops if op["key"] == "t-0" and op["op"] == "read"
                 and op["call"] > later["return"] and op["observed"] is not None)
    assert stale["observed"] != first["value"], stale
    stale["observed"] = first["value"]
    code, verdict = run_lincheck(history.write(tmp_path / "tampered.jsonl"))
    assert code == 1, "lincheck exit %d for a stale read: %s" % (code, verdict)
    assert "t-0" in verdict, verdict
    print("tampered history: %s" % verdict)


# --- membership changes under load ---------------------------------------------------------

MEMBERSHIP_IDS = ["node1", "node2", "node3", "node4"]
JOIN_AT_S = 4
LEAVE_AT_S = 11
REMOVE_AT_S = 17
MEMBERSHIP_LOAD_S = 26
SETTLE_DEADLINE_S = 60


@pytest.fixture
def four_nodes(request):
    """Four nodes on their own loopback addresses, BUCKET strong everywhere; the Cluster is
    yielded so that the test can start a fifth."""
    with running_cluster(request, "e2e-lin-members-%d" % time.monotonic_ns(), MEMBERSHIP_IDS,
                         FORM_DEADLINE_S, extra_args=NODE_ARGS,
                         peer_hosts=partition.loopback_hosts()) as made:
        make_strong([made[name] for name in MEMBERSHIP_IDS], BUCKET, BUCKET_DEADLINE_S)
        yield made


def strong_moves(nodes):
    total = 0
    for node in nodes:
        total += node.metrics().get('meridian_strong_moves_total{outcome="succeeded"}', 0)
    return total


def test_membership_changes_under_load_stay_linearizable(four_nodes, tmp_path):
    cluster = four_nodes
    first = cluster["node1"]
    # Clients use the nodes that stay; the joiner once it knows the bucket is strong (a node
    # serves a bucket it has not heard of as eventual: docs/api.md).
    targets = [cluster[name] for name in ("node1", "node3", "node4")]
    moves_before = strong_moves([cluster[name] for name in MEMBERSHIP_IDS])
    history = History()
    started = time.monotonic()
    deadline = started + MEMBERSHIP_LOAD_S
    clients = [Client(i, history) for i in range(CLIENTS)]
    threads = [threading.Thread(target=run_client, args=(client, targets, deadline, 2000 + i),
                                name="client-%d" % i, daemon=True)
               for i, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    events = []
    try:
        time.sleep(JOIN_AT_S)
        joiner = cluster.start_node("node5", seeds=[first.peer_address])
        events.append(("join", round(time.monotonic() - started, 1)))

        def knows_strong():
            props = joiner.get_json("/v1/buckets/" + BUCKET)["props"]
            return props["consistency"] == "strong", props
        poll(knows_strong, BUCKET_DEADLINE_S, "node5 knows bucket %s is strong" % BUCKET)
        targets.append(joiner)
        time.sleep(max(0.0, started + LEAVE_AT_S - time.monotonic()))
        response = first.post_json("/v1/cluster/leave", {"node": "node2"})
        assert 200 <= response.status_code < 300, (response.status_code, response.text)
        events.append(("leave node2", round(time.monotonic() - started, 1)))
        # A crash and a remove: node3 is killed (clients stop using it first) and removed at
        # once, so the partitions it was a member of move without it.
        time.sleep(max(0.0, started + REMOVE_AT_S - time.monotonic()))
        victim = cluster["node3"]
        targets.remove(victim)
        victim.kill()
        response = first.post_json("/v1/cluster/remove", {"node": "node3"})
        assert 200 <= response.status_code < 300, (response.status_code, response.text)
        events.append(("kill and remove node3", round(time.monotonic() - started, 1)))
    finally:
        join_deadline = deadline + 2 * REQUEST_TIMEOUT_S + 30
        for thread in threads:
            thread.join(timeout=max(0.1, join_deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    remaining = [cluster[name] for name in ("node1", "node4", "node5")]
    poll(cluster_settled(remaining, ["node1", "node4", "node5"]), SETTLE_DEADLINE_S,
         "the cluster settles without node2 and node3")

    def both_removed():
        views = [(members_by_id(node.status()).get("node2", {}).get("status"),
                  members_by_id(node.status()).get("node3", {}).get("status"))
                 for node in remaining]
        return all(view == ("removed", "removed") for view in views), views
    poll(both_removed, SETTLE_DEADLINE_S, "node2 and node3 are removed everywhere")
    # The new membership serves every key: a last round of operations, all through it.
    tail = Client(CLIENTS + 1, history)
    for key in KEYS:
        for node in remaining:
            tail.write(node, key)
    final_reader = Client(CLIENTS, history)
    final_error = None
    try:
        poll(final_reads_agree(final_reader, remaining), FINAL_READ_DEADLINE_S,
             "after the changes, every node reads the same value of every key")
    except AssertionError as error:
        final_error = error
    moves = strong_moves(remaining) - moves_before

    path = history.write(tmp_path / "history.jsonl")
    code, verdict = run_lincheck(path)
    ok_ops = [op for op in history.ops if op["outcome"] == "ok"]
    tail_ops = [op for op in history.ops if op["client"] == CLIENTS + 1]
    report = ("%d operations (%d ok) in %.1f s; by op/outcome %s; errors %s; events %s; "
              "moves %d; history %s; lincheck exit %d: %s"
              % (len(history.ops), len(ok_ops), time.monotonic() - started, history.summary(),
                 history.errors, events, moves, path, code, verdict))
    print(report)
    assert code == 0, "the history is not linearizable (or lincheck could not decide):\n" + report
    assert not stuck, "client threads did not stop: %s\n%s" % (stuck, report)
    assert not history.problems, "answers no node may give: %s\n%s" % (history.problems[:20],
                                                                       report)
    assert final_error is None, "%s\n%s" % (final_error, report)
    assert len(ok_ops) >= OK_OPS_MIN, report
    assert all(op["outcome"] == "ok" for op in tail_ops), report
    # Partitions' configurations moved to the joiner and away from the leaver.
    assert moves > 0, report
