"""The `meridian get/put/delete` command-line client against a real server."""
import base64
import json
import os
import subprocess

import pytest

from conftest import meridian_bin

ALL_BYTES = bytes(range(256))


def run(*args, url=None, stdin=b"", cacert=None):
    env = dict(os.environ)
    env.pop("MERIDIAN_URL", None)
    if url:
        env["MERIDIAN_URL"] = url
    command = [meridian_bin(), *args]
    if cacert:
        command += ["--cacert", cacert]
    return subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=30)


def one_line(stderr):
    text = stderr.decode()
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text


@pytest.fixture
def cli(endpoint):
    cacert = endpoint.verify if endpoint.scheme == "https" else None
    return lambda *args, stdin=b"": run(*args, url=endpoint.url, stdin=stdin, cacert=cacert)


def test_put_from_argument_file_and_stdin(cli, tmp_path):
    assert cli("put", "arg", "from-argument").returncode == 0
    value_file = tmp_path / "value.bin"
    value_file.write_bytes(ALL_BYTES)
    assert cli("put", "file", "--file", str(value_file)).returncode == 0
    assert cli("put", "stdin", stdin=ALL_BYTES[::-1]).returncode == 0
    assert cli("put", "empty", stdin=b"").returncode == 0

    assert cli("get", "arg").stdout == b"from-argument"
    assert cli("get", "file").stdout == ALL_BYTES
    assert cli("get", "stdin").stdout == ALL_BYTES[::-1]
    empty = cli("get", "empty")
    assert empty.returncode == 0 and empty.stdout == b""


def test_contexts_siblings_and_delete(cli):
    first = cli("put", "k", "one", "-v", "--dw", "1")
    assert first.returncode == 0
    context = first.stdout.decode().strip()
    assert context
    assert cli("put", "k", "two", "--context", context).returncode == 0
    assert cli("get", "k").stdout == b"two"

    assert cli("put", "k", "three").returncode == 0  # blind: a sibling of "two"
    siblings = cli("get", "k")
    assert siblings.returncode == 0
    assert siblings.stdout.count(b"--- sibling ") == 2
    assert b"\ntwo\n" in siblings.stdout and b"\nthree\n" in siblings.stdout
    as_json = json.loads(cli("get", "k", "--json").stdout)
    assert sorted(base64.b64decode(s["value"]) for s in as_json["siblings"]) == [b"three", b"two"]

    shown = cli("get", "k", "--show-context")
    assert shown.stderr.decode().startswith("context: ")
    resolve_context = shown.stderr.decode().split(": ", 1)[1].strip()
    assert cli("put", "k", "resolved", "--context", resolve_context).returncode == 0
    assert cli("get", "k").stdout == b"resolved"

    assert cli("delete", "k").returncode == 0
    missing = cli("get", "k")
    assert missing.returncode == 3
    assert "not found" in one_line(missing.stderr)
    assert missing.stdout == b""


def test_conditional_writes_exit_4_when_the_condition_does_not_hold(cli):
    created = cli("put", "lock", "a", "--if-absent", "-v")
    assert created.returncode == 0, created.stderr
    context = created.stdout.decode().strip()
    taken = cli("put", "lock", "b", "--if-absent")
    assert taken.returncode == 4
    assert "not written: the key exists" in one_line(taken.stderr)
    assert cli("put", "lock", "c", "--if-match", context).returncode == 0
    stale = cli("put", "lock", "d", "--if-match", context)
    assert stale.returncode == 4
    assert cli("get", "lock").stdout == b"c"
    assert cli("delete", "lock", "--if-present").returncode == 0
    assert cli("delete", "lock", "--if-present").returncode == 4
    assert cli("put", "lock", "e", "--if-absent", "--if-present").returncode == 2


def test_bucket_flag(cli):
    assert cli("put", "k", "in-b", "--bucket", "b").returncode == 0
    assert cli("get", "k", "--bucket", "b").stdout == b"in-b"
    assert cli("get", "k").returncode == 3


@pytest.mark.parametrize("args", [
    ["get"], ["get", "k", "extra"], ["get", "k", "--bogus"], ["put", "k", "v", "--dw", "many"],
    ["put", "k", "v", "--file", "/dev/null"], ["get", "k", "--timeout-ms", "abc"],
    ["get", "k", "--url", "not-a-url"], ["get", "k", "--bucket", "bad!"], ["delete"],
    ["get", "k", "--r", "most"], ["get", "k", "--r", ""], ["get", "k", "--pr", "-1"],
    ["get", "k", "--w", "1"], ["get", "k", "--dw", "1"], ["get", "k", "--sloppy-quorum", "yes"],
    ["put", "k", "v", "--w", "QUORUM"], ["put", "k", "v", "--pw", "1.5"],
    ["put", "k", "v", "--r", "1"], ["put", "k", "v", "--sloppy-quorum", "1"],
    ["delete", "k", "--w", "x"], ["delete", "k", "--pr", "1"],
])
def test_usage_errors_exit_2_with_one_line(http_endpoint, args):
    result = run(*args, url=http_endpoint.url)
    assert result.returncode == 2, result
    one_line(result.stderr)
    # Nothing was written.
    assert http_endpoint.session.get(http_endpoint.kv("k"), timeout=10).status_code == 404


