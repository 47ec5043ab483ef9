"""`meridian bench` (the YCSB-style load generator) against a real single node: the HTTP
driver with workloads A and F, the RESP driver when `meridian serve` has `--resp`, open loop,
quorum knobs, the JSON report, the error-rate exit code and usage errors."""
import json
import subprocess

import pytest

import conftest
from conftest import meridian_bin

BENCH_TIMEOUT_S = 120


def bench(*args):
    return subprocess.run([meridian_bin(), "bench", *args], capture_output=True,
                          timeout=BENCH_TIMEOUT_S, stdin=subprocess.DEVNULL)


def run_json(tmp_path, *args):
    """Runs bench with --json; returns (process, report)."""
    path = tmp_path / "report.json"
    result = bench(*args, "--json", str(path))
    assert path.exists(), "no JSON report; stderr: %s" % result.stderr.decode()
    return result, json.loads(path.read_text())


def assert_sane_phase(phase, operations):
    total = phase["total"]
    assert total["count"] > 0, phase
    assert total["errors"] == 0, phase
    assert phase["error_rate"] == 0
    assert phase["elapsed_s"] > 0
    assert set(phase["operations"]) == set(operations), phase["operations"].keys()
    for stats in list(phase["operations"].values()) + [total]:
        latency = stats["latency_us"]
        assert stats["count"] > 0
        assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"]
        assert latency["p99"] <= latency["p99_9"] <= latency["max"]
        assert stats["ops_per_s"] > 0


def http_args(server, *extra):
    return ["--driver", "meridian-http", "--address", "127.0.0.1:%d" % server.http_port,
            "--records", "1000", "--connections", "8", "--duration", "2", *extra]


@pytest.mark.parametrize("workload,operations", [
    ("a", {"read", "update"}),
    ("f", {"read", "read-modify-write"}),
])
def test_http_driver(start_server, tmp_path, workload, operations):
    server = start_server()
    result, report = run_json(tmp_path, *http_args(server, "--workload", workload))
    assert result.returncode == 0, result.stderr.decode()
    assert report["passed"] is True
    assert report["config"]["driver"] == "meridian-http"
    assert report["config"]["workload"] == workload
    assert report["peak_rss_bytes"] > 0 and report["cpu_s"] > 0
    load, run = report["phases"]
    assert load["phase"] == "load" and run["phase"] == "run"
    assert load["total"]["count"] == 1000
    assert_sane_phase(load, {"insert"})
    assert_sane_phase(run, operations)
    assert run["total"]["not_found"] == 0  # every key read was loaded
    assert 1.9 <= run["elapsed_s"] < 10
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert "phase run:" in stdout and "p99.9 us" in stdout
    assert "[run]" in stderr and "ops/s=" in stderr and "p99=" in stderr


def resp_supported():
    help_text = subprocess.run([meridian_bin(), "serve", "--help"], capture_output=True,
                               timeout=30).stdout.decode()
    return "--resp" in help_text


class RespServer(conftest.Server):
    """A conftest Server started with --resp, remembering the RESP port of its ready line."""

    resp_port = None

    def _read_ready_line(self):
        line = super()._read_ready_line()
        fields = dict(part.split("=", 1) for part in line.split()[2:] if "=" in part)
        self.resp_port = int(fields["resp"].rsplit(":", 1)[1])
        return line


@pytest.fixture
def resp_server(tmp_path):
    server = RespServer(str(tmp_path), ["--resp", "127.0.0.1:0"]).start()
    yield server
    server.stop()


@pytest.mark.skipif(not resp_supported(), reason="meridian serve has no --resp yet")
@pytest.mark.parametrize("workload,operations", [
    ("a", {"read", "update"}),
    ("f", {"read", "read-modify-write"}),
])
def test_resp_driver(resp_server, tmp_path, workload, operations):
    result, report = run_json(
        tmp_path, "--driver", "meridian-resp", "--address", "127.0.0.1:%d" % resp_server.resp_port,
        "--records", "1000", "--connections", "8", "--duration", "2", "--workload", workload)
    assert result.returncode == 0, result.stderr.decode()
    load, run = report["phases"]
    assert_sane_phase(load, {"insert"})
    assert_sane_phase(run, operations)


def test_open_loop_runs_the_scheduled_operations(start_server, tmp_path):
    server = start_server()
    result, report = run_json(tmp_path, *http_args(server, "--workload", "c", "--target-rate",
                                                   "500", "--phase", "both"))
    assert result.returncode == 0, result.stderr.decode()
    run = report["phases"][1]
    assert report["config"]["target_rate"] == 500
    assert run["total"]["count"] == 1000  # 500/s for 2 s
    assert_sane_phase(run, {"read"})
    assert "open loop at 500 ops/s" in result.stdout.decode()


def test_operations_bound_and_quorum_knobs(start_server, tmp_path):
    server = start_server()
    result, report = run_json(tmp_path, "--address", "127.0.0.1:%d" % server.http_port,
                              "--records", "200", "--operations", "3000", "--workload", "b",
                              "--r", "one", "--w", "1", "--dw", "0", "--quiet")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr.decode() == ""  # --quiet: no progress lines
    run = report["phases"][1]
    assert run["total"]["count"] == 3000
    assert report["config"]["r"] == "one" and report["config"]["w"] == "1"
    # The bucket was switched to last-writer-wins so blind updates overwrite.
    props = conftest.Endpoint(server, "http", None).get("/v1/buckets/bench").json()["props"]
    assert props["conflict_policy"] == "lww"


def test_error_rate_above_the_threshold_exits_1(start_server, tmp_path):
    server = start_server()
    # w=2 on a single node: every write is refused (400), half the operations fail.
    result, report = run_json(tmp_path, "--address", "127.0.0.1:%d" % server.http_port,
                              "--phase", "run", "--operations", "200", "--connections", "4",
                              "--w", "2", "--quiet")
    assert result.returncode == 1, result.stderr.decode()
    assert report["passed"] is False
    run = report["phases"][0]
    assert run["operations"]["update"]["errors"] > 0
    assert "invalid_parameter" in run["operations"]["update"]["first_error"]
    assert run["operations"]["read"]["not_found"] > 0  # nothing was loaded
    assert "more than --max-error-rate" in result.stderr.decode()
    # The same run passes with a threshold above its error rate.
    result, report = run_json(tmp_path, "--address", "127.0.0.1:%d" % server.http_port,
                              "--phase", "run", "--operations", "200", "--w", "2", "--quiet",
                              "--max-error-rate", "1")
    assert result.returncode == 0, result.stderr.decode()
    assert report["passed"] is True


def test_unreachable_store_exits_1_with_one_line():
    result = bench("--address", "127.0.0.1:1", "--duration", "1")
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert stderr.count("\n") == 1 and stderr.startswith("meridian bench: "), stderr


@pytest.mark.parametrize("args", [
    ["--workload", "e"],
    ["--driver", "memcached"],
    ["--distribution", "normal"],
    ["--r", "most"],
    ["--driver", "redis", "--w", "all"],
    ["--connections", "0"],
    ["--duration", "soon"],
    ["--phase", "warmup"],
    ["--address", "localhost"],
    ["surplus"],
])
def test_usage_errors_exit_2(args):
    result = bench(*args)
    assert result.returncode == 2, (args, result.stderr.decode())
    stderr = result.stderr.decode()
    assert stderr.count("\n") == 1 and stderr.startswith("meridian bench: "), stderr

