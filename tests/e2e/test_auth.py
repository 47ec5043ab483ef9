"""Users and roles on the HTTP API (issue 11, item 2), with the real binary: users made by
`meridian user add`, a node started with --users-file, and requests as a stranger (no token,
a wrong token), a readonly user limited to one bucket, a readwrite user and an admin. Also the
CLI with $MERIDIAN_TOKEN, /metrics optionally closed, a SIGHUP that reloads the users, a node
that refuses to serve other machines without TLS and authentication, and an HTTPS-only node.
"""
import json
import os
import signal
import subprocess

import pytest
import requests

from cluster_util import poll
from conftest import meridian_bin


def add_user(users_file, name, role, *buckets):
    command = [meridian_bin(), "user", "add", "--file", users_file, "--name", name, "--role", role]
    for bucket in buckets:
        command += ["--bucket", bucket]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    token = result.stdout.strip()
    assert token.startswith("mrd_") and len(token) == 47, result.stdout
    return token


@pytest.fixture
def secured(tmp_path, start_server):
    users = str(tmp_path / "users.json")
    tokens = {
        "admin": add_user(users, "ops", "admin"),
        "writer": add_user(users, "app", "readwrite"),
        "reader": add_user(users, "viewer", "readonly", "pub"),
    }
    server = start_server("--users-file", users)
    return server, users, tokens


