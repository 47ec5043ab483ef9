"""The Redis-protocol (RESP2) front end of a real `meridian serve --resp`: redis-cli, the
Debian `redis` Python client, redis-benchmark, siblings through MERIDIAN.* commands, malformed
and oversized input over raw sockets, configuration, metrics and `meridian dev`.

redis-cli, redis-benchmark (Debian package redis-tools) and python3-redis are installed by
scripts/setup; their absence is a failure, not a skip.
"""
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis
import requests

import conftest
from conftest import meridian_bin, raw_connect, wait_for_eof

TOOL_TIMEOUT_S = 120


class RespServer(conftest.Server):
    """A conftest Server that also remembers the RESP port of its ready line."""

    resp_port = None

    def _read_ready_line(self):
        line = super()._read_ready_line()
        fields = dict(part.split("=", 1) for part in line.split()[2:] if "=" in part)
        assert "resp" in fields, "ready line without resp=: %r" % line
        self.resp_port = int(fields["resp"].rsplit(":", 1)[1])
        return line


@pytest.fixture
def start_resp_server(request):
    """Factory: start_resp_server(*extra_args) -> a started RespServer (RESP on a free port)."""
    servers = []
    directories = []

    def start(*args):
        work_dir = tempfile.mkdtemp(prefix="meridian-e2e-resp-")
        directories.append(work_dir)
        server = RespServer(work_dir, ["--resp", "127.0.0.1:0"] + list(args))
        servers.append(server)
        return server.start()

    yield start
    failed = conftest.setup_or_call_failed(request)
    for server in servers:
        code = server.stop()
        if failed or code not in (None, 0):
            print("---- server log (%s), exit %s ----\n%s" % (server.work_dir, code, server.log()))
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def server(start_resp_server):
    return start_resp_server()


def tool(name):
    path = shutil.which(name)
    assert path, "%s is not installed (scripts/setup installs redis-tools)" % name
    return path


def cli(server, *args):
    """Runs redis-cli against the server; returns its stdout without the final newline."""
    result = subprocess.run([tool("redis-cli"), "-p", str(server.resp_port)] + list(args),
                            capture_output=True, timeout=TOOL_TIMEOUT_S, check=True)
    return result.stdout.decode().rstrip("\n")


def client(server, **kwargs):
    return redis.Redis(host="127.0.0.1", port=server.resp_port, socket_timeout=10, **kwargs)


def http_get(server, path):
    session = requests.Session()
    session.trust_env = False
    return session.get(server.http_url + path, timeout=10)


def read_reply_and_eof(sock, deadline_s=10):
    """Everything the server sends until it closes the connection."""
    sock.settimeout(deadline_s)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def assert_alive(server):
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        sock.settimeout(10)
        assert sock.recv(100) == b"+PONG\r\n"
    response = http_get(server, "/health")
    assert response.status_code == 200


def test_ready_line_names_the_resp_listener(server):
    assert server.resp_port and server.resp_port != server.http_port


def test_redis_cli(server):
    assert cli(server, "PING") == "PONG"
    assert cli(server, "PING", "hello") == "hello"
    assert cli(server, "SET", "colour", "blue") == "OK"
    assert cli(server, "GET", "colour") == "blue"
    assert cli(server, "GET", "missing") == ""
    assert cli(server, "MSET", "a", "1", "b", "2") == "OK"
    assert cli(server, "--no-raw", "MGET", "a", "b", "c") == '1) "1"\n2) "2"\n3) (nil)'
    assert cli(server, "EXISTS", "a", "b", "c") == "2"
    assert cli(server, "DEL", "a", "c") == "1"
    assert cli(server, "EXISTS", "a") == "0"
    info = cli(server, "INFO")
    assert "# Server" in info and "redis_version:7.0.0-meridian" in info, info
    assert "tcp_port:%d" % server.resp_port in info
    assert "mode:standalone" in info
    assert "# Keyspace" in info
    assert cli(server, "SET", "k", "v", "NX") == "OK"
    assert cli(server, "--no-raw", "SET", "k", "w", "NX") == "(nil)"  # exists: not written
    assert cli(server, "SET", "k", "x", "XX") == "OK"
    assert cli(server, "GET", "k") == "x"
    assert cli(server, "--no-raw", "SET", "absent", "x", "XX") == "(nil)"
    context = cli(server, "--no-raw", "MERIDIAN.GET", "k").splitlines()[0].split('"')[1]
    assert cli(server, "MERIDIAN.CAS", "k", context, "y") != ""  # the new context
    assert cli(server, "MERIDIAN.CAS", "k", context, "z").startswith("CONFLICT")
    assert cli(server, "GET", "k") == "y"
    assert cli(server, "SET", "k", "v", "EX", "10").endswith("TTL is not supported yet")
    assert cli(server, "FLUSHALL").startswith("ERR unknown command 'FLUSHALL'")
    assert cli(server, "SELECT", "1") == "ERR DB index is out of range"
    assert cli(server, "HELLO", "3") == "NOPROTO sorry, this protocol version is not supported"


