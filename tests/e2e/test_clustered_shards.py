"""Clustered nodes of two shards each (`meridian serve --peer ... --shards 2`, docs/operations.md
"Shards"): shard 0 is the node shell (gossip, joins, the failure detector, bucket checks) and the
other shard follows it, each with its own event loop, thread and RocksDB; peer messages reach the
shard of their partition. Real processes: a cluster of sharded nodes forms, replicates every
key onto every primary's own copy (whichever shard holds it), takes a one-shard node and
another sharded node in, lets a sharded node leave, survives a SIGKILL of a sharded node, and
serves a strong bucket.
"""
import base64
import subprocess
from urllib.parse import quote

import pytest

from cluster_util import (cluster_settled, describe_problems, make_strong, members_by_id,
                          new_session, poll, read_everywhere, write_keys)
from conftest import meridian_bin
# The fixture: an empty Cluster factory whose processes must stop cleanly at teardown.
from test_cluster import make_cluster  # noqa: F401

FORM_DEADLINE_S = 60
SETTLE_DEADLINE_S = 90
SHARDS = ["--shards", "2"]


def start_sharded(cluster, count):
    first = cluster.start_node("node1", extra_args=SHARDS)
    nodes = [first]
    for i in range(2, count + 1):
        nodes.append(cluster.start_node("node%d" % i, seeds=[first.peer_address],
                                        extra_args=SHARDS))
    ids = [node.name for node in nodes]
    poll(cluster_settled(nodes, ids), FORM_DEADLINE_S,
         "%d nodes of two shards form a cluster" % count)
    return nodes


def local_object(node, key, session):
    response = session.get(node.http_url + "/v1/cluster/local/default/" + quote(key, safe=""),
                           timeout=10)
    assert response.status_code == 200, (node.name, key, response.status_code, response.text)
    return response.json()["object"]


def every_primary_holds(nodes, keys):
    """A poll condition: each key's value is in the own copy of each of its primaries (on
    whichever shard of that node owns its partition)."""
    by_name = {node.name: node for node in nodes}
    session = new_session()

    def condition():
        missing = []
        for key, value in keys.items():
            located = nodes[0].get_json("/v1/cluster/locate/default/" + quote(key, safe=""))
            for name in located["primaries"]:
                copy = local_object(by_name[name], key, session)
                if copy is None or len(copy["siblings"]) != 1:
                    missing.append((key, name, copy))
        return not missing, "%d copies missing or divergent of %d keys, e.g. %s" % (
            len(missing), len(keys), missing[:3])
    return condition


def test_a_cluster_of_sharded_nodes_replicates_joins_and_leaves(make_cluster):
    cluster = make_cluster()
    nodes = start_sharded(cluster, 3)
    for node in nodes:
        assert "shards: 2" in node.log_tail(400), node.name

    written = write_keys(nodes, "three", 300)
    problems = read_everywhere(nodes, written)
    assert not problems, describe_problems(problems, len(written))
    # Replica writes crossed between the shards of different nodes by partition: every primary
    # holds its own copy, with no read to repair it.
    poll(every_primary_holds(nodes, dict(list(written.items())[:90])), 30,
         "every primary holds its copy of each key")

    # A one-shard node and another two-shard node join: partitions move onto every shard (a
    # follower's completed transfers are reported by its shell).
    fourth = cluster.start_node("node4", seeds=[nodes[0].peer_address])
    fifth = cluster.start_node("node5", seeds=[nodes[0].peer_address], extra_args=SHARDS)
    all_nodes = nodes + [fourth, fifth]
    poll(cluster_settled(all_nodes, ["node%d" % i for i in range(1, 6)]), SETTLE_DEADLINE_S,
         "two nodes join a cluster of sharded nodes and every transfer completes")
    for node in (fourth, fifth):
        owned = members_by_id(node.status())[node.name]["partitions_owned"]
        assert owned > 0, (node.name, owned)
    more = write_keys(all_nodes, "five", 200)
    written.update(more)
    problems = read_everywhere(all_nodes, written)
    assert not problems, describe_problems(problems, len(written))

    # A sharded node leaves: both of its shards hand everything off.
    leaver = cluster["node2"]
    remaining = [node for node in all_nodes if node is not leaver]
    response = leaver.post_json("/v1/cluster/leave", {"node": "node2"})
    assert 200 <= response.status_code < 300, (response.status_code, response.text)

    def node2_removed_everywhere():
        views = {node.name: members_by_id(node.status()).get("node2") for node in remaining}
        done = all(v is not None and v["status"] == "removed" and v["partitions_owned"] == 0
                   and v["partitions_incoming"] == 0 for v in views.values())
        return done, views
    poll(node2_removed_everywhere, SETTLE_DEADLINE_S, "node2 is removed and owns nothing")
    poll(cluster_settled(remaining, ["node1", "node3", "node4", "node5"]), SETTLE_DEADLINE_S,
         "the four remaining nodes settle")
    problems = read_everywhere(remaining, written)
    assert not problems, describe_problems(problems, len(written))
    poll(every_primary_holds(remaining, dict(list(written.items())[:60])), 30,
         "every remaining primary holds its copy of each key after the leave")


def test_a_killed_sharded_node_restarts_with_every_acknowledged_write(make_cluster):
    cluster = make_cluster()
    nodes = start_sharded(cluster, 3)
    victim = nodes[2]
    # Written through the victim itself with dw=1: its coordinators on both shards acked.
    before = write_keys([victim], "before-kill", 200)
    victim.kill()
    during = write_keys(nodes[:2], "during-kill", 100)
    victim.restart()
    poll(cluster_settled(nodes, ["node1", "node2", "node3"]), SETTLE_DEADLINE_S,
         "the killed node comes back")
    written = dict(before)
    written.update(during)
    problems = read_everywhere(nodes, written)
    assert not problems, describe_problems(problems, len(written))
    # Hints and anti-entropy bring the writes it missed onto its own copies.
    poll(every_primary_holds(nodes, dict(list(during.items())[:60])), 60,
         "the restarted node holds its copies of the writes made while it was down")


