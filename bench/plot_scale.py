#!/usr/bin/python3
"""Plots gossip convergence rounds against cluster size (log x) from gossip_scale's CSV.

Usage: /usr/bin/python3 bench/plot_scale.py docs/scale_convergence.csv docs/scale_convergence.png
(Debian's python3 with python3-matplotlib; scripts/setup installs it.)
"""
import csv
import math
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    csv_path, png_path = sys.argv[1], sys.argv[2]
    rounds_by_nodes: dict[int, list[int]] = {}
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            rounds_by_nodes.setdefault(int(row["nodes"]), []).append(int(row["rounds"]))
    sizes = sorted(rounds_by_nodes)
    medians = [statistics.median(rounds_by_nodes[n]) for n in sizes]
    maxima = [max(rounds_by_nodes[n]) for n in sizes]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(sizes, medians, "o-", label="rounds until every node knows (median)")
    axes.plot(sizes, maxima, "x--", label="max over seeds")
    axes.plot(sizes, [math.log2(n) for n in sizes], ":", color="gray", label="log2(n)")
    axes.set_xscale("log")
    axes.set_xlabel("cluster size (nodes)")
    axes.set_ylabel("gossip rounds (1 s each)")
    axes.set_title("Meridian gossip: dissemination of one member change")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)


if __name__ == "__main__":
    main()
