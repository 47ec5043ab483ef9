"""Multi-process cluster tests: real `meridian serve` processes on loopback forming a cluster
through --peer/--seeds, observed through /v1/cluster/status and /v1/cluster/ring.

Each test starts its own cluster (node1 bootstraps on --peer 127.0.0.1:0, the others join
through node1's bound peer address), with temp data dirs and --gossip-interval-ms 200, and
stops every process at teardown (SIGTERM, SIGKILL after a deadline) even on failure; a
failing test prints the tail of every node's log. Set MERIDIAN_E2E_KEEP=1 to keep the work
dirs of a failed test.
"""
import os
import re
import subprocess
import time

import pytest

from conftest import meridian_bin
from cluster_util import (Cluster, Load, cluster_settled, describe_problems, finish_clusters,
                          members_by_id, parse_consistency, poll, read_everywhere,
                          summarize_status, write_keys)

FORM_DEADLINE_S = 45
DETECT_DEADLINE_S = 15
RECOVER_DEADLINE_S = 20
JOIN_DEADLINE_S = 60
LEAVE_DEADLINE_S = 60
FAIL_FAST_S = 2  # well under the coordinators' 4 s request deadline
IDS5 = ["node%d" % i for i in range(1, 6)]


@pytest.fixture
def make_cluster(request):
    """Factory: make_cluster() -> an empty Cluster, every process of which is stopped at
    teardown. A node that does not exit 0 on SIGTERM fails the test (at teardown)."""
    clusters = []

    def make(**kwargs):
        cluster = Cluster("e2e-" + request.node.name.replace("_", "-")[:40], **kwargs)
        clusters.append(cluster)
        return cluster

    yield make
    finish_clusters(request, clusters, require_clean_stop=True)


def start_settled(cluster, count):
    nodes = cluster.start(count)
    ids = [node.name for node in nodes]
    poll(cluster_settled(nodes, ids), FORM_DEADLINE_S,
         "%d-node cluster forms (all up and alive everywhere, one ring version, every "
         "partition owned, nothing pending)" % count)
    return nodes


def test_five_node_cluster_forms_and_serves_through_every_node(make_cluster):
    cluster = make_cluster()
    nodes = start_settled(cluster, 5)

    statuses = {node.name: node.status() for node in nodes}
    versions = {status["ring_version"] for status in statuses.values()}
    assert len(versions) == 1, versions
    for node in nodes:
        status = statuses[node.name]
        assert status["self"] == node.name
        assert status["cluster_name"] == cluster.cluster_name
        members = members_by_id(status)
        assert sorted(members) == IDS5, summarize_status(node.name, status)
        for member in members.values():
            assert member["status"] == "up" and member["alive"], member
        assert sum(m["partitions_owned"] for m in members.values()) == status["partition_count"]
        ring = node.ring()
        assert ring["version"] == status["ring_version"]
        assert len(ring["partitions"]) == ring["partition_count"] == status["partition_count"]
        assert all(p["owner"] in IDS5 for p in ring["partitions"])
        assert sorted(p["partition"] for p in ring["partitions"]) == list(
            range(ring["partition_count"]))
    # Every node sees the same owners.
    owners = {node.name: [p["owner"] for p in node.ring()["partitions"]] for node in nodes}
    assert all(o == owners["node1"] for o in owners.values()), "nodes disagree on owners"

    written = write_keys([cluster["node1"]], "formed", 200)
    problems = read_everywhere(nodes, written)
    assert not problems, describe_problems(problems, len(written))

    # Each member advertises the addresses it actually listens on.
    by_id = members_by_id(statuses["node1"])
    wrong = [(n.name, by_id[n.name]["peer_address"], n.peer_address, by_id[n.name]["http_address"],
              "127.0.0.1:%d" % n.http_port) for n in nodes
             if by_id[n.name]["peer_address"] != n.peer_address
             or by_id[n.name]["http_address"] != "127.0.0.1:%d" % n.http_port]
    assert not wrong, ("members advertise addresses they do not listen on "
                       "(id, advertised peer, bound peer, advertised http, bound http): %s" % wrong)


