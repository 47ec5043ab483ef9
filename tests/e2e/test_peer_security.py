"""Mutual TLS between nodes (issue 11, item 1), tried as an outsider would with the real binary:
a 2-node cluster formed over mTLS (the default), then strangers on node1's peer port — plain
TCP speaking the peer protocol, TLS without a certificate, a node certificate of another CA, a
client certificate of the cluster's CA, and a valid node certificate claiming another node's
name. Each is refused before any message is read: the cluster's membership does not change
and node1's metrics count the refusals. Also: `meridian cert` itself, a clustered node that
refuses to start without certificates, the loud plaintext opt-out, and SIGHUP reloads.
"""
import os
import signal
import socket
import ssl
import stat
import struct
import subprocess
import tempfile
import time

import pytest

from cluster_util import (Cluster, cluster_settled, finish_clusters, members_by_id, new_session,
                          poll)
from conftest import meridian_bin, peer_cert_dir

FORM_DEADLINE_S = 45
CONNECT_TIMEOUT_S = 10


def varint(value):
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def string_field(number, text):
    data = text.encode()
    return varint(number << 3 | 2) + varint(len(data)) + data


def handshake_frame(cluster_name, node_id, listen_address="127.0.0.1:9"):
    """A transport.proto Handshake in a peer frame (4-byte big-endian length, then protobuf)."""
    payload = (string_field(1, cluster_name) + varint(2 << 3) + varint(1) +
               string_field(3, node_id) + string_field(4, listen_address))
    return struct.pack(">I", len(payload)) + payload


def read_all(conn, limit_s=CONNECT_TIMEOUT_S):
    """Everything the other side sends until it closes (or errs), within limit_s."""
    conn.settimeout(limit_s)
    received = b""
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return received
            received += chunk
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return received


def split_address(address):
    host, port = address.rsplit(":", 1)
    return host, int(port)


