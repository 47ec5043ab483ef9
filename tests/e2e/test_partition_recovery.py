"""Recovery after a real network partition (issue 10, item 3): five `meridian serve` processes,
each on its own loopback address; one is cut off from the others with iptables (partition.py),
the network heals, and every node must see every other alive, and a w=2 write through the healed
node must succeed, within a bound derived from the heartbeat, failure detector and gossip
settings. Skipped without root or iptables (the reason is shown).
"""
import subprocess
import tempfile
import time

import pytest

import partition
from cluster_util import Cluster, cluster_settled, finish_clusters, members_alive, poll
from conftest import meridian_bin

FORM_DEADLINE_S = 45
DETECT_DEADLINE_S = 20
# The partition is held this long (the experiment's parameter, not a wait for an event): longer
# than the failure detector needs to declare the node down (~5 s) and than the transport's peer
# idle timeout (2.5 s), so every connection through it has been given up on by the heal; long
# enough that the transport before heartbeats (TCP retransmission backoff, no deadline) needed
# about 12.7 s to recover (issue 10's measurement), well past the bound below.
PARTITION_S = 15
GOSSIP_INTERVAL_MS = 200
# Node defaults (docs/design/failure_detection.md): a ping round per second, and a silence of
# 3 s forgiven on top of the mean interval.
FD_HEARTBEAT_INTERVAL_MS = 1000
FD_ACCEPTABLE_PAUSE_MS = 3000
# The requirement: within 2 gossip intervals plus the failure detector's window (one heartbeat
# interval plus the pause it forgives) of the heal: 2 * 0.2 + 1 + 3 = 4.4 s. The transport's part
# fits inside it: the dead connections were replaced during the partition and the next connect
# attempt comes within about a second of the heal (a SYN retransmission, or the 1 s reconnect
# backoff maximum); the first ping of the next round then marks the peer alive. Plus 2 s of
# slack for a loaded 2-core CI machine: 6.4 s.
RECOVERY_BOUND_S = (2 * GOSSIP_INTERVAL_MS + FD_HEARTBEAT_INTERVAL_MS + FD_ACCEPTABLE_PAUSE_MS
                    ) / 1000 + 2
# Observation stops here, so that a failure reports how long recovery did take.
OBSERVE_DEADLINE_S = 60
# Short request deadlines, so a write tried before recovery fails fast and the next poll comes.
REQUEST_DEADLINE_ARGS = ["--coordinator-timeout-ms", "1000", "--forward-timeout-ms", "1000"]
IDS5 = ["node%d" % i for i in range(1, 6)]


@pytest.fixture
def cluster_on_own_addresses(request):
    """A Cluster whose nodes each listen for peers on their own loopback address; every process
    is stopped at teardown, also on failure (logs printed then)."""
    cluster = Cluster("e2e-partition-%d" % time.monotonic_ns(), GOSSIP_INTERVAL_MS,
                      extra_args=REQUEST_DEADLINE_ARGS, peer_hosts=partition.loopback_hosts())
    yield cluster
    finish_clusters(request, [cluster])


def put_w2(node, key):
    """A PUT with w=2 through `node`: True when acknowledged, else (status, body) or the error."""
    try:
        response = node.kv("PUT", key, params={"w": 2}, data=b"after-the-heal")
    except Exception as error:  # noqa: BLE001 - a refused or reset connection is "not yet"
        return repr(error)
    return True if response.status_code == 204 else (response.status_code, response.text[:200])


def test_isolated_node_is_alive_and_writable_within_the_bound_after_the_heal(
        cluster_on_own_addresses, partitioner):
    cluster = cluster_on_own_addresses
    nodes = cluster.start(5)
    poll(cluster_settled(nodes, IDS5), FORM_DEADLINE_S, "5-node cluster forms")
    victim = nodes[2]
    others = [node for node in nodes if node is not victim]
    hosts = [partition.host_of(node.peer_address) for node in nodes]
    assert len(set(hosts)) == 5 and "127.0.0.1" not in hosts, hosts
    assert put_w2(victim, "before") is True

    partitioner.isolate(partition.host_of(victim.peer_address), hosts)
    cut_at = time.monotonic()
    poll(members_alive(others, [victim.name], alive=False), DETECT_DEADLINE_S,
         "the others see %s down" % victim.name)
    poll(members_alive([victim], [node.name for node in others], alive=False), DETECT_DEADLINE_S,
         "%s sees the others down" % victim.name)
    assert put_w2(victim, "during") is not True, "a w=2 write through an isolated node succeeded"
    time.sleep(max(0.0, cut_at + PARTITION_S - time.monotonic()))  # hold the partition

    partitioner.heal()
    healed_at = time.monotonic()
    recovered = {}  # "alive" / "write" -> seconds after the heal
    attempts = iter(range(1_000_000))

    def condition():
        if "alive" not in recovered:
            done, views = members_alive(nodes, IDS5, alive=True)()
            if done:
                recovered["alive"] = time.monotonic() - healed_at
        if "write" not in recovered:
            outcome = put_w2(victim, "after-%d" % next(attempts))
            if outcome is True:
                recovered["write"] = time.monotonic() - healed_at
            recovered["last write"] = outcome
        return "alive" in recovered and "write" in recovered, dict(recovered)

    poll(condition, OBSERVE_DEADLINE_S, "every node sees every other alive and a w=2 write "
         "through %s succeeds after the heal" % victim.name)
    print("recovery after a %d s partition: all alive after %.2f s, w=2 write through the healed "
          "node after %.2f s (bound %.1f s)" % (PARTITION_S, recovered["alive"],
                                               recovered["write"], RECOVERY_BOUND_S))
    assert recovered["alive"] <= RECOVERY_BOUND_S, recovered
    assert recovered["write"] <= RECOVERY_BOUND_S, recovered


@pytest.mark.parametrize("args, named", [
    (["--peer-heartbeat-interval-ms", "2000", "--peer-idle-timeout-ms", "3000"],
     "peer_idle_timeout_ms"),
    (["--peer-reconnect-backoff-max-ms", "50"], "peer_reconnect_backoff_max_ms"),
    (["--peer-write-timeout-ms", "0"], "peer_write_timeout_ms"),
    (["--peer-connect-timeout-ms", "soon"], "peer_connect_timeout_ms"),
])
def test_bad_peer_liveness_settings_exit_2_naming_the_setting(args, named):
    with tempfile.TemporaryDirectory(prefix="meridian-e2e-") as work_dir:
        result = subprocess.run([meridian_bin(), "serve", "--data-dir", work_dir + "/data",
                                 "--http", "127.0.0.1:0", "--peer", "127.0.0.1:0", "--name", "n1"]
                                + args, capture_output=True, timeout=30)
    assert result.returncode == 2, result
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and named in lines[0], lines