def test_killed_node_is_detected_and_recovers_with_its_data(make_cluster):
    cluster = make_cluster()
    nodes = start_settled(cluster, 5)
    victim = cluster["node3"]
    others = [node for node in nodes if node is not victim]

    written = write_keys(nodes, "before-kill", 250)
    incarnation_before = {node.name: members_by_id(node.status())["node3"]["incarnation"]
                          for node in others}

    killed_at = time.monotonic()
    victim.kill()

    def all_report_dead():
        views = {node.name: members_by_id(node.status())["node3"] for node in others}
        done = all(not view["alive"] for view in views.values())
        return done, {name: (v["alive"], round(v["phi"], 2), v["status"])
                      for name, v in views.items()}
    poll(all_report_dead, DETECT_DEADLINE_S, "every other node reports the SIGKILLed node3 "
         "alive=false")
    detect_seconds = time.monotonic() - killed_at

    # While node3 is down every key is still served with the bucket defaults (n=3, r=2): each
    # key has at most one replica on node3, and a fallback stands in for it.
    wrong = []
    for i, (key, value) in enumerate(written.items()):
        node = others[i % len(others)]
        response = node.get(key)
        if response.status_code != 200 or response.content != value:
            wrong.append((node.name, key, response.status_code, response.content[:200]))
    assert not wrong, "default (r=2) reads during node3's outage: %s" % wrong[:10]

    # Asking for every primary (r=3, no fallbacks) shows the outage: keys with a replica on
    # node3 fail fast with 503 naming it; every other key is still served by its 3 primaries.
    served, unavailable, wrong, slowest = 0, 0, [], 0.0
    for i, (key, value) in enumerate(written.items()):
        node = others[i % len(others)]
        started = time.monotonic()
        response = node.kv("GET", key, params={"r": 3, "sloppy_quorum": "false"})
        slowest = max(slowest, time.monotonic() - started)
        receipt = parse_consistency(response)
        if response.status_code == 200 and response.content == value \
                and receipt.get("primaries") == 3:
            served += 1
        elif response.status_code == 503 and "node3" in response.json()["message"]:
            unavailable += 1
        else:
            wrong.append((node.name, key, response.status_code, receipt,
                          response.content[:200]))
    assert not wrong, "r=3 reads during node3's outage: %s" % wrong[:10]
    assert served > 0 and unavailable > 0, (served, unavailable)
    assert slowest < FAIL_FAST_S, "an r=3 read took %.2fs during the outage" % slowest

    victim.restart()

    def all_report_alive_again():
        lines, done = [], True
        for node in others:
            view = members_by_id(node.status())["node3"]
            lines.append("%s sees node3: alive=%s incarnation=%s status=%s" % (
                node.name, view["alive"], view["incarnation"], view["status"]))
            if not (view["alive"] and view["status"] == "up"
                    and view["incarnation"] > incarnation_before[node.name]):
                done = False
        own = members_by_id(victim.status())["node3"]
        if own["incarnation"] <= max(incarnation_before.values()):
            done = False
        lines.append("node3 itself: incarnation=%s" % own["incarnation"])
        return done, "\n".join(lines)
    poll(all_report_alive_again, RECOVER_DEADLINE_S, "every node reports the restarted node3 "
         "alive and up with a higher incarnation")
    poll(cluster_settled(nodes, IDS5), RECOVER_DEADLINE_S, "the cluster settles after node3's "
         "restart")

    problems = read_everywhere(nodes, written)
    assert not problems, describe_problems(problems, len(written))
    print("node3 detected dead after %.1fs; %d/%d keys unavailable to r=3 reads during the "
          "outage" % (detect_seconds, unavailable, len(written)))


