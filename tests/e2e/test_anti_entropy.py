"""Active anti-entropy with real processes (issue 10, item 5): replicas converge with no client
reads at all, compared one replica at a time.

Five `meridian serve` processes. A bucket with sloppy_quorum=false (only primaries take its
writes, so no fallback keeps a hint that would repair a replica later). node5 is stopped with
SIGKILL; every key of the bucket is written through node1 (w=2), a quarter of them written
again and another quarter deleted. node5, a primary of about 3/5 of the keys, misses all of it.
node5 starts again. From then on nobody reads the bucket through /v1/kv (a read would repair
the replicas it asked): the test only looks at each primary's own stored copy with
GET /v1/cluster/local, which asks no other node and repairs nothing.

  test_anti_entropy_makes_every_replica_equal_without_reads: with exchanges every
    EXCHANGE_INTERVAL_MS, every primary of every key holds the same clock and siblings (the
    deletes as tombstones) within the bound below; node5 received the copies by anti-entropy
    and no read repair happened anywhere.
  test_without_anti_entropy_replicas_stay_different (the control): the same with
    --aae-exchange-interval-ms 0; after waiting as long as the bound, the replicas still
    differ and node5 still lacks most of the keys -- so the first test would fail without
    anti-entropy.

Every wait polls with a deadline (cluster_util.poll).
"""
import time
from urllib.parse import quote

import pytest

from cluster_util import Cluster, cluster_settled, finish_clusters, members_alive, poll

NODE_IDS = ["node%d" % i for i in range(1, 6)]
PARTITIONS = 64
BUCKET = "aae"
KEY_COUNT = 200
EXCHANGE_INTERVAL_MS = 2000
FORM_DEADLINE_S = 45
DETECT_DEADLINE_S = 30
# docs/design/anti_entropy.md: once node5 is seen alive, every pair of primaries of a partition
# is compared at least once per interval, and a round repairs every differing key here (fewer
# than keys_per_round_max); two rounds plus the failure detector's window and a loaded CI box.
CONVERGE_DEADLINE_S = 2 * EXCHANGE_INTERVAL_MS / 1000 + 20
READ_REPAIRS = "meridian_read_repairs_total"
AAE_RECEIVED = "meridian_aae_keys_received_total"


@pytest.fixture
def clusters(request):
    """Factory: clusters(interval_ms) -> (Cluster, its nodes), formed and settled. Every process
    of every cluster started is stopped at teardown (cluster_util.finish_clusters: logs printed
    on failure), also of one that did not form."""
    made = []

    def start(interval_ms):
        cluster = Cluster("e2e-aae-%d" % time.monotonic_ns(), extra_args=[
            "--partition-count", str(PARTITIONS), "--aae-exchange-interval-ms", str(interval_ms),
            # Reaping (on by default) would remove the tombstones this test compares.
            "--reap-interval-ms", "0"])
        made.append(cluster)
        nodes = cluster.start(len(NODE_IDS))
        poll(cluster_settled(nodes, NODE_IDS), FORM_DEADLINE_S, "5-node cluster forms")
        return cluster, nodes

    yield start
    finish_clusters(request, made)


def locate(node, key):
    return node.get_json("/v1/cluster/locate/%s/%s" % (BUCKET, quote(key, safe="")))


def local_copy(node, key):
    return node.get_json("/v1/cluster/local/%s/%s" % (BUCKET, quote(key, safe="")))


def write_while_node5_is_down(nodes):
    """Writes, rewrites and deletes every key through node1 while node5 is down; returns
    {key: [primaries]} of the keys node5 is a primary of."""
    node1, node5 = nodes[0], nodes[4]
    response = node1.session.put(node1.http_url + "/v1/buckets/" + BUCKET,
                                 json={"sloppy_quorum": False}, timeout=10)
    assert response.status_code in (200, 204), response.text
    node5.kill()
    poll(members_alive(nodes[:4], ["node5"], alive=False), DETECT_DEADLINE_S, "node5 seen down")
    keys = ["k%04d" % i for i in range(KEY_COUNT)]
    for i, key in enumerate(keys):
        for version in range(2 if i % 4 == 1 else 1):
            response = node1.kv("PUT", key, params={"w": 2}, data=b"%s/%d" % (key.encode(),
                                                                               version),
                                 bucket=BUCKET)
            assert response.status_code == 204, (key, response.status_code, response.text)
        if i % 4 == 2:
            response = node1.kv("DELETE", key, params={"w": 2}, bucket=BUCKET)
            assert response.status_code == 204, (key, response.status_code, response.text)
    placed = {key: locate(node1, key)["primaries"] for key in keys}
    missed = {key: primaries for key, primaries in placed.items() if "node5" in primaries}
    assert len(missed) > KEY_COUNT // 3, len(missed)
    return missed


def differing(nodes_by_name, keys):
    """A poll condition: the keys whose primaries' own copies differ (or hold a hint)."""
    def condition():
        problems = {}
        for key, primaries in keys.items():
            copies = {name: local_copy(nodes_by_name[name], key) for name in primaries}
            objects = {name: copy["object"] for name, copy in copies.items()}
            hints = [name for name, copy in copies.items() if copy["hint"] is not None]
            if len({repr(obj) for obj in objects.values()}) != 1 or hints:
                problems[key] = {name: (None if obj is None else len(obj["siblings"]))
                                 for name, obj in objects.items()}
        return not problems, "%d keys differ, e.g. %s" % (
            len(problems), dict(list(problems.items())[:5]))
    return condition


def test_anti_entropy_makes_every_replica_equal_without_reads(clusters):
    cluster, nodes = clusters(EXCHANGE_INTERVAL_MS)
    by_name = {node.name: node for node in nodes}
    missed = write_while_node5_is_down(nodes)
    nodes[4].restart()
    poll(members_alive(nodes, NODE_IDS, alive=True), DETECT_DEADLINE_S, "node5 seen alive")
    poll(differing(by_name, missed), CONVERGE_DEADLINE_S,
         "every primary of every key holds the same copy")
    # Deletes arrived as tombstones, not as absences (a stale replica cannot resurrect them).
    deleted = [key for key in missed if int(key[1:]) % 4 == 2]
    assert deleted
    for key in deleted:
        siblings = local_copy(by_name["node5"], key)["object"]["siblings"]
        assert siblings and all(sibling["tombstone"] for sibling in siblings), (key, siblings)
    metrics = {node.name: node.metrics() for node in nodes}
    assert all(values.get(READ_REPAIRS, 0) == 0 for values in metrics.values()), {
        name: values.get(READ_REPAIRS) for name, values in metrics.items()}
    # node5 took copies by anti-entropy (no other path was open: no hints, no reads).
    assert metrics["node5"][AAE_RECEIVED] > 0, metrics["node5"]


def test_without_anti_entropy_replicas_stay_different(clusters):
    cluster, nodes = clusters(0)
    by_name = {node.name: node for node in nodes}
    missed = write_while_node5_is_down(nodes)
    nodes[4].restart()
    poll(members_alive(nodes, NODE_IDS, alive=True), DETECT_DEADLINE_S, "node5 seen alive")
    time.sleep(CONVERGE_DEADLINE_S)  # the control: as long as the first test may wait
    done, observation = differing(by_name, missed)()
    assert not done, observation
    empty = [key for key in missed if local_copy(by_name["node5"], key)["object"] is None]
    # A few replica writes sent to node5 before its connection was given up are delivered
    # when it is back (the transport keeps queued frames); the rest it never gets.
    assert len(empty) >= len(missed) // 2, (len(empty), len(missed))
