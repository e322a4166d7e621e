#!/usr/bin/env python3
"""Figures of one mirror_symmetry output folder (Farzmahdi et al. 2024, Fig. 2A and 2C).

Usage: plot_msvt.py DIR [DIR ...] [--definition released|no_diagonal]

Reads DIR/msvt.csv, DIR/msvt_floor.csv, DIR/rdms.npy + DIR/rdms.json (and, when present,
DIR/msvt_exemplars.csv to print each RDM's index in its corner). Writes
  DIR/msvt.png      the index per layer, one line per category (mean ± SEM over exemplars),
                    the pooled mirror-symmetric families emphasised, the null floors shaded;
  DIR/rdm_grid.png  rows = layers, columns = exemplar 0 of each category, its 9x9 view RDM.
Prints the paths it wrote. A missing or malformed input exits with status 2 and one line.
"""
import argparse
import os

import mlplot as mp
from mlplot import np, plt

# Line style says how many mirror planes the family has (paper Fig. 2D), colour which family.
SYMMETRY_STYLE = {"one_plane": "-", "two_planes": "-.", "none": ":", "unknown": "--"}
FLOOR_NOTE = {
    "released": "released definition (diagonal included): an unstructured representation scores "
                "-1/8, not 0, because the zero diagonals of D and D^H never coincide",
    "no_diagonal": "diagonal-free definition: entries diagonal in D or D^H left out, floor near 0",
}


def plot_index(m, definition, out, raw=False):
    """Index vs layer for every category, pooled emphasised, floors as bands (Fig. 2C)."""
    layers = m.layers
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    mp.shade_fc(ax, layers)
    for null, color, label in (("shuffled_views", "0.55", "floor: shuffled views (mean ± sd)"),
                               ("noise", "tab:purple", "floor: noise (mean ± sd)")):
        mean, std = m.floor_of(definition, null)
        mp.floor_band(ax, layers, mean, std, label, color=color)
    cmap = plt.get_cmap("tab10")
    k = max(len(m.categories) - 1, 1)
    for i, cat in enumerate(m.categories):
        mean, sem = m.index(cat, definition)
        # Spread the categories a little along x so their error bars do not hide each other.
        offset = 0.3 * (i / k - 0.5)
        mp.index_line(ax, layers, mean, sem, offset, color=cmap(i % 10), lw=1.2,
                      ls=SYMMETRY_STYLE.get(m.symmetry[cat], "--"), label=f"{cat} ({m.symmetry[cat]})")
    mean, sem = m.index("pooled", definition)
    mp.index_line(ax, layers, mean, sem, color="black", lw=3, label="pooled (mirror-symmetric families)")
    mp.layer_axis(ax, layers, rotate=len(layers) > 8)
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_ylabel("mirror-symmetric viewpoint tuning index")
    ax.set_xlabel("layer (shaded: fully connected)")
    ax.set_title(f"{m.model}: mirror-symmetric viewpoint tuning ({definition})"
                 + ("; raw activations, not z-scored (Fig. 2-S7)" if raw else ""), fontsize=10 if raw else None)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.text(0.01, 0.01, FLOOR_NOTE.get(definition, ""), fontsize=7.5, color="0.3")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return mp.save_fig(fig, out)


def read_rdms(folder):
    """rdms.npy (L, E, 9, 9) and rdms.json, checked against each other."""
    npy, meta_path = os.path.join(folder, "rdms.npy"), os.path.join(folder, "rdms.json")
    meta = mp.read_json(meta_path, ("model", "layers", "objects", "views_deg"))
    rdms = mp.read_npy(npy)
    want = (len(meta["layers"]), len(meta["objects"]), len(meta["views_deg"]), len(meta["views_deg"]))
    if rdms.shape != want:
        raise mp.InputError(f"{npy}: shape {rdms.shape}, but {meta_path} describes (layers, objects, views, views) = {want}")
    for i, o in enumerate(meta["objects"]):
        if not isinstance(o, dict) or "category" not in o or "exemplar" not in o:
            raise mp.InputError(f"{meta_path}: objects[{i}] needs category and exemplar")
    return rdms.astype(float), meta


