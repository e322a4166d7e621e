#!/usr/bin/env python3
"""Loss and accuracy per epoch from a training run's log.csv -> curves.png.

Usage: plot_curves.py RUN_DIR [--out FILE]
log.csv columns: epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds.
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=None, help="output PNG (default RUN_DIR/curves.png)")
    a = ap.parse_args()
    path = os.path.join(a.run_dir, "log.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"plot_curves: cannot read {path}: {e}")
    if not rows:
        sys.exit(f"plot_curves: {path} has no epochs")
    col = lambda k: [float(r[k]) for r in rows]  # noqa: E731
    epoch = col("epoch")
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_l.plot(epoch, col("train_loss"), label="train")
    ax_l.plot(epoch, col("val_loss"), label="validation")
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("cross-entropy")
    ax_l.legend()
    ax_a.plot(epoch, col("train_acc"), label="train")
    ax_a.plot(epoch, col("val_acc"), label="validation")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy")
    ax_a.legend()
    fig.suptitle(os.path.basename(os.path.abspath(a.run_dir)))
    fig.tight_layout()
    out = a.out or os.path.join(a.run_dir, "curves.png")
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, out)  # atomic: never a half-written PNG


if __name__ == "__main__":
    main()
