"""Section resp: one Meridian node (RESP listener) vs one Redis server, driven by
redis-benchmark without and with a 16-deep pipeline."""
import os
import shutil
import subprocess

from . import parse
from .common import Failure, log, loadavg
from .context import Run
from .meridian import read_text, shard_args, shard_text, start_node
from .processes import free_ports, server_failed, wait_until

READY_S = 30
TOOL_LIMIT_S = 900


def benchmark_command(port: int, pipeline: bool) -> list[str]:
    args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", "300000",
            "-d", "100", "-r", "1000000", "-t", "set,get", "--csv"]
    return args + ["-P", "16"] if pipeline else args


def bench(run: Run, system: str, port: int, round_: int) -> None:
    """redis-benchmark SET and GET, then the same with -P 16; rps, p50 and p99 from the CSV."""
    for variant in ("plain", "p16"):
        path = run.raw_path(f"resp-r{round_}-{system}-{variant}.csv")
        if run.supervisor.run_tool(path, TOOL_LIMIT_S, benchmark_command(port, variant == "p16")) != 0:
            raise Failure(f"redis-benchmark against {system} failed (see {path}.err)")
        text = read_text(path)
        for test in ("SET", "GET"):
            try:
                rate = parse.redis_benchmark_csv(text, test)
            except parse.ParseError as error:
                raise Failure(f"{error} in {path}") from None
            workload = f"{test} -P16" if variant == "p16" else test
            run.recorder.measurement("resp", system, workload, round_, rate.ops_per_s,
                                     rate.p50_ms, rate.p99_ms, None, os.path.basename(path))


def meridian(run: Run, round_: int) -> None:
    directory = run.work_dir(f"resp-r{round_}-meridian")
    log(f"  resp round {round_}: Meridian node (load average {loadavg()})")
    node = start_node(run, "meridian (resp)", directory, "--http", "127.0.0.1:0", "--resp", "127.0.0.1:0",
                      *shard_args(run))
    bench(run, "meridian", int(node.resp.rsplit(":", 1)[-1]), round_)
    run.record_rss("resp", "meridian", round_, "meridian serve", node.process.pid)
    run.supervisor.stop(node.process)
    run.keep_logs(os.path.join(directory, "stderr"))
    shutil.rmtree(directory, ignore_errors=True)


def redis_ping(port: int) -> bool:
    try:
        result = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"],
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return result.stdout.decode(errors="replace").strip() == "PONG"


def redis(run: Run, round_: int) -> None:
    """redis-server with the append-only file fsynced once a second, no RDB snapshots."""
    directory = run.work_dir(f"resp-r{round_}-redis")
    log(f"  resp round {round_}: Redis (load average {loadavg()})")
    os.makedirs(os.path.join(directory, "data"))
    port = free_ports(1)[0]
    stdout, stderr = os.path.join(directory, "stdout"), os.path.join(directory, "stderr")
    process = run.supervisor.start_server(
        "redis-server", stdout, stderr,
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
         "--appendfsync", "everysec", "--save", "", "--dir", os.path.join(directory, "data"),
         "--daemonize", "no"])
    if not wait_until(lambda: redis_ping(port), READY_S, process) and not redis_ping(port):
        server_failed("redis-server", process, [stdout, stderr])
    bench(run, "redis", port, round_)
    run.record_rss("resp", "redis", round_, "redis-server", process.pid)
    run.supervisor.stop(process)
    run.keep_logs(stdout)
    shutil.rmtree(directory, ignore_errors=True)


def configs_md(run: Run) -> str:
    return f"""
### resp — one Meridian node vs Redis {run.versions.get('redis', '')}

* Meridian: `meridian serve --data-dir D --http 127.0.0.1:0 --resp 127.0.0.1:0{shard_text(run)}` — RESP keys in
  bucket `default` (default properties: n=3 capped to the 1 node, dw=0: acknowledged before any
  fsync; RocksDB WAL written, not synced).
* Redis: `redis-server --port P --bind 127.0.0.1 --appendonly yes --appendfsync everysec --save ''
  --dir D --daemonize no` (append-only file fsynced once a second; no RDB snapshots).
* Load: `redis-benchmark -h 127.0.0.1 -p P -c 50 -n 300000 -d 100 -r 1000000 -t set,get --csv`,
  then the same with `-P 16`; rps, p50 and p99 from the CSV (columns test, rps,
  avg/min/p50/p95/p99/max latency in ms).
* Goals: SET and GET ≥ 0.9× Redis without pipelining, ≥ 0.5× with `-P 16`.
"""