def test_join_under_load_loses_and_fails_nothing(make_cluster):
    cluster = make_cluster()
    nodes = start_settled(cluster, 5)
    load = Load(nodes, "load", ops_max=40000, seconds_max=150).start()
    try:
        poll(lambda: (load.counts()[0] >= 150, load.counts()), 30,
             "the load acknowledges 150 writes before the join")
        load.set_phase("during")
        join_started = time.monotonic()
        sixth = cluster.start_node("node6", seeds=[cluster["node1"].peer_address])

        # node6 takes client requests once it knows the whole membership and the ring.
        def sixth_knows_cluster():
            status = sixth.status()
            ring = sixth.ring()
            done = (sorted(members_by_id(status)) == IDS5 + ["node6"]
                    and all(p["owner"] for p in ring["partitions"]))
            return done, summarize_status("node6", status)
        poll(sixth_knows_cluster, JOIN_DEADLINE_S, "node6 learns the membership and the ring")
        load.add_node(sixth)
        knows_seconds = time.monotonic() - join_started

        all_nodes = nodes + [sixth]
        settled = poll(cluster_settled(all_nodes, IDS5 + ["node6"]), JOIN_DEADLINE_S,
                       "node6 owns partitions and no partition has a pending owner (every "
                       "node's view, one ring version)")
        load.set_phase("after")
        join_seconds = time.monotonic() - join_started
        acknowledged_at_settle = load.counts()[0]
        poll(lambda: (load.counts()[0] >= acknowledged_at_settle + 150, load.counts()), 30,
             "the load acknowledges 150 more writes after the join")
    finally:
        load.stop()

    with load.lock:
        failures = list(load.failures)
        written = dict(load.acknowledged)
        phases = dict(load.phase_of_key)
    per_phase = {phase: sum(1 for p in phases.values() if p == phase)
                 for phase in ("before", "during", "after")}
    print("load: %d writes acknowledged %s, %d reads ok, %d failures" % (
        len(written), per_phase, load.reads_ok, len(failures)))
    print("node6 knew the ring %.2fs after its start and the join settled after %.1fs"
          % (knows_seconds, join_seconds))
    print(settled)
    assert not failures, "%d of the load's requests failed during the join; first ones " \
        "(elapsed_s, op, node, key, status, body):\n%s" % (
            len(failures), "\n".join(repr(f) for f in failures[:20]))
    assert all(count > 0 for count in per_phase.values()), per_phase
    problems = read_everywhere(all_nodes, written)
    assert not problems, describe_problems(problems, len(written))


def test_leave_moves_everything_away(make_cluster):
    cluster = make_cluster()
    nodes = start_settled(cluster, 5)
    leaver = cluster["node2"]
    remaining = [node for node in nodes if node is not leaver]
    written = write_keys(nodes, "before-leave", 300)

    response = leaver.post_json("/v1/cluster/leave", {"node": "node2"})
    assert 200 <= response.status_code < 300, (response.status_code, response.text)

    def node2_removed_everywhere():
        lines, done = [], True
        for node in remaining:
            view = members_by_id(node.status()).get("node2")
            lines.append("%s sees node2: %s" % (node.name, view))
            if view is None or view["status"] != "removed" or view["partitions_owned"] != 0 \
                    or view["partitions_incoming"] != 0:
                done = False
        return done, "\n".join(lines)
    poll(node2_removed_everywhere, LEAVE_DEADLINE_S, "node2 is removed and owns nothing in "
         "every other node's view")
    poll(cluster_settled(remaining, ["node1", "node3", "node4", "node5"]), LEAVE_DEADLINE_S,
         "the four remaining nodes settle")
    for node in remaining:
        ring = node.ring()
        assert not [p for p in ring["partitions"] if "node2" in (p["owner"], p["pending_owner"])]

    problems = read_everywhere(remaining, written)
    assert not problems, describe_problems(problems, len(written))
    # New writes after the leave land on the remaining nodes too.
    more = write_keys(remaining, "after-leave", 100)
    problems = read_everywhere(remaining, more)
    assert not problems, describe_problems(problems, len(more))


def test_cli_wait_shows_progress_until_the_ring_settles(make_cluster):
    """`meridian cluster set-weight|leave ... --wait`: the command returns once the answering
    node's view shows the change in effect and nothing moving, having printed its progress."""
    cluster = make_cluster()
    nodes = start_settled(cluster, 3)
    env = dict(os.environ, MERIDIAN_URL=nodes[0].http_url)

    def cli(*args):
        return subprocess.run([meridian_bin(), "cluster", *args], capture_output=True,
                              text=True, env=env, timeout=150)

    owned_before = members_by_id(nodes[0].status())["node3"]["partitions_owned"]
    weighted = cli("set-weight", "node3", "4", "--wait", "--wait-timeout", "120")
    print(weighted.stdout)
    assert weighted.returncode == 0, (weighted.stdout, weighted.stderr)
    lines = weighted.stdout.splitlines()
    assert lines[-1].startswith("settled: ring version "), weighted.stdout
    assert any(line.startswith("waiting: ring version ") for line in lines), weighted.stdout
    members = members_by_id(nodes[0].status())
    assert all(m["partitions_incoming"] == 0 for m in members.values()), members
    assert members["node3"]["weight"] == 4
    assert members["node3"]["partitions_owned"] > owned_before, members

    left = cli("leave", "node2", "--wait", "--wait-timeout", "120")
    assert left.returncode == 0, (left.stdout, left.stderr)
    assert left.stdout.splitlines()[-1].startswith("settled: "), left.stdout
    view = members_by_id(nodes[0].status())["node2"]
    assert view["status"] == "removed" and view["partitions_owned"] == 0, view


