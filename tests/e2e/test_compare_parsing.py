"""bench/compare's pure parts: parsing of the tools' output (recorded real output in
compare_data/, see its README.md), and the report — medians over rounds, ratios, goals,
results.json/tables.md/results.md — against what the bash version wrote from the same raw/.
Needs no meridian binary and starts no server."""
import copy
import json
import pathlib
import shutil
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"
DATA = pathlib.Path(__file__).resolve().parent / "compare_data"
sys.path.insert(0, str(BENCH))

from comparelib import http_section, parse, results  # noqa: E402
from comparelib.parse import ParseError  # noqa: E402


def data(name):
    return (DATA / name).read_text()


def data_json(name):
    return json.loads(data(name))


# --- redis-benchmark --csv ----------------------------------------------------------------------
def test_redis_benchmark_csv():
    text = data("redis-benchmark.csv")
    assert parse.redis_benchmark_csv(text, "SET") == parse.Rate(31635.56, 1.327, 2.023)
    assert parse.redis_benchmark_csv(text, "GET") == parse.Rate(51608.46, 0.535, 0.959)
    pipelined = data("redis-benchmark-p16.csv")
    assert parse.redis_benchmark_csv(pipelined, "GET") == parse.Rate(641025.62, 1.039, 1.703)


@pytest.mark.parametrize("text,message", [
    ("", "no SET line"),
    ('"test","rps"\n"GET","1.0","1","1","1","1","1","1"\n', "no SET line"),
    ('"SET","31635.56","1.339"\n', "the SET row has 3 columns"),
    ('"SET","fast","1.339","0.544","1.327","1.807","2.023","11.759"\n', "SET rps is not a number"),
])
def test_redis_benchmark_csv_rejects_incomplete_output(text, message):
    with pytest.raises(ParseError, match=message):
        parse.redis_benchmark_csv(text, "SET")


# --- wrk ----------------------------------------------------------------------------------------
def test_wrk_latency_output():
    assert parse.wrk_output(data("wrk-put.txt")) == parse.WrkResult(
        requests_per_s=23680.06, p50_ms=1.92, p99_ms=4.09, errors=0, requests=47482)
    assert parse.wrk_output(data("wrk-nginx.txt")) == parse.WrkResult(38978.17, 1.18, 2.64, 0, 81836)


def test_wrk_counts_non_2xx_responses_and_socket_errors_as_errors():
    not_found = parse.wrk_output(data("wrk-404.txt"))
    assert (not_found.errors, not_found.requests) == (4538, 4538)
    assert not_found.p50_ms == 0.494  # 494.00us
    assert not_found.p99_ms == 78.85
    sockets = parse.wrk_output(data("wrk-socket-errors.txt"))
    assert sockets.errors == 9117  # connect 0, read 9117, write 0, timeout 0
    assert sockets.p50_ms == 0.129 and sockets.requests == 4558
    every_kind = data("wrk-socket-errors.txt").replace(
        "connect 0, read 9117, write 0, timeout 0", "connect 1, read 20, write 300, timeout 4000")
    assert parse.wrk_output(every_kind + "  Non-2xx or 3xx responses: 50000\n").errors == 54321


@pytest.mark.parametrize("text,ms", [
    ("494.00us", 0.494), ("1.92ms", 1.92), ("1.02s", 1020.0), ("2.00m", 120000.0), ("3", 3.0),
])
def test_wrk_duration_units(text, ms):
    assert parse.wrk_duration_ms(text) == pytest.approx(ms)


def test_wrk_output_without_latency_or_empty_is_an_error():
    with pytest.raises(ParseError, match=r"no 50%, 99% in the wrk output \(was it run with --latency\?\)"):
        parse.wrk_output(data("wrk-fill.txt"))  # the fill run has no --latency
    with pytest.raises(ParseError, match="no Requests/sec, 50%, 99%"):
        parse.wrk_output("")
    with pytest.raises(ParseError, match="not a wrk latency"):
        parse.wrk_output(data("wrk-put.txt").replace("4.09ms", "soon"))


def test_wrk_fill_line():
    assert parse.wrk_fill_line(data("wrk-fill.txt")) == (67296, 0)
    assert parse.wrk_fill_line(data("wrk-put.txt")) is None


