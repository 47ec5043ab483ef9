"""Cluster administration of a standalone `meridian serve`: the /v1/cluster/ HTTP endpoints
and the `meridian cluster ...` CLI (status, ring, membership changes, usage errors)."""
import json
import re
import os
import subprocess

import pytest

from conftest import Endpoint, meridian_bin

PARTITIONS = 16
NODE_OPTIONS = ("--name", "solo", "--zone", "z1", "--weight", "2", "--shards", "2",
                "--partition-count", str(PARTITIONS))
# Nothing listens on port 1 of the loopback: connections are refused at once.
UNREACHABLE_URL = "http://127.0.0.1:1"


def run(*args, url=None, cacert=None):
    env = dict(os.environ)
    env.pop("MERIDIAN_URL", None)
    if url:
        env["MERIDIAN_URL"] = url
    command = [meridian_bin(), "cluster", *args]
    if cacert:
        command += ["--cacert", cacert]
    return subprocess.run(command, capture_output=True, env=env, timeout=30)


def one_line(stderr):
    text = stderr.decode()
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text


@pytest.fixture
def solo(start_server, certificate):
    """A standalone server with a known name, zone, weight, shard count and partition count."""
    return Endpoint(start_server(*NODE_OPTIONS), "http", certificate[0])


@pytest.fixture
def cli(solo):
    return lambda *args: run(*args, url=solo.url)


def test_status_over_http(solo):
    response = solo.get("/v1/cluster/status")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert list(status) == ["cluster_name", "self", "claimant", "ring_version",
                            "partition_count", "members"]
    assert status["self"] == "solo" and status["claimant"] == "solo"
    assert status["partition_count"] == PARTITIONS
    assert len(status["members"]) == 1
    member = status["members"][0]
    assert member["id"] == "solo"
    assert member["peer_address"] == ""
    assert member["zone"] == "z1"
    assert member["weight"] == 2
    assert member["status"] == "up"
    assert member["alive"] is True
    assert member["phi"] == 0
    assert member["partitions_owned"] == PARTITIONS
    assert member["partitions_incoming"] == 0
    assert isinstance(member["incarnation"], int) and member["incarnation"] >= 1


def without_reports(status):
    """The status without the members' reports (their disk and request figures change from
    one call to the next), after checking that every member has one."""
    for member in status["members"]:
        assert "report" in member, member
        member.pop("report")
    return status


