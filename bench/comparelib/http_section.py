"""Section http: one Meridian node (HTTP) vs nginx answering every request of the same wrk Lua
scripts (bench/http_put.lua, bench/http_get.lua) with a 100-byte body, driven by wrk --latency.
nginx's static-file GET (no Lua) is measured too, for comparison with runs before 2026-12-06."""
import os
import shutil
import subprocess

from . import parse
from .common import Failure, http_ok, http_request, log, loadavg
from .context import Run
from .meridian import read_text, set_bucket, shard_args, shard_text, start_node
from .processes import children, free_ports, server_failed, wait_until

READY_S = 30
FILL_LIMIT_S = 120
FILL_ATTEMPTS = 5
KEYS = 10000
VALUE_100 = "v" * 100

# Writes key0..key9999 in order (the keys bench/http_put.lua and bench/http_get.lua choose from)
# and reports how many requests completed and how many failed.
FILL_LUA = """\
local keys = 10000
local body = string.rep("v", 100)
local next_key = 0
request = function()
  local path = "/v1/kv/bench/key" .. next_key
  next_key = (next_key + 1) % keys
  return wrk.format("PUT", path, {["Content-Type"] = "application/octet-stream"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("fill: %d requests, %d errors\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def wrk(run: Run, system: str, workload: str, round_: int, url: str, lua: str = "") -> None:
    """`wrk -t2 -c50 -dDs --latency [-s LUA] URL` (at most --duration + 120 s) and its
    measurement; non-2xx responses and socket errors are errors."""
    args = ["wrk", "-t2", "-c50", f"-d{run.duration}s", "--latency"]
    if lua:
        args += ["-s", lua]
    path = run.raw_path(f"http-r{round_}-{system}-{workload}.txt")
    if run.supervisor.run_tool(path, run.duration + 120, [*args, url]) != 0:
        raise Failure(f"wrk {workload} against {system} failed (see {path})")
    try:
        result = parse.wrk_output(read_text(path))
    except parse.ParseError as error:
        raise Failure(f"could not parse wrk output {path}: {error}") from None
    if result.requests <= 0:
        raise Failure(f"wrk {workload} against {system} completed no requests ({path})")
    run.recorder.measurement("http", system, workload, round_, result.requests_per_s,
                             result.p50_ms, result.p99_ms, result.errors, os.path.basename(path))
    if result.errors != 0:
        log(f"    WARNING: {result.errors} of {result.requests} requests failed "
            "(non-2xx or socket errors)")


def fill(run: Run, http: str, directory: str, round_: int) -> None:
    """Pre-writes key0..key9999 in order with one wrk thread, until keys + connections requests
    completed without an error (at most 5 attempts of 3 s); checks three of them."""
    script = os.path.join(directory, "fill.lua")
    with open(script, "w") as handle:
        handle.write(FILL_LUA)
    for attempt in range(1, FILL_ATTEMPTS + 1):
        path = run.raw_path(f"http-r{round_}-meridian-fill-{attempt}.txt")
        if run.supervisor.run_tool(path, FILL_LIMIT_S,
                                   ["wrk", "-t1", "-c50", "-d3s", "-s", script, f"http://{http}"]) != 0:
            raise Failure("wrk fill failed")
        line = parse.wrk_fill_line(read_text(path))
        if line is not None and line[1] == 0 and line[0] >= KEYS + 50:
            break
        text = f"fill: {line[0]} requests, {line[1]} errors" if line else "no fill line"
        log(f"    fill attempt {attempt}: {text}; again")
    else:
        raise Failure("could not pre-write the 10,000 keys of bucket bench")
    for k in (0, 4999, 9999):
        try:
            code = str(http_request(f"http://{http}/v1/kv/bench/key{k}", timeout_s=10)[0])
        except OSError:
            code = "000"
        if code != "200":
            raise Failure(f"pre-written key{k}: GET returned {code}")


def meridian(run: Run, round_: int) -> None:
    directory = run.work_dir(f"http-r{round_}-meridian")
    log(f"  http round {round_}: Meridian node (load average {loadavg()})")
    node = start_node(run, "meridian (http)", directory, "--http", "127.0.0.1:0", *shard_args(run))
    set_bucket(node.http, '{"conflict_policy":"lww"}')
    fill(run, node.http, directory, round_)
    wrk(run, "meridian", "PUT", round_, f"http://{node.http}", "bench/http_put.lua")
    wrk(run, "meridian", "GET", round_, f"http://{node.http}", "bench/http_get.lua")
    run.record_rss("http", "meridian", round_, "meridian serve", node.process.pid)
    run.supervisor.stop(node.process)
    run.keep_logs(os.path.join(directory, "stderr"))
    shutil.rmtree(directory, ignore_errors=True)


def nginx_conf(directory: str, port: int, nginx_v: str, root: bool) -> str:
    """nginx's configuration: daemon off, master + 1 worker, keep-alive, access log off, every
    path inside `directory`; temp paths only for the modules this nginx has (`nginx -V` output:
    an unknown directive is an error); `user root` when run as root."""
    temp = ""
    if "--http-client-body-temp-path" in nginx_v:
        temp += f"    client_body_temp_path {directory}/tmp/body;\n"
    for module in ("proxy", "fastcgi", "uwsgi", "scgi"):
        if f"--http-{module}-temp-path" in nginx_v and f"--without-http_{module}_module" not in nginx_v:
            temp += f"    {module}_temp_path {directory}/tmp/{module};\n"
    user = "user root;" if root else ""
    return f"""# written by bench/compare
