#!/usr/bin/python3
"""Plots bench/compare's results: throughput and p99 latency per section and workload.

Usage: /usr/bin/python3 bench/plot_compare.py RESULTS_JSON OUTPUT_PNG
(Debian's python3 with python3-matplotlib.) Reads results.json as written by bench/compare,
takes the median over rounds of every (section, workload, system), and draws two panels of
grouped bars (log scale): operations per second, and p99 latency in ms. One colour per system.
With the memory section, a further panel shows the node's RSS over the load (raw/memory_rss.csv).
"""
import csv
import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"meridian": "tab:blue", "redis": "tab:red", "nginx": "tab:green", "etcd": "tab:orange"}
SYSTEM_ORDER = ["meridian", "redis", "nginx", "etcd"]
# Workloads in reading order within a section; others follow in order of appearance.
WORKLOAD_ORDER = ["SET", "GET", "SET -P16", "GET -P16", "PUT", "put", "read", "put dw=2"]


def medians(measurements: list[dict]) -> tuple[list[tuple[str, str]], dict]:
    """Groups (section, workload) in order of appearance and median values per system."""
    groups: list[tuple[str, str]] = []
    values: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    for m in measurements:
        group = (m["section"], m["workload"])
        if group not in groups:
            groups.append(group)
        entry = values.setdefault((m["section"], m["workload"], m["system"]), {"ops": [], "p99": []})
        if m.get("ops_per_s") is not None:
            entry["ops"].append(m["ops_per_s"])
        if m.get("p99_ms") is not None:
            entry["p99"].append(m["p99_ms"])
    result = {
        key: {field: statistics.median(v) if v else None for field, v in entry.items()}
        for key, entry in values.items()
    }
    sections = list(dict.fromkeys(section for section, _ in groups))

    def rank(group: tuple[str, str]) -> tuple[int, int, int]:
        section, workload = group
        known = WORKLOAD_ORDER.index(workload) if workload in WORKLOAD_ORDER else len(WORKLOAD_ORDER)
        return sections.index(section), known, groups.index(group)

    return sorted(groups, key=rank), result


def label_value(value: float, field: str) -> str:
    if field == "ops":
        return f"{value / 1000:.0f}k" if value >= 10000 else f"{value / 1000:.1f}k"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def draw(axes, groups, values, names, field, ylabel, title) -> None:
    present_by_group = [
        [s for s in SYSTEM_ORDER if values.get((section, workload, s), {}).get(field)]
        for section, workload in groups
    ]
    width = 0.8 / max(1, max(len(present) for present in present_by_group))
    drawn: set[str] = set()
    for index, (section, workload) in enumerate(groups):
        present = present_by_group[index]
        for slot, system in enumerate(present):
            value = values[(section, workload, system)][field]
            x = index + (slot - (len(present) - 1) / 2) * width
            axes.bar(x, value, width * 0.95, color=COLOURS.get(system, "tab:gray"),
                     label=names.get(system, system) if system not in drawn else None)
            drawn.add(system)
            axes.annotate(label_value(value, field), (x, value), ha="center", va="bottom",
                          fontsize=6, rotation=90, xytext=(0, 2), textcoords="offset points")
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels([f"{s}\n{w}" for s, w in groups], fontsize=8)
    axes.set_yscale("log")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, axis="y", which="both", alpha=0.3)
    axes.margins(y=0.25)
    axes.legend(fontsize=8)


def draw_memory(axes, memory: dict, csv_path: Path) -> None:
    """RSS of the memory section's node over the load and the reads, with the caches."""
    seconds, rss, read_start = [], [], None
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            seconds.append(float(row["elapsed_s"]))
            rss.append(int(row["vmrss_bytes"]) / 2**20)
            if row.get("phase") == "read" and read_start is None:
                read_start = seconds[-1]
    axes.plot(seconds, rss, "o-", markersize=3, color=COLOURS["meridian"], label="VmRSS")
    if read_start is not None:
        axes.axvline(read_start, linestyle="--", color="gray", alpha=0.6,
                     label="read phase starts (fills the block cache)")
    caches = (memory["block_cache_bytes"] + memory["write_buffer_bytes"]) / 2**20
    axes.axhline(caches, linestyle=":", color="gray",
                 label=f"block cache + write buffers ({caches:.0f} MiB)")
    axes.set_xlabel("seconds since the load started")
    axes.set_ylabel("MiB")
    axes.set_title(f"Memory: one Meridian node loading {memory['records']:,} 100-byte objects, "
                   "then reading them\n"
                   f"(data dir {memory['data_dir_bytes'] / 2**20:.0f} MiB at the end)", fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)


def main() -> None:
    results_path, png_path = sys.argv[1], sys.argv[2]
    with open(results_path) as handle:
        results = json.load(handle)
    groups, values = medians(results["measurements"])
    memory = results.get("memory")
    csv_path = Path(results_path).parent / memory["rss_samples"] if memory else None
    if csv_path is not None and not csv_path.exists():
        csv_path = None
    if not groups and csv_path is None:
        sys.exit("plot_compare.py: no measurements in " + results_path)
    names = results.get("systems", {})
    meta = results.get("meta", {})
    panels = (2 if groups else 0) + (1 if csv_path else 0)
    figure, axes = plt.subplots(panels, 1, figsize=(max(10, 1.1 * len(groups) + 2), 4 * panels),
                                squeeze=False)
    axes = list(axes[:, 0])
    if groups:
        draw(axes.pop(0), groups, values, names, "ops", "operations / s (log)",
             "Throughput (higher is better)")
        draw(axes.pop(0), groups, values, names, "p99", "p99 latency, ms (log)",
             "p99 latency (lower is better)")
    if csv_path:
        draw_memory(axes.pop(0), memory, csv_path)
    figure.suptitle(
        f"Meridian vs Redis / nginx / etcd — {meta.get('date_utc', '')}, {meta.get('nproc', '?')} cores,"
        f" median of {meta.get('rounds', '1')} round(s),\nload generators on the same machine",
        fontsize=9)
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)


if __name__ == "__main__":
    main()
