"""Parsers of the tools' output: pure functions of text (or decoded JSON), no I/O.

Each raises ParseError with a message that says what is missing when the output is not what the
tool writes on success (empty, truncated, another format).
"""
import csv
import json
import re
from dataclasses import dataclass


class ParseError(ValueError):
    """Tool output that could not be parsed."""


def _number(text, what: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ParseError(f"{what} is not a number: {text!r}") from None
    if value != value:  # NaN
        raise ParseError(f"{what} is not a number: {text!r}")
    return value


# --- redis-benchmark --csv ----------------------------------------------------------------------
@dataclass(frozen=True)
class Rate:
    """Throughput and latency of one test of a tool run."""
    ops_per_s: float
    p50_ms: float
    p99_ms: float


def redis_benchmark_csv(text: str, test: str) -> Rate:
    """The row of `test` (SET, GET) of `redis-benchmark --csv`: columns test, rps, avg, min, p50,
    p95, p99, max latency (ms); the first row of that test counts."""
    for row in csv.reader(text.splitlines()):
        if row and row[0] == test:
            if len(row) < 7:
                raise ParseError(f"the {test} row has {len(row)} columns, not 8: {row}")
            return Rate(_number(row[1], f"{test} rps"), _number(row[4], f"{test} p50"),
                        _number(row[6], f"{test} p99"))
    raise ParseError(f"no {test} line")


# --- wrk --latency ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float        # rounded to 0.001 ms
    p99_ms: float        # rounded to 0.001 ms
    errors: int          # non-2xx/3xx responses + socket errors (connect, read, write, timeout)
    requests: int        # requests completed


def wrk_duration_ms(text: str) -> float:
    """A wrk latency (`456.00us`, `1.23ms`, `1.02s`, `2.00m`) in milliseconds."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)?", text)
    if not match:
        raise ParseError(f"not a wrk latency: {text!r}")
    value = _number(match.group(1), "latency")
    factor = {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000, None: 1}[match.group(2)]
    return value / 1000 if factor == 0.001 else value * factor


def wrk_output(text: str) -> WrkResult:
    """Requests/s, p50 and p99 (from --latency), errors and requests of wrk's report."""
    rps = p50 = p99 = None
    requests = errors = 0
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "Requests/sec:" and len(fields) > 1:
            rps = _number(fields[1], "Requests/sec")
        elif fields[0] == "50%" and len(fields) > 1:
            p50 = wrk_duration_ms(fields[1])
        elif fields[0] == "99%" and len(fields) > 1:
            p99 = wrk_duration_ms(fields[1])
        elif " requests in " in line:
            requests = int(fields[0]) if fields[0].isdigit() else 0
        elif "Non-2xx or 3xx responses:" in line and len(fields) > 4:
            errors += int(_number(fields[4], "non-2xx responses"))
        elif "Socket errors:" in line:
            # Socket errors: connect 0, read 0, write 0, timeout 0
            counts = line.replace(",", "").split()
            errors += sum(int(_number(counts[i], "socket errors")) for i in (3, 5, 7, 9)
                          if i < len(counts))
    missing = [name for name, value in (("Requests/sec", rps), ("50%", p50), ("99%", p99))
               if value is None]
    if missing:
        raise ParseError("no " + ", ".join(missing) + " in the wrk output"
                         + (" (was it run with --latency?)" if rps is not None else ""))
    return WrkResult(rps, round(p50, 3), round(p99, 3), errors, requests)


def wrk_fill_line(text: str) -> tuple[int, int] | None:
    """(requests, errors) of the `fill: N requests, E errors` line of the fill script, or None."""
    for line in text.splitlines():
        match = re.match(r"fill: (\d+) requests, (\d+) errors", line)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None


# --- meridian bench --json ----------------------------------------------------------------------
@dataclass(frozen=True)
class BenchTotal:
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    count: int
    not_found: object    # an int; None when the report lacks it


def bench_report(text: str) -> dict:
    """The decoded JSON report of `meridian bench --json`."""
    if not text.strip():
        raise ParseError("the report is empty")
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(f"the report is not JSON ({error})") from None
    if not isinstance(report, dict) or not isinstance(report.get("phases"), list):
        raise ParseError("the report has no list of phases")
    return report


def bench_phases(report: dict, phase: str) -> list[dict]:
    return [p for p in report.get("phases", []) if isinstance(p, dict) and p.get("phase") == phase]


def _stats(stats, where: str) -> BenchTotal:
    if not isinstance(stats, dict):
        raise ParseError(f"{where}: no statistics")
    latency = stats.get("latency_us")
    if not isinstance(latency, dict):
        raise ParseError(f"{where}: no latency_us")
    try:
        return BenchTotal(
            ops_per_s=_number(stats["ops_per_s"], f"{where} ops_per_s"),
            p50_ms=_number(latency["p50"], f"{where} p50") / 1000,
            p99_ms=_number(latency["p99"], f"{where} p99") / 1000,
            errors=int(_number(stats["errors"], f"{where} errors")),
            count=int(_number(stats["count"], f"{where} count")),
            not_found=stats.get("not_found"))
    except KeyError as error:
        raise ParseError(f"{where}: no {error.args[0]}") from None


def bench_total(report: dict, phase: str) -> BenchTotal:
    """The total of the first phase named `phase` (load, run): ops/s, p50 and p99 in ms, errors,
    count, not_found."""
    phases = bench_phases(report, phase)
    if not phases:
        raise ParseError(f"no {phase} phase")
    return _stats(phases[0].get("total"), f"{phase} phase total")


def bench_conflicts(report: dict, phase: str) -> int:
    """Compare-and-set operations that lost a race (412) over the phases named `phase`."""
    total = 0
    for p in bench_phases(report, phase):
        value = (p.get("total") or {}).get("conflicts")
        total += int(value) if value else 0
    return total


def bench_elapsed_s(report: dict, phase: str) -> float:
    phases = bench_phases(report, phase)
    if not phases:
        raise ParseError(f"no {phase} phase")
    return _number(phases[0].get("elapsed_s"), f"{phase} elapsed_s")


def bench_reads(report: dict) -> BenchTotal:
    """The read statistics of the run phase (its `read` operation, else its total): the memory
    section's read phase."""
    phases = bench_phases(report, "run")
    if not phases:
        raise ParseError("no run phase")
    read = (phases[0].get("operations") or {}).get("read") or phases[0].get("total")
    return _stats(read, "run phase reads")


def jq_text(value) -> str:
    """`value` as jq's string interpolation writes it (the raw TSV files keep that form)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    return str(value)


# --- Meridian -----------------------------------------------------------------------------------
def meridian_ready(stdout: str) -> bool:
    """True once `meridian serve` printed its ready line."""
    return re.search(r"(?m)^meridian ready", stdout) is not None


def ready_addresses(stdout: str) -> dict[str, str]:
    """The listener addresses of `meridian serve`'s ready line (`meridian ready ... http=H:P
    resp=H:P peer=H:P`): {"http": ..., "resp": ..., "peer": ...}, "" for a listener not
    named."""
    addresses = {}
    for name in ("http", "resp", "peer"):
        addresses[name] = ""
        for line in stdout.splitlines():
            match = re.match(rf".* {name}=([0-9.:]*)", line)
            if match:
                addresses[name] = match.group(1)
                break
    return addresses


def cluster_settled(status: dict, ring: dict) -> bool:
    """True when /v1/cluster/status shows 3 members up and alive, each owning partitions, none
    receiving any, and /v1/cluster/ring?partitions=true every partition with an owner and no
    pending owner."""
    try:
        members = status["members"]
        up = [m for m in members if m.get("status") == "up" and m.get("alive") not in (None, False)
              and (m.get("partitions_owned") or 0) > 0]
        incoming = [m["partitions_incoming"] for m in members
                    if m.get("partitions_incoming") is not None]
        if len(up) != 3 or not incoming or sum(incoming) != 0:
            return False
        return all(p.get("owner") != "" and p.get("pending_owner") == "" for p in ring["partitions"])
    except (KeyError, TypeError, AttributeError):
        return False


def metrics_gauge(text: str, name: str) -> int | None:
    """The last value of the Prometheus sample `NAME VALUE` as an integer, None when absent."""
    value = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == name and re.fullmatch(r"[0-9.eE+]+", fields[1]):
            try:
                value = round(float(fields[1]))
            except ValueError:
                continue
    return value


# --- etcd ---------------------------------------------------------------------------------------
def etcd_healthy(body: bytes | str) -> bool:
    """An etcd /health answer with "health":"true" (the member has a leader)."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    return '"health":"true"' in text


def etcd_is_leader(status: dict) -> bool:
    """True when the /v3/maintenance/status answer comes from the leader."""
    try:
        return str(status["header"]["member_id"]) == str(status["leader"])
    except (KeyError, TypeError):
        return False


# --- versions -----------------------------------------------------------------------------------
def meridian_version(text: str) -> str:
    """`meridian 0.1.0` -> 0.1.0 (the second word of each line)."""
    return "\n".join(line.split()[1] for line in text.splitlines() if len(line.split()) > 1)


def redis_version(text: str) -> str:
    """`Redis server v=7.0.15 sha=...` -> 7.0.15."""
    match = re.search(r".* v=([^ \n]*)", text)
    return match.group(1) if match else ""


def nginx_version(text: str) -> str:
    """`nginx version: nginx/1.22.1` -> 1.22.1."""
    match = re.search(r".*nginx/([^ \n]*)", text)
    return match.group(1) if match else ""


def etcd_version(text: str) -> str:
    """`etcd Version: 3.4.23` -> 3.4.23."""
    match = re.search(r"(?m)^etcd Version: (.*)$", text)
    return match.group(1) if match else ""


def wrk_version(text: str) -> str:
    """`wrk debian/4.1.0-3+b2 [epoll] ...` (its first line) -> debian/4.1.0-3+b2."""
    first = text.split("\n", 1)[0]
    match = re.match(r"wrk ([^ ]*)", first)
    return match.group(1) if match else ""
