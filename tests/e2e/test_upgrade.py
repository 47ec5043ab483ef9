"""A rolling upgrade under load (docs/operations.md, "Upgrades"): three nodes of the previous
release (RELEASES; built from git history by scripts/build-previous-release, or
$MERIDIAN_PREVIOUS_BIN) form a cluster with mutual TLS between them, as every cluster of these
tests does; clients write unique keys and read acknowledged ones through the nodes "in rotation"
(a load balancer's pool). One node at a time is taken out of rotation, drained of its in-flight
requests, stopped with SIGTERM and started again with this build ($MERIDIAN_BIN) on the same data
directory and flags; once it is ready and sees the others alive it goes back into rotation, and
the load runs on in the mixed cluster. Every request must succeed, every acknowledged write must
be readable with r=all through every node afterwards, and the cluster status must show the
releases: mixed while upgrading, the new one everywhere at the end.

Every wait is bounded: poll() with a deadline, the load by its own deadline and op count.
"""
import os
import random
import subprocess
import threading
import time

import pytest
import requests

from cluster_util import (Cluster, cluster_settled, finish_clusters, members_alive, members_by_id,
                          new_session, poll, value_of)
from conftest import meridian_bin

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODE_IDS = ["node1", "node2", "node3"]
# The first run on a machine compiles the previous release (mostly ccache hits when a checkout of
# it was built here before); later runs find it in ~/.cache/meridian/releases at once.
BUILD_DEADLINE_S = 1500
FORM_DEADLINE_S = 60
READY_DEADLINE_S = 60
DETECT_DEADLINE_S = 30   # the others' failure detectors see a stopped node down
HINTS_DEADLINE_S = 60
DRAIN_DEADLINE_S = 30
MIXED_OPS = 150          # successful requests through an upgraded node before the next step
MIXED_DEADLINE_S = 60
WORKERS = 4
WORKER_OPS_PER_S = 25    # pacing: keeps the number of keys to verify at the end modest
LOAD_DEADLINE_S = 600
REQUEST_TIMEOUT_S = 10


def previous_release_binary():
    """The previous release's binary: $MERIDIAN_PREVIOUS_BIN, or built (once per machine) by
    scripts/build-previous-release. Fails the test, with the build's output, if neither works:
    an upgrade test that cannot find the release it upgrades from must not pass silently."""
    path = os.environ.get("MERIDIAN_PREVIOUS_BIN")
    if path:
        if not os.access(path, os.X_OK):
            pytest.fail("MERIDIAN_PREVIOUS_BIN=%s is not an executable" % path)
        return path
    script = os.path.join(REPO, "scripts", "build-previous-release")
    try:
        result = subprocess.run([script], capture_output=True, text=True,
                                timeout=BUILD_DEADLINE_S)
    except subprocess.TimeoutExpired as error:
        pytest.fail("scripts/build-previous-release did not finish within %ds:\n%s"
                    % (BUILD_DEADLINE_S, (error.stderr or b"")[-4000:]))
    if result.returncode != 0:
        pytest.fail("scripts/build-previous-release failed (exit %d); set MERIDIAN_PREVIOUS_BIN "
                    "to a binary of the previous release instead:\n%s"
                    % (result.returncode, result.stderr[-4000:]))
    path = result.stdout.strip().splitlines()[-1]
    assert os.access(path, os.X_OK), (path, result.stderr[-2000:])
    return path


def version_of(binary):
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30,
                            check=True).stdout.strip()
    assert output.startswith("meridian "), output
    return output.split()[1]


def releases():
    """The RELEASES entries: [(version, commit)], oldest first."""
    entries = []
    with open(os.path.join(REPO, "RELEASES")) as listing:
        for line in listing:
            if line.strip() and not line.startswith("#"):
                version, commit = line.split()
                entries.append((version, commit))
    return entries