def test_status_shows_each_members_transfers_load_and_time_left(make_cluster):
    """`GET /v1/cluster/status` carries every member's report, and `meridian cluster status`
    shows the partitions moving with their progress and time left while a weight change moves
    data (the background budget is throttled so that the streams last seconds), then nothing
    running once the ring settled."""
    # 8 partitions of ~375 objects: each stream needs two batches (256 objects at most), so
    # a stream is seen part-way done.
    cluster = make_cluster(extra_args=["--background-bytes-per-second", "300000",
                                       "--partition-count", "8"])
    nodes = start_settled(cluster, 3)
    env = dict(os.environ, MERIDIAN_URL=nodes[0].http_url)

    def quiet():
        """Every member reports no stream, nothing queued and no hint."""
        busy = {}
        for member in nodes[0].status()["members"]:
            report = member.get("report")
            assert report is not None, member
            if report["transfers"] or report["copies_queued"] or report["hints"]["pending"]:
                busy[member["id"]] = (len(report["transfers"]), report["copies_queued"],
                                      report["hints"]["pending"])
        return not busy, busy

    # The replica copies that forming the cluster started are done before the data arrives.
    poll(quiet, 120, "every member reports no stream, copy or hint")
    for i in range(3000):  # ~6 MB of incompressible values
        response = nodes[0].kv("PUT", "bulk-%05d" % i, data=os.urandom(2000))
        assert response.status_code == 204, response.text
    poll(quiet, 120, "every member reports no stream, copy or hint")
    status = nodes[0].status()
    for member in status["members"]:
        report = member["report"]
        assert report["disk"]["capacity_bytes"] > 0, report
        assert 0 < report["disk"]["used_bytes"] <= report["disk"]["capacity_bytes"], report
    first = members_by_id(status)["node1"]["report"]["requests"]
    # node1 took 3,000 puts within the last minute (its once-a-second sample may lag by 1 s).
    assert first["window_seconds"] >= 1 and first["per_second"] > 0, first
    assert 0 < first["p50_ms"] <= first["p99_ms"], first
    assert first["errors_per_second"] == 0, first
    idle = subprocess.run([meridian_bin(), "cluster", "status"], capture_output=True, text=True,
                          env=env, timeout=30)
    assert idle.returncode == 0, idle.stderr
    assert "transfers: none running" in idle.stdout, idle.stdout
    assert re.search(r"^ID +STATUS +ALIVE .* DISK +HINTS +REQ/S +P99 MS", idle.stdout, re.M)

    changed = subprocess.run([meridian_bin(), "cluster", "set-weight", "node3", "4"],
                             capture_output=True, text=True, env=env, timeout=30)
    assert changed.returncode == 0, changed.stderr
    line_pattern = re.compile(
        r"^  node\d -> node3  partition \d+ \(ownership\): (\d+\.\d)%, [\d.]+ \w?i?B of about "
        r"[\d.]+ \w?i?B, [\d.]+ \w?i?B/s, (about [\d.]+ (s|min|h) left|time left unknown)$", re.M)
    seen = {}

    def progress_shown():
        shown = subprocess.run([meridian_bin(), "cluster", "status"], capture_output=True,
                               text=True, env=env, timeout=30)
        assert shown.returncode == 0, shown.stderr
        for match in line_pattern.finditer(shown.stdout):
            if float(match.group(1)) > 0 and "unknown" not in match.group(2):
                seen["text"] = shown.stdout
                return True, shown.stdout
        return False, shown.stdout

    poll(progress_shown, 60, "cluster status shows a stream to node3 with progress and time left",
         interval_s=0.2)
    print(seen["text"])
    assert re.search(r"^transfers: \d+ running$", seen["text"], re.M), seen["text"]

    poll(cluster_settled(nodes, ["node1", "node2", "node3"]), 120, "the ring settles")
    poll(quiet, 60, "every member reports no stream, copy or hint")
    after = subprocess.run([meridian_bin(), "cluster", "status"], capture_output=True, text=True,
                           env=env, timeout=30)
    assert "transfers: none running" in after.stdout, after.stdout
    quick = nodes[0].get_json("/v1/cluster/status?reports=false")
    assert all("report" not in member for member in quick["members"]), quick
