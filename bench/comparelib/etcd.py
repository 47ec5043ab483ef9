"""etcd: a three-member cluster on loopback and its leader (where the load goes)."""
import json
import os
from dataclasses import dataclass

from . import parse
from .common import Failure, http_ok, log
from .context import Run
from .processes import free_ports, server_failed, wait_until

HEALTHY_S = 60


@dataclass
class EtcdCluster:
    processes: list
    leader: str          # HOST:PORT of the leader's client URL
    dir: str

    @property
    def logs(self) -> list[str]:
        return [os.path.join(self.dir, f"e{k}.stderr") for k in (1, 2, 3)]


def start_cluster(run: Run, directory: str, token: str) -> EtcdCluster:
    """Three members e1..e3 (static --initial-cluster, each its own data dir, client and peer
    port on 127.0.0.1, default durability); ready when every member is healthy (has a leader,
    at most 60 s); the leader is the member whose status names itself."""
    os.makedirs(directory, exist_ok=True)
    ports = free_ports(6)
    client = {k: ports[2 * k - 2] for k in (1, 2, 3)}
    peer = {k: ports[2 * k - 1] for k in (1, 2, 3)}
    initial = ",".join(f"e{k}=http://127.0.0.1:{peer[k]}" for k in (1, 2, 3))
    processes = []
    for k in (1, 2, 3):
        processes.append(run.supervisor.start_server(
            f"etcd e{k}", os.path.join(directory, f"e{k}.stdout"),
            os.path.join(directory, f"e{k}.stderr"),
            ["etcd", "--name", f"e{k}", "--data-dir", os.path.join(directory, f"e{k}"),
             "--listen-client-urls", f"http://127.0.0.1:{client[k]}",
             "--advertise-client-urls", f"http://127.0.0.1:{client[k]}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer[k]}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer[k]}",
             "--initial-cluster", initial, "--initial-cluster-state", "new",
             "--initial-cluster-token", token]))

    def healthy(k: int) -> bool:
        body = http_ok(f"http://127.0.0.1:{client[k]}/health", timeout_s=2)
        return body is not None and parse.etcd_healthy(body)

    cluster = EtcdCluster(processes, "", directory)
    if not wait_until(lambda: all(healthy(k) for k in (1, 2, 3)), HEALTHY_S):
        server_failed("the etcd cluster (3 members healthy within 60 s)", processes[0], cluster.logs)
    for k in (1, 2, 3):
        body = http_ok(f"http://127.0.0.1:{client[k]}/v3/maintenance/status", "POST", b"{}", 5)
        try:
            if body is not None and parse.etcd_is_leader(json.loads(body)):
                cluster.leader = f"127.0.0.1:{client[k]}"
        except ValueError:
            continue
    if not cluster.leader:
        raise Failure("could not find the etcd leader")
    log(f"    etcd leader: {cluster.leader}")
    return cluster