# --- meridian bench --json ----------------------------------------------------------------------
def test_bench_total_of_the_load_phase():
    report = parse.bench_report(data("bench-load.json"))
    total = parse.bench_total(report, "load")
    assert total.ops_per_s == 12383.859306756462
    assert total.p50_ms == 3932.159 / 1000 and total.p99_ms == 6782.975 / 1000
    assert (total.errors, total.count, total.not_found) == (0, 20000, 0)
    assert parse.bench_elapsed_s(report, "load") == 1.615005428
    with pytest.raises(ParseError, match="no run phase"):
        parse.bench_total(report, "run")


def test_bench_conflicts_of_compare_and_set():
    report = parse.bench_report(data("bench-cas.json"))
    assert parse.bench_conflicts(report, "run") == 11
    assert parse.bench_total(report, "run").count == 6442
    assert parse.bench_conflicts(report, "load") == 0
    # Without a conflicts field (older reports): 0, as jq's `// 0`.
    del report["phases"][0]["total"]["conflicts"]
    assert parse.bench_conflicts(report, "run") == 0


def test_bench_reads_prefer_the_read_operation_over_the_total():
    report = parse.bench_report(data("bench-memory-read.json"))
    reads = parse.bench_reads(report)
    assert (reads.count, reads.ops_per_s, reads.not_found) == (572685, 114491.40457666888, 0)
    mixed = copy.deepcopy(report)
    mixed["phases"][0]["total"]["count"] = 999999
    assert parse.bench_reads(mixed).count == 572685
    del mixed["phases"][0]["operations"]["read"]
    assert parse.bench_reads(mixed).count == 999999  # no read operation: the total
    del mixed["phases"][0]["total"]["not_found"]
    assert parse.bench_reads(mixed).not_found is None


@pytest.mark.parametrize("text,message", [
    ("", "the report is empty"),
    ("{\"phases\": [", "the report is not JSON"),
    ("[]", "the report has no list of phases"),
    ("{\"phases\": 3}", "the report has no list of phases"),
])
def test_bench_report_rejects_malformed_json(text, message):
    with pytest.raises(ParseError, match=message):
        parse.bench_report(text)


def test_bench_total_rejects_incomplete_statistics():
    report = parse.bench_report(data("bench-load.json"))
    broken = copy.deepcopy(report)
    del broken["phases"][0]["total"]["latency_us"]
    with pytest.raises(ParseError, match="load phase total: no latency_us"):
        parse.bench_total(broken, "load")
    broken = copy.deepcopy(report)
    broken["phases"][0]["total"]["latency_us"]["p99"] = None
    with pytest.raises(ParseError, match="p99 is not a number"):
        parse.bench_total(broken, "load")
    broken = copy.deepcopy(report)
    del broken["phases"][0]["total"]["count"]
    with pytest.raises(ParseError, match="no count"):
        parse.bench_total(broken, "load")


@pytest.mark.parametrize("value,text", [
    (None, "null"), (0, "0"), (20000, "20000"), (5000.0, "5000"), (1908.735 / 1000, "1.9087349999999998"),
    (24094.227414337893, "24094.227414337893"), (True, "true"),
])
def test_jq_text(value, text):
    # Numbers in raw/measurements.tsv are written as jq printed them in the bash version.
    assert parse.jq_text(value) == text


# --- Meridian, etcd, versions -------------------------------------------------------------------
def test_ready_line():
    stdout = data("meridian-stdout.txt")
    assert parse.meridian_ready(stdout)
    assert parse.ready_addresses(stdout) == {"http": "127.0.0.1:39785", "resp": "",
                                             "peer": "127.0.0.1:43205"}
    assert not parse.meridian_ready("starting\n")
    assert parse.ready_addresses(
        "meridian ready: http=127.0.0.1:1 resp=127.0.0.1:2\n")["resp"] == "127.0.0.1:2"


def test_cluster_settled():
    status, ring = data_json("cluster-status.json"), data_json("cluster-ring.json")
    assert parse.cluster_settled(status, ring)
    down = copy.deepcopy(status)
    down["members"][2]["alive"] = False
    assert not parse.cluster_settled(down, ring)
    receiving = copy.deepcopy(status)
    receiving["members"][1]["partitions_incoming"] = 4
    assert not parse.cluster_settled(receiving, ring)
    moving = copy.deepcopy(ring)
    moving["partitions"][7]["pending_owner"] = "node2"
    assert not parse.cluster_settled(status, moving)
    assert not parse.cluster_settled({}, ring)
    assert not parse.cluster_settled(status, {"partitions": None})