def test_status_over_cli_matches_http(solo, cli):
    as_json = cli("status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert (without_reports(json.loads(as_json.stdout))
            == without_reports(solo.get("/v1/cluster/status").json()))

    table = cli("status")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.decode().splitlines()
    assert lines[0].startswith("cluster meridian, self solo, claimant solo, ring version ")
    assert lines[0].endswith(", %d partitions" % PARTITIONS)
    assert lines[1].split() == ["ID", "STATUS", "ALIVE", "ZONE", "WEIGHT", "SHARDS", "OWNED",
                                "INCOMING", "DISK", "HINTS", "REQ/S", "P99", "MS", "VERSION",
                                "ADDRESS", "HTTP"]
    row = lines[2].split()
    assert row[:8] == ["solo", "up", "yes", "z1", "2", "2", str(PARTITIONS), "0"]
    assert row[8].endswith("%") and 0 < float(row[8][:-1]) <= 100, row  # disk used
    assert row[9] == "0", row  # hints pending
    float(row[10]), float(row[11])  # request rate, p99 ms
    version = json.loads(as_json.stdout)["members"][0]["meridian_version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version  # this release, from its report
    assert row[12] == version, row
    assert row[13] == "-", row  # no peer address: standalone
    assert row[14].startswith("127.0.0.1:")
    assert lines[3:] == ["transfers: none running", "repairs: nothing queued, no hints pending"]


def test_ring_over_http_and_cli(solo, cli):
    without = solo.get("/v1/cluster/ring").json()
    assert "partitions" not in without
    assert without["partition_count"] == PARTITIONS
    with_partitions = solo.get("/v1/cluster/ring?partitions=true").json()
    assert with_partitions["partitions"] == [
        {"partition": p, "owner": "solo", "pending_owner": ""} for p in range(PARTITIONS)]

    as_json = cli("ring", "--partitions", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == with_partitions

    table = cli("ring", "--partitions")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.decode().splitlines()
    assert lines[0] == "ring version %d, %d partitions" % (without["version"], PARTITIONS)
    assert lines[2].split() == ["solo", "up", "2", str(PARTITIONS), "100.0%", "100.0%", "0"]
    partition_rows = [line.split() for line in lines[lines.index("") + 2:]]
    assert partition_rows == [[str(p), "solo", "-"] for p in range(PARTITIONS)]

    short = cli("ring")
    assert short.returncode == 0 and b"PARTITION" not in short.stdout


def test_status_over_https(start_server, certificate):
    endpoint = Endpoint(start_server(tls=True), "https", certificate[0])
    result = run("status", "--json", url=endpoint.url, cacert=endpoint.verify)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["members"][0]["alive"] is True
    unverified = run("status", url=endpoint.url)
    assert unverified.returncode == 1
    assert "tls_error" in one_line(unverified.stderr)


@pytest.mark.parametrize("args", [
    ("join", "127.0.0.1:7999"),
    ("leave",),
    ("leave", "solo"),
    ("remove", "solo"),
    ("set-weight", "solo", "3"),
])
def test_membership_changes_on_a_standalone_node_fail(cli, args):
    result = cli(*args)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("meridian cluster %s: bad_request (HTTP 400 invalid_argument)" % args[0])
    assert "standalone" in line
    assert result.stdout == b""


@pytest.mark.parametrize("args, reason", [
    ((), "missing command"),
    (("bogus",), "unknown command 'bogus'"),
    (("join",), "missing SEED"),
    (("remove",), "missing NODE"),
    (("set-weight", "solo"), "missing WEIGHT"),
    (("set-weight", "solo", "0"), "WEIGHT must be a positive integer"),
    (("set-weight", "solo", "two"), "WEIGHT must be a positive integer"),
    (("set-weight", "solo", "4294967296"), "WEIGHT must be a positive integer"),
    (("status", "--bogus"), "unexpected argument '--bogus'"),
    (("status", "extra"), "unexpected argument 'extra'"),
    (("leave", "a", "b"), "unexpected argument 'b'"),
    (("remove", ""), "NODE must not be empty"),
    (("leave", "a", "--wait-timeout", "5"), "--wait-timeout needs --wait"),
    (("leave", "a", "--wait", "--wait-timeout", "0"), "--wait-timeout must be a positive number"),
    (("join", "h:1", "--wait", "--wait-timeout", "soon"), "--wait-timeout must be a positive"),
    (("status", "--timeout-ms", "soon"), "--timeout-ms must be a non-negative integer"),
    (("status", "--url", "ftp://127.0.0.1"), "ftp"),
])
def test_usage_errors_exit_2_with_one_line(args, reason):
    result = run(*args, url=UNREACHABLE_URL)
    assert result.returncode == 2, (args, result.stderr)
    line = one_line(result.stderr)
    assert line.startswith("meridian cluster"), line
    assert reason in line, line
    assert line.endswith("(see --help)\n"), line


def test_unreachable_server_exits_1():
    result = run("status", url=UNREACHABLE_URL)
    assert result.returncode == 1
    assert "connection_failed" in one_line(result.stderr)


@pytest.mark.parametrize("command", ["status", "ring", "join", "leave", "remove", "set-weight"])
def test_help(command):
    result = run(command, "--help")
    assert result.returncode == 0
    assert b"--url" in result.stdout and b"Exit codes" in result.stdout


def test_http_edge_validation_and_metrics(solo):
    zero = solo.request("POST", "/v1/cluster/weight", json={"node": "solo", "weight": 0})
    assert zero.status_code == 400
    assert zero.json() == {"error": "invalid_argument", "message": "weight must be positive"}
    unknown = solo.request("POST", "/v1/cluster/join", json={"seeds": ["127.0.0.1:7080"], "x": 1})
    assert unknown.status_code == 400 and unknown.json()["message"] == "unknown field: x"
    missing = solo.request("POST", "/v1/cluster/remove", data=b"{}")
    assert missing.status_code == 400 and missing.json()["message"] == "missing field: node"
    wrong_method = solo.request("GET", "/v1/cluster/join")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    bad_query = solo.get("/v1/cluster/ring?partitions=maybe")
    assert bad_query.status_code == 400 and bad_query.json()["error"] == "invalid_parameter"
    standalone = solo.request("POST", "/v1/cluster/leave")
    assert standalone.status_code == 400 and "standalone" in standalone.json()["message"]

    assert solo.get("/v1/cluster/status").status_code == 200
    metrics = solo.get("/metrics").text
    assert 'meridian_requests_total{op="cluster_status",status="200"} 1' in metrics
    assert 'meridian_requests_total{op="cluster_ring",status="400"} 1' in metrics
    assert 'meridian_requests_total{op="cluster_admin",status="400"} 4' in metrics
    assert 'meridian_requests_total{op="other",status="405"} 1' in metrics
