"""Section strong: a strong (linearizable) bucket on three Meridian nodes vs a three-member etcd
cluster, and strong vs eventual buckets on the same Meridian cluster."""
from . import meridian
from .cluster import etcd_round, stop_meridian
from .common import log, loadavg
from .context import Run


def meridian_run(run: Run, round_: int) -> None:
    directory = run.work_dir(f"strong-r{round_}-meridian")
    log(f"  strong round {round_}: three Meridian nodes, strong and eventual buckets "
        f"(load average {loadavg()})")
    cluster = meridian.start_cluster(run, directory)
    meridian.set_bucket_everywhere(cluster, "strong", '{"consistency":"strong"}',
                                   lambda props: props.get("consistency") == "strong")
    meridian.set_bucket_everywhere(cluster, "eventual", meridian.EVENTUAL_PROPS,
                                   meridian.eventual_props_ok)
    meridian.save_url(f"http://{cluster.addr1}/v1/buckets/strong",
                      run.raw_path(f"strong-r{round_}-meridian-bucket.json"))
    http = ["--driver", "meridian-http", "--address", cluster.addr1]
    strong = [*http, "--bucket", "strong", "--keep-bucket-props"]
    eventual = [*http, "--bucket", "eventual", "--keep-bucket-props"]
    records, durable, duration = run.cluster_records, run.durable_records, str(run.duration)

    def bench(workload, phase, count, *args, connections=50):
        meridian.bench(run, "strong", "meridian", workload, round_, phase, count, *args,
                       connections=connections)

    bench("strong put", "load", records, *strong, "--phase", "load")
    bench("strong cas", "run", records, *strong, "--phase", "run", "--workload", "cas",
          "--duration", duration)
    bench("strong read", "run", records, *strong, "--phase", "run", "--workload", "c",
          "--duration", duration)
    bench("strong put 1 client", "load", durable, *strong, "--phase", "load", connections=1)
    bench("eventual put", "load", records, *eventual, "--phase", "load")
    bench("eventual put dw=2", "load", durable, *eventual, "--phase", "load", "--dw", "2")
    bench("eventual put 1 client", "load", durable, *eventual, "--phase", "load", connections=1)
    meridian.save_url(f"http://{cluster.addr1}/metrics",
                      run.raw_path(f"strong-r{round_}-meridian-metrics.txt"),
                      keep=lambda line: line.startswith(b"meridian_strong_"))
    stop_meridian(run, "strong", round_, cluster)


def etcd_run(run: Run, round_: int) -> None:
    etcd_round(run, "strong", round_, f"compare-{run.pid}-strong-r{round_}",
               f"round {round_} (strong)", one_client=True)


def configs_md(run: Run) -> str:
    records, durable, duration = run.cluster_records, run.durable_records, run.duration
    return f"""
### strong — a strong bucket on three Meridian nodes vs a three-member etcd {run.versions.get('etcd', '')} cluster

* Meridian: a fresh three-node cluster started as in the cluster section. Bucket `strong` =
  `{{"consistency":"strong"}}` (docs/design/strong.md: CASPaxos per key over the key's 3
  primaries, acceptor state fsynced before every answer, a majority of 2 decides; every get, put
  and delete linearizable). Bucket `eventual` = `{{"n":3,"r":2,"w":2,"conflict_policy":"lww"}}`
  on the same cluster, for the cost of strong vs eventual.
* etcd: a fresh three-member cluster as in the cluster section; load to the leader.
* Load (`meridian bench`, 100-byte values, closed loop, to node1 / the etcd leader):
  * strong put: `--bucket strong --phase load --records {records}`, 50 connections
    (inserts of new keys: 2 round trips each, prepare and propose).
  * strong cas: `--workload cas --phase run --duration {duration}`, 50 connections (each
    operation a GET, then a PUT with `If-Match` of the version read; uniform keys; a 412 is a
    completed operation, reported as a conflict).
  * strong read: workload C (zipfian), 50 connections.
  * strong put 1 client: the load phase again with 1 connection over the first
    {durable} keys (overwrites from the same coordinator: the 1-round-trip fast path).
  * eventual put (W=2, dw=0), eventual put dw=2 ({durable} keys), eventual put 1 client
    on the `eventual` bucket; etcd put (50 connections), read (workload C; etcd's reads are
    linearizable by default) and put 1 client ({durable} keys, overwrites).
* Goals (issue 12): strong put and strong CAS throughput ≥ etcd's put with a lower p99; strong
  one-client put p50 ≤ etcd's. Strong vs eventual rows are informational.
"""
