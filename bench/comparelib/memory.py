"""Section memory: one Meridian node loaded with --memory-records 100-byte objects, then read
for --memory-read-seconds; its RSS sampled every 5 s (raw/memory_rss.csv), RocksDB's memory
gauges from /metrics at the end (raw/memory.tsv, reported by results.py)."""
import os
import shutil
import subprocess
import time

from . import parse
from .common import Failure, http_ok, log
from .context import BLOCK_CACHE_BYTES, WRITE_BUFFER_BYTES, Run
from .meridian import read_text, start_node
from .processes import current_rss_kb, is_running, peak_rss_kb
from .results import write_tsv

LOAD_LIMIT_S = 2400          # 40 minutes
READ_EXTRA_S = 120           # the read phase: --memory-read-seconds + 120 s
SAMPLE_S = 5
PROGRESS_S = 60
GAUGES = ("block_cache_capacity", "block_cache_usage", "memtable", "table_readers")


class Sampler:
    """Rows of raw/memory_rss.csv: seconds since the load started, VmRSS, VmHWM, phase."""

    def __init__(self, run: Run, pid: int):
        self.path = run.raw_path("memory_rss.csv")
        self.pid = pid
        with open(self.path, "w") as handle:
            handle.write("elapsed_s,vmrss_bytes,vmhwm_bytes,phase\n")
        self.start = int(time.time())

    def sample(self, phase: str) -> int:
        """One row now; returns the VmRSS in bytes."""
        rss = (current_rss_kb(self.pid) or 0) * 1024
        hwm = (peak_rss_kb(self.pid) or 0) * 1024
        with open(self.path, "a") as handle:
            handle.write(f"{int(time.time()) - self.start},{rss},{hwm},{phase}\n")
        return rss


def last_progress_line(path: str) -> str:
    """The last non-empty line of the last 300 bytes of a progress log (\\r separates too)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 300))
            tail = handle.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line for line in tail.replace("\r", "\n").split("\n") if line]
    return lines[-1] if lines else ""


def run_phase(run: Run, node, sampler: Sampler, phase: str, limit_s: int, base: str,
              args: list[str]) -> tuple[int, dict]:
    """`meridian bench ARGS` (stdout BASE.txt, stderr BASE.txt.err) while the node's RSS is
    sampled every 5 s, with a progress line every 60 s; fails after `limit_s` or when the node
    exits. Returns the bench's exit status and its JSON report (BASE.json)."""
    process = run.supervisor.start_tool(f"meridian bench (memory {phase})", [run.bin, "bench", *args],
                                        base + ".txt", base + ".txt.err")
    phase_start = int(time.time())
    last = phase_start
    while process.poll() is None:
        now = int(time.time())
        if not is_running(node.process.pid):
            raise Failure(f"memory: the Meridian node exited during the {phase} phase (see raw/servers)")
        rss = sampler.sample(phase)
        if now - last >= PROGRESS_S:
            last = now
            log(f"    {phase} {now - phase_start}s: node RSS {rss // 1024 // 1024} MiB; "
                f"{last_progress_line(base + '.txt.err')}")
        if now - phase_start >= limit_s:
            run.supervisor.stop(process)
            raise Failure(f"memory: the {phase} phase did not finish within {limit_s} s")
        deadline = time.monotonic() + SAMPLE_S
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    run.supervisor.stop(process)  # reaps it and forgets it
    rc = process.returncode
    text = read_text(base + ".json")
    if not text:
        raise Failure(f"memory: meridian bench ({phase}) wrote no JSON (exit {rc}); "
                      f"see raw/{os.path.basename(base)}.txt.err")
    if not is_running(node.process.pid):
        raise Failure(f"memory: the Meridian node exited during the {phase} phase (see raw/servers)")
    try:
        return rc, parse.bench_report(text)
    except parse.ParseError as error:
        raise Failure(f"memory: {error} in raw/{os.path.basename(base)}.json") from None