def test_compare_and_set_on_a_strong_bucket(start_resp_server):
    """SET NX / XX and MERIDIAN.CAS where they are atomic: the RESP bucket set strong."""
    server = start_resp_server("--resp-bucket", "ledger")
    session = requests.Session()
    session.trust_env = False
    made = session.put(server.http_url + "/v1/buckets/ledger", json={"consistency": "strong"},
                       timeout=10)
    assert made.status_code == 200, made.text
    r = client(server)
    assert r.set("lock", "owner-a", nx=True) is True
    assert r.set("lock", "owner-b", nx=True) is None  # taken: not written
    assert r.get("lock") == b"owner-a"
    assert r.set("absent", "x", xx=True) is None
    assert r.set("lock", "owner-c", xx=True) is True
    reply = r.execute_command("MERIDIAN.GET", "lock")
    context = reply[0].decode()
    assert context.startswith("s."), reply  # a strong version
    assert reply[1:] == [b"owner-c"]  # one value, never siblings
    new_context = r.execute_command("MERIDIAN.CAS", "lock", context, "owner-d")
    assert new_context.decode().startswith("s.") and new_context.decode() != context
    with pytest.raises(redis.ResponseError, match="^CONFLICT"):
        r.execute_command("MERIDIAN.CAS", "lock", context, "owner-e")  # stale
    assert r.get("lock") == b"owner-d"
    # An empty context means "create only".
    assert r.execute_command("MERIDIAN.CAS", "fresh", "", "v").decode().startswith("s.")
    with pytest.raises(redis.ResponseError, match="^CONFLICT"):
        r.execute_command("MERIDIAN.CAS", "fresh", "", "w")
    assert_alive(server)


def test_redis_cli_pipe_mode(server):
    """redis-cli --pipe: many commands in one stream, replies counted by redis-cli."""
    commands = "".join("SET pipe:%d %d\r\n" % (i, i) for i in range(500)).encode()
    result = subprocess.run([tool("redis-cli"), "-p", str(server.resp_port), "--pipe"],
                            input=commands, capture_output=True, timeout=TOOL_TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"errors: 0, replies: 500" in result.stdout, result.stdout
    assert cli(server, "GET", "pipe:499") == "499"


def test_redis_py_client(server):
    r = client(server)
    assert r.ping() is True
    assert r.set("k", b"\x00\xffvalue") is True
    assert r.get("k") == b"\x00\xffvalue"
    assert r.get("nope") is None
    assert r.mset({"x": "1", "y": "2"}) is True
    assert r.mget(["x", "y", "z"]) == [b"1", b"2", None]
    assert r.exists("x", "y", "z") == 2
    assert r.delete("x", "z") == 1
    assert r.info()["redis_version"] == "7.0.0-meridian"
    assert r.client_setname("e2e") is True
    assert r.client_getname() == "e2e"

    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set("p%d" % i, i)
    for i in range(200):
        pipe.get("p%d" % i)
    results = pipe.execute()
    assert results[:200] == [True] * 200
    assert results[200:] == [str(i).encode() for i in range(200)]

    # A transactional pipeline (MULTI/EXEC) is refused as a whole: nothing is written.
    with pytest.raises(redis.ResponseError, match="MULTI is not supported"):
        tx = r.pipeline()
        tx.set("tx", "1")
        tx.execute()
    assert r.get("tx") is None
    assert r.ping() is True


def test_redis_benchmark(server):
    result = subprocess.run([tool("redis-benchmark"), "-q", "-n", "2000", "-t", "set,get",
                             "-p", str(server.resp_port)],
                            capture_output=True, timeout=TOOL_TIMEOUT_S)
    stdout = result.stdout.decode(errors="replace")
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stdout + stderr
    # -q prints progress with \r, then one final line per test.
    lines = [part.strip() for part in re.split(r"[\r\n]", stdout) if part.strip()]
    assert any(re.match(r"SET: [0-9.]+ requests per second", line) for line in lines), stdout
    assert any(re.match(r"GET: [0-9.]+ requests per second", line) for line in lines), stdout
    # It reads CONFIG GET save/appendonly at start and warns when that fails.
    assert "WARN" not in stderr and "ERROR" not in stderr, stderr
    print("\n".join(line for line in lines if "requests per second" in line))


def test_siblings_through_meridian_commands(server):
    r = client(server)
    first = r.execute_command("MERIDIAN.PUT", "colour", "red")
    assert first  # a context
    r.execute_command("MERIDIAN.PUT", "colour", "blue")
    # Redis clients see one value: the newest sibling.
    assert r.get("colour") == b"blue"
    reply = r.execute_command("MERIDIAN.GET", "colour")
    context, values = reply[0], reply[1:]
    assert context
    assert sorted(values) == [b"blue", b"red"]
    # Resolve with that context: one value again.
    r.execute_command("MERIDIAN.PUT", "colour", "purple", context)
    assert r.execute_command("MERIDIAN.GET", "colour")[1:] == [b"purple"]
    # SET after concurrent writes collapses them.
    r.execute_command("MERIDIAN.PUT", "colour", "green")
    assert len(r.execute_command("MERIDIAN.GET", "colour")) == 3
    r.set("colour", "final")
    assert r.execute_command("MERIDIAN.GET", "colour")[1:] == [b"final"]
    # The HTTP API sees the same object.
    response = http_get(server, "/v1/kv/default/colour")
    assert response.status_code == 200 and response.content == b"final"
    assert r.execute_command("MERIDIAN.DEL", "colour") is not None
    assert r.get("colour") is None
    # Missing key: just an (empty) context.
    assert r.execute_command("MERIDIAN.GET", "never") == [b""]


def test_malformed_resp_gets_an_error_and_the_server_lives_on(server):
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n*1\r\n+PING\r\n*1\r\n$4\r\nPING\r\n")
        data = read_reply_and_eof(sock)
    assert data == b"+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n", data
    assert_alive(server)
    for garbage in (b"*x\r\n", b"*1\r\n$-7\r\n", b"*1\r\n$3\r\nGETxx", b"PING \"unbalanced\r\n"):
        with raw_connect(server.resp_port) as sock:
            sock.sendall(garbage)
            data = read_reply_and_eof(sock)
        assert data.startswith(b"-ERR Protocol error: "), (garbage, data)
    assert_alive(server)


def test_oversized_bulk_length_closes_the_connection(server):
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999999\r\n")
        data = read_reply_and_eof(sock)
    assert data.startswith(b"-ERR Protocol error: invalid bulk length"), data
    assert_alive(server)
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"*99999999\r\n")
        data = read_reply_and_eof(sock)
    assert data.startswith(b"-ERR Protocol error: invalid multibulk length"), data
    assert_alive(server)


