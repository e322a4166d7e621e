#!/usr/bin/env python3
"""Invariance and equivariance per layer of one network (Farzmahdi et al. 2024, Fig. 3).

Usage: plot_equivariance.py DIR [DIR ...]

Reads DIR/equivariance.csv (model, layer, layer_index, kind, image_set, transform, measure,
mean, std, n) and writes DIR/equivariance.png: one panel per image set, layers on x, one colour
per transformation (hflip, vflip, rot90), solid = invariance r(f(x), f(gx)), dashed =
equivariance r(f(gx), g f(x)) (conv layers only), error bars = std over images.
Prints the path it wrote. A missing or malformed input exits with status 2 and one line.
"""
import argparse
import os

import mlplot as mp
from mlplot import plt


def plot(eq, out):
    sets = eq.image_sets
    fig, axes = plt.subplots(1, len(sets), figsize=(4.6 * len(sets), 4.2), squeeze=False, sharey=True)
    for ax, s in zip(axes[0], sets):
        mp.equivariance_panel(ax, eq, s)
        ax.set_title(f"image set: {s}")
        ax.set_xlabel("layer (shaded: fully connected)")
    axes[0, 0].set_ylabel("Pearson r across units (mean ± sd over images)")
    # One legend for the whole figure, under the panels, so it never covers a line.
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8, frameon=False)
    fig.suptitle(f"{eq.model}: invariance (solid) and equivariance (dashed) under image transformations")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return mp.save_fig(fig, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    a = ap.parse_args()
    inputs = []  # read and check every folder first, so a bad file leaves no new figure behind
    for d in a.dirs:
        if not os.path.isdir(d):
            raise mp.InputError(f"{d}: not a folder")
        eq = mp.Equivariance(d)
        bad = sorted({r["transform"] for r in eq.rows} - set(mp.TRANSFORMS))
        if bad:
            raise mp.InputError(f"{eq.path}: unknown transform(s) {', '.join(bad)} (expected {', '.join(mp.TRANSFORMS)})")
        inputs.append((d, eq))
    for d, eq in inputs:
        print(plot(eq, os.path.join(d, "equivariance.png")))


if __name__ == "__main__":
    mp.run_main("plot_equivariance", main)