def test_etcd_health_and_leader():
    assert parse.etcd_healthy(data("etcd-health.json").encode())
    assert not parse.etcd_healthy('{"health":"false","reason":"RAFT NO LEADER"}')
    assert parse.etcd_is_leader(data_json("etcd-status-leader.json"))
    assert not parse.etcd_is_leader(data_json("etcd-status-follower.json"))
    assert not parse.etcd_is_leader({})


def test_metrics_gauge():
    text = data("metrics.txt")
    assert parse.metrics_gauge(text, "meridian_rocksdb_block_cache_capacity_bytes") == 268435456
    assert parse.metrics_gauge(text, "meridian_rocksdb_memtable_bytes") == 13807424
    assert parse.metrics_gauge(text, "meridian_rocksdb_no_such_bytes") is None
    assert parse.metrics_gauge("g 1.5e+08\n", "g") == 150000000
    assert parse.metrics_gauge("g NaN\n", "g") is None


def test_versions():
    assert parse.meridian_version(data("meridian-version.txt")) == "0.1.0"
    assert parse.redis_version(data("redis-server-version.txt")) == "7.0.15"
    assert parse.nginx_version(data("nginx-v.txt")) == "1.22.1"
    assert parse.etcd_version(data("etcd-version.txt")) == "3.4.23"
    assert parse.wrk_version(data("wrk-v.txt")) == "debian/4.1.0-3+b2"
    assert parse.redis_version("") == parse.nginx_version("") == parse.etcd_version("") == ""


def test_nginx_conf():
    conf = http_section.nginx_conf("/tmp/meridian-compare.71woig/http-r1-nginx", 36879,
                                   data("nginx-V.txt"), root=True)
    assert conf == data("nginx.conf")
    # Temp paths only for the modules this nginx has; no `user` line when not root.
    without = http_section.nginx_conf("/d", 1, data("nginx-V.txt") + " --without-http_uwsgi_module",
                                      root=False)
    assert "uwsgi_temp_path" not in without and "scgi_temp_path /d/tmp/scgi;" in without
    assert "user root;" not in without
    assert "client_body_temp_path" not in http_section.nginx_conf("/d", 1, "nginx version: x", False)


# --- results ------------------------------------------------------------------------------------
def test_report_matches_the_recorded_one(tmp_path):
    # The raw/ of a bash-version run: byte for byte the recorded results.json, tables.md and
    # results.md (recorded by the bash version, rewritten when the http rows changed on
    # 2026-12-06: that run's nginx measured only the static GET, so the PUT rows have no peer).
    shutil.copytree(DATA / "report" / "raw", tmp_path / "raw")
    tables = results.write(tmp_path)
    for name in ("results.json", "tables.md", "results.md"):
        assert (tmp_path / name).read_text() == (DATA / "report" / name).read_text(), name
    assert tables == (DATA / "report" / "tables.md").read_text()


def write_raw(tmp_path, measurements, rss=(), meta=(("rounds", "3"),)):
    """A raw/ directory through the Recorder, as a run writes it."""
    raw = tmp_path / "raw"
    raw.mkdir()
    recorder = results.Recorder(str(raw))
    recorder.start()
    for row in measurements:
        recorder.measurement(*row)
    for row in rss:
        recorder.rss(*row)
    results.write_tsv(str(raw / "meta.tsv"), [("meridian_version", "0.1.0"), ("redis_version", "7"),
                                             ("etcd_version", "3.4"), *meta])
    (raw / "configs.md").write_text("## Configurations\n")
    return raw


def summary_row(doc, workload):
    return next(s for s in doc["summary"] if s["workload"] == workload)


