"""Fixtures for the end-to-end tests: the real `meridian` binary (path in $MERIDIAN_BIN) on
free loopback ports, over plain HTTP and HTTPS (a self-signed certificate made at test time).

Every wait is bounded by a deadline; servers are stopped with SIGTERM (SIGKILL after a
deadline) at teardown, and a failing test shows the server's stderr.
"""
import atexit
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

READY_DEADLINE_S = 30
STOP_DEADLINE_S = 20


def meridian_bin():
    path = os.environ.get("MERIDIAN_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("set MERIDIAN_BIN to the path of the built `meridian` binary")
    return path


_PEER_CERT_DIR = None


def peer_tls_args(name):
    """Flags for mutual TLS between nodes: the test run's cluster CA (made once, by
    `meridian cert ca`) and a node certificate for `name` (made on first use)."""
    global _PEER_CERT_DIR
    if _PEER_CERT_DIR is None:
        _PEER_CERT_DIR = tempfile.mkdtemp(prefix="meridian-e2e-certs-")
        atexit.register(shutil.rmtree, _PEER_CERT_DIR, True)
        subprocess.run([meridian_bin(), "cert", "ca", "--dir", _PEER_CERT_DIR, "--cluster-name",
                        "e2e"], check=True, capture_output=True, timeout=30)
    certificate = os.path.join(_PEER_CERT_DIR, "node-%s.crt" % name)
    if not os.path.exists(certificate):
        subprocess.run([meridian_bin(), "cert", "node", "--dir", _PEER_CERT_DIR, "--name", name],
                       check=True, capture_output=True, timeout=30)
    return ["--peer-tls-ca", os.path.join(_PEER_CERT_DIR, "ca.crt"),
            "--peer-tls-cert", certificate,
            "--peer-tls-key", os.path.join(_PEER_CERT_DIR, "node-%s.key" % name)]


def peer_cert_dir():
    """The directory of the test run's cluster CA (ca.crt, ca.key) and node certificates."""
    peer_tls_args("node1")
    return _PEER_CERT_DIR


class Server:
    """One `meridian serve` process. `start()` may be called again after `kill()`/`stop()` to
    restart on the same data directory."""

    def __init__(self, work_dir, args, tls=None):
        self.work_dir = work_dir
        self.data_dir = os.path.join(work_dir, "data")
        self.args = list(args)
        self.tls = tls  # (cert_path, key_path) or None
        self.process = None
        self.http_port = None
        self.https_port = None
        self.log_paths = []
        self.preexec_fn = None  # run in the child before exec (e.g. resource limits)
        self.binary = None  # the `meridian` to run; None: $MERIDIAN_BIN (another release: upgrades)

    def start(self):
        command = [self.binary or meridian_bin(), "serve", "--data-dir", self.data_dir, "--http", "127.0.0.1:0"]
        if self.tls:
            command += ["--https", "127.0.0.1:0", "--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        command += self.args
        log_path = os.path.join(self.work_dir, "server-%d.log" % len(self.log_paths))
        self.log_paths.append(log_path)
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log,
                                            stdin=subprocess.DEVNULL, preexec_fn=self.preexec_fn)
        line = self._read_ready_line()
        fields = dict(part.split("=", 1) for part in line.split()[2:] if "=" in part)
        self.http_port = int(fields["http"].rsplit(":", 1)[1])
        self.https_port = int(fields["https"].rsplit(":", 1)[1]) if "https" in fields else None
        self.resp_port = int(fields["resp"].rsplit(":", 1)[1]) if "resp" in fields else None
        if self.tls:
            assert self.https_port, "ready line without https: %r" % line
        return self

    def _read_ready_line(self):
        deadline = time.monotonic() + READY_DEADLINE_S
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        received = b""
        try:
            while b"\n" not in received:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no ready line within %ds; got %r\n%s"
                                         % (READY_DEADLINE_S, received, self.log()))
                if not selector.select(timeout=left):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError("server exited (%s) before its ready line; got %r\n%s"
                                         % (self.process.poll(), received, self.log()))
                received += chunk
        finally:
            selector.close()
        line = received.split(b"\n", 1)[0].decode()
        assert line.startswith("meridian ready: http=127.0.0.1:"), line
        return line

    def _wait(self):
        try:
            return self.process.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_DEADLINE_S)
            raise AssertionError("server did not stop within %ds of SIGTERM" % STOP_DEADLINE_S)

    def stop(self):
        """SIGTERM and wait; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        code = self._wait()
        self.process.stdout.close()
        return code

    def kill(self):
        """SIGKILL and wait: a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_DEADLINE_S)
        self.process.stdout.close()

    def log(self):
        text = []
        for path in self.log_paths:
            try:
                with open(path, "rb") as log:
                    text.append(log.read().decode(errors="replace"))
            except OSError:
                pass
        return "\n".join(text)

    @property
    def http_url(self):
        return "http://127.0.0.1:%d" % self.http_port

    @property
    def https_url(self):
        return "https://127.0.0.1:%d" % self.https_port


