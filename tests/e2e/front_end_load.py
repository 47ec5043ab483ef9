"""Load shared by the end-to-end tests of the node's threads (test_front_end_thread.py,
test_shards.py): many connections at once over HTTP and HTTPS, each request checked."""
import concurrent.futures

import requests


def session():
    """A requests session that ignores proxy settings from the environment."""
    s = requests.Session()
    s.trust_env = False
    return s


def put_and_get_concurrently(server, cafile, bucket, count=400, workers=8):
    """Puts and reads back keys k0..k<count-1> of `bucket`, from `workers` threads, odd keys over
    HTTP and even ones over HTTPS (verified against `cafile`); asserts every answer and returns
    the number of keys done. Requests sessions are not thread-safe: one per worker thread."""

    def worker(indices):
        plain = session()
        tls = session()
        tls.verify = cafile
        for i in indices:
            base, s = (server.http_url, plain) if i % 2 else (server.https_url, tls)
            url = "%s/v1/kv/%s/k%d" % (base, bucket, i)
            put = s.put(url, data=b"v%d" % i, timeout=10)
            assert put.status_code == 204, (put.status_code, put.text)
            got = s.get(url, timeout=10)
            assert got.status_code == 200 and got.content == b"v%d" % i, (got.status_code,
                                                                          got.text)
        return len(indices)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(worker, [range(j, count, workers) for j in range(workers)]))
