"""Section cluster: three Meridian nodes (n=3 r=2 w=2) vs a three-member etcd cluster, both
driven by `meridian bench` at one address (Meridian node1, the etcd leader)."""
import os
import shutil

from . import etcd, meridian
from .common import log, loadavg
from .context import Run


def meridian_run(run: Run, round_: int) -> None:
    directory = run.work_dir(f"cluster-r{round_}-meridian")
    log(f"  cluster round {round_}: three Meridian nodes (load average {loadavg()})")
    cluster = meridian.start_cluster(run, directory)
    meridian.set_bucket_everywhere(cluster, "bench", meridian.EVENTUAL_PROPS, meridian.eventual_props_ok)
    meridian.save_url(f"http://{cluster.addr1}/v1/buckets/bench",
                      run.raw_path(f"cluster-r{round_}-meridian-bucket.json"))
    http = ["--driver", "meridian-http", "--address", cluster.addr1, "--keep-bucket-props"]
    meridian.bench(run, "cluster", "meridian", "put", round_, "load", run.cluster_records,
                   *http, "--phase", "load")
    meridian.bench(run, "cluster", "meridian", "read", round_, "run", run.cluster_records,
                   *http, "--phase", "run", "--workload", "c", "--duration", str(run.duration))
    meridian.bench(run, "cluster", "meridian", "put dw=2", round_, "load", run.durable_records,
                   *http, "--phase", "load", "--dw", "2")
    stop_meridian(run, "cluster", round_, cluster)


def stop_meridian(run: Run, section: str, round_: int, cluster: meridian.Cluster) -> None:
    """Peak RSS of the three nodes, stop them, keep their logs, remove their directory."""
    for k, node in enumerate(cluster.nodes, 1):
        run.record_rss(section, "meridian", round_, f"meridian node{k}", node.process.pid)
    run.supervisor.stop(*cluster.processes)
    run.keep_logs(*[os.path.join(node.dir, "stderr") for node in cluster.nodes])
    shutil.rmtree(cluster.dir, ignore_errors=True)


def stop_etcd(run: Run, section: str, round_: int, cluster: etcd.EtcdCluster) -> None:
    """Peak RSS of the three members, stop them, keep their logs, remove their directory."""
    for k, process in enumerate(cluster.processes, 1):
        run.record_rss(section, "etcd", round_, f"etcd e{k}", process.pid)
    run.supervisor.stop(*cluster.processes)
    run.keep_logs(*cluster.logs)
    shutil.rmtree(cluster.dir, ignore_errors=True)


def note_leader(run: Run, text: str) -> None:
    with open(run.raw_path("commands.log"), "a") as handle:
        handle.write(text + "\n")


def etcd_round(run: Run, section: str, round_: int, token: str, leader_note: str,
               one_client: bool) -> None:
    """One round of a fresh three-member etcd cluster under `meridian bench` at its leader:
    put (the load phase) and read (workload C), and with `one_client` a put with 1 connection
    over the first durable_records keys; the members' peak RSS, then stopped."""
    directory = run.work_dir(f"{section}-r{round_}-etcd")
    log(f"  {section} round {round_}: three etcd members (load average {loadavg()})")
    cluster = etcd.start_cluster(run, directory, token)
    note_leader(run, f"{leader_note}: etcd leader at {cluster.leader}")
    args = ["--driver", "etcd", "--address", cluster.leader]
    meridian.bench(run, section, "etcd", "put", round_, "load", run.cluster_records,
                   *args, "--phase", "load")
    meridian.bench(run, section, "etcd", "read", round_, "run", run.cluster_records,
                   *args, "--phase", "run", "--workload", "c", "--duration", str(run.duration))
    if one_client:
        meridian.bench(run, section, "etcd", "put 1 client", round_, "load",
                       run.durable_records, *args, "--phase", "load", connections=1)
    stop_etcd(run, section, round_, cluster)


def etcd_run(run: Run, round_: int) -> None:
    etcd_round(run, "cluster", round_, f"compare-{run.pid}-r{round_}", f"round {round_}",
               one_client=False)


def configs_md(run: Run) -> str:
    records, durable, duration = run.cluster_records, run.durable_records, run.duration
    return f"""
### cluster — three Meridian nodes vs a three-member etcd {run.versions.get('etcd', '')} cluster

* Meridian: three `meridian serve --name nodeK --data-dir D/nodeK --http 127.0.0.1:0 --peer
  127.0.0.1:0 --cluster-name compare-PID --peer-tls-ca/-cert/-key ...{meridian.shard_text(run)}` (mutual TLS between the
  nodes, certificates from `meridian cert`; node1 bootstraps, node2 and node3 `--seeds` node1's
  peer address); ready when node1 sees 3 members up owning partitions and no partition moving.
  Bucket `bench` = `{{"n":3,"r":2,"w":2,"conflict_policy":"lww"}}` (dw=0: a write is acknowledged
  when 2 replicas applied it, before any fsync), checked on all three nodes.
* etcd: three members, static `--initial-cluster`, each with its own data dir, client and peer
  port on 127.0.0.1, default durability (WAL fsynced before a write is acknowledged; reads
  linearizable).
* Load: `meridian bench` takes one address, so the load goes to Meridian node1 (it coordinates
  and forwards to the replicas) and to the etcd leader (etcd's best case: no forwarding). Same
  parameters for both: 50 connections, 100-byte values, {records} records (10,000 ×
  --duration), closed loop.
  * put = the load phase, `--phase load --records {records}`: inserts of new keys,
    ops/s over the phase.
  * read = workload C, `--phase run --workload c --duration {duration}` (zipfian keys, all
    present).
  * Meridian "put dw=2": the load phase again with `--dw 2 --records {durable}` (2 of
    the 3 replicas fsync before the acknowledgement, as etcd's majority commit); overwrites of
    the first {durable} keys (a tenth: each durable write waits for its own fsync, so it
    is slow). Informational, compared with etcd's put.
  * Meridian runs with `--keep-bucket-props` (the bucket is set as above).
* Goals: put ≥ 5× etcd, read ≥ 3× etcd, and a lower p99 than etcd in both.
"""