class RotationLoad:
    """Client threads behind a load balancer: each picks a random node in rotation, PUTs a unique
    key (?dw=1) or GETs an acknowledged one (expecting its value), paced to WORKER_OPS_PER_S, until
    stopped, LOAD_DEADLINE_S or its op count runs out. Counts each node's requests in flight so
    that a node taken out of rotation can be drained; records every failure."""

    def __init__(self, nodes):
        self.nodes = {node.name: node for node in nodes}
        self.lock = threading.Lock()
        self.rotation = set(self.nodes)
        self.in_flight = {name: 0 for name in self.nodes}
        self.generation = {name: 0 for name in self.nodes}  # raised on restart: new connections
        self.ok_by_node = {name: 0 for name in self.nodes}
        self.ok_by_phase = {}
        self.acknowledged = {}  # key -> value
        self.failures = []
        self.phase = "old"
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._worker, args=(i,), daemon=True,
                                         name="upgrade-load-%d" % i) for i in range(WORKERS)]
        self.started_at = None

    def start(self):
        self.started_at = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT_S * 3)
            assert not thread.is_alive(), "a load thread did not stop"

    def set_phase(self, phase):
        with self.lock:
            self.phase = phase

    def take_out(self, name):
        with self.lock:
            self.rotation.discard(name)

    def put_back(self, name):
        with self.lock:
            self.generation[name] += 1
            self.rotation.add(name)

    def drain(self, name):
        """Waits until no request to `name` is in flight (it is out of rotation)."""
        def drained():
            with self.lock:
                return self.in_flight[name] == 0, "%d in flight" % self.in_flight[name]
        poll(drained, DRAIN_DEADLINE_S, "requests in flight on %s finish" % name, interval_s=0.01)

    def ok_count(self, name):
        with self.lock:
            return self.ok_by_node[name]

    def _worker(self, index):
        rng = random.Random(index)
        sessions = {}
        deadline = self.started_at + LOAD_DEADLINE_S
        period = 1.0 / WORKER_OPS_PER_S
        for i in range(LOAD_DEADLINE_S * WORKER_OPS_PER_S):
            started = time.monotonic()
            if self.stop_event.is_set() or started > deadline:
                return
            with self.lock:
                name = rng.choice(sorted(self.rotation))
                self.in_flight[name] += 1
                generation = self.generation[name]
                phase = self.phase
                keys = list(self.acknowledged) if i % 2 and self.acknowledged else None
            try:
                self._one(name, generation, phase, index, i, keys, rng, sessions)
            finally:
                with self.lock:
                    self.in_flight[name] -= 1
            # Pacing (not synchronisation): the load's rate, bounded by the stop event.
            self.stop_event.wait(max(0.0, period - (time.monotonic() - started)))

    def _one(self, name, generation, phase, worker, i, keys, rng, sessions):
        node = self.nodes[name]
        session = sessions.get((name, generation))
        if session is None:
            session = sessions[(name, generation)] = new_session()
        elapsed = round(time.monotonic() - self.started_at, 3)
        if keys:
            key = rng.choice(keys)
            try:
                response = node.get(key, session=session)
            except requests.RequestException as error:
                self._fail(elapsed, phase, "GET", name, key, repr(error))
                return
            if response.status_code != 200 or response.content != value_of(key):
                self._fail(elapsed, phase, "GET", name, key,
                           "%d %r" % (response.status_code, response.content[:200]))
                return
        else:
            key = "up-%d-%06d" % (worker, i)
            try:
                response = node.put(key, value_of(key), session=session)
            except requests.RequestException as error:
                self._fail(elapsed, phase, "PUT", name, key, repr(error))
                return
            if response.status_code != 204:
                self._fail(elapsed, phase, "PUT", name, key,
                           "%d %r" % (response.status_code, response.content[:200]))
                return
            with self.lock:
                self.acknowledged[key] = value_of(key)
        with self.lock:
            self.ok_by_node[name] += 1
            self.ok_by_phase[phase] = self.ok_by_phase.get(phase, 0) + 1

    def _fail(self, elapsed, phase, op, name, key, outcome):
        with self.lock:
            self.failures.append((elapsed, phase, op, name, key, outcome))


def versions_seen_by(node):
    """{member id: meridian_version} from `node`'s cluster status (None: unknown; the key is
    absent from a status answered by release 0.1.0, which reports no versions)."""
    members = members_by_id(node.status())
    return {member: view.get("meridian_version", "absent") for member, view in members.items()}


def hints_pending(node):
    """A poll condition: every member's report, through `node`, shows no hints pending (the
    writes hinted for a node while it was down have been replayed to it)."""
    def condition():
        members = members_by_id(node.status())
        pending = {member: view["report"]["hints"]["pending"] for member, view in members.items()}
        return all(count == 0 for count in pending.values()), pending
    return condition


def handshakes_rejected(node):
    return node.metrics().get("meridian_peer_handshakes_rejected_total", 0)


@pytest.fixture
def old_cluster(request):
    old_binary = previous_release_binary()
    cluster = Cluster("upgrade", binary=old_binary)
    failed = False
    try:
        nodes = cluster.start(len(NODE_IDS))
        poll(cluster_settled(nodes, NODE_IDS), FORM_DEADLINE_S, "3-node cluster of the old release")
        yield cluster, old_binary
    except Exception:
        failed = True
        raise
    finally:
        finish_clusters(request, [cluster], failed=failed)


