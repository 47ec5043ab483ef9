"""Strong buckets end to end (docs/design/strong.md): three real `meridian serve` processes,
a bucket set to consistency "strong", operations through every node over HTTP — one value and
an "s." context per get, compare-and-set with If-Match / If-None-Match answering 412, quorum
overrides refused — and a lost-update test: clients increment one counter by compare-and-set
through different nodes, and every successful increment must show in the final value."""
import threading

import pytest

from cluster_util import make_strong, poll, running_cluster

IDS = ["node1", "node2", "node3"]
BUCKET = "strong"


@pytest.fixture
def cluster(request):
    with running_cluster(request, "e2e-strong", IDS, 45) as running:
        nodes = [running[name] for name in IDS]
        make_strong(nodes, BUCKET)
        yield nodes


def test_one_value_a_context_and_compare_and_set_through_every_node(cluster):
    first, second, third = cluster
    created = first.kv("PUT", "k", data=b"v1", headers={"If-None-Match": "*"}, bucket=BUCKET)
    assert created.status_code == 204, created.text
    context = created.headers["X-Meridian-Context"]
    assert context.startswith("s."), context

    got = second.kv("GET", "k", bucket=BUCKET)
    assert got.status_code == 200 and got.content == b"v1", got.text
    assert got.headers["X-Meridian-Context"] == context

    again = third.kv("PUT", "k", data=b"v2", headers={"If-None-Match": "*"}, bucket=BUCKET)
    assert again.status_code == 412, again.text
    assert again.json()["error"] == "precondition_failed"
    assert context in again.json()["message"]

    swapped = third.kv("PUT", "k", data=b"v2", headers={"If-Match": '"%s"' % context},
                       bucket=BUCKET)
    assert swapped.status_code == 204, swapped.text
    stale = second.kv("PUT", "k", data=b"v3", headers={"If-Match": context}, bucket=BUCKET)
    assert stale.status_code == 412, stale.text
    assert first.kv("GET", "k", bucket=BUCKET).content == b"v2"

    # Deleted: gone for If-Match: *, the key can be created again.
    deleted = first.kv("DELETE", "k", bucket=BUCKET)
    assert deleted.status_code == 204, deleted.text
    assert second.kv("GET", "k", bucket=BUCKET).status_code == 404
    present_only = third.kv("PUT", "k", data=b"x", headers={"If-Match": "*"}, bucket=BUCKET)
    assert present_only.status_code == 412, present_only.text
    recreated = third.kv("PUT", "k", data=b"v4", headers={"If-None-Match": "*"}, bucket=BUCKET)
    assert recreated.status_code == 204, recreated.text


def test_bad_conditions_and_overrides_are_refused_and_change_nothing(cluster):
    node = cluster[0]
    assert node.kv("PUT", "c", data=b"v", bucket=BUCKET).status_code == 204
    for headers, params in [({"If-Match": "garbage"}, None),
                            ({"If-Match": "s.1.2.3.4", "If-None-Match": "*"}, None),
                            ({"If-None-Match": '"s.1.2.3.4"'}, None),
                            ({}, {"w": 1})]:
        response = node.kv("PUT", "c", data=b"changed", headers=headers, params=params,
                           bucket=BUCKET)
        assert response.status_code == 400, (headers, params, response.text)
    assert node.kv("GET", "c", bucket=BUCKET).content == b"v"

    # Eventual buckets check conditions per replica (at the coordinating primary).
    eventual = node.kv("PUT", "c", data=b"v", headers={"If-None-Match": "*"})
    assert eventual.status_code == 204, eventual.text
    taken = node.kv("PUT", "c", data=b"other", headers={"If-None-Match": "*"})
    assert taken.status_code == 412, taken.text
    assert taken.json()["error"] == "precondition_failed"
    assert node.kv("GET", "c").content == b"v"
    # A bucket holding data keeps its consistency.
    refused = node.session.put(node.http_url + "/v1/buckets/default",
                               json={"consistency": "strong"}, timeout=10)
    assert refused.status_code == 400, refused.text
    assert "holds data" in refused.json()["message"]


def set_props(node, bucket, props):
    return node.session.put(node.http_url + "/v1/buckets/" + bucket, json=props, timeout=30)


def wait_for_props(nodes, bucket, **expected):
    """Until every node reports `expected` for `bucket`, unsealed."""
    def everywhere():
        for node in nodes:
            answer = node.get_json("/v1/buckets/" + bucket)
            seen = {name: answer["props"][name] for name in expected}
            if answer["sealed"] or seen != expected:
                return False, "%s: %s sealed=%s" % (node.name, seen, answer["sealed"])
        return True, "everywhere"
    poll(everywhere, 30, "every node has %s for bucket %s" % (expected, bucket))


def test_consistency_changes_only_while_no_member_holds_the_buckets_data(cluster):
    # n=1: each key lives on one node, so the other two hold nothing of the bucket.
    made = set_props(cluster[0], "single", {"n": 1})
    assert made.status_code == 200, made.text
    assert made.json()["sealed"] is False
    wait_for_props(cluster, "single", n=1)
    written = cluster[0].kv("PUT", "k", data=b"kept", bucket="single")
    assert written.status_code == 204, written.text
    owner = cluster[0].get_json("/v1/cluster/locate/single/k")["primaries"]
    assert len(owner) == 1, owner
    elsewhere = next(node for node in cluster if node.name != owner[0])
    # Asked through a node that holds no copy, the change still sees the owner's: every member
    # is checked (the check used to be local and let this through).
    refused = set_props(elsewhere, "single", {"consistency": "strong"})
    assert refused.status_code == 400, refused.text
    assert "holds data" in refused.json()["message"]
    assert owner[0] in refused.json()["message"], refused.text
    wait_for_props(cluster, "single", consistency="eventual", n=1)
    assert elsewhere.kv("GET", "k", bucket="single").content == b"kept"


def test_concurrent_compare_and_set_increments_lose_nothing(cluster):
    increments_per_client = 15
    successes = []
    errors = []

    def client(node):
        done = 0
        attempts = 0
        while done < increments_per_client and attempts < 400:
            attempts += 1
            got = node.kv("GET", "counter", bucket=BUCKET)
            if got.status_code == 404:
                condition = {"If-None-Match": "*"}
                value = 0
            elif got.status_code == 200:
                condition = {"If-Match": got.headers["X-Meridian-Context"]}
                value = int(got.content)
            else:
                errors.append("GET %d %s" % (got.status_code, got.text))
                return
            put = node.kv("PUT", "counter", data=str(value + 1).encode(), headers=condition,
                          bucket=BUCKET)
            if put.status_code == 204:
                done += 1
            elif put.status_code != 412:
                errors.append("PUT %d %s" % (put.status_code, put.text))
                return
        successes.append(done)

    threads = [threading.Thread(target=client, args=(node,)) for node in cluster]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert successes == [increments_per_client] * len(cluster), successes
    for node in cluster:
        final = node.kv("GET", "counter", bucket=BUCKET)
        assert final.status_code == 200
        assert int(final.content) == increments_per_client * len(cluster)
