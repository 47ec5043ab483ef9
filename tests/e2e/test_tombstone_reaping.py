"""Tombstone reaping with real processes (issue 10 item 6, docs/design/tombstones.md).

Three `meridian serve` nodes (n = 3: every node is a primary of every key) with anti-entropy
every second and a reaping round every 500 ms. 5,000 keys are written and then deleted; each
node's own copy (GET /v1/cluster/local, which asks no other node) first shows the tombstone,
and then nothing at all once the rounds reaped it: the tombstones disappear from every replica,
no key comes back, and the meridian_reap_* counters say so. The second test does the same
with nodes of one, two and three shards (`--shards`): each shard runs the rounds of its own
partitions and answers its part of the others' (docs/design/tombstones.md, "Shards").

Every wait polls a condition with a deadline (cluster_util.poll).
"""
import concurrent.futures
import time
from urllib.parse import quote

import pytest

from cluster_util import cluster_settled, new_session, poll, running_cluster
# The fixture: an empty Cluster factory whose processes must stop cleanly at teardown.
from test_cluster import make_cluster  # noqa: F401

NODE_IDS = ["node1", "node2", "node3"]
KEY_COUNT = 5000
SAMPLE_EVERY = 50  # local copies checked: every 50th key on every node (100 keys)
FORM_DEADLINE_S = 45
REAP_DEADLINE_S = 120
THREADS = 8
REAP_ARGS = ["--partition-count", "64", "--aae-exchange-interval-ms", "1000",
             "--reap-interval-ms", "500"]


@pytest.fixture
def cluster(request):
    """Three nodes, formed and settled; stopped at teardown (cluster_util.running_cluster: logs
    printed on failure)."""
    with running_cluster(request, "e2e-reap-%d" % time.monotonic_ns(), NODE_IDS, FORM_DEADLINE_S,
                         extra_args=REAP_ARGS) as made:
        yield made


def key_name(i):
    return "reap-%05d" % i


def run_all(nodes, method, keys):
    """`method` (PUT or DELETE) of every key through the nodes in turn, w=all so every replica
    has it; every request must succeed."""
    def one(i):
        node = nodes[i % len(nodes)]
        session = new_session()
        data = ("value-%d" % i).encode() if method == "PUT" else None
        response = node.kv(method, keys[i], params={"w": "all"}, data=data, session=session)
        assert response.status_code in (200, 204), (method, keys[i], response.status_code,
                                                    response.text)
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(len(keys))))


def local_object(node, key):
    return node.get_json("/v1/cluster/local/default/" + quote(key, safe=""))["object"]


def reaped_total(nodes):
    return sum(node.metrics().get("meridian_reap_tombstones_reaped_total", 0) for node in nodes)


def test_deleted_keys_are_reaped_from_every_replica(cluster):
    write_delete_and_see_every_tombstone_reaped([cluster[name] for name in NODE_IDS])


def test_deleted_keys_are_reaped_from_nodes_of_three_two_and_one_shards(make_cluster):
    """node1 (three shards) has the smallest id: it reaps every partition (n = 3), each shard
    its own, with rounds grouped so that their partitions are on one shard of node2 (two shards)
    and of node3 (one)."""
    cluster = make_cluster(extra_args=REAP_ARGS)
    first = cluster.start_node("node1", extra_args=["--shards", "3"])
    nodes = [first]
    for name, shards in (("node2", "2"), ("node3", "1")):
        nodes.append(cluster.start_node(name, seeds=[first.peer_address],
                                        extra_args=["--shards", shards]))
    poll(cluster_settled(nodes, NODE_IDS), FORM_DEADLINE_S,
         "nodes of three, two and one shards form a cluster")
    assert "shards: 3" in first.log_tail(400)
    write_delete_and_see_every_tombstone_reaped(nodes)
    # No round asked a shard for another shard's partitions (the rounds were grouped by the
    # members' gossiped shard counts).
    refused = {k: v for k, v in first.metrics().items()
               if k.startswith("meridian_reap_partitions_refused_total")}
    assert not any("shard_differs" in k for k in refused), refused


def write_delete_and_see_every_tombstone_reaped(nodes):
    keys = [key_name(i) for i in range(KEY_COUNT)]
    sample = keys[::SAMPLE_EVERY]
    run_all(nodes, "PUT", keys)
    for node in nodes:
        for key in sample[:5]:
            assert local_object(node, key) is not None, (node.name, key)

    run_all(nodes, "DELETE", keys)
    # Right after the deletes at least one sampled copy is still a tombstone (reaping has not
    # caught up with all of them): the test sees tombstones go, not keys that never existed.
    tombstones_seen = sum(1 for key in sample if local_object(nodes[0], key) is not None)
    assert tombstones_seen > 0 or reaped_total(nodes) > 0

    def all_reaped():
        left = [(node.name, key) for node in nodes for key in sample
                if local_object(node, key) is not None]
        total = reaped_total(nodes)
        return not left and total >= len(keys) * len(nodes), (len(left), left[:3], total)

    poll(all_reaped, REAP_DEADLINE_S, "every replica reaps every tombstone", interval_s=1)
    # Nothing came back: a read of every sampled key finds nothing.
    for key in sample:
        response = nodes[0].kv("GET", key, params={"r": "all"})
        assert response.status_code == 404, (key, response.status_code, response.text)
    committed = sum(node.metrics().get('meridian_reap_rounds_total{result="committed"}', 0)
                    for node in nodes)
    assert committed >= 1