def exemplar_index(folder, definition):
    """{(layer, category, exemplar): index} from msvt_exemplars.csv, or {} when it is absent."""
    path = os.path.join(folder, "msvt_exemplars.csv")
    if not os.path.exists(path):
        return {}
    cols = {"layer": str, "category": str, "exemplar": int, "definition": str, "index": float}
    rows = mp.read_csv(path, cols)
    return {(r["layer"], r["category"], r["exemplar"]): r["index"] for r in rows if r["definition"] == definition}


def plot_rdm_grid(rdms, meta, corner, categories, definition, out):
    """rows = layers, columns = one object per category (its lowest exemplar, normally 0)."""
    layers, objects, views = meta["layers"], meta["objects"], meta["views_deg"]
    pick = {}
    for e, o in enumerate(objects):
        c = o["category"]
        if c not in pick or o["exemplar"] < objects[pick[c]]["exemplar"]:
            pick[c] = e
    cols = [c for c in categories if c in pick] + [c for c in pick if c not in categories]
    shown = rdms[:, [pick[c] for c in cols]]
    vmax = float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0
    L, C = len(layers), len(cols)
    fig, axes = plt.subplots(L, C, figsize=(1.25 * C + 1.6, 1.25 * L + 1.2), squeeze=False)
    ticks = list(range(0, len(views), 2))  # every other view keeps the labels legible
    labels = [f"{views[t]:g}" for t in ticks]
    for i, layer in enumerate(layers):
        for j, cat in enumerate(cols):
            ax = axes[i, j]
            im = ax.imshow(shown[i, j], cmap="viridis", vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_xticks(ticks)
            ax.set_yticks(ticks)
            ax.set_xticklabels(labels if i == L - 1 else [], fontsize=6, rotation=90)
            ax.set_yticklabels(labels if j == 0 else [], fontsize=6)
            ax.tick_params(length=2)
            if i == 0:
                ax.set_title(cat, fontsize=9)
            if j == 0:
                ax.set_ylabel(layer, fontsize=9)
            v = corner.get((layer, cat, objects[pick[cat]]["exemplar"]))
            if v is not None:
                ax.text(0.97, 0.03, f"{v:.2f}", transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5,
                        color="white", bbox=dict(boxstyle="round,pad=0.15", fc="black", alpha=0.55, lw=0))
    fig.suptitle(f"{meta['model']}: view RDMs (1 - r), exemplar {objects[pick[cols[0]]]['exemplar']} of each category;"
                 f" views in degrees, -90 = left profile" + (f"; corner: index ({definition})" if corner else ""),
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.9, 0.97))
    cax = fig.add_axes([0.92, 0.15, 0.015, 0.7])
    fig.colorbar(im, cax=cax, label="dissimilarity (1 - Pearson r)")
    return mp.save_fig(fig, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--definition", default="released", choices=mp.DEFINITIONS)
    a = ap.parse_args()
    # Read and check every input first, so a bad file leaves no new figure behind.
    inputs = []
    for d in a.dirs:
        if not os.path.isdir(d):
            raise mp.InputError(f"{d}: not a folder")
        m = mp.Msvt(d)
        if not any(r["definition"] == a.definition for r in m.rows):
            raise mp.InputError(f"{m.path}: no rows with definition {a.definition}")
        inputs.append((d, m, *read_rdms(d), exemplar_index(d, a.definition)))
    for d, m, rdms, meta, corner in inputs:
        print(plot_index(m, a.definition, os.path.join(d, "msvt.png"), raw=meta.get("zscored") is False))
        print(plot_rdm_grid(rdms, meta, corner, m.categories, a.definition, os.path.join(d, "rdm_grid.png")))


if __name__ == "__main__":
    mp.run_main("plot_msvt", main)