def test_medians_over_rounds_ratios_and_goals(tmp_path, capsys):
    write_raw(tmp_path, [
        # resp SET: Meridian 80, 100, 95 (median 95) vs Redis 100 -> 0.95x, goal >= 0.9x: met.
        ("resp", "meridian", "SET", 1, 80.0, 1.0, 4.0, None, "a.csv"),
        ("resp", "meridian", "SET", 2, 100.0, 1.0, 2.0, None, "a.csv"),
        ("resp", "meridian", "SET", 3, 95.0, 1.0, 3.0, None, "a.csv"),
        ("resp", "redis", "SET", 1, 100.0, 1.0, 1.5, None, "b.csv"),
        # resp GET with 2 rounds: median is the mean of the two; 0.8x < 0.9x: not met.
        ("resp", "meridian", "GET", 1, 70.0, 1.0, 1.0, None, "a.csv"),
        ("resp", "meridian", "GET", 2, 90.0, 1.0, 1.0, None, "a.csv"),
        ("resp", "redis", "GET", 1, 100.0, 1.0, 1.0, None, "b.csv"),
        # cluster put: 5x etcd with a lower p99: both met; put dw=2: informational.
        ("cluster", "meridian", "put", 1, 5000.0, 1.0, 2.0, 0, "c.json", "count=10 not_found=0 conflicts=0"),
        ("cluster", "etcd", "put", 1, 1000.0, 5.0, 20.0, 0, "d.json", "count=10 not_found=0 conflicts=0"),
        ("cluster", "meridian", "put dw=2", 1, 900.0, 1.0, 30.0, 0, "e.json", "count=10 not_found=0 conflicts=0"),
        # strong one-client put: p50 1.0 vs etcd 2.0, goal <= etcd: met.
        ("strong", "meridian", "strong put 1 client", 1, 100.0, 1.0, 3.0, 0, "f.json", "count=5 not_found=0 conflicts=0"),
        ("strong", "etcd", "put 1 client", 1, 50.0, 2.0, 3.0, 0, "g.json", "count=5 not_found=0 conflicts=0"),
    ])
    doc, tables = results.build(tmp_path)
    row = summary_row(doc, "SET, -c 50 — throughput")
    assert (row["meridian"], row["peer_value"], row["ratio"]) == (95.0, 100.0, 0.95)
    assert (row["goal"], row["met"], row["peer"]) == ("≥ 0.9×", "yes", "Redis 7")
    p99 = summary_row(doc, "SET, -c 50 — p99")
    assert p99["meridian"] == 3.0 and p99["ratio"] == 2.0 and p99["met"] == "—"  # resp: no p99 goal
    get = summary_row(doc, "GET, -c 50 — throughput")
    assert get["meridian"] == 80.0 and get["ratio"] == 0.8 and get["met"] == "no"
    put = summary_row(doc, "put (insert), N=3 W=2 vs etcd — throughput")
    assert put["ratio"] == 5.0 and put["goal"] == "≥ 5×" and put["met"] == "yes"
    put_p99 = summary_row(doc, "put (insert), N=3 W=2 vs etcd — p99")
    assert put_p99["ratio"] == 0.1 and put_p99["goal"] == "lower than peer (< 1×)" and put_p99["met"] == "yes"
    durable = summary_row(doc, "put dw=2 (durable) vs etcd put — throughput")
    assert durable["ratio"] == 0.9 and durable["goal"] == "—" and durable["met"] == "—"
    assert summary_row(doc, "put dw=2 (durable) vs etcd put — p99")["met"] == "—"
    one_client = summary_row(doc, "put, 1 client (overwrites) vs etcd — p50")
    assert one_client["ratio"] == 0.5 and one_client["goal"] == "≤ peer (≤ 1×)" and one_client["met"] == "yes"
    # A spec without any measurement has no rows; one side missing: no ratio, goal not judged.
    assert not [s for s in doc["summary"] if s["section"] == "http"]
    assert not [s for s in doc["summary"] if s["workload"].startswith("read (workload C)")]
    assert "| resp | SET, -c 50 — throughput | 95 ops/s | Redis 7 | 100 ops/s | 0.95× | ≥ 0.9× | yes |" in tables
    assert "### Ratios Meridian ÷ peer (median of 3 round(s))" in tables
    assert "Errors (wrk: non-2xx and socket errors; meridian bench: failed operations): none in cluster, strong." in tables
    assert "redis-benchmark does not count errors." in tables
    assert "meridian SET: 80 ops/s, p50 1.00 ms, p99 4.00 ms, errors n/a" in capsys.readouterr().out


def test_missing_peer_gives_no_ratio(tmp_path):
    write_raw(tmp_path, [("cluster", "meridian", "read", 1, 300.0, 1.0, 2.0, 0, "r.json", "")])
    doc, _ = results.build(tmp_path)
    row = summary_row(doc, "read (workload C), N=3 R=2 vs etcd — throughput")
    assert row["meridian"] == 300.0 and row["peer_value"] is None
    assert row["ratio"] is None and row["met"] == "—" and row["goal"] == "≥ 3×"


