"""Results: the raw/*.tsv bookkeeping during a run, and the report made from it at the end.

During the run every measurement is appended to raw/measurements.tsv, every server process's
peak RSS to raw/rss.tsv (Recorder); raw/meta.tsv describes the run, raw/memory.tsv the memory
section. The report reads these back (so it depends on nothing but raw/), takes medians over
the rounds, computes the ratios Meridian / peer and the goals, and writes results.json,
tables.md and results.md; compare.png is drawn by bench/plot_compare.py.

results.json: {"meta": {...raw/meta.tsv}, "systems": {system: "Name version"},
"measurements": [{section, system, workload, round, ops_per_s, p50_ms, p99_ms, errors, raw,
server_peak_rss_bytes, server_processes, [count, not_found, conflicts]}], "summary": [{section,
workload, metric, meridian, peer, peer_value, ratio, goal, met}], "rss": [{section, system,
round, process, pid, peak_rss_bytes}], "memory": {...} or null}.
"""
import csv
import json
import os
import statistics
import subprocess
from pathlib import Path

from .common import log
from .parse import jq_text

# (section, label, meridian workload, peer system, peer workload, goal): throughput and p99 rows.
# goal ("min", x): the throughput ratio must be >= x (and in sections with a p99 goal, the p99
# lower than the peer's); None: informational.
SPECS = [
    ("resp", "SET, -c 50", "SET", "redis", "SET", ("min", 0.9)),
    ("resp", "GET, -c 50", "GET", "redis", "GET", ("min", 0.9)),
    ("resp", "SET, -c 50 -P 16", "SET -P16", "redis", "SET -P16", ("min", 0.5)),
    ("resp", "GET, -c 50 -P 16", "GET -P16", "redis", "GET -P16", ("min", 0.5)),
    ("http", "GET 100 B (same wrk Lua script)", "GET", "nginx", "GET", ("min", 0.7)),
    ("http", "PUT 100 B (same wrk Lua script)", "PUT", "nginx", "PUT", ("min", 0.5)),
    ("http", "GET 100 B vs nginx static file (no Lua)", "GET", "nginx", "GET static", None),
    ("cluster", "put (insert), N=3 W=2 vs etcd", "put", "etcd", "put", ("min", 5.0)),
    ("cluster", "read (workload C), N=3 R=2 vs etcd", "read", "etcd", "read", ("min", 3.0)),
    ("cluster", "put dw=2 (durable) vs etcd put", "put dw=2", "etcd", "put", None),
    ("strong", "strong put (insert) vs etcd put", "strong put", "etcd", "put", ("min", 1.0)),
    ("strong", "strong CAS (GET + If-Match PUT) vs etcd put", "strong cas", "etcd", "put", ("min", 1.0)),
    ("strong", "strong read (workload C) vs etcd read (linearizable)", "strong read", "etcd", "read", None),
    ("strong", "strong put vs eventual put W=2 (same cluster)", "strong put", "meridian", "eventual put", None),
    ("strong", "strong put vs eventual put dw=2 (same cluster)", "strong put", "meridian", "eventual put dw=2", None),
]
P99_GOALS = {"cluster": "lower", "strong": "lower"}
# (section, label, meridian workload, peer system, peer workload, goal): p50 rows; goal "le":
# Meridian's p50 <= the peer's.
P50_SPECS = [
    ("strong", "put, 1 client (overwrites) vs etcd", "strong put 1 client", "etcd", "put 1 client", "le"),
    ("strong", "strong vs eventual put, 1 client (same cluster)", "strong put 1 client", "meridian",
     "eventual put 1 client", None),
]
MIB = 2**20


# --- during the run ---------------------------------------------------------------------------
def _tsv_line(*fields) -> str:
    return "\t".join("" if f is None else jq_text(f) for f in fields) + "\n"


