#!/usr/bin/env python3
"""Face-selective and mirror-symmetric unit shares per layer (Farzmahdi et al. 2024, Figs. 5-S2...S4).

Usage: plot_mirror_units.py DIR

DIR is one mirror_units result (unit_shares.csv, mirror_units.json). Writes DIR/unit_shares.png:
one panel per criterion (face, mirror, mirror_strict, mirror_any, mirror_any_strict), layers on x,
the share of units per layer with its 95 % interval (binomial for the analysed net, Student-t over
untrained nets), and DIR/mirror_units_report.md with one computed sentence per verdict.
Prints the paths it wrote. A missing or malformed input exits with status 2 and one line.
"""
import os
import sys

import mlplot as mp
from mlplot import plt

COLUMNS = {"model": str, "layer": str, "layer_index": int, "units": int, "criterion": str, "count": float,
           "share": float, "ci_low": float, "ci_high": float, "nets": int, "interval": str}
CRITERIA = ["face", "mirror", "mirror_strict", "mirror_any", "mirror_any_strict"]


def report_lines(summary, rows):
    lines = ["## Face-selective and mirror units (Figs. 5-S2...S4)", ""]
    models = sorted({r["model"] for r in rows})
    for m in models:
        for c in ("face", "mirror"):
            sel = [r for r in rows if r["model"] == m and r["criterion"] == c]
            best = max(sel, key=lambda r: r["share"])
            lines.append(f"- {m}: {c} units peak at {best['layer']} with {100 * best['share']:.2f} % "
                         f"[{100 * best['ci_low']:.2f}, {100 * best['ci_high']:.2f}] of {best['units']} units.")
    for v in summary.get("verdicts", []):
        word = "agrees" if v["agrees"] else "does not agree"
        lines.append(f"- Claim: {v['claim']}. Measured: {100 * v['share']:.2f} % vs untrained "
                     f"{100 * v['untrained_share']:.2f} %: **{word}**.")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 2:
        raise mp.InputError("usage: plot_mirror_units.py DIR")
    d = sys.argv[1]
    rows = mp.read_csv(os.path.join(d, "unit_shares.csv"), COLUMNS)
    summary = mp.read_json(os.path.join(d, "mirror_units.json"), ("layers",))
    layers = list(summary["layers"])
    models = []
    for r in rows:
        if r["model"] not in models:
            models.append(r["model"])
    fig, axes = plt.subplots(1, len(CRITERIA), figsize=(3.2 * len(CRITERIA), 3.2), squeeze=False)
    for ax, c in zip(axes[0], CRITERIA):
        for k, m in enumerate(models):
            sel = sorted((r for r in rows if r["model"] == m and r["criterion"] == c), key=lambda r: r["layer_index"])
            x = [r["layer_index"] + (k - 0.5 * (len(models) - 1)) * 0.12 for r in sel]
            y = [100 * r["share"] for r in sel]
            lo = [100 * (r["share"] - r["ci_low"]) for r in sel]
            hi = [100 * (r["ci_high"] - r["share"]) for r in sel]
            ax.errorbar(x, y, yerr=[lo, hi], marker="o", ms=3, capsize=2, label=m)
        mp.layer_axis(ax, layers, rotate=True)
        ax.set_title(c.replace("_", " "))
        ax.set_ylabel("units (%)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    print(mp.save_fig(fig, os.path.join(d, "unit_shares.png")))
    print(mp.write_text(os.path.join(d, "mirror_units_report.md"), report_lines(summary, rows)))


if __name__ == "__main__":
    mp.run_main("plot_mirror_units", main)