def mib_or_na(value) -> str:
    return "n/a" if value is None else f"{value >> 20} MiB"


def head3(path: str) -> str:
    return "\n".join(read_text(path).splitlines()[:3])


def run_section(run: Run) -> None:
    records, seconds = run.options.memory_records, run.options.memory_read_seconds
    directory = run.work_dir("memory-meridian")
    log(f"memory: one Meridian node, load of {records} 100-byte objects (meridian-resp, "
        f"pipeline 16), then {seconds} s of uniform reads")
    args = ["--http", "127.0.0.1:0", "--resp", "127.0.0.1:0", "--block-cache-bytes", str(BLOCK_CACHE_BYTES)]
    if run.write_buffer_flag:
        args += ["--write-buffer-bytes", str(WRITE_BUFFER_BYTES)]
    node = start_node(run, "meridian (memory)", directory, *args)
    sampler = Sampler(run, node.process.pid)
    common = ["--driver", "meridian-resp", "--address", node.resp]

    # Load: every record inserted once.
    base = run.raw_path("memory-load")
    load_rc, report = run_phase(run, node, sampler, "load", LOAD_LIMIT_S, base, [
        *common, "--phase", "load", "--records", str(records), "--value-size", "100",
        "--connections", "50", "--pipeline", "16", "--json", base + ".json"])
    try:
        load = parse.bench_total(report, "load")
        elapsed = parse.bench_elapsed_s(report, "load")
    except parse.ParseError:
        raise Failure("memory: no load phase in raw/memory-load.json") from None
    rss_load = sampler.sample("load")
    log(f"    load: {load.count} of {records} inserted in {elapsed:.1f} s ({load.ops_per_s:.0f} ops/s), "
        f"{load.errors} errors; node RSS {rss_load >> 20} MiB")
    if load.count != records:
        log(f"    WARNING: only {load.count} of {records} records were inserted")
    if load_rc != 0:
        log(f"    WARNING: meridian bench (load) exit {load_rc}: {head3(base + '.txt.err')}")

    # Read: workload C over all keys, uniform, so the block cache fills.
    base = run.raw_path("memory-read")
    read_rc, report = run_phase(run, node, sampler, "read", seconds + READ_EXTRA_S, base, [
        *common, "--phase", "run", "--workload", "c", "--distribution", "uniform",
        "--records", str(records), "--value-size", "100", "--connections", "50",
        "--pipeline", "16", "--duration", str(seconds), "--json", base + ".json"])
    try:
        read = parse.bench_reads(report)
    except parse.ParseError:
        raise Failure("memory: no run phase in raw/memory-read.json") from None
    rss_read = sampler.sample("read")

    # RocksDB's own accounting, just after the reads.
    metrics = http_ok(f"http://{node.http}/metrics", timeout_s=10)
    with open(run.raw_path("memory-metrics.txt"), "wb") as handle:
        handle.write(metrics or b"")
    if metrics is not None:
        text = metrics.decode(errors="replace")
        gauges = [parse.metrics_gauge(text, f"meridian_rocksdb_{name}_bytes") for name in GAUGES]
    else:
        log(f"    WARNING: could not fetch http://{node.http}/metrics")
        gauges = [None] * len(GAUGES)
    peak = (peak_rss_kb(node.process.pid) or 0) * 1024
    du = subprocess.run(["du", "-sb", os.path.join(directory, "data")], stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=600).stdout.split()
    du_bytes = int(du[0]) if du and du[0].isdigit() else 0
    run.record_rss("memory", "meridian", 1, "meridian serve", node.process.pid)
    run.supervisor.stop(node.process)
    run.keep_logs(os.path.join(directory, "stderr"))
    shutil.rmtree(directory, ignore_errors=True)

    not_found = read.not_found
    log(f"    read: {read.ops_per_s:.0f} ops/s (p99 {read.p99_ms:.2f} ms), {read.count} reads, "
        f"{read.errors} errors, {'n/a' if not_found is None else parse.jq_text(not_found)} not found; "
        f"node RSS {rss_read >> 20} MiB")
    if read.errors != 0:
        log(f"    WARNING: {read.errors} reads failed")
    if not_found is None:
        log("    WARNING: raw/memory-read.json has no not_found count")
    elif not_found != 0:
        log(f"    WARNING: {parse.jq_text(not_found)} reads found no value (every key was loaded)")
    if read.count == 0:
        log("    WARNING: the read phase completed no reads")
    if read_rc != 0:
        log(f"    WARNING: meridian bench (read) exit {read_rc}: {head3(base + '.txt.err')}")
    log(f"    peak RSS {peak >> 20} MiB, after reads {rss_read >> 20} MiB, data dir {du_bytes >> 20} MiB; "
        f"RocksDB: block cache {mib_or_na(gauges[1])} of {mib_or_na(gauges[0])}, "
        f"memtables {mib_or_na(gauges[2])}, table readers {mib_or_na(gauges[3])}")
    j = parse.jq_text
    rows = [
        ("records", records), ("inserted", load.count), ("errors", load.errors),
        ("bench_exit", load_rc), ("load_s", j(elapsed)), ("ops_per_s", j(load.ops_per_s)),
        ("p99_ms", j(load.p99_ms)), ("read_s", seconds), ("read_count", read.count),
        ("read_errors", read.errors), ("read_not_found", "" if not_found is None else j(not_found)),
        ("read_bench_exit", read_rc), ("read_ops_per_s", j(read.ops_per_s)),
        ("read_p50_ms", j(read.p50_ms)), ("read_p99_ms", j(read.p99_ms)),
        ("peak_rss_bytes", peak), ("rss_after_load_bytes", rss_load),
        ("rss_after_read_bytes", rss_read), ("data_dir_bytes", du_bytes),
        ("block_cache_bytes", BLOCK_CACHE_BYTES), ("write_buffer_size_bytes", WRITE_BUFFER_BYTES),
        ("write_buffer_bytes", 2 * WRITE_BUFFER_BYTES),
        ("write_buffer_flag", 1 if run.write_buffer_flag else 0),
    ] + [(f"rocksdb_{name}_bytes", "" if g is None else g) for name, g in zip(GAUGES, gauges)]
    write_tsv(run.raw_path("memory.tsv"), rows)