class Recorder:
    """Appends to raw/measurements.tsv and raw/rss.tsv (created empty by start())."""

    def __init__(self, raw: str):
        self.raw = raw

    def start(self) -> None:
        for name in ("measurements.tsv", "rss.tsv", "commands.log"):
            open(os.path.join(self.raw, name), "w").close()

    def measurement(self, section, system, workload, round_, ops, p50_ms, p99_ms, errors,
                    raw_file, note="") -> None:
        """One measurement; `errors` None when the tool does not count them; `note` as
        `count=N not_found=N conflicts=N`."""
        with open(os.path.join(self.raw, "measurements.tsv"), "a") as handle:
            handle.write(_tsv_line(section, system, workload, round_, ops, p50_ms, p99_ms,
                                   errors, raw_file, note))
        log(f"    {system} {workload}: {ops:.0f} ops/s, p50 {p50_ms:.2f} ms, p99 {p99_ms:.2f} ms, "
            f"errors {'n/a' if errors is None else errors}")

    def rss(self, section, system, round_, process, pid, peak_kb) -> None:
        with open(os.path.join(self.raw, "rss.tsv"), "a") as handle:
            handle.write(_tsv_line(section, system, round_, process, pid, peak_kb))


def write_tsv(path: str, rows, mode: str = "w") -> None:
    """`key<TAB>value` lines (meta.tsv, memory.tsv)."""
    with open(path, mode) as handle:
        for key, value in rows:
            handle.write(f"{key}\t{'' if value is None else value}\n")


# --- the report ------------------------------------------------------------------------------------
def read_tsv(raw: Path, name: str) -> list[list[str]]:
    path = raw / name
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.reader(handle, delimiter="\t") if row]


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def load_meta(raw: Path) -> dict:
    return {row[0]: row[1] if len(row) > 1 else "" for row in read_tsv(raw, "meta.tsv")}


def load_rss(raw: Path) -> list[dict]:
    return [
        {"section": r[0], "system": r[1], "round": int(r[2]), "process": r[3], "pid": int(r[4]),
         "peak_rss_bytes": int(r[5]) * 1024 if len(r) > 5 and r[5] else None}
        for r in read_tsv(raw, "rss.tsv")
    ]


def load_measurements(raw: Path, rss_rows: list[dict]) -> list[dict]:
    """raw/measurements.tsv as results.json's measurements: every row with its servers' peak
    RSS (summed over the processes of its section, system and round) and its note's fields."""
    measurements = []
    for r in read_tsv(raw, "measurements.tsv"):
        r += [""] * (10 - len(r))
        section, system, workload, rnd = r[0], r[1], r[2], int(r[3])
        rss = [x["peak_rss_bytes"] for x in rss_rows
               if x["section"] == section and x["system"] == system and x["round"] == rnd]
        entry = {"section": section, "system": system, "workload": workload, "round": rnd,
                 "ops_per_s": number(r[4]), "p50_ms": number(r[5]), "p99_ms": number(r[6]),
                 "errors": int(r[7]) if r[7] != "" else None, "raw": "raw/" + r[8],
                 "server_peak_rss_bytes": sum(v for v in rss if v) if rss else None,
                 "server_processes": len(rss)}
        for item in r[9].split():
            key, _, value = item.partition("=")
            entry[key] = int(value) if value.isdigit() else value
        measurements.append(entry)
    return measurements


def system_names(meta: dict) -> dict:
    return {
        "meridian": f"Meridian {meta.get('meridian_version', '')}".strip(),
        "redis": f"Redis {meta.get('redis_version', '')}".strip(),
        "nginx": f"nginx {meta.get('nginx_version', '')}".strip(),
        "etcd": f"etcd {meta.get('etcd_version', '')}".strip(),
    }


def median(measurements, section, system, workload, field):
    """The median of `field` over the rounds of (section, system, workload), None if none."""
    values = [m[field] for m in measurements if m["section"] == section and m["system"] == system
              and m["workload"] == workload and m[field] is not None]
    return statistics.median(values) if values else None


def ratio(meridian, peer):
    return meridian / peer if meridian and peer else None


