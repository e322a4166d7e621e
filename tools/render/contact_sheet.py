#!/usr/bin/env python3
"""Contact sheet of a stimulus set: one row per category (one exemplar each), one column per view.

    python3 tools/render/contact_sheet.py STIM_DIR/manifest.csv sheet.png [--exemplar 0]

Reads manifest.csv (file, label, category, exemplar, view_deg) and the PNGs beside it;
needs numpy and matplotlib (Debian's python3-numpy, python3-matplotlib).
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest")
    ap.add_argument("out")
    ap.add_argument("--exemplar", type=int, default=0, help="which exemplar of each category")
    ap.add_argument("--categories", default="", help="comma-separated subset (default: all)")
    args = ap.parse_args()

    folder = os.path.dirname(os.path.abspath(args.manifest))
    with open(args.manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["exemplar"]) == args.exemplar]
    cats = []
    for r in rows:
        if r["category"] not in cats:
            cats.append(r["category"])
    if args.categories:
        cats = [c for c in cats if c in args.categories.split(",")]
    views = sorted({float(r["view_deg"]) for r in rows})
    if not cats or not views:
        raise SystemExit(f"{args.manifest}: no images of exemplar {args.exemplar}")

    fig, axes = plt.subplots(len(cats), len(views), figsize=(1.3 * len(views), 1.3 * len(cats)), squeeze=False)
    for i, c in enumerate(cats):
        for j, v in enumerate(views):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            match = [r for r in rows if r["category"] == c and float(r["view_deg"]) == v]
            if match:
                ax.imshow(mpimg.imread(os.path.join(folder, match[0]["file"])), cmap="gray", vmin=0, vmax=1,
                          interpolation="nearest")
            if i == 0:
                ax.set_title(f"{v:g}°", fontsize=8)
            if j == 0:
                ax.set_ylabel(c, fontsize=8)
    fig.tight_layout(pad=0.2)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
