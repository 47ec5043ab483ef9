"""Real network partitions between `meridian serve` processes on one machine (tests/e2e and
bench/recovery_after_partition.py).

Each node gets its own loopback address (127.A.B.C, unique per process: A and B come from the
pid, C counts up), listens for peers on it and binds its outgoing peer sockets to it (the
transport does that for a non-wildcard listen address), so a node's peer traffic can be told
apart by address. Partitions are iptables DROP rules between those addresses, in a chain of this
process's own (MERIDIAN-<pid>-<n>) hooked into INPUT: packets leave the sender's stack normally
and vanish on arrival, like on a real network; parallel runs (other CTest jobs, other checkouts)
never touch each other's rules. Nothing here sends traffic outside 127.0.0.0/8.

Partitioner.close() removes the hook and the chain and never raises; use it from a fixture
teardown or a finally block (conftest.py's `partitioner` fixture does). Without root or without
iptables, require_iptables() skips the test with the reason.
"""
import itertools
import os
import shutil
import subprocess

import pytest

IPTABLES_TIMEOUT_S = 20
# iptables -w: wait for the xtables lock (other processes may edit rules at the same time).
IPTABLES = ["iptables", "-w", "5"]

_address_counter = itertools.count(1)
_chain_counter = itertools.count(1)


def iptables_problem():
    """None when this process can manage iptables rules, else why not."""
    if os.geteuid() != 0:
        return "partitions need root (iptables rules); running as uid %d" % os.geteuid()
    if shutil.which("iptables") is None:
        return "partitions need iptables (Debian package iptables; scripts/setup installs it)"
    try:
        result = subprocess.run(IPTABLES + ["-S", "INPUT"], capture_output=True, text=True,
                                timeout=IPTABLES_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return "iptables does not run: %r" % (error,)
    if result.returncode != 0:
        return "iptables does not work here: %s" % result.stderr.strip()
    return None


def require_iptables():
    """Skips the calling test (with the reason) when partitions cannot be made."""
    problem = iptables_problem()
    if problem:
        pytest.skip(problem)


def unique_loopback_host():
    """A loopback address no other process uses: 127.A.B.C with A.B from the pid (A never 0,
    so 127.0.0.1 — the HTTP listeners' address — is never handed out) and C counting up."""
    pid = os.getpid()
    index = next(_address_counter)
    if index > 254:
        raise RuntimeError("more than 254 loopback addresses in one process")
    return "127.%d.%d.%d" % (1 + (pid >> 8) % 254, pid & 0xFF, index)


def loopback_hosts():
    """An endless supply of unique_loopback_host()s (for cluster_util.Cluster)."""
    while True:
        yield unique_loopback_host()


def _run(arguments, check=True):
    result = subprocess.run(IPTABLES + arguments, capture_output=True, text=True,
                            timeout=IPTABLES_TIMEOUT_S)
    if check and result.returncode != 0:
        raise RuntimeError("iptables %s failed: %s" % (" ".join(arguments),
                                                       result.stderr.strip()))
    return result


def host_of(address):
    """'127.1.2.3:7000' -> '127.1.2.3'."""
    host, _, _ = address.rpartition(":")
    return host.strip("[]")


class Partitioner:
    """A chain of DROP rules of this process, hooked into INPUT. Cuts are between hosts and
    symmetric; heal() lifts them all; close() removes everything (idempotent, never raises)."""

    def __init__(self):
        self.chain = "MERIDIAN-%d-%d" % (os.getpid(), next(_chain_counter))
        self.cuts = set()
        self.closed = False
        _run(["-N", self.chain])
        try:
            _run(["-I", "INPUT", "-j", self.chain])
        except Exception:
            _run(["-X", self.chain], check=False)
            raise

    def _drop(self, source, destination):
        """Drops what `source` sends to `destination` (once per pair)."""
        if (source, destination) in self.cuts:
            return
        for address in (source, destination):
            if not address.startswith("127."):
                raise ValueError("only loopback hosts are partitioned: %r" % address)
        _run(["-A", self.chain, "-s", source, "-d", destination, "-j", "DROP"])
        self.cuts.add((source, destination))

    def _cut_pair(self, a, b):
        self._drop(a, b)
        self._drop(b, a)

    def partition(self, side_a, side_b):
        """Cuts every host of side_a from every host of side_b, both directions."""
        for a in side_a:
            for b in side_b:
                if a != b:
                    self._cut_pair(a, b)

    def cut_one_way(self, sources, destinations):
        """Drops what every host of `sources` sends to every host of `destinations`; the other
        direction still flows (a request arrives, its answer is lost)."""
        for source in sources:
            for destination in destinations:
                if source != destination:
                    self._drop(source, destination)

    def cut_connections_to(self, sources, destination_address):
        """Drops the TCP packets every host of `sources` sends to `destination_address`
        ("host:port", a listener): the connections they open to it carry nothing, while the
        connections its own node opens to them (and the acknowledgements of those) still flow.
        A peer cut this way still hears from that node, so it never finds it silent."""
        host = host_of(destination_address)
        port = destination_address.rsplit(":", 1)[1]
        for source in sources:
            if source == host or (source, destination_address) in self.cuts:
                continue
            for address in (source, host):
                if not address.startswith("127."):
                    raise ValueError("only loopback hosts are partitioned: %r" % address)
            _run(["-A", self.chain, "-p", "tcp", "-s", source, "-d", host, "--dport", port,
                  "-j", "DROP"])
            self.cuts.add((source, destination_address))

    def isolate(self, host, all_hosts):
        """Cuts `host` from every other host of all_hosts."""
        self.partition([host], [other for other in all_hosts if other != host])

    def heal(self):
        _run(["-F", self.chain])
        self.cuts.clear()

    def close(self):
        if self.closed:
            return
        self.closed = True
        # Each step is tried even if an earlier one failed; the hook first, so no packet can
        # jump to a chain that is going away.
        for arguments in (["-D", "INPUT", "-j", self.chain], ["-F", self.chain],
                          ["-X", self.chain]):
            try:
                _run(arguments, check=False)
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