def summary_rows(measurements: list[dict], names: dict) -> list[dict]:
    """The table of ratios Meridian / peer: a throughput and a p99 row per SPECS entry (p50 rows
    per P50_SPECS entry) that has a measurement, with the goal and whether it was met."""
    summary = []
    for section, label, m_work, peer, p_work, goal in SPECS:
        m_ops = median(measurements, section, "meridian", m_work, "ops_per_s")
        p_ops = median(measurements, section, peer, p_work, "ops_per_s")
        if m_ops is None and p_ops is None:
            continue
        r = ratio(m_ops, p_ops)
        goal_text, met = "—", "—"
        if goal and goal[0] == "min":
            goal_text = f"≥ {goal[1]:g}×"
            met = "—" if r is None else ("yes" if r >= goal[1] else "no")
        summary.append({"section": section, "workload": label + " — throughput",
                        "metric": "ops_per_s", "meridian": m_ops, "peer": names[peer],
                        "peer_value": p_ops, "ratio": r, "goal": goal_text, "met": met})
        m_p99 = median(measurements, section, "meridian", m_work, "p99_ms")
        p_p99 = median(measurements, section, peer, p_work, "p99_ms")
        r = ratio(m_p99, p_p99)
        goal_text, met = "— (lower is better)", "—"
        if P99_GOALS.get(section) == "lower" and goal is not None:
            goal_text = "lower than peer (< 1×)"
            met = "—" if r is None else ("yes" if m_p99 < p_p99 else "no")
        summary.append({"section": section, "workload": label + " — p99", "metric": "p99_ms",
                        "meridian": m_p99, "peer": names[peer], "peer_value": p_p99,
                        "ratio": r, "goal": goal_text, "met": met})
    for section, label, m_work, peer, p_work, goal in P50_SPECS:
        m_p50 = median(measurements, section, "meridian", m_work, "p50_ms")
        p_p50 = median(measurements, section, peer, p_work, "p50_ms")
        if m_p50 is None and p_p50 is None:
            continue
        r = ratio(m_p50, p_p50)
        goal_text, met = "— (lower is better)", "—"
        if goal == "le":
            goal_text = "≤ peer (≤ 1×)"
            met = "—" if r is None else ("yes" if m_p50 <= p_p50 else "no")
        summary.append({"section": section, "workload": label + " — p50", "metric": "p50_ms",
                        "meridian": m_p50, "peer": names[peer], "peer_value": p_p50,
                        "ratio": r, "goal": goal_text, "met": met})
    return summary


def fmt_ops(v):
    return "—" if v is None else f"{v:,.0f} ops/s"


def fmt_ms(v):
    return "—" if v is None else f"{v:.2f} ms"


