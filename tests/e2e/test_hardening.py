"""Issue 11 findings on the HTTP front end, tried with the real binary as an outsider would:
a header limit the HTTP parser cannot hold is refused at start-up (it used to let one long
header value abort the process), Transfer-Encoding other than a lone `chunked` is a 400
(RFC 9112 section 6.3; `chunked, gzip` used to be accepted), HTTPS offers TLS 1.2 with
AEAD suites only (no CBC), idle connections at the cap make room for new clients, and a RESP
command trickled a byte at a time is cut off at its deadline."""
import signal
import socket
import ssl
import subprocess
import time

import pytest
import requests

from conftest import meridian_bin, raw_connect, read_http_response


def test_a_header_limit_over_the_parsers_field_limit_is_refused_at_start(tmp_path):
    result = subprocess.run([meridian_bin(), "serve", "--data-dir", str(tmp_path / "d"), "--http",
                             "127.0.0.1:0", "--header-bytes-max", "131072"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "header_bytes_max must be in [1024, 65535]" in result.stderr, result.stderr


def test_the_longest_header_value_the_limit_allows_gets_400_and_the_node_lives(start_server):
    server = start_server("--header-bytes-max", "65535")
    for size in (65534, 65535, 70000):  # one field over Beast's 16-bit length, and more
        with raw_connect(server.http_port) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * size + b"\r\n\r\n")
            status, _, body = read_http_response(sock)
        assert status == 400, body
        assert server.process.poll() is None
    with raw_connect(server.http_port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = read_http_response(sock)
    assert status == 200


@pytest.mark.parametrize("coding,message", [
    (b"chunked, gzip", b"must end with chunked"),
    (b"gzip", b"must end with chunked"),
    (b"gzip, chunked", b"only the chunked transfer coding"),
    (b"chunked, chunked", b"only the chunked transfer coding"),
])
def test_transfer_codings_other_than_chunked_are_refused(http_endpoint, coding, message):
    url_path = b"/v1/kv/b/te"
    with raw_connect(http_endpoint.server.http_port) as sock:
        sock.sendall(b"PUT " + url_path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding +
                     b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        status, _, body = read_http_response(sock)
    assert status == 400, body
    assert message in body, body
    assert http_endpoint.session.get(http_endpoint.kv("te", "b"), timeout=10).status_code == 404


def test_a_chunked_body_is_still_accepted(http_endpoint):
    with raw_connect(http_endpoint.server.http_port) as sock:
        sock.sendall(b"PUT /v1/kv/b/te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n")
        status, _, body = read_http_response(sock)
    assert status == 204, body
    assert http_endpoint.session.get(http_endpoint.kv("te", "b"), timeout=10).content == b"hello"


def tls12_handshake(port, ciphers):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw) as conn:
            return conn.cipher()[0]


def test_tls12_offers_aead_suites_only(start_server):
    server = start_server(tls=True)
    for cbc in ("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "AES128-SHA",
                "AES256-GCM-SHA384"):  # the last: GCM, but static RSA (no forward secrecy)
        with pytest.raises(ssl.SSLError):
            tls12_handshake(server.https_port, cbc)
    assert tls12_handshake(server.https_port, "ECDHE-RSA-AES128-GCM-SHA256") == \
        "ECDHE-RSA-AES128-GCM-SHA256"
    assert tls12_handshake(server.https_port, "ECDHE-RSA-CHACHA20-POLY1305") == \
        "ECDHE-RSA-CHACHA20-POLY1305"


def metric_value(server, name):
    session = requests.Session()
    session.trust_env = False
    for line in session.get(server.http_url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


def test_idle_connections_cannot_lock_clients_out(start_server):
    """~1,100 idle connections used to refuse every legitimate client for 60 s: at the cap the
    oldest idle connection now makes room."""
    server = start_server("--max-connections", "20")
    idle = [raw_connect(server.http_port) for _ in range(40)]  # twice the cap, all silent
    try:
        for _ in range(5):  # a legitimate client gets in every time
            with raw_connect(server.http_port) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                status, _, _ = read_http_response(sock)
            assert status == 200
        assert metric_value(server, "meridian_connections_evicted_total") >= 20
    finally:
        for sock in idle:
            sock.close()


def test_a_trickling_resp_command_is_cut_off_at_its_deadline(tmp_path):
    """One byte every 0.3 s used to hold a RESP connection forever (each byte reset the idle
    timer); a command must now arrive whole within request_timeout_ms of its first byte."""
    process = subprocess.Popen(
        [meridian_bin(), "serve", "--data-dir", str(tmp_path / "d"), "--http", "127.0.0.1:0",
         "--resp", "127.0.0.1:0", "--request-timeout-ms", "2000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = process.stdout.readline().decode()
        port = int(line.split("resp=")[1].split()[0].rsplit(":", 1)[1])
        command = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n" + b"v" * 1000 + b"\r\n"
        started = time.monotonic()
        sent = 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            try:
                while sent < len(command) and time.monotonic() - started < 20:  # bounded
                    sock.sendall(command[sent:sent + 1])
                    sent += 1
                    time.sleep(0.3)  # the attack: a byte at a time, well inside the idle timeout
            except (BrokenPipeError, ConnectionResetError):
                pass
            sock.settimeout(10)
            try:
                rest = sock.recv(100)
            except (ConnectionResetError, socket.timeout):
                rest = b""
        elapsed = time.monotonic() - started
        assert rest == b"", rest
        assert sent < len(command)
        assert elapsed < 10, elapsed  # cut off near the 2 s deadline, not after 20 s of bytes
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
