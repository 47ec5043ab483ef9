"""An operator's control of background work (POST /v1/cluster/background, docs/api.md),
with real processes.

test_a_paused_node_replays_no_hints_until_resumed: four nodes (n=3); node4 is killed and w=1
  writes leave hints for it on the others (its keys' fallbacks), which are then paused. node4
  restarts and is seen
  alive, and for a while no hint is replayed (hints pending and the governor's hint_replay
  bytes stay the same); once resumed, every hint is delivered. (Control, by hand: without the
  pause the hints drain within the quiet span, and the test fails there.)

test_the_budget_is_set_validated_and_shared_over_shards: a two-shard standalone node takes a
  new rate (each shard its half; the reply adds them up, and /metrics shows it), reads it back
  with an empty body, and refuses malformed bodies without changing anything; the same through
  `meridian cluster background`.

Every wait polls with a deadline (cluster_util.poll); the one fixed wait is the span in which
nothing may happen.
"""
import os
import subprocess
import time

import pytest
import requests

from cluster_util import cluster_settled, members_alive, parse_metrics, poll, running_cluster
from conftest import meridian_bin

NODE_IDS = ["node1", "node2", "node3", "node4"]
PARTITIONS = 64
FORM_DEADLINE_S = 45
DETECT_DEADLINE_S = 20
SETTLE_DEADLINE_S = 30
DRAIN_DEADLINE_S = 45
KEY_COUNT = 60
# How long a paused node must replay nothing after node4 is seen alive. Unpaused, replay starts
# within a hint-replay tick (well under a second) of the target being seen alive.
QUIET_S = 3.0
REPLAYED = 'meridian_background_bytes_total{kind="hint_replay"}'


@pytest.fixture
def cluster(request):
    name = "e2e-" + request.node.name.replace("_", "-")[:40]
    with running_cluster(request, name, NODE_IDS, FORM_DEADLINE_S,
                         extra_args=["--partition-count", str(PARTITIONS)],
                         what="4-node cluster forms", require_clean_stop=True) as made:
        yield made


def background(node, body):
    return node.post_json("/v1/cluster/background", body)


def hint_state(nodes):
    """(hints pending, hint_replay bytes granted) per node."""
    state = {}
    for node in nodes:
        metrics = node.metrics()
        state[node.name] = (metrics["meridian_hints_pending"], metrics.get(REPLAYED, 0))
    return state


def test_a_paused_node_replays_no_hints_until_resumed(cluster):
    nodes = [cluster[name] for name in NODE_IDS]
    senders = nodes[:3]
    absent = cluster["node4"]
    absent.kill()
    poll(members_alive(senders, ["node4"], False), DETECT_DEADLINE_S,
         "the others see the killed node4 down")
    for i in range(KEY_COUNT):
        response = senders[i % 3].kv("PUT", "bg-%03d" % i, params={"w": 1}, data=b"v%d" % i)
        assert response.status_code == 204, (response.status_code, response.text[:300])
    before = hint_state(senders)
    assert sum(pending for pending, _ in before.values()) > 0, before

    for node in senders:
        response = background(node, {"paused": True})
        assert response.status_code == 200, (response.status_code, response.text[:300])
        assert response.json()["paused"] is True, response.json()
        assert node.metrics()["meridian_background_paused"] == 1
    absent.restart()
    poll(cluster_settled(nodes, NODE_IDS), SETTLE_DEADLINE_S, "node4 is back and seen alive")
    deadline = time.monotonic() + QUIET_S
    while time.monotonic() < deadline:
        assert hint_state(senders) == before, (hint_state(senders), before)
        time.sleep(0.2)

    resumed_at = time.monotonic()
    for node in senders:
        response = background(node, {"paused": False})
        assert response.status_code == 200 and response.json()["paused"] is False, response.text
        assert node.metrics()["meridian_background_paused"] == 0
    poll(lambda: (lambda state: (all(p == 0 for p, _ in state.values()), state))(
        hint_state(senders)), DRAIN_DEADLINE_S, "every hint is delivered once resumed")
    drained_s = time.monotonic() - resumed_at
    after = hint_state(senders)
    assert all(after[name][1] > before[name][1] for name in after if before[name][0] > 0), after
    print("hints %s stayed for %.1f s while paused; drained %.1f s after resuming" % (
        before, QUIET_S, drained_s))


def test_the_budget_is_set_validated_and_shared_over_shards(start_server):
    server = start_server("--shards", "2", "--background-bytes-per-second", "8000000")

    url = server.http_url

    def post(body, raw=None):
        return requests.post(url + "/v1/cluster/background", timeout=10,
                             **({"data": raw} if raw is not None else {"json": body}))

    def metric(name):
        return parse_metrics(requests.get(url + "/metrics", timeout=10).text)[name]

    def limit():
        return metric("meridian_background_bytes_per_second_limit")

    read = post({})
    assert read.status_code == 200, read.text
    assert read.json() == {"bytes_per_second": 8000000, "paused": False, "shards": 2}
    assert limit() == 8000000

    changed = post({"bytes_per_second": 1000001})
    assert changed.status_code == 200, changed.text
    # Each shard takes half (rounded down); the reply and /metrics add the shards up.
    assert changed.json() == {"bytes_per_second": 1000000, "paused": False, "shards": 2}
    assert limit() == 1000000

    for body, raw, message in [
            ({"bytes_per_second": -1}, None, "bytes_per_second must be a non-negative integer"),
            ({"bytes_per_second": 1.5}, None, "bytes_per_second must be a non-negative integer"),
            ({"bytes_per_second": "fast"}, None, "bytes_per_second must be"),
            ({"paused": "yes"}, None, "paused must be true or false"),
            ({"rate": 1}, None, "unknown field: rate"),
            (None, "not json", "body is not valid JSON"),
            ({"bytes_per_second": 2 ** 62}, None, "bytes_per_second must be at most")]:
        refused = post(body, raw)
        assert refused.status_code == 400, (body, raw, refused.status_code, refused.text)
        assert message in refused.json()["message"], (body, refused.json())
    assert post({}).json() == {"bytes_per_second": 1000000, "paused": False, "shards": 2}

    paused = post({"paused": True})
    assert paused.json()["paused"] is True, paused.text
    assert metric("meridian_background_paused") == 1
    assert post({"bytes_per_second": 0, "paused": False}).json() == {
        "bytes_per_second": 0, "paused": False, "shards": 2}
    # Only POST; a GET is refused without a change.
    assert requests.get(url + "/v1/cluster/background", timeout=10).status_code == 405

    def cli(*args):
        env = dict(os.environ, MERIDIAN_URL=url)
        return subprocess.run([meridian_bin(), "cluster", "background", *args],
                              capture_output=True, text=True, env=env, timeout=30)

    shown = cli()
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == ("background work: running, no byte limit (2 shard(s)); until the "
                            "node restarts\n"), shown.stdout
    changed = cli("--pause", "--bytes-per-second", "3000000")
    assert changed.returncode == 0, changed.stderr
    assert "paused, 3000000 bytes/s (2 shard(s))" in changed.stdout, changed.stdout
    assert limit() == 3000000
    for args, message in [(("--pause", "--resume"), "--pause and --resume exclude each other"),
                          (("--bytes-per-second", "-5"), "--bytes-per-second must be")]:
        refused = cli(*args)
        assert refused.returncode == 2 and message in refused.stderr, (args, refused.stderr)
    as_json = cli("--resume", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert '"paused":false' in as_json.stdout.replace(" ", ""), as_json.stdout
    assert metric("meridian_background_paused") == 0
