#!/usr/bin/env python3
"""RISE importance maps and the Figure 5 controls (Farzmahdi et al. 2024, Fig. 5A-D).

Usage: plot_rise.py DIR

Reads importance_maps' outputs in DIR (curves.csv, summary_5c.csv, index_5d.csv, rise.json,
maps_5c.npy) and writes DIR/rise.png:
  5A/B  per object, the explained unit's response over the 9 views: original, deletion and
        insertion of the most important pixels at the control level, the patch-shuffle control
        (mean +- sd over shuffles) and the blank image;
  5C    median +- sd over objects of r(insertion at p, original) and r(deletion at 100 - p,
        original) against the level p;
  5D    the 5D units' mirror-symmetry index on the inserted images against the shuffled ones,
        one point per object.
and DIR/rise_maps.png: the maps of every object's views (rows objects, columns views).
Prints the paths it wrote. A missing or malformed input exits with status 2 and one line.
"""
import argparse
import os

import mlplot as mp
from mlplot import np, plt


def read(d):
    curves = mp.read_csv(os.path.join(d, "curves.csv"),
                         {"object": int, "category": str, "exemplar": int, "view_deg": float, "unit": int,
                          "original": float, "deletion": float, "insertion": float, "shuffle_mean": float,
                          "shuffle_sd": float, "blank": float})
    summary = mp.read_csv(os.path.join(d, "summary_5c.csv"),
                          {"level": int, "n": int, "median_r_insertion": float, "sd_r_insertion": float,
                           "median_r_deletion": float, "sd_r_deletion": float})
    index = mp.read_csv(os.path.join(d, "index_5d.csv"),
                        {"object": int, "category": str, "exemplar": int, "n_units_5d": int,
                         "index_original": float, "index_insertion": float, "index_shuffle": float})
    meta = mp.read_json(os.path.join(d, "rise.json"), keys=("layer", "rise", "control_level"))
    maps = mp.read_npy(os.path.join(d, "maps_5c.npy"))
    if maps.ndim != 4:
        raise mp.InputError(f"{d}/maps_5c.npy: expected (objects, views, H, W), got shape {maps.shape}")
    return curves, summary, index, meta, maps


def plot_curves(curves, summary, index, meta, out):
    objects = []
    for r in curves:
        if r["object"] not in objects:
            objects.append(r["object"])
    ncol = min(4, len(objects))
    nrow = (len(objects) + ncol - 1) // ncol + 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.9 * nrow), squeeze=False)
    level = meta["control_level"]
    for k, obj in enumerate(objects):
        ax = axes[k // ncol, k % ncol]
        rows = [r for r in curves if r["object"] == obj]
        x = [r["view_deg"] for r in rows]
        ax.plot(x, [r["original"] for r in rows], "k-o", ms=3, label="original")
        ax.plot(x, [r["deletion"] for r in rows], "-s", color="tab:red", ms=3, label=f"deletion {level}")
        ax.plot(x, [r["insertion"] for r in rows], "-^", color="tab:green", ms=3, label=f"insertion {level}")
        m = np.array([r["shuffle_mean"] for r in rows])
        s = np.array([r["shuffle_sd"] for r in rows])
        ax.plot(x, m, "-", color="tab:purple", label="shuffled")
        ax.fill_between(x, m - s, m + s, color="tab:purple", alpha=0.2, lw=0)
        ax.plot(x, [r["blank"] for r in rows], ":", color="0.5", label="blank")
        ax.set_title(f"{rows[0]['category']} {rows[0]['exemplar']}, unit {rows[0]['unit']}", fontsize=9)
        ax.set_xticks([-90, -45, 0, 45, 90])
        ax.tick_params(labelsize=7)
    for k in range(len(objects), (nrow - 1) * ncol):
        axes[k // ncol, k % ncol].axis("off")
    axes[0, 0].legend(fontsize=6)
    # 5C and 5D in the last row.
    last = axes[nrow - 1]
    for ax in last[2:]:
        ax.axis("off")
    ax = last[0]
    lv = [r["level"] for r in summary]
    for key, color, label in (("insertion", "tab:green", "insertion at p"), ("deletion", "tab:red", "deletion at 100-p")):
        m = np.array([r[f"median_r_{key}"] for r in summary])
        s = np.array([r[f"sd_r_{key}"] for r in summary])
        ax.errorbar(lv, m, yerr=s, color=color, marker="o", ms=3, capsize=2, label=label)
    ax.set_xlabel("level p (% of object pixels)")
    ax.set_ylabel("r with the original curve")
    ax.set_title(f"5C: median ± sd over {summary[0]['n'] if summary else 0} objects", fontsize=9)
    ax.legend(fontsize=7)
    if ncol > 1:
        ax = last[1]
        xi = [r["index_shuffle"] for r in index]
        yi = [r["index_insertion"] for r in index]
        ax.scatter(xi, yi, s=12)
        ax.plot([-1, 1], [-1, 1], ":", color="0.5")
        ax.set_xlabel("index, shuffled patches")
        ax.set_ylabel(f"index, insertion {level}")
        ax.set_title("5D: mirror-symmetry index of the 5D units", fontsize=9)
    fig.suptitle(f"RISE on layer {meta['layer']} ({meta['rise']['masks']} masks, grid {meta['rise']['grid']})")
    fig.tight_layout()
    return mp.save_fig(fig, out)


def plot_maps(curves, maps, out):
    n_obj, n_view = maps.shape[:2]
    labels = []
    for r in curves:
        lab = f"{r['category']} {r['exemplar']}"
        if lab not in labels:
            labels.append(lab)
    fig, axes = plt.subplots(n_obj, n_view, figsize=(1.1 * n_view, 1.15 * n_obj), squeeze=False)
    for i in range(n_obj):
        lim = float(np.abs(maps[i]).max()) or 1.0
        for j in range(n_view):
            ax = axes[i, j]
            ax.imshow(maps[i, j], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0 and i < len(labels):
                ax.set_ylabel(labels[i], fontsize=7)
    fig.suptitle("RISE maps of the 5C unit (red: positive, blue: negative; one scale per object)", fontsize=9)
    fig.tight_layout()
    return mp.save_fig(fig, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", metavar="DIR")
    a = ap.parse_args()
    curves, summary, index, meta, maps = read(a.dir)
    print(plot_curves(curves, summary, index, meta, os.path.join(a.dir, "rise.png")))
    print(plot_maps(curves, maps, os.path.join(a.dir, "rise_maps.png")))


if __name__ == "__main__":
    mp.run_main("plot_rise", main)
