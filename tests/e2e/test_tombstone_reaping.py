"""Tombstone reaping with real processes (issue 10 item 6, docs/design/tombstones.md).

Three `meridian serve` nodes (n = 3: every node is a primary of every key) with anti-entropy
every second and a reaping round every 500 ms. 5,000 keys are written and then deleted; each
node's own copy (GET /v1/cluster/local, which asks no other node) first shows the tombstone,
and then nothing at all once the rounds reaped it: the tombstones disappear from every replica,
no key comes back, and the meridian_reap_* counters say so. The second test does the same
with nodes of one, two and three shards (`--shards`): each shard runs the rounds of its own
partitions and answers its part of the others' (docs/design/tombstones.md, "Shards"). The
third sees the same rounds prune hedged forwarding's superseded single-use version entries from
live keys (docs/design/tombstones.md, "Pruning single-use entries").

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


PRUNE_BUCKET = "hedged"
PRUNE_KEY_COUNT = 60
PRUNE_WRITES_PER_KEY = 6
SINGLE_USE_COUNTER = 1 << 62  # core/version_vector.h kSingleUseCounter


def superseded_single_use(obj):
    """Single-use clock entries of a stored object whose write is no longer a sibling."""
    siblings = {(s["actor"], s["counter"]) for s in obj["siblings"]}
    return [(actor, counter) for actor, counter in obj["clock"]
            if counter == SINGLE_USE_COUNTER and (actor, counter) not in siblings]


def test_superseded_single_use_entries_are_pruned_from_every_replica(make_cluster):
    """Hedged forwarding's versions (docs/design/tombstones.md, "Pruning single-use entries").
    A bucket with n = 2 on three nodes: every key has a node that is not its primary, and a
    write through that node is forwarded under a single-use version whose entry stays in the
    key's clock after the value is overwritten. With --single-use-entries-max 4 a key is pruned
    from its first superseded entry (a quarter of the bound). Each key is overwritten six times
    (read, then write with the context, w=all) through the nodes in turn; then every primary's
    own copy loses its superseded entries, the last value is all a read finds, and the counters
    say so."""
    cluster = make_cluster(extra_args=REAP_ARGS + ["--single-use-entries-max", "4"])
    first = cluster.start_node("node1")
    nodes = [first] + [cluster.start_node(name, seeds=[first.peer_address])
                       for name in NODE_IDS[1:]]
    poll(cluster_settled(nodes, NODE_IDS), FORM_DEADLINE_S, "three nodes form a cluster")
    response = first.session.put(first.http_url + "/v1/buckets/" + PRUNE_BUCKET, json={"n": 2},
                                 timeout=10)
    assert response.status_code == 200, response.text

    def bucket_everywhere():
        props = [node.get_json("/v1/buckets/" + PRUNE_BUCKET)["props"] for node in nodes]
        return all(p["n"] == 2 and not p.get("sealed") for p in props), props

    poll(bucket_everywhere, FORM_DEADLINE_S, "every node knows bucket %s has n=2" % PRUNE_BUCKET)

    keys = ["prune-%03d" % i for i in range(PRUNE_KEY_COUNT)]
    last = {}
    for round_ in range(PRUNE_WRITES_PER_KEY):
        for i, key in enumerate(keys):
            node = nodes[(i + round_) % len(nodes)]
            read = node.kv("GET", key, params={"r": "all"}, bucket=PRUNE_BUCKET)
            assert read.status_code in (200, 404), (key, read.status_code, read.text)
            context = read.headers.get("X-Meridian-Context")
            value = "%s-v%d" % (key, round_)
            written = node.kv("PUT", key, params={"w": "all"}, data=value.encode(),
                              headers={"X-Meridian-Context": context} if context else None,
                              bucket=PRUNE_BUCKET)
            assert written.status_code in (200, 204), (key, written.status_code, written.text)
            last[key] = value
    fixed = sum(node.metrics().get("meridian_forwards_fixed_total", 0) for node in nodes)
    # Each key was written twice through its non-primary node: forwarded, fixed versions.
    assert fixed >= 2 * PRUNE_KEY_COUNT, fixed

    def copies():
        out = []
        for node in nodes:
            for key in keys:
                local = node.get_json("/v1/cluster/local/%s/%s" % (PRUNE_BUCKET, quote(key)))
                if local["holds_replica"]:
                    out.append((node.name, key, local["object"]))
        return out

    held = copies()
    assert len(held) == 2 * PRUNE_KEY_COUNT, len(held)  # two primaries per key
    # Before the rounds catch up, superseded entries are there to be pruned (the test sees them
    # go, not a history that never had them), unless pruning was quicker than this look.
    pruned_counter = "meridian_reap_objects_pruned_total"
    before = sum(len(superseded_single_use(obj)) for _, _, obj in held if obj is not None)
    assert before > 0 or sum(node.metrics().get(pruned_counter, 0) for node in nodes) > 0

    def all_pruned():
        left = [(name, key, superseded_single_use(obj)) for name, key, obj in copies()
                if obj is None or superseded_single_use(obj)]
        return not left, (len(left), left[:3])

    poll(all_pruned, REAP_DEADLINE_S, "every primary prunes its superseded single-use entries",
         interval_s=1)
    pruned = sum(node.metrics().get(pruned_counter, 0) for node in nodes)
    entries = sum(node.metrics().get("meridian_reap_single_use_entries_pruned_total", 0)
                  for node in nodes)
    assert pruned >= PRUNE_KEY_COUNT, pruned
    assert entries >= pruned, (entries, pruned)
    # What every replica reads as is unchanged: the last write, alone.
    for name, key, obj in copies():
        values = [s["value_base64"] for s in obj["siblings"]]
        assert len(values) == 1, (name, key, obj)
    for key in keys:
        read = nodes[0].kv("GET", key, params={"r": "all"}, bucket=PRUNE_BUCKET)
        assert read.status_code == 200 and read.content == last[key].encode(), (
            key, read.status_code, read.text)