def test_rolling_upgrade_under_load_fails_no_request(old_cluster):
    cluster, old_binary = old_cluster
    old_version, new_version = version_of(old_binary), version_of(meridian_bin())
    assert old_version != new_version, (old_version, new_version)
    # The old binary is the release before this one, as RELEASES lists it.
    assert old_version in [version for version, _ in releases()], old_version
    nodes = [cluster[name] for name in NODE_IDS]
    # Release 0.1.0 reports no version: its status has no meridian_version at all.
    before = versions_seen_by(nodes[0])
    assert set(before) == set(NODE_IDS), before

    load = RotationLoad(nodes).start()
    try:
        poll(lambda: (len(load.acknowledged) >= 50, len(load.acknowledged)), MIXED_DEADLINE_S,
             "the old cluster acknowledges writes")
        for step, node in enumerate(nodes, start=1):
            # The old node never refused a handshake of the new ones (it had none so far on the
            # first step).
            assert handshakes_rejected(node) == 0, (node.name, node.log_tail())
            load.set_phase("draining %s" % node.name)
            load.take_out(node.name)
            load.drain(node.name)
            assert node.stop() == 0, node.log_tail()
            load.set_phase("%s down" % node.name)
            others = [other for other in nodes if other is not node]
            # Down long enough for the others to notice: writes meanwhile are hinted for it, and
            # the hints are replayed to it across releases once it is back.
            poll(members_alive(others, [node.name], False), DETECT_DEADLINE_S,
                 "the others see %s down" % node.name)
            node.binary = None  # this build
            node.restart()

            def ready():
                health = node.session.get(node.http_url + "/health", timeout=REQUEST_TIMEOUT_S)
                seen = members_by_id(node.status())
                alive = {member: view["alive"] for member, view in seen.items()}
                return health.status_code == 200 and all(alive.values()), (health.status_code,
                                                                             alive)
            poll(ready, READY_DEADLINE_S, "%s (new release) ready, seeing every member alive"
                 % node.name)
            poll(cluster_settled(nodes, NODE_IDS), READY_DEADLINE_S,
                 "every node sees the upgraded %s alive and agrees on the ring" % node.name)
            load.put_back(node.name)
            load.set_phase("mixed after %s" % node.name if step < len(nodes) else "all new")
            ok_before = load.ok_count(node.name)
            poll(lambda: (load.ok_count(node.name) >= ok_before + MIXED_OPS,
                          load.ok_count(node.name) - ok_before), MIXED_DEADLINE_S,
                 "%d requests through the upgraded %s" % (MIXED_OPS, node.name))
            assert not load.failures, load.failures[:20]
            # What was hinted for it while it was down has reached it.
            poll(hints_pending(node), HINTS_DEADLINE_S, "hints for %s replayed" % node.name)

            # The status shows the releases: through an upgraded node, each upgraded member with
            # this release and each old member without one (its reports carry none).
            upgraded = {other.name for other in nodes[:step]}
            expected = {name: new_version if name in upgraded else None for name in NODE_IDS}
            poll(lambda: (versions_seen_by(node) == expected, versions_seen_by(node)),
                 READY_DEADLINE_S, "status through %s shows the releases %s" % (node.name,
                                                                              expected))
            if step < len(nodes):
                # ... and an old node's status has no versions: the cluster really is mixed.
                assert set(versions_seen_by(others[-1]).values()) == {"absent"}
    finally:
        load.stop()

    failures = load.failures
    assert not failures, "%d failed requests; first ones:\n%s" % (
        len(failures), "\n".join(repr(failure) for failure in failures[:20]))
    # The load went on through every phase: before, during each node's absence, mixed, after.
    phases = dict(load.ok_by_phase)
    for name in NODE_IDS:
        assert phases.get("%s down" % name, 0) > 0 or phases.get("draining %s" % name, 0) > 0, \
            phases
    assert phases.get("old", 0) > 0 and phases.get("all new", 0) > 0, phases
    for name in NODE_IDS[:-1]:
        assert phases.get("mixed after %s" % name, 0) > 0, phases

    for node in nodes:
        assert versions_seen_by(node) == {name: new_version for name in NODE_IDS}
        assert handshakes_rejected(node) == 0, node.name
    # Every acknowledged write, through every node, from every replica (r=all).
    acknowledged = dict(load.acknowledged)
    assert len(acknowledged) > 200, len(acknowledged)
    problems = []
    for node in nodes:
        session = new_session()
        for key, value in acknowledged.items():
            response = node.kv("GET", key, params={"r": "all"}, session=session)
            if response.status_code != 200 or response.content != value:
                problems.append((node.name, key, response.status_code, response.content[:100]))
    assert not problems, "%d of %d reads failed; first ones: %s" % (
        len(problems), len(acknowledged) * len(nodes), problems[:10])
    print("rolling upgrade %s -> %s: %d writes acknowledged, requests per phase %s"
          % (old_version, new_version, len(acknowledged), phases))