class Endpoint:
    """A server seen through one scheme: its base URL and a requests session set up for it."""

    def __init__(self, server, scheme, cert_path):
        self.server = server
        self.scheme = scheme
        self.url = server.https_url if scheme == "https" else server.http_url
        self.verify = cert_path if scheme == "https" else True
        self.session = self.new_session()

    def new_session(self):
        """A requests session for this endpoint. The environment is ignored: REQUESTS_CA_BUNDLE
        would override `verify`, and a proxy variable would divert loopback traffic."""
        session = requests.Session()
        session.trust_env = False
        session.verify = self.verify
        return session

    def kv(self, key, bucket="default"):
        from urllib.parse import quote
        return "%s/v1/kv/%s/%s" % (self.url, bucket, quote(key, safe=""))

    def raw_request(self, method, path, body=None, headers=None):
        """Sends `path` exactly as given (requests would re-quote a malformed %-escape):
        returns (status, headers as a lower-case dict, body bytes)."""
        import http.client
        import ssl
        if self.scheme == "https":
            context = ssl.create_default_context(cafile=self.verify)
            connection = http.client.HTTPSConnection("127.0.0.1", self.server.https_port,
                                                     timeout=10, context=context)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return (response.status, {k.lower(): v for k, v in response.getheaders()},
                    response.read())
        finally:
            connection.close()

    def get(self, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.url + path, **kwargs)

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.url + path, **kwargs)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "report_" + report.when, report)


def setup_or_call_failed(request):
    """Whether the setup or the call phase of `request`'s test has failed, as recorded on the
    item by pytest_runtest_makereport above (item.report_setup, item.report_call). For fixture
    teardown code: show logs, keep work dirs. A fixture's own code that raises before its yield
    runs before the setup report exists, so it does not count here."""
    return any(getattr(request.node, "report_" + when, None) is not None
               and getattr(request.node, "report_" + when).failed for when in ("setup", "call"))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def start_server(request, certificate):
    """Factory: start_server(*args, tls=False) -> a started Server, stopped at teardown."""
    servers = []
    directories = []

    def start(*args, tls=False):
        work_dir = tempfile.mkdtemp(prefix="meridian-e2e-")
        directories.append(work_dir)
        server = Server(work_dir, args, tls=certificate if tls else None)
        servers.append(server)
        return server.start()

    yield start
    failed = setup_or_call_failed(request)
    for server in servers:
        code = server.stop()
        if failed:
            print("---- server log (%s) ----\n%s" % (server.work_dir, server.log()))
        elif code not in (None, 0):
            print("server exited with %s\n%s" % (code, server.log()))
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["http", "https"])
def endpoint(request, start_server, certificate):
    """The default server, once over plain HTTP and once over HTTPS."""
    server = start_server(tls=request.param == "https")
    return Endpoint(server, request.param, certificate[0])


@pytest.fixture
def http_endpoint(start_server, certificate):
    return Endpoint(start_server(), "http", certificate[0])


@pytest.fixture
def partitioner():
    """A partition.Partitioner (iptables rules in a chain of this test's own), always removed at
    teardown, also after a failure. Skips the test without root or iptables."""
    import partition
    partition.require_iptables()
    with partition.Partitioner() as instance:
        yield instance


def raw_connect(port, timeout_s=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    return sock


def read_http_response(sock, deadline_s=10):
    """Reads one HTTP/1.1 response with a Content-Length body: (status, headers, body)."""
    sock.settimeout(deadline_s)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before a full response: %r" % data)
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed inside the body")
        body += chunk
    return status, headers, body


def wait_for_eof(sock, deadline_s):
    """Reads until the peer closes; returns seconds waited. Fails after deadline_s."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < deadline_s:
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    raise AssertionError("the server did not close the connection within %ss" % deadline_s)