daemon off;
master_process on;
worker_processes 1;
{user}
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
{temp}    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {directory}/www;
        # The paths bench/http_get.lua and bench/http_put.lua request: every method answered
        # 200 with a 100-byte body (a PUT's body is read and discarded).
        location /v1/kv/bench/ {{
            return 200 "{VALUE_100}";
        }}
        location / {{
        }}
    }}
}}
"""


def nginx(run: Run, round_: int) -> None:
    directory = run.work_dir(f"http-r{round_}-nginx")
    log(f"  http round {round_}: nginx (load average {loadavg()})")
    os.makedirs(os.path.join(directory, "www"), exist_ok=True)
    os.makedirs(os.path.join(directory, "tmp"), exist_ok=True)
    with open(os.path.join(directory, "www", "v100.bin"), "w") as handle:
        handle.write(VALUE_100)
    port = free_ports(1)[0]
    nginx_v = subprocess.run(["nginx", "-V"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30).stdout.decode(errors="replace")
    conf = nginx_conf(directory, port, nginx_v, os.getuid() == 0)
    conf_path = os.path.join(directory, "nginx.conf")
    for path in (conf_path, run.raw_path("nginx.conf")):
        with open(path, "w") as handle:
            handle.write(conf)
    stdout, stderr = os.path.join(directory, "stdout"), os.path.join(directory, "stderr")
    error_log = os.path.join(directory, "error.log")
    process = run.supervisor.start_server(
        "nginx master", stdout, stderr, ["nginx", "-c", conf_path, "-p", directory, "-e", error_log])
    url = f"http://127.0.0.1:{port}/v100.bin"

    def serves() -> bool:
        return http_ok(url, timeout_s=2) == VALUE_100.encode()

    if not wait_until(serves, READY_S, process) and not serves():
        server_failed("nginx", process, [stderr, error_log])
    lua_url = f"http://127.0.0.1:{port}"
    answer = http_request(f"{lua_url}/v1/kv/bench/key1", timeout_s=10)
    if answer[0] != 200 or answer[1] != VALUE_100.encode():
        raise Failure(f"nginx answered /v1/kv/bench/key1 with {answer[0]}, not 200 and 100 bytes")
    wrk(run, "nginx", "PUT", round_, lua_url, "bench/http_put.lua")
    wrk(run, "nginx", "GET", round_, lua_url, "bench/http_get.lua")
    wrk(run, "nginx", "GET static", round_, url)
    run.record_rss("http", "nginx", round_, "nginx master", process.pid)
    for worker in children(process.pid):
        run.record_rss("http", "nginx", round_, "nginx worker", worker)
    run.supervisor.stop(process)
    run.keep_logs(error_log)
    shutil.rmtree(directory, ignore_errors=True)


def configs_md(run: Run) -> str:
    d = run.duration
    return f"""
### http — one Meridian node vs nginx {run.versions.get('nginx', '')}, the same wrk Lua scripts

* Meridian: `meridian serve --data-dir D --http 127.0.0.1:0{shard_text(run)}`, bucket `bench` set to
  `{{"conflict_policy":"lww"}}`; key0..key9999 pre-written in order (one wrk thread, no errors),
  then `wrk -t2 -c50 -d{d}s --latency -s bench/http_put.lua` (PUT 100 B to random keys
  of the 10,000) and `-s bench/http_get.lua` (GET of them; every key exists, so a non-2xx is an
  error).
* nginx: own config (raw/nginx.conf): `daemon off; master_process on; worker_processes 1;`,
  keep-alive (`keepalive_requests 1000000`), `access_log off`, every path inside the temp dir;
  started with `nginx -c CONF -p DIR -e DIR/error.log`; answers every request under
  `/v1/kv/bench/` with `return 200` and a 100-byte body (a PUT's body discarded), driven by the
  same `wrk -t2 -c50 -d{d}s --latency -s bench/http_put.lua` and `-s bench/http_get.lua`; and
  (informational, as in runs before 2026-12-06) a 100-byte static file without Lua:
  `wrk -t2 -c50 -d{d}s --latency http://127.0.0.1:P/v100.bin`.
* Requests/s and p99 from wrk's `--latency` output; non-2xx responses and socket errors count
  as errors.
* Goals: Meridian GET ≥ 0.7× nginx GET, Meridian PUT ≥ 0.5× nginx PUT, each driven by the same
  Lua script.
"""