def test_results_json_round_trip(tmp_path):
    write_raw(tmp_path, [
        ("strong", "meridian", "strong cas", 1, 3196.1664118306094, 13.893631, 42.467327, 2,
         "strong-r1-meridian-strong_cas.json", "count=6442 not_found=0 conflicts=11"),
        ("strong", "etcd", "put", 1, 2805.0, 10.0, 121.0, 0, "strong-r1-etcd-put.json",
         "count=20000 not_found=null conflicts=0"),
        ("resp", "redis", "SET", 1, 50692.8, 0.487, 0.943, None, "resp-r1-redis-plain.csv"),
    ], rss=[
        ("strong", "meridian", 1, "meridian node1", 101, 1000),
        ("strong", "meridian", 1, "meridian node2", 102, 3000),
        ("strong", "etcd", 1, "etcd e1", 201, None),
    ], meta=(("rounds", "1"),))
    results.write(tmp_path)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc) == {"meta", "systems", "measurements", "summary", "rss", "memory"}
    assert doc["memory"] is None
    assert doc["systems"] == {"meridian": "Meridian 0.1.0", "redis": "Redis 7", "nginx": "nginx",
                              "etcd": "etcd 3.4"}
    cas, etcd_put, redis_set = doc["measurements"]
    assert cas == {"section": "strong", "system": "meridian", "workload": "strong cas", "round": 1,
                   "ops_per_s": 3196.1664118306094, "p50_ms": 13.893631, "p99_ms": 42.467327,
                   "errors": 2, "raw": "raw/strong-r1-meridian-strong_cas.json",
                   "server_peak_rss_bytes": 4000 * 1024, "server_processes": 2,
                   "count": 6442, "not_found": 0, "conflicts": 11}
    assert etcd_put["not_found"] == "null"  # as the bash version: jq printed a missing field so
    assert etcd_put["server_peak_rss_bytes"] == 0  # one process, its RSS unknown
    assert etcd_put["server_processes"] == 1
    assert redis_set["errors"] is None and "count" not in redis_set
    assert redis_set["server_peak_rss_bytes"] is None and redis_set["server_processes"] == 0
    assert doc["rss"][2] == {"section": "strong", "system": "etcd", "round": 1, "process": "etcd e1",
                             "pid": 201, "peak_rss_bytes": None}
    tables = (tmp_path / "tables.md").read_text()
    assert ("Compare-and-set operations that lost a race (412, counted as completed): strong "
            "Meridian 0.1.0 strong cas round 1: 11 of 6442.") in tables
    assert "Errors: strong Meridian 0.1.0 strong cas round 1: 2." in tables
    assert "| strong | Meridian 0.1.0 | meridian node1 | 1.0 MiB |" in tables
    assert "| strong | etcd 3.4 | etcd e1 | — |" in tables
    md = (tmp_path / "results.md").read_text()
    assert md.startswith("# Meridian compared with Redis, nginx and etcd\n")
    assert "## Configurations\n" in md and "\n## Results\n\n" in md and md.endswith(results.FILES_MD)
    # The plot reads the same document.
    plot_compare = pytest.importorskip("plot_compare")
    groups, values = plot_compare.medians(doc["measurements"])
    assert ("strong", "strong cas") in groups
    assert values[("strong", "strong cas", "meridian")]["ops"] == 3196.1664118306094


def test_memory_budget_and_unexplained(tmp_path):
    memory = dict(row.split("\t") for row in data("report/raw/memory.tsv").splitlines())
    m = results.memory_results(memory)
    assert m["budget_bytes"] == 268435456 + 134217728
    assert m["budget_check_bytes"] == 37294080 - (268435456 + 134217728)
    assert m["unexplained_bytes"] == 36605952 - 88 - 13807424 - 0
    assert m["unexplained_bytes_per_record"] == m["unexplained_bytes"] / 20000
    assert m["read"]["not_found"] == 0 and m["read"]["count"] == 572685
    without_gauges = dict(memory, rocksdb_memtable_bytes="", read_not_found="")
    m = results.memory_results(without_gauges)
    assert m["unexplained_bytes"] is None and m["read"]["not_found"] is None
    lines = "\n".join(results.memory_lines(m))
    assert "| RocksDB memtables (gauge, at the end) | n/a |" in lines
    assert "n/a (the binary does not expose the RocksDB gauges)" in lines
    assert "| read: not found (every key was loaded: should be 0) | n/a |" in lines
    assert results.memory_results({}) is None