def ratio_lines(meta, measurements, summary, names) -> list[str]:
    """The ratios table and the notes under it (conflicts, errors, reads that found nothing)."""
    if not summary:
        return []
    lines = [f"### Ratios Meridian ÷ peer (median of {meta.get('rounds', '1')} round(s))", "",
             "| section | workload | Meridian | peer | peer value | ratio (Meridian ÷ peer) | goal | met? |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        fmt = fmt_ops if s["metric"] == "ops_per_s" else fmt_ms
        r = "—" if s["ratio"] is None else f"{s['ratio']:.2f}×"
        lines.append(f"| {s['section']} | {s['workload']} | {fmt(s['meridian'])} | {s['peer']} | "
                     f"{fmt(s['peer_value'])} | {r} | {s['goal']} | {s['met']} |")
    lines.append("")
    lines.append("Throughput rows: higher ratio is better; p50 and p99 rows: lower ratio is better.")
    conflicts = [m for m in measurements if m.get("conflicts")]
    if conflicts:
        lines.append("Compare-and-set operations that lost a race (412, counted as completed): " +
                     "; ".join(f"{m['section']} {names[m['system']]} {m['workload']} round "
                               f"{m['round']}: {m['conflicts']} of {m.get('count', '?')}"
                               for m in conflicts) + ".")
    errors = [m for m in measurements if m["errors"]]
    counted = sorted({m["section"] for m in measurements if m["errors"] is not None})
    if errors:
        lines.append("Errors: " + "; ".join(
            f"{m['section']} {names[m['system']]} {m['workload']} round {m['round']}: {m['errors']}"
            for m in errors) + ".")
    elif counted:
        lines.append("Errors (wrk: non-2xx and socket errors; meridian bench: failed operations): "
                     "none in " + ", ".join(counted) + ".")
    if "resp" in {m["section"] for m in measurements}:
        lines.append("redis-benchmark does not count errors.")
    not_found = [m for m in measurements if m.get("not_found")]
    if not_found:
        lines.append("Reads that found no value: " + "; ".join(
            f"{m['section']} {names[m['system']]} {m['workload']} round {m['round']}: "
            f"{m['not_found']}" for m in not_found) + ".")
    lines.append("")
    return lines


def rss_lines(rss_rows, names) -> list[str]:
    """Peak RSS per server process, the median over the rounds."""
    lines = ["### Peak RSS per server process (VmHWM, median over rounds)", "",
             "| section | system | process | peak RSS |", "|---|---|---|---|"]
    seen = []
    for r in rss_rows:
        key = (r["section"], r["system"], r["process"])
        if key not in seen:
            seen.append(key)
    for section, system, process in seen:
        values = [r["peak_rss_bytes"] for r in rss_rows if (r["section"], r["system"], r["process"])
                  == (section, system, process) and r["peak_rss_bytes"] is not None]
        value = f"{statistics.median(values) / MIB:.1f} MiB" if values else "—"
        lines.append(f"| {section} | {names[system]} | {process} | {value} |")
    return lines


def memory_results(memory: dict) -> dict | None:
    """results.json's memory object from raw/memory.tsv, with the budget check and the memory
    RocksDB does not account for; None without a memory section."""
    if not memory:
        return None

    def optional_int(key):
        value = memory.get(key, "")
        return int(value) if value not in ("", None) else None

    records = int(memory["records"])
    peak = int(memory["peak_rss_bytes"])
    after_read = int(memory["rss_after_read_bytes"])
    block_cache = int(memory["block_cache_bytes"])
    write_buffers = int(memory["write_buffer_bytes"])  # 2 memtables of the objects column family
    gauges = {name: optional_int("rocksdb_" + name + "_bytes")
              for name in ("block_cache_capacity", "block_cache_usage", "memtable", "table_readers")}
    budget = block_cache + write_buffers
    accounted = [gauges["block_cache_usage"], gauges["memtable"], gauges["table_readers"]]
    unexplained = None if None in accounted else after_read - sum(accounted)
    return {
        "records": records, "inserted": int(memory["inserted"]), "errors": int(memory["errors"]),
        "bench_exit": int(memory["bench_exit"]), "load_s": float(memory["load_s"]),
        "ops_per_s": float(memory["ops_per_s"]), "p99_ms": float(memory["p99_ms"]),
        "read": {
            "duration_s": int(memory["read_s"]), "workload": "c", "distribution": "uniform",
            "count": int(memory["read_count"]), "errors": int(memory["read_errors"]),
            "not_found": optional_int("read_not_found"),
            "bench_exit": int(memory["read_bench_exit"]),
            "ops_per_s": float(memory["read_ops_per_s"]), "p50_ms": float(memory["read_p50_ms"]),
            "p99_ms": float(memory["read_p99_ms"]), "raw": "raw/memory-read.json",
        },
        "peak_rss_bytes": peak, "rss_after_load_bytes": int(memory["rss_after_load_bytes"]),
        "rss_after_read_bytes": after_read, "final_rss_bytes": after_read,
        "data_dir_bytes": int(memory["data_dir_bytes"]),
        "block_cache_bytes": block_cache,
        "write_buffer_size_bytes": int(memory["write_buffer_size_bytes"]),
        "write_buffer_bytes": write_buffers,
        "budget_bytes": budget,
        "rocksdb": {name + "_bytes": value for name, value in gauges.items()},
        "budget_check_bytes": peak - budget,
        "unexplained_bytes": unexplained,
        "unexplained_bytes_per_record": None if unexplained is None else unexplained / records,
        "rss_samples": "raw/memory_rss.csv",
        "metrics": "raw/memory-metrics.txt",
    }


def memory_lines(m: dict) -> list[str]:
    """The memory section's table, its explanation and its warnings."""
    def fmt_mib(value):
        return "n/a" if value is None else f"{value / MIB:,.1f} MiB"

    read, gauges, records = m["read"], m["rocksdb"], m["records"]
    usage, capacity = gauges["block_cache_usage_bytes"], gauges["block_cache_capacity_bytes"]
    fill = usage / capacity if usage is not None and capacity else None
    unexplained, budget, budget_check = m["unexplained_bytes"], m["budget_bytes"], m["budget_check_bytes"]
    write_buffer_size = m["write_buffer_size_bytes"]
    not_found_text = "n/a" if read["not_found"] is None else f"{read['not_found']:,}"
    unexplained_text = ("n/a (the binary does not expose the RocksDB gauges)" if unexplained is None
                        else f"{unexplained / MIB:,.1f} MiB ({unexplained / records:,.1f} B per record)")
    rows = [
        ("records inserted", f"{m['inserted']:,} of {records:,}, {m['errors']} errors"),
        ("load", f"{m['load_s']:.1f} s, {m['ops_per_s']:,.0f} ops/s (p99 {m['p99_ms']:.2f} ms)"),
        (f"read (workload C, uniform, {read['duration_s']} s)",
         f"{read['ops_per_s']:,.0f} ops/s (p99 {read['p99_ms']:.2f} ms), {read['count']:,} reads, "
         f"{read['errors']} errors"),
        ("read: not found (every key was loaded: should be 0)", not_found_text),
        ("peak RSS over the whole run (VmHWM)", fmt_mib(m["peak_rss_bytes"])),
        ("RSS after the load", fmt_mib(m["rss_after_load_bytes"])),
        ("RSS after the read phase", fmt_mib(m["rss_after_read_bytes"])),
        ("data dir", fmt_mib(m["data_dir_bytes"])),
        ("block cache (configured)", fmt_mib(m["block_cache_bytes"])),
        ("write buffers (configured)", f"{write_buffer_size / MIB:,.0f} MiB per memtable; budget 2 × "
                                       f"{write_buffer_size / MIB:,.0f} MiB = {fmt_mib(m['write_buffer_bytes'])}"),
        ("RocksDB block cache capacity (gauge, at the end)", fmt_mib(capacity)),
        ("RocksDB block cache usage (gauge, at the end)", fmt_mib(usage) + (
            f" ({fill:.0%} of capacity)" if fill is not None else "")),
        ("RocksDB memtables (gauge, at the end)", fmt_mib(gauges["memtable_bytes"])),
        ("RocksDB table readers (gauge, at the end)", fmt_mib(gauges["table_readers_bytes"])),
        ("**budget check**: peak RSS − (block cache + 2 × write buffer)",
         f"{budget_check / MIB:,.1f} MiB ({'within' if budget_check <= 0 else 'over'} the "
         f"{budget / MIB:,.0f} MiB budget)"),
        ("**unexplained**: RSS after reads − block cache usage − memtables − table readers",
         unexplained_text),
    ]
    lines = ["", "### Memory (one Meridian node)", "", "| measure | value |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    lines.append("")
    lines.append("Budget check: the node's peak RSS minus the memory it is configured to spend on "
                 "RocksDB caches (block cache capacity + 2 memtables of the objects column family); "
                 "negative means the whole process stayed within that budget. Unexplained: RSS after "
                 "the read phase (which fills the block cache) minus what RocksDB reports holding (block cache "
                 "usage, memtables, table readers) — memory outside RocksDB's accounted caches: code, "
                 "the node's own heap, allocator slack."
                 + (f" Here the block cache was only {fill:.0%} full at the end (the data set is small "
                    "or still largely in memtables), so neither figure reflects a full cache."
                    if fill is not None and fill < 0.9 else ""))
    warnings = []
    if read["errors"]:
        warnings.append(f"{read['errors']} reads failed")
    if read["not_found"]:
        warnings.append(f"{read['not_found']:,} reads found no value although every key was loaded")
    if read["count"] == 0:
        warnings.append("the read phase completed no reads")
    if m["inserted"] != records:
        warnings.append(f"only {m['inserted']:,} of {records:,} records were inserted")
    if warnings:
        lines += ["", "Warning: " + "; ".join(warnings) + "."]
    return lines


def build(out: Path) -> tuple[dict, str]:
    """(results.json's document, tables.md's text) from out/raw."""
    raw = out / "raw"
    meta = load_meta(raw)
    rss_rows = load_rss(raw)
    measurements = load_measurements(raw, rss_rows)
    names = system_names(meta)
    summary = summary_rows(measurements, names)
    memory_json = memory_results({row[0]: row[1] for row in read_tsv(raw, "memory.tsv")})
    lines = ratio_lines(meta, measurements, summary, names) + rss_lines(rss_rows, names)
    if memory_json is not None:
        lines += memory_lines(memory_json)
    doc = {"meta": meta, "systems": names, "measurements": measurements, "summary": summary,
           "rss": rss_rows, "memory": memory_json}
    return doc, "\n".join(lines) + "\n"


FILES_MD = ("## Files\n\n* `results.json` — every measurement (system, section, workload, round, "
            "ops/s, p50, p99, errors, the servers' peak RSS), the summary rows, RSS per process\n"
            "* `compare.png` — throughput and p99 per section and workload\n"
            "* `raw/` — output of every tool run, server logs, `commands.log` (every command with "
            "its ports), `nginx.conf`\n")


def results_md(meta: dict, configs: str, tables: str) -> str:
    header = [
        "# Meridian compared with Redis, nginx and etcd",
        "",
        f"* date: {meta.get('date_utc', '')}",
        f"* machine: kernel {meta.get('kernel', '')}, {meta.get('nproc', '')} cores "
        f"({meta.get('cpu', '')}), {meta.get('memory', '')} memory; load average at start "
        f"{meta.get('loadavg_start', '')}, at end {meta.get('loadavg_end', '')}",
        f"* versions: meridian {meta.get('meridian_version', '')} ({meta.get('meridian_bin', '')}), "
        f"redis-server {meta.get('redis_version', '')}, nginx {meta.get('nginx_version', '')}, "
        f"etcd {meta.get('etcd_version', '')}, wrk {meta.get('wrk_version', '')}",
        f"* command: `{meta.get('command', '')}`",
        f"* sections: {meta.get('sections', '')}; duration {meta.get('duration_s', '')} s; "
        f"rounds {meta.get('rounds', '')}",
        "",
    ]
    return "\n".join(header) + "\n" + configs + "\n## Results\n\n" + tables + "\n" + FILES_MD


def write(out: Path) -> str:
    """Writes results.json, tables.md and results.md from out/raw (and raw/configs.md); returns
    the tables."""
    doc, tables = build(out)
    (out / "tables.md").write_text(tables)
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    configs = (out / "raw" / "configs.md").read_text()
    (out / "results.md").write_text(results_md(doc["meta"], configs, tables))
    return tables


def plot(repo: str, out: Path) -> str:
    """Draws compare.png with bench/plot_compare.py (stderr to raw/plot.err); returns its path,
    or why it failed."""
    with open(out / "raw" / "plot.err", "wb") as err:
        result = subprocess.run(["/usr/bin/python3", os.path.join(repo, "bench", "plot_compare.py"),
                                 str(out / "results.json"), str(out / "compare.png")],
                                stdin=subprocess.DEVNULL, stderr=err, cwd=repo)
    if result.returncode == 0:
        return str(out / "compare.png")
    lines = (out / "raw" / "plot.err").read_text(errors="replace").splitlines()
    return f"(plot failed: {lines[-1] if lines else ''})"