def test_inline_commands(server):
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"PING\r\nSET inline \"a b\"\r\nGET inline\r\nQUIT\r\n")
        data = read_reply_and_eof(sock)
    assert data == b"+PONG\r\n+OK\r\n$3\r\na b\r\n+OK\r\n", data


def test_idle_resp_connection_is_closed(start_resp_server):
    server = start_resp_server("--idle-timeout-ms", "300")
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"PING\r\n")
        waited = wait_for_eof(sock, deadline_s=10)
    assert waited >= 0.2
    assert_alive(server)


def test_resp_connection_cap(start_resp_server):
    server = start_resp_server("--max-connections", "2")
    first, second = raw_connect(server.resp_port), raw_connect(server.resp_port)
    try:
        for sock in (first, second):
            sock.sendall(b"PING\r\n")
            assert sock.recv(100) == b"+PONG\r\n"
        # At the cap the oldest idle connection makes room (issue 11: idle connections must not
        # lock clients out).
        third = raw_connect(server.resp_port)
        third.sendall(b"PING\r\n")
        assert third.recv(100) == b"+PONG\r\n"
        wait_for_eof(first, 10)
        # Connections in the middle of a command are not idle: with both busy, a new one is
        # refused as Redis refuses it. (The PONG shows the server read the partial command
        # sent in the same segment.)
        for sock in (second, third):
            sock.sendall(b"PING\r\n*1\r\n$4\r\nPI")
            assert sock.recv(100) == b"+PONG\r\n"
        with raw_connect(server.resp_port) as fourth:
            assert read_reply_and_eof(fourth) == b"-ERR max number of clients reached\r\n"
        third.close()
        # The cap is per front end: HTTP still answers.
        assert http_get(server, "/health").status_code == 200
    finally:
        first.close()
        second.close()


def test_metrics_count_resp_commands(server):
    r = client(server)
    r.set("m", "1")
    for _ in range(3):
        r.get("m")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    text = http_get(server, "/metrics").text
    assert re.search(r'^meridian_requests_total\{op="resp_get",status="200"\} 3$', text, re.M), text
    assert re.search(r'^meridian_requests_total\{op="resp_set",status="200"\} 1$', text, re.M), text
    assert re.search(r'^meridian_requests_total\{op="resp_other",status="400"\} 1$', text, re.M)


