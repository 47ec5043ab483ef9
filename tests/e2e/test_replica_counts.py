"""Buckets with fewer replicas than the largest n (issue 10, item 5; docs/design/anti_entropy.md
"Buckets of several replica counts"): each key lives on its own primaries only.

Real processes. Three nodes with fast anti-entropy hold a bucket of n=1 and one of n=2 beside the
default n=3. Every key is written, a fourth node joins (ownership moves, new replicas are filled,
old owners hand their strays on), and then:
  * every key is held exactly by its own primaries (`/v1/cluster/local` on every node, compared
    with `/v1/cluster/locate`), and by no other node;
  * that stays true after every node has completed more anti-entropy exchanges (anti-entropy
    compares each replica count's keys among their own primaries only);
  * every key reads its value through every node.
Before the fix, with three nodes, every n=1 key had three copies.

Every wait polls with a deadline (cluster_util.poll).
"""
from urllib.parse import quote

from cluster_util import cluster_settled, poll
# The fixture: an empty Cluster factory whose processes must stop cleanly at teardown.
from test_cluster import make_cluster  # noqa: F401

FORM_DEADLINE_S = 60
SETTLE_DEADLINE_S = 120
EXCHANGE_INTERVAL_MS = 500
BUCKETS = {"solo": 1, "pair": 2}
KEYS_PER_BUCKET = 40
EXCHANGES = "meridian_aae_exchanges_total"


def holders(nodes, bucket, key):
    """The names of the nodes whose own copy (objects column) holds the key."""
    held = set()
    for node in nodes:
        copy = node.get_json("/v1/cluster/local/%s/%s" % (bucket, quote(key, safe="")))
        if copy["object"] is not None:
            held.add(node.name)
    return held


def misplaced(nodes, keys):
    """A poll condition: every key is held by exactly its own primaries."""
    def condition():
        problems = []
        for bucket, key in keys:
            located = nodes[0].get_json("/v1/cluster/locate/%s/%s" % (bucket, quote(key, safe="")))
            own = set(located["primaries"])
            assert len(own) == BUCKETS[bucket], located
            held = holders(nodes, bucket, key)
            if held != own:
                problems.append("%s/%s on %s, primaries %s" % (bucket, key, sorted(held),
                                                               sorted(own)))
        return not problems, "%d of %d keys misplaced, e.g. %s" % (len(problems), len(keys),
                                                                   problems[:4])
    return condition


def exchanges(node):
    return sum(value for series, value in node.metrics().items()
               if series.split("{")[0] == EXCHANGES)


def test_keys_of_one_and_two_replicas_stay_on_their_own_primaries(make_cluster):
    cluster = make_cluster(extra_args=["--partition-count", "16",
                                       "--aae-exchange-interval-ms", str(EXCHANGE_INTERVAL_MS)])
    nodes = cluster.start(3)
    poll(cluster_settled(nodes, [node.name for node in nodes]), FORM_DEADLINE_S,
         "3-node cluster forms")
    for bucket, n in BUCKETS.items():
        response = nodes[0].session.put(nodes[0].http_url + "/v1/buckets/" + bucket,
                                        json={"n": n}, timeout=10)
        assert response.status_code == 200, response.text

    def buckets_known():
        seen = {(node.name, bucket): node.get_json("/v1/buckets/" + bucket)["props"]["n"]
                for node in nodes for bucket in BUCKETS}
        return all(seen[(name, bucket)] == BUCKETS[bucket] for name, bucket in seen), seen
    poll(buckets_known, 30, "every node knows both buckets")

    keys = [(bucket, "k%03d" % i) for bucket in BUCKETS for i in range(KEYS_PER_BUCKET)]
    for index, (bucket, key) in enumerate(keys):
        node = nodes[index % len(nodes)]
        response = node.kv("PUT", key, params={"dw": 1}, data=("%s/%s" % (bucket, key)).encode(),
                           bucket=bucket)
        assert response.status_code == 204, (bucket, key, response.status_code, response.text)
    poll(misplaced(nodes, keys), SETTLE_DEADLINE_S, "every key only on its own primaries")

    nodes.append(cluster.start_node("node4", seeds=[nodes[0].peer_address]))
    poll(cluster_settled(nodes, [node.name for node in nodes]), SETTLE_DEADLINE_S,
         "node4 joins and the ring settles")
    poll(misplaced(nodes, keys), SETTLE_DEADLINE_S,
         "after the join, every key only on its own primaries (strays handed on and deleted)")

    # Anti-entropy keeps comparing: it must not copy a key beyond its own primaries. (A pair is
    # compared by its smaller id, so node4 starts none; the others each start dozens a second.)
    before = {node.name: exchanges(node) for node in nodes}

    def more_exchanges():
        now = {node.name: exchanges(node) for node in nodes}
        return all(now[name] >= before[name] + 50 for name in now if name != "node4"), now
    poll(more_exchanges, SETTLE_DEADLINE_S, "nodes 1-3 each complete 50 more exchanges")
    ok, detail = misplaced(nodes, keys)()
    assert ok, detail

    for bucket, key in keys:
        for node in nodes:
            response = node.kv("GET", key, bucket=bucket)
            assert response.status_code == 200, (node.name, bucket, key, response.text)
            assert response.content == ("%s/%s" % (bucket, key)).encode()