def metric(node, name):
    text = new_session().get(node.http_url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


def make_certs(directory, *commands):
    for command in commands:
        subprocess.run([meridian_bin(), "cert"] + command + ["--dir", directory], check=True,
                       capture_output=True, timeout=30)


def tls_client(cert_dir=None, name=None, kind="node"):
    """A TLS client context: with the certificate `kind`-`name` of cert_dir when given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the stranger does not care who answers
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert_dir:
        context.load_cert_chain(os.path.join(cert_dir, "%s-%s.crt" % (kind, name)),
                                os.path.join(cert_dir, "%s-%s.key" % (kind, name)))
    return context


def tls_attempt(address, context, frame):
    """Connects over TLS, sends `frame`, returns what came back before the close ("" when the
    TLS handshake itself failed)."""
    raw = socket.create_connection(split_address(address), timeout=CONNECT_TIMEOUT_S)
    try:
        conn = context.wrap_socket(raw)
    except (ssl.SSLError, ConnectionResetError):
        raw.close()
        return b""
    try:
        try:
            conn.sendall(frame)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return b""
        return read_all(conn)
    finally:
        conn.close()


@pytest.fixture
def cluster(request):
    cluster = Cluster("e2e-peer-security")
    yield cluster
    finish_clusters(request, [cluster], require_clean_stop=True)


def test_strangers_on_the_peer_port_are_refused_before_any_message(cluster):
    nodes = cluster.start(2)
    poll(cluster_settled(nodes, ["node1", "node2"]), FORM_DEADLINE_S, "2 nodes form over mTLS")
    node1 = nodes[0]
    assert metric(node1, "meridian_peer_tls_enabled") == 1
    completed_before = metric(node1, "meridian_peer_handshakes_completed_total")
    assert completed_before >= 1  # node2's connection
    address = node1.peer_address
    attempts = 0

    # 1. Plain TCP speaking the peer protocol, with the right cluster name: no handshake reply.
    with socket.create_connection(split_address(address), timeout=CONNECT_TIMEOUT_S) as conn:
        conn.sendall(handshake_frame("e2e-peer-security", "intruder"))
        answer = read_all(conn)
    attempts += 1
    assert b"node1" not in answer and b"e2e-peer-security" not in answer, answer

    # 2. TLS without a client certificate.
    assert tls_attempt(address, tls_client(), handshake_frame("e2e-peer-security", "x")) == b""
    attempts += 1

    # 3. A node certificate named like a member, from another CA.
    other_ca = tempfile.mkdtemp(prefix="meridian-other-ca-")
    make_certs(other_ca, ["ca", "--cluster-name", "other"], ["node", "--name", "node2"])
    frame = handshake_frame("e2e-peer-security", "node2")
    assert tls_attempt(address, tls_client(other_ca, "node2"), frame) == b""
    attempts += 1

    # 4. A client (user) certificate of the cluster's own CA.
    ours = peer_cert_dir()
    if not os.path.exists(os.path.join(ours, "client-mallory.crt")):
        make_certs(ours, ["client", "--name", "mallory"])
    assert tls_attempt(address, tls_client(ours, "mallory", "client"),
                       handshake_frame("e2e-peer-security", "mallory")) == b""
    attempts += 1

    poll(lambda: (metric(node1, "meridian_peer_tls_handshakes_failed_total") >= attempts, None),
         10, "node1 counts %d refused TLS handshakes" % attempts)

    # 5. A valid node certificate of the cluster (node9) claiming to be node2: the handshake
    # reply names the reason and the connection closes.
    if not os.path.exists(os.path.join(ours, "node-node9.crt")):
        make_certs(ours, ["node", "--name", "node9"])
    answer = tls_attempt(address, tls_client(ours, "node9"), frame)
    assert b"certificate is for node 'node9'" in answer, answer
    assert metric(node1, "meridian_peer_handshakes_rejected_total") >= 1

    # Nothing changed: the same two members, both up and alive, and no stranger completed a
    # handshake (only node2 reconnecting could add to the count).
    members = members_by_id(node1.status())
    assert sorted(members) == ["node1", "node2"], members
    assert all(m["status"] == "up" and m["alive"] for m in members.values()), members
    session = new_session()
    assert session.put(node1.http_url + "/v1/kv/default/after", data=b"ok",
                       timeout=10).status_code in (200, 201, 204)
    assert session.get(nodes[1].http_url + "/v1/kv/default/after", timeout=10).content == b"ok"


def test_cert_command_makes_files_and_never_replaces_them(tmp_path):
    directory = str(tmp_path / "certs")
    make_certs(directory, ["ca", "--cluster-name", "unit"], ["node", "--name", "n1", "--host",
                                                               "127.0.0.1"])
    for name, mode in [("ca.key", 0o600), ("node-n1.key", 0o600), ("ca.crt", 0o644),
                       ("node-n1.crt", 0o644)]:
        assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == mode, name
    before = open(os.path.join(directory, "node-n1.crt")).read()
    again = subprocess.run([meridian_bin(), "cert", "node", "--name", "n1", "--dir", directory],
                           capture_output=True, text=True, timeout=30)
    assert again.returncode != 0
    assert "exists already" in again.stderr
    assert open(os.path.join(directory, "node-n1.crt")).read() == before
    bad = subprocess.run([meridian_bin(), "cert", "node", "--name", "a,b", "--dir", directory],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "node id may contain only" in bad.stderr, bad.stderr
    no_ca = subprocess.run([meridian_bin(), "cert", "node", "--name", "n2", "--dir",
                            str(tmp_path / "empty")], capture_output=True, text=True, timeout=30)
    assert no_ca.returncode != 0 and "meridian cert ca" in no_ca.stderr, no_ca.stderr


def serve_once(tmp_path, *args):
    return subprocess.run([meridian_bin(), "serve", "--data-dir", str(tmp_path / "d"), "--http",
                           "127.0.0.1:0", "--peer", "127.0.0.1:0", "--name", "n1"] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_a_clustered_node_refuses_to_start_without_certificates(tmp_path):
    result = serve_once(tmp_path)
    assert result.returncode != 0
    assert "needs mutual TLS" in result.stderr and "meridian cert" in result.stderr, result.stderr
    # A certificate for another node is refused at start with the reason.
    ours = peer_cert_dir()
    result = serve_once(tmp_path, "--peer-tls-ca", os.path.join(ours, "ca.crt"),
                        "--peer-tls-cert", os.path.join(ours, "node-node1.crt"),
                        "--peer-tls-key", os.path.join(ours, "node-node1.key"))
    assert result.returncode != 0
    assert "is for node 'node1', not for this node 'n1'" in result.stderr, result.stderr
    result = serve_once(tmp_path, "--peer-security", "plaintext")
    assert result.returncode != 0 and "insecure-plaintext" in result.stderr, result.stderr


def test_the_plaintext_opt_out_is_loud(cluster):
    node = cluster.start_node("plain", extra_args=["--peer-security", "insecure-plaintext"])
    assert "INSECURE: peer connections are plaintext" in node.log()
    assert metric(node, "meridian_peer_tls_enabled") == 0


def test_sighup_reloads_the_peer_certificate_and_keeps_it_when_the_new_one_is_bad(cluster):
    work = tempfile.mkdtemp(prefix="meridian-reload-")
    ours = peer_cert_dir()
    # node1 serves from copies of its files, so the test can replace them.
    paths = {}
    for suffix in ("crt", "key"):
        paths[suffix] = os.path.join(work, "node1." + suffix)
        with open(os.path.join(ours, "node-node1." + suffix), "rb") as src:
            with open(paths[suffix], "wb") as dst:
                dst.write(src.read())
    node1 = cluster.start_node("node1", extra_args=[
        "--peer-tls-ca", os.path.join(ours, "ca.crt"), "--peer-tls-cert", paths["crt"],
        "--peer-tls-key", paths["key"]])
    # A broken certificate file: logged, the old one stays in use.
    with open(paths["crt"], "w") as broken:
        broken.write("not a certificate\n")
    node1.process.send_signal(signal.SIGHUP)
    poll(lambda: ("keeping the peer TLS certificates in use" in node1.log(), None), 10,
         "node1 logs that it keeps its certificate")
    # node2 still joins (node1's TLS context is the original one).
    node2 = cluster.start_node("node2", seeds=[node1.peer_address])
    poll(cluster_settled([node1, node2], ["node1", "node2"]), FORM_DEADLINE_S,
         "node2 joins after the refused reload")
    # A fresh certificate of the same CA: reloaded.
    os.remove(paths["crt"])
    os.remove(paths["key"])
    fresh = tempfile.mkdtemp(prefix="meridian-fresh-")
    for name in ("ca.crt", "ca.key"):
        with open(os.path.join(ours, name), "rb") as src:
            with open(os.path.join(fresh, name), "wb") as dst:
                dst.write(src.read())
    make_certs(fresh, ["node", "--name", "node1"])
    os.rename(os.path.join(fresh, "node-node1.crt"), paths["crt"])
    os.rename(os.path.join(fresh, "node-node1.key"), paths["key"])
    node1.process.send_signal(signal.SIGHUP)
    poll(lambda: ("reloaded the peer TLS certificate" in node1.log(), None), 10,
         "node1 logs the reload")
    # New connections to node1 use the new certificate: a third node joins through it.
    node3 = cluster.start_node("node3", seeds=[node1.peer_address])
    poll(cluster_settled([node1, node2, node3], ["node1", "node2", "node3"]), FORM_DEADLINE_S,
         "node3 joins after the reload")