def call(server, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = "Bearer " + token
    session = requests.Session()
    session.trust_env = False
    return session.request(method, server.http_url + path, headers=headers, timeout=10, **kwargs)


def assert_error(response, status, code, says=""):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error"] == code, body
    assert says in body["message"], body


def test_the_users_file_holds_hashes_only(secured):
    _, users, tokens = secured
    text = open(users).read()
    for token in tokens.values():
        assert token not in text
    assert oct(os.stat(users).st_mode & 0o777) == "0o600"
    entries = json.loads(text)["users"]
    assert [e["name"] for e in entries] == ["ops", "app", "viewer"]
    assert entries[2]["buckets"] == ["pub"]


def test_strangers_get_401_and_change_nothing(secured):
    server, _, tokens = secured
    assert call(server, "PUT", "/v1/kv/pub/k", tokens["writer"], data=b"v1").status_code == 204
    for token in (None, "mrd_wrong", tokens["writer"] + "x"):
        for method, path in [("GET", "/v1/kv/pub/k"), ("PUT", "/v1/kv/pub/k"),
                             ("DELETE", "/v1/kv/pub/k"), ("GET", "/v1/cluster/status"),
                             ("PUT", "/v1/buckets/pub"), ("POST", "/v1/cluster/leave"),
                             ("GET", "/no/such/path")]:
            response = call(server, method, path, token, data=b"evil")
            assert_error(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(server, "GET", "/v1/kv/pub/k", tokens["reader"]).content == b"v1"
    assert call(server, "GET", "/health").status_code == 200  # open
    assert call(server, "GET", "/metrics").status_code == 200  # open by default


def test_roles_and_buckets_decide_with_403(secured):
    server, _, tokens = secured
    reader, writer, admin = tokens["reader"], tokens["writer"], tokens["admin"]
    assert_error(call(server, "PUT", "/v1/kv/pub/k", reader, data=b"x"), 403, "forbidden",
                 "user 'viewer' (readonly) may not write bucket 'pub'")
    assert_error(call(server, "GET", "/v1/kv/private/k", reader), 403, "forbidden",
                 "may not read bucket 'private'")
    assert call(server, "PUT", "/v1/kv/private/k", writer, data=b"x").status_code == 204
    assert call(server, "GET", "/v1/kv/private/k", writer).content == b"x"
    assert call(server, "GET", "/v1/cluster/status", reader).status_code == 200
    # Administration needs the admin role.
    for token in (reader, writer):
        assert_error(call(server, "PUT", "/v1/buckets/private", token, json={"n": 1}), 403,
                     "forbidden", "may not administer")
        assert_error(call(server, "POST", "/v1/cluster/weight", token,
                          json={"node": "node1", "weight": 2}), 403, "forbidden")
        assert_error(call(server, "GET", "/v1/cluster/local/private/k", token), 403, "forbidden")
        assert_error(call(server, "POST", "/v1/cluster/background", token,
                          json={"paused": True}), 403, "forbidden")
    # Neither refusal paused anything; the admin may read and change the setting.
    background = call(server, "POST", "/v1/cluster/background", admin, json={})
    assert background.status_code == 200 and background.json()["paused"] is False, background.text
    assert call(server, "POST", "/v1/cluster/background", None,
                json={"paused": True}).status_code == 401
    assert call(server, "GET", "/v1/buckets/private", writer).status_code == 200
    assert call(server, "PUT", "/v1/buckets/private", admin,
                json={"conflict_policy": "lww"}).status_code == 200
    assert call(server, "GET", "/v1/buckets/private", reader).status_code == 403
    assert call(server, "GET", "/v1/buckets/private", admin).json()["props"]["conflict_policy"] \
        == "lww"


def test_the_bucket_list_holds_what_each_user_may_read(secured):
    """GET /v1/buckets and `meridian bucket list|get|set` as three users of a real node."""
    server, _, tokens = secured
    reader, writer, admin = tokens["reader"], tokens["writer"], tokens["admin"]
    url = server.http_url

    def cli(token, *args):
        return subprocess.run([meridian_bin(), "bucket", *args, "--url", url, "--token", token],
                              capture_output=True, text=True, timeout=30)

    assert_error(call(server, "GET", "/v1/buckets"), 401, "unauthenticated")
    assert call(server, "GET", "/v1/buckets", admin).json()["buckets"] == []
    made = cli(admin, "set", "private", "--conflict-policy", "lww", "--n", "1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.split("\n")[1].split()[:4] == ["private", "eventual", "lww", "1"]
    refused = cli(writer, "set", "other", "--n", "1")
    assert refused.returncode == 1 and "may not administer" in refused.stderr, refused.stderr
    assert cli(admin, "set", "other").returncode == 2  # nothing to change: a usage error

    def names(token):
        return [(entry["bucket"], entry["configured"])
                for entry in call(server, "GET", "/v1/buckets", token).json()["buckets"]]

    assert names(admin) == [("private", True)]
    assert names(writer) == [("private", True)]  # every bucket: no list of its own
    assert names(reader) == [("pub", False)]  # limited to pub, which has the defaults
    listed = json.loads(cli(admin, "list", "--json").stdout)
    assert [entry["bucket"] for entry in listed] == ["private"]
    assert listed[0]["props"]["conflict_policy"] == "lww" and listed[0]["props"]["n"] == 1
    table = cli(reader, "list")
    assert table.returncode == 0, table.stderr
    assert table.stdout.split("\n")[0].split()[0] == "BUCKET"
    assert table.stdout.split("\n")[1].split()[0] == "pub"
    assert table.stdout.split("\n")[1].split()[-1] == "defaults"
    assert "private" not in table.stdout
    shown = json.loads(cli(writer, "get", "private", "--json").stdout)
    assert shown["conflict_policy"] == "lww"
    missing = cli(admin, "get")
    assert missing.returncode == 2 and "missing BUCKET" in missing.stderr


def test_the_cli_takes_the_token_from_the_environment(secured):
    server, _, tokens = secured
    url = server.http_url
    env = dict(os.environ, MERIDIAN_TOKEN=tokens["writer"])
    put = subprocess.run([meridian_bin(), "put", "--bucket", "b", "--url", url, "k", "hello"],
                         capture_output=True, text=True, timeout=30, env=env)
    assert put.returncode == 0, put.stderr
    get = subprocess.run([meridian_bin(), "get", "--bucket", "b", "--url", url, "k"],
                         capture_output=True, timeout=30, env=env)
    assert get.returncode == 0 and get.stdout == b"hello", get
    env.pop("MERIDIAN_TOKEN")
    refused = subprocess.run([meridian_bin(), "get", "--bucket", "b", "--url", url, "k"],
                             capture_output=True, text=True, timeout=30, env=env)
    assert refused.returncode == 1
    assert "unauthenticated (HTTP 401" in refused.stderr, refused.stderr
    refused = subprocess.run([meridian_bin(), "put", "--bucket", "pub", "--url", url, "--token",
                              tokens["reader"], "k", "x"], capture_output=True, text=True,
                             timeout=30, env=env)
    assert refused.returncode == 1 and "forbidden (HTTP 403" in refused.stderr, refused.stderr


def test_metrics_can_require_a_user(tmp_path, start_server):
    users = str(tmp_path / "users.json")
    token = add_user(users, "prometheus", "readonly")
    server = start_server("--users-file", users, "--metrics-auth", "required")
    assert_error(call(server, "GET", "/metrics"), 401, "unauthenticated")
    assert call(server, "GET", "/metrics", token).status_code == 200
    assert call(server, "GET", "/health").status_code == 200


def test_sighup_reloads_the_users(secured):
    server, users, tokens = secured
    late = add_user(users, "late", "readwrite")
    assert call(server, "GET", "/v1/kv/pub/k", late).status_code == 401
    server.process.send_signal(signal.SIGHUP)
    poll(lambda: (call(server, "GET", "/v1/kv/pub/k", late).status_code == 404, None), 10,
         "the new user is known after SIGHUP")
    subprocess.run([meridian_bin(), "user", "remove", "--file", users, "--name", "app"],
                   check=True, capture_output=True, timeout=30)
    server.process.send_signal(signal.SIGHUP)
    poll(lambda: (call(server, "GET", "/v1/kv/pub/k", tokens["writer"]).status_code == 401,
                  None), 10, "the removed user is refused after SIGHUP")
    # A broken file is logged and the users in use stay.
    with open(users, "w") as broken:
        broken.write("{")
    server.process.send_signal(signal.SIGHUP)
    poll(lambda: ("keeping the users in use" in server.log(), None), 10, "the reload is refused")
    assert call(server, "GET", "/v1/kv/pub/k", late).status_code == 404


def serve_briefly(tmp_path, *args):
    return subprocess.run([meridian_bin(), "serve", "--data-dir", str(tmp_path / "d")] +
                          list(args), capture_output=True, text=True, timeout=30)


def test_other_machines_are_refused_without_tls_and_users_unless_insecure(tmp_path, certificate):
    result = serve_briefly(tmp_path, "--http", "0.0.0.0:0")
    assert result.returncode == 2
    assert "refusing to serve clients from other machines" in result.stderr, result.stderr
    assert "--insecure" in result.stderr
    result = serve_briefly(tmp_path, "--http", "127.0.0.1:0", "--https", "0.0.0.0:0",
                           "--tls-cert", certificate[0], "--tls-key", certificate[1])
    assert result.returncode == 2 and "without --users-file" in result.stderr, result.stderr
    result = serve_briefly(tmp_path, "--http", "127.0.0.1:0", "--resp", "0.0.0.0:0")
    assert result.returncode == 2 and "RESP on 0.0.0.0:0" in result.stderr, result.stderr
    result = serve_briefly(tmp_path, "--http", "", "--users-file", "x")
    assert result.returncode == 2 and "no client listener" in result.stderr, result.stderr


def test_an_https_only_node_with_users(tmp_path, certificate):
    users = str(tmp_path / "users.json")
    token = add_user(users, "app", "readwrite")
    process = subprocess.Popen(
        [meridian_bin(), "serve", "--data-dir", str(tmp_path / "d"), "--http", "",
         "--https", "127.0.0.1:0", "--tls-cert", certificate[0], "--tls-key", certificate[1],
         "--users-file", users], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = process.stdout.readline().decode()
        assert line.startswith("meridian ready: https=127.0.0.1:"), line
        assert "http=" not in line.replace("https=", "")
        url = "https://" + line.split("https=")[1].split()[0]
        session = requests.Session()
        session.trust_env = False
        response = session.put(url + "/v1/kv/b/k", data=b"v", verify=certificate[0], timeout=10,
                               headers={"Authorization": "Bearer " + token})
        assert response.status_code == 204, response.text
        assert session.get(url + "/v1/kv/b/k", verify=certificate[0], timeout=10).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_bench_takes_a_token(secured, tmp_path):
    server, _, tokens = secured
    report_path = tmp_path / "report.json"
    args = [meridian_bin(), "bench", "--driver", "meridian-http", "--address",
            "127.0.0.1:%d" % server.http_port, "--records", "200", "--connections", "4",
            "--duration", "1", "--json", str(report_path)]
    refused = subprocess.run(args + ["--token", tokens["writer"]], capture_output=True,
                             text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert refused.returncode != 0  # setting the bench bucket to lww needs the admin role
    assert "may not administer" in refused.stderr, refused.stderr
    result = subprocess.run(args + ["--token", tokens["admin"]], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["passed"] is True
    load, run = report["phases"]
    assert load["total"]["count"] == 200 and load["total"]["errors"] == 0, load
    assert run["total"]["count"] > 0 and run["total"]["errors"] == 0, run


def https_node(tmp_path, cert_dir, users, *extra):
    """A node serving HTTPS only, with a node certificate of the cluster CA in cert_dir as its
    server certificate and that CA's client certificates as credentials."""
    process = subprocess.Popen(
        [meridian_bin(), "serve", "--data-dir", str(tmp_path / "d"), "--http", "",
         "--https", "127.0.0.1:0", "--tls-cert", os.path.join(cert_dir, "node-web.crt"),
         "--tls-key", os.path.join(cert_dir, "node-web.key"), "--tls-client-ca",
         os.path.join(cert_dir, "ca.crt"), "--users-file", users] + list(extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = process.stdout.readline().decode()
    assert line.startswith("meridian ready: https=127.0.0.1:"), (line, process.stderr.read())
    return process, "https://" + line.split("https=")[1].split()[0]


def make_certs(directory, *commands):
    for command in commands:
        subprocess.run([meridian_bin(), "cert"] + command + ["--dir", directory], check=True,
                       capture_output=True, timeout=30)


def test_client_certificates_authenticate_https_requests_as_their_user(tmp_path):
    certs = str(tmp_path / "certs")
    make_certs(certs, ["ca"], ["node", "--name", "web", "--host", "127.0.0.1"],
               ["client", "--name", "viewer"], ["client", "--name", "app"],
               ["client", "--name", "nobody"])
    other = str(tmp_path / "other")
    make_certs(other, ["ca"], ["client", "--name", "app"])
    users = str(tmp_path / "users.json")
    app_token = add_user(users, "app", "readwrite")
    add_user(users, "viewer", "readonly")
    process, url = https_node(tmp_path, certs, users)
    ca = os.path.join(certs, "ca.crt")

    def client_cert(directory, name):
        return (os.path.join(directory, "client-%s.crt" % name),
                os.path.join(directory, "client-%s.key" % name))

    def request(method, path, cert=None, token=None, **kwargs):
        session = requests.Session()
        session.trust_env = False
        headers = {"Authorization": "Bearer " + token} if token else {}
        return session.request(method, url + path, cert=cert, verify=ca, headers=headers,
                               timeout=10, **kwargs)

    try:
        # The app's certificate writes, as the readwrite user "app".
        assert request("PUT", "/v1/kv/b/k", cert=client_cert(certs, "app"),
                       data=b"v").status_code == 204
        # The viewer's certificate reads, and may not write (its role, not a missing credential).
        assert request("GET", "/v1/kv/b/k", cert=client_cert(certs, "viewer")).content == b"v"
        assert_error(request("PUT", "/v1/kv/b/k", cert=client_cert(certs, "viewer"), data=b"x"),
                     403, "forbidden", "user 'viewer' (readonly) may not write")
        # A certificate of a user the users file does not list, and a token of another user
        # sent with a certificate, are refused.
        assert_error(request("GET", "/v1/kv/b/k", cert=client_cert(certs, "nobody")), 401,
                     "unauthenticated", "'nobody', who is not in the users file")
        assert_error(request("GET", "/v1/kv/b/k", cert=client_cert(certs, "viewer"),
                             token=app_token), 401, "unauthenticated", "not the client certificate")
        # Without any credential: 401; tokens alone still work.
        assert_error(request("GET", "/v1/kv/b/k"), 401, "unauthenticated")
        assert request("GET", "/v1/kv/b/k", token=app_token).status_code == 200
        # A certificate of another CA fails the TLS handshake.
        with pytest.raises(requests.exceptions.SSLError):
            request("GET", "/v1/kv/b/k", cert=client_cert(other, "app"))
        # The CLI presents one with --cert/--key.
        cli = subprocess.run(
            [meridian_bin(), "get", "--url", url, "--cacert", ca, "--cert",
             client_cert(certs, "viewer")[0], "--key", client_cert(certs, "viewer")[1], "--bucket",
             "b", "k"],
            capture_output=True, timeout=30)
        assert cli.returncode == 0 and cli.stdout.strip() == b"v", cli
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_sighup_reloads_the_https_certificate(tmp_path):
    import socket
    import ssl

    certs = str(tmp_path / "certs")
    make_certs(certs, ["ca"], ["node", "--name", "web", "--host", "127.0.0.1"],
               ["node", "--name", "web2", "--host", "127.0.0.1"])
    users = str(tmp_path / "users.json")
    add_user(users, "app", "readwrite")
    process, url = https_node(tmp_path, certs, users)
    port = int(url.rsplit(":", 1)[1])

    def served_name():
        context = ssl.create_default_context(cafile=os.path.join(certs, "ca.crt"))
        context.check_hostname = False
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw) as tls:
                return dict(x[0] for x in tls.getpeercert()["subject"])["commonName"]

    try:
        assert served_name() == "web"
        # Rotate: the same paths now hold another certificate.
        for suffix in ("crt", "key"):
            os.replace(os.path.join(certs, "node-web2.%s" % suffix),
                       os.path.join(certs, "node-web.%s" % suffix))
        process.send_signal(signal.SIGHUP)
        poll(lambda: (served_name() == "web2", served_name()), 10,
             "the new certificate served after SIGHUP")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