def configs_md(run: Run) -> str:
    records, seconds = run.options.memory_records, run.options.memory_read_seconds
    if run.write_buffer_flag:
        wb_flag = f" --write-buffer-bytes {WRITE_BUFFER_BYTES}"
        wb_note = "passed explicitly with --write-buffer-bytes"
    else:
        wb_flag = ""
        wb_note = "built in (this binary has no flag for it)"
    return f"""
### memory — one Meridian node, {records} objects

* `meridian serve --data-dir D --http 127.0.0.1:0 --resp 127.0.0.1:0 --block-cache-bytes
  {BLOCK_CACHE_BYTES}{wb_flag}`: block cache 256 MiB; write buffers 64 MiB per column family
  (RocksDB memtables, up to 2 per column family), {wb_note}.
* Load: `meridian bench --driver meridian-resp --address RESP --phase load --records
  {records} --value-size 100 --connections 50 --pipeline 16` (at most 40 minutes).
* Read, on the same node, to fill the block cache: `meridian bench --driver meridian-resp
  --address RESP --phase run --workload c --distribution uniform --records {records}
  --value-size 100 --connections 50 --pipeline 16 --duration {seconds}` (every key
  was loaded, so every read should find its value).
* VmRSS and VmHWM of the node sampled every 5 s through both phases (raw/memory_rss.csv, column
  `phase`). At the end, before the node stops, the RocksDB gauges
  `meridian_rocksdb_block_cache_capacity_bytes`, `…_block_cache_usage_bytes`,
  `…_memtable_bytes` and `…_table_readers_bytes` from `http://HTTP/metrics`
  (raw/memory-metrics.txt; "n/a" when the binary does not expose them).
"""
