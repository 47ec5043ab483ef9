"""Acknowledged durable writes survive SIGKILL: a writer PUTs unique keys with ?dw=1, the
server is killed mid-stream and restarted on the same data directory, and every write that
was acknowledged with 204 must be readable with its value.

SIGKILL leaves the page cache alone, so this passes even without any fsync (it checks that
no acknowledged write is still in the process's buffers); test_power_loss.py cuts the power
and is the test that fails when a dw=1 write was not fsynced."""
import threading
import time

from conftest import Endpoint

WRITES_MAX = 2000
WRITE_SECONDS_MAX = 10
ACKNOWLEDGED_BEFORE_KILL = 200


def test_acknowledged_durable_writes_survive_sigkill(start_server):
    server = start_server()
    endpoint = Endpoint(server, "http", None)
    acknowledged = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer():
        session = endpoint.new_session()
        deadline = time.monotonic() + WRITE_SECONDS_MAX
        for i in range(WRITES_MAX):
            if stop.is_set() or time.monotonic() > deadline:
                return
            key, value = "durable-%05d" % i, b"value-%d-" % i + bytes([i % 256]) * (i % 97)
            try:
                response = session.put(endpoint.kv(key) + "?dw=1", data=value, timeout=5)
            except Exception:  # the server died: this write is unacknowledged
                return
            if response.status_code == 204:
                assert response.headers["X-Meridian-Durable"] == "true"
                with lock:
                    acknowledged[key] = value

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + WRITE_SECONDS_MAX
    while True:
        with lock:
            count = len(acknowledged)
        if count >= ACKNOWLEDGED_BEFORE_KILL or not thread.is_alive() or time.monotonic() > deadline:
            break
        time.sleep(0.01)  # polling the writer's progress, bounded by the deadline
    server.kill()
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    with lock:
        snapshot = dict(acknowledged)
    assert len(snapshot) >= min(ACKNOWLEDGED_BEFORE_KILL, 50), "too few writes before the kill"

    server.start()  # same data directory
    endpoint = Endpoint(server, "http", None)
    lost = []
    for key, value in snapshot.items():
        response = endpoint.session.get(endpoint.kv(key), timeout=10)
        if response.status_code != 200 or response.content != value:
            lost.append((key, response.status_code))
    assert not lost, "%d of %d acknowledged writes lost, e.g. %s" % (len(lost), len(snapshot),
                                                                     lost[:5])