def test_quorum_flags_and_verbose_consistency(cli):
    put = cli("put", "q", "v1", "-v", "--w", "one", "--pw", "1", "--dw", "all",
              "--sloppy-quorum", "false")
    assert put.returncode == 0, put.stderr
    context = put.stdout.decode().strip()
    assert context, "-v still prints the context on stdout"
    line = one_line(put.stderr)
    assert line.startswith("consistency: n=1 w=1 replies=1 primaries=1 fallbacks=0 durable="), line
    assert line.rstrip().endswith(" hinted=0"), line
    assert "durable=1" in line, "dw=all syncs the one replica"

    get = cli("get", "q", "-v", "--r", "all", "--pr", "one", "--sloppy-quorum", "true")
    assert get.returncode == 0, get.stderr
    assert get.stdout == b"v1"
    assert one_line(get.stderr) == \
        "consistency: n=1 r=1 replies=1 primaries=1 fallbacks=0 behind=0\n"

    delete = cli("delete", "q", "-v", "--w", "quorum", "--dw", "0")
    assert delete.returncode == 0, delete.stderr
    assert one_line(delete.stderr).startswith("consistency: n=1 w=1 replies=1 ")

    # A missing key: the receipt line, then the not-found line.
    missing = cli("get", "q", "-v")
    assert missing.returncode == 3
    lines = missing.stderr.decode().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("consistency: n=1 r=1 replies=1 ")
    assert "not found" in lines[1]

    # Without -v nothing but the value.
    quiet = cli("put", "q", "v2")
    assert quiet.returncode == 0 and quiet.stderr == b"" and quiet.stdout == b""


def test_quorum_above_the_single_replica_exits_1(cli):
    result = cli("put", "q", "v", "--w", "2")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "invalid_parameter" in line and "exceeds" in line, line
    assert cli("get", "q").returncode == 3, "nothing was written"
    result = cli("get", "q", "--r", "2")
    assert result.returncode == 1
    assert "exceeds" in one_line(result.stderr)


def test_server_errors_exit_1_with_one_line(start_server, http_endpoint):
    limited = start_server("--key-bytes-max", "4")
    result = run("put", "toolong", "v", url=limited.http_url)
    assert result.returncode == 1
    assert "413" in one_line(result.stderr)
    bad_context = run("put", "k", "v", "--context", "garbage", url=limited.http_url)
    assert bad_context.returncode == 1
    assert "invalid_context" in one_line(bad_context.stderr)


def test_unreachable_server_exits_1(http_endpoint):
    port = http_endpoint.server.http_port
    http_endpoint.server.stop()
    result = run("get", "k", "--timeout-ms", "2000", url="http://127.0.0.1:%d" % port)
    assert result.returncode == 1
    one_line(result.stderr)


def test_https_needs_the_ca(start_server):
    server = start_server(tls=True)
    result = run("get", "k", url=server.https_url)
    assert result.returncode == 1
    assert "TLS" in one_line(result.stderr)
    insecure = run("get", "k", "--insecure", url=server.https_url)
    assert insecure.returncode == 3


def test_url_flag_overrides_environment(http_endpoint):
    result = run("put", "k", "v", "--url", http_endpoint.url, url="http://127.0.0.1:1")
    assert result.returncode == 0, result.stderr
    assert http_endpoint.session.get(http_endpoint.kv("k"), timeout=10).content == b"v"


def test_version_and_help():
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.decode().startswith("meridian ")
    for command in ["get", "put", "delete"]:
        help_text = run(command, "--help")
        assert help_text.returncode == 0
        for flag in ["--bucket", "--url", "--cacert", "--insecure", "--timeout-ms"]:
            assert flag in help_text.stdout.decode(), (command, flag)
    assert "--context" in run("put", "--help").stdout.decode()
    assert "--show-context" in run("get", "--help").stdout.decode()
    for flag in ["--r", "--pr", "--sloppy-quorum", "--verbose"]:
        assert flag in run("get", "--help").stdout.decode(), flag
    for command in ["put", "delete"]:
        for flag in ["--w", "--pw", "--dw", "--sloppy-quorum", "--verbose"]:
            assert flag in run(command, "--help").stdout.decode(), (command, flag)