def test_a_member_resharded_while_stopped_rejoins_with_its_own_copies(make_cluster):
    """`meridian reshard` on a stopped member (2 -> 1 -> 3 shards): it comes back as itself —
    its cluster state and ring kept, a newer incarnation — and its own copy of every key is
    there at once, before anti-entropy (a minute away) could have refilled it."""
    cluster = make_cluster()
    nodes = start_sharded(cluster, 3)
    victim = nodes[2]
    written = write_keys(nodes, "resharded", 150)
    session = new_session()
    for shards in ("1", "3"):
        assert victim.stop() == 0
        done = subprocess.run([meridian_bin(), "reshard", "--data-dir", victim.data_dir,
                               "--shards", shards], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "(150 objects" in done.stdout, done.stdout
        index = victim.args.index("--shards")
        victim.args[index + 1] = shards
        victim.restart()
        poll(cluster_settled(nodes, ["node1", "node2", "node3"]), SETTLE_DEADLINE_S,
             "the member resharded to %s comes back" % shards)
        missing = [key for key, value in written.items()
                   if [base64.b64decode(s["value_base64"]) for s in
                       (local_object(victim, key, session) or {"siblings": []})["siblings"]]
                   != [value]]
        assert missing == [], "the resharded member lacks its copies of %s" % missing[:5]
        if shards != "1":
            assert "shards: %s" % shards in victim.log(), victim.log_tail()
        poll(lambda: (members_by_id(nodes[0].status())["node3"]["shards"] == int(shards),
                      members_by_id(nodes[0].status())["node3"]), 30,
             "node1 sees the resharded member's shard count")
    problems = read_everywhere(nodes, written)
    assert not problems, describe_problems(problems, len(written))


def test_a_strong_bucket_on_sharded_nodes(make_cluster):
    cluster = make_cluster()
    nodes = start_sharded(cluster, 3)
    make_strong(nodes, "ledger")
    session = new_session()
    for i in range(60):
        node = nodes[i % 3]
        url = "%s/v1/kv/ledger/k%d" % (node.http_url, i)
        response = session.put(url, data=b"v%d" % i, timeout=10)
        assert response.status_code == 204, (i, response.status_code, response.text)
    for i in range(60):
        node = nodes[(i + 1) % 3]
        got = session.get("%s/v1/kv/ledger/k%d" % (node.http_url, i), timeout=10)
        assert got.status_code == 200 and got.content == b"v%d" % i, (i, got.status_code,
                                                                     got.text)
    # A bucket with data on this node's shards cannot change its consistency.
    response = session.put(nodes[1].http_url + "/v1/buckets/ledger",
                           json={"consistency": "eventual"}, timeout=10)
    assert response.status_code == 400 and "holds data" in response.text, (
        response.status_code, response.text)


def test_a_bucket_change_elsewhere_finds_data_only_a_follower_holds(make_cluster):
    """The copies of a key (n=1) live on other nodes' follower shards only: the change asked of
    a node that holds nothing reaches their shells, which check their followers too.

    Four nodes, and the asker is not among the key's partition's primaries for the default n=3
    (written while fills and anti-entropy still copied an n=1 key among those primaries, fixed
    since: docs/design/anti_entropy.md, "Buckets of several replica counts")."""
    cluster = make_cluster(extra_args=["--aae-exchange-interval-ms", "0",
                                       "--reap-interval-ms", "0"])
    nodes = start_sharded(cluster, 4)
    session = new_session()
    response = session.put(nodes[0].http_url + "/v1/buckets/solo",
                           json={"n": 1, "sloppy_quorum": False}, timeout=10)
    assert response.status_code == 200, response.text

    def n_is_one_everywhere():
        ns = {node.name: node.get_json("/v1/buckets/solo")["props"]["n"] for node in nodes}
        return all(n == 1 for n in ns.values()), ns
    poll(n_is_one_everywhere, 30, "every node knows bucket solo has n=1")
    partition_count = len(nodes[0].ring()["partitions"])
    for i in range(500):
        key = "s%d" % i
        located = nodes[0].get_json("/v1/cluster/locate/solo/" + key)
        # Shard 1 of two owns the upper half of the partitions.
        if located["partition"] >= partition_count // 2:
            break
    else:
        pytest.fail("no key of 500 fell on a follower's partitions")
    assert len(located["primaries"]) == 1, located
    # The partition's primaries for n=3: those of a key of the default bucket in it.
    for i in range(20000):
        trio = nodes[0].get_json("/v1/cluster/locate/default/t%d" % i)
        if trio["partition"] == located["partition"]:
            break
    else:
        pytest.fail("no key of the default bucket found in partition %d" % located["partition"])
    asker = next(node for node in nodes if node.name not in trio["primaries"])
    holder = cluster[located["primaries"][0]]
    response = session.put("%s/v1/kv/solo/%s" % (holder.http_url, key), data=b"only",
                           timeout=10)
    assert response.status_code == 204, response.text

    response = session.put(asker.http_url + "/v1/buckets/solo",
                           json={"consistency": "strong"}, timeout=10)
    assert response.status_code == 400 and "holds data" in response.text, (
        response.status_code, response.text)
    # Found on another node (every node's copy of this partition is on its follower), not on a
    # shard of the asker.
    assert "of this node" not in response.text, response.text
    assert any(name in response.text for name in trio["primaries"]), (response.text, trio)
    assert asker.get_json("/v1/buckets/solo")["props"]["consistency"] == "eventual"