def test_resp_bucket_and_toml_keys(tmp_path):
    config = tmp_path / "node.toml"
    config.write_text('resp = "127.0.0.1:0"\nresp_bucket = "cache"\n')
    server = RespServer(str(tmp_path), ["--config", str(config)])
    server.start()
    try:
        r = client(server)
        assert r.set("session", "abc") is True
        assert http_get(server, "/v1/kv/cache/session").content == b"abc"
        assert http_get(server, "/v1/kv/default/session").status_code == 404
        assert "bucket:cache" in cli(server, "INFO", "server")
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["--resp", "localhost:6379"], "resp: listen host must be an IP address"),
    (["--resp", "127.0.0.1:x"], "resp: listen port must be 0..65535"),
    (["--resp", "127.0.0.1:0", "--resp-bucket", "no/slash"], "resp_bucket:"),
])
def test_invalid_resp_settings_exit_2(tmp_path, args, message):
    result = subprocess.run([meridian_bin(), "serve", "--data-dir", str(tmp_path / "d"),
                             "--http", "127.0.0.1:0"] + args,
                            capture_output=True, timeout=60)
    assert result.returncode == 2, result
    assert message in result.stderr.decode(), result.stderr


def test_resp_port_in_use_fails_startup(server, tmp_path):
    result = subprocess.run([meridian_bin(), "serve", "--data-dir", str(tmp_path / "d"),
                             "--http", "127.0.0.1:0", "--resp", "127.0.0.1:%d" % server.resp_port],
                            capture_output=True, timeout=60)
    assert result.returncode == 1, result
    assert "resp: cannot listen on" in result.stderr.decode(), result.stderr


def test_sigterm_with_open_resp_connections_stops_cleanly(server):
    r = client(server)
    assert r.set("k", "v") is True  # leaves the connection open and idle
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"*2\r\n$3\r\nGET\r\n")  # a partial command
        start = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - start < 10
        wait_for_eof(sock, deadline_s=10)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dev_starts_resp_on_every_node(tmp_path):
    root = str(tmp_path / "dev")
    resp_base = free_port()
    process = subprocess.Popen(
        [meridian_bin(), "dev", "--nodes", "1", "--http-base-port", str(free_port()),
         "--peer-base-port", str(free_port()), "--resp-base-port", str(resp_base),
         "--data-root", root],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = process.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        node_lines = [line for line in lines if re.match(r"\s+node1", line)]
        assert node_lines, lines
        match = re.search(r"resp (\S+):(\d+)", node_lines[0])
        assert match, node_lines
        port = int(match.group(2))
        assert any("redis-cli" in line for line in lines), lines
        result = subprocess.run([tool("redis-cli"), "-p", str(port), "PING"],
                                capture_output=True, timeout=TOOL_TIMEOUT_S)
        assert result.stdout == b"PONG\n", result
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def add_user(users_file, name, role, *buckets):
    command = [meridian_bin(), "user", "add", "--file", users_file, "--name", name, "--role", role]
    for bucket in buckets:
        command += ["--bucket", bucket]
    return subprocess.run(command, capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


def test_auth_with_users_noauth_noperm_and_wrongpass(start_resp_server, tmp_path):
    """Issue 11, item 2: with --users-file, RESP takes a user's token as the password."""
    users = str(tmp_path / "users.json")
    writer = add_user(users, "app", "readwrite")
    reader = add_user(users, "viewer", "readonly")
    elsewhere = add_user(users, "elsewhere", "readwrite", "other-bucket")
    server = start_resp_server("--users-file", users)
    with pytest.raises(redis.RedisError, match="Authentication required"):  # NOAUTH, mapped
        client(server).get("k")
    with raw_connect(server.resp_port) as sock:  # the exact reply, as redis-py rewords it
        sock.sendall(b"PING\r\n")
        assert sock.recv(65536) == b"-NOAUTH Authentication required.\r\n"
    with pytest.raises(redis.RedisError, match="WRONGPASS"):
        client(server, password="mrd_wrong").ping()
    with pytest.raises(redis.RedisError, match="WRONGPASS"):  # a token is bound to its user
        client(server, username="viewer", password=writer).ping()
    app = client(server, username="app", password=writer)
    assert app.set("k", "v") is True
    assert app.get("k") == b"v"
    viewer = client(server, password=reader)  # AUTH <token>: the user is the token's
    assert viewer.get("k") == b"v"
    with pytest.raises(redis.exceptions.NoPermissionError,  # -NOPERM, prefix stripped
                       match="User viewer has no permissions to run the 'set' command"):
        viewer.set("k", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client(server, username="elsewhere", password=elsewhere).get("k")
    assert app.get("k") == b"v"  # nothing changed
    # HELLO 2 AUTH user token authenticates too.
    with raw_connect(server.resp_port) as sock:
        sock.sendall(b"HELLO 2 AUTH app " + writer.encode() + b"\r\nGET k\r\n")
        data = b""
        while not data.endswith(b"$1\r\nv\r\n"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert data.startswith(b"*14\r\n"), data
    # The HTTP API refuses the same strangers.
    assert http_get(server, "/v1/kv/default/k").status_code == 401
