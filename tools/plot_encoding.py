#!/usr/bin/env python3
"""Figures and report of the encoding study on SimVox (experiments/encoding; Eickenberg et al. 2017).

Usage: plot_encoding.py OUT_DIR   (the folder `encoding --out` wrote)

Reads encoding.json, voxels.csv, roi_profiles.csv, pr_curve.csv; writes
  fingerprints.png  Fig. 2-like ROI profiles (top 25 % voxels, divided by their max) + Fig. 4 PC1
  maps.png          flat maps per hemisphere: true area, best layer (Fig. 3), summary (Fig. 4),
                    synthesised polar angle vs truth (Fig. 5)
  contrast.png      Fig. 6-like precision/recall of the synthetic A > B t-map, all layers vs layer 1
  report.md, report.html  the eight pass checks of eickenberg2017-encoding.md §6, each with its
                    measured value and a computed verdict sentence.
"""
import html
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlplot  # noqa: E402
from mlplot import np, plt  # noqa: E402


def grid(rows, key, R, C):
    """Two hemispheres side by side (left | right), NaN where missing."""
    g = np.full((R, 2 * C), np.nan)
    for r in rows:
        g[r["row"], r["hemi"] * C + r["col"]] = r[key]
    return g


def main():
    if len(sys.argv) != 2:
        raise mlplot.InputError("usage: plot_encoding.py OUT_DIR")
    out = sys.argv[1]
    summ = mlplot.read_json(os.path.join(out, "encoding.json"), ["layers", "checks", "preset", "voxels"])
    layers = [l["name"] for l in summ["layers"]]
    L = len(layers)
    cols = {"hemi": int, "row": int, "col": int, "area": int, "null": int, "best_layer": int, "trend": float,
            "true_angle": float, "synth_angle": float, "synth_F": float, "significant": int, "max_r2": float}
    vox = mlplot.read_csv(os.path.join(out, "voxels.csv"), cols)
    R = max(v["row"] for v in vox) + 1
    C = max(v["col"] for v in vox) + 1
    prof_rows = mlplot.read_csv(os.path.join(out, "roi_profiles.csv"), {"roi": str, **{l: float for l in layers}})
    pr = mlplot.read_csv(os.path.join(out, "pr_curve.csv"), {"model": str, "tau": float, "precision": float, "recall": float})

    # Fig. 2 / Fig. 4: ROI profiles and PC1.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(prof_rows):
        axes[0].plot(range(L), [r[l] for l in layers], "-o", color=cmap(i / max(1, L - 1)), label=f"area of {r['roi']}")
    mlplot.layer_axis(axes[0], layers, rotate=True)
    axes[0].set_ylabel("mean fingerprint of top 25 % / max")
    axes[0].set_title("ROI fingerprints (cf. Fig. 2)")
    axes[0].legend(fontsize=7)
    pc1 = summ.get("fingerprint_pc1", [])
    if pc1:
        axes[1].plot(range(L), pc1, "-o", color="k", label="PC1 of significant fingerprints")
        axes[1].plot(range(L), np.linspace(-1, 1, L) / np.linalg.norm(np.linspace(-1, 1, L)), "--", color="0.5",
                     label="linear trend (normalised)")
        mlplot.layer_axis(axes[1], layers, rotate=True)
        axes[1].legend(fontsize=7)
        axes[1].set_title("First PC vs linear trend (cf. Fig. 4)")
    mlplot.save_fig(fig, os.path.join(out, "fingerprints.png"))

    # Flat maps.
    fig, axes = plt.subplots(2, 2, figsize=(12, 7))
    panels = [("area", "true area (layer)", "tab10", (0, L - 1)), ("best_layer", "best layer (Fig. 3)", "tab10", (0, L - 1)),
              ("trend", "summary: fingerprint . (-1..1) (Fig. 4)", "coolwarm", (-1, 1)), ("synth_angle", "synthesised polar angle (Fig. 5)", "hsv", (-180, 180))]
    for ax, (key, title, cm, lim) in zip(axes.flat, panels):
        g = grid(vox, key, R, C)
        if key in ("best_layer", "trend", "synth_angle"):
            mask = grid(vox, "significant", R, C) < 1
            g[mask] = np.nan
        im = ax.imshow(g, cmap=cm, vmin=lim[0], vmax=lim[1], interpolation="nearest", aspect="auto")
        ax.axvline(C - 0.5, color="k", lw=2)
        ax.set_title(title + "   [left hemi | right hemi]", fontsize=9)
        fig.colorbar(im, ax=ax)
    mlplot.save_fig(fig, os.path.join(out, "maps.png"))

    # Fig. 6: precision/recall.
    fig, ax = plt.subplots(figsize=(5, 4))
    for model, style in (("all_layers", "-"), ("layer1", "--")):
        rr = [r for r in pr if r["model"] == model]
        ax.plot([r["recall"] for r in rr], [r["precision"] for r in rr], style, label=model.replace("_", " "))
    ax.set_xlabel("recall of the measured support (t >= 3)")
    ax.set_ylabel("precision")
    ax.set_title("Synthesised A > B contrast (cf. Fig. 6)")
    ax.legend()
    mlplot.save_fig(fig, os.path.join(out, "contrast.png"))

    # Report.
    checks = summ["checks"]
    passed = sum(1 for c in checks if c["pass"])
    md = [f"# Encoding models on SimVox ({summ['preset']} preset)", "",
          f"Network: {summ.get('network', '?')}; {summ['voxels']} voxels; {summ.get('train_images', '?')} training images in "
          f"{summ.get('folds', '?')} sessions; {summ.get('seconds', float('nan')):.1f} s on {summ.get('threads', '?')} threads; "
          f"source {summ.get('source_revision', '?')}.", "",
          f"**{passed} of {len(checks)} pass checks of eickenberg2017-encoding.md §6 pass.**", "",
          "| # | check | measured | verdict |", "|---|---|---|---|"]
    for c in checks:
        meas = ", ".join(f"{k} {mlplot.fmt(v) if isinstance(v, float) else v}" for k, v in c["measured"].items()
                         if not isinstance(v, list))
        cell = [str(x).replace("|", "\\|") for x in (c["id"], c["claim"], meas, c["verdict"])]
        md.append("| " + " | ".join(cell) + " |")
    md += ["", "![fingerprints](fingerprints.png)", "", "![maps](maps.png)", "", "![contrast](contrast.png)", ""]
    mlplot.write_text(os.path.join(out, "report.md"), "\n".join(md) + "\n")
    rows = "".join(f"<tr><td>{html.escape(c['id'])}</td><td>{html.escape(c['claim'])}</td><td>{html.escape(c['verdict'])}</td></tr>"
                   for c in checks)
    page = (f"<html><head><meta charset='utf-8'><title>Encoding models on SimVox</title></head><body>"
            f"<h1>Encoding models on SimVox ({html.escape(summ['preset'])})</h1><p>{passed} of {len(checks)} pass checks pass.</p>"
            f"<table border=1 cellpadding=4><tr><th>#</th><th>check</th><th>verdict</th></tr>{rows}</table>"
            f"<img src='fingerprints.png'><br><img src='maps.png'><br><img src='contrast.png'></body></html>")
    mlplot.write_text(os.path.join(out, "report.html"), page)
    print(f"plot_encoding: {out}/report.md, report.html, fingerprints.png, maps.png, contrast.png")


if __name__ == "__main__":
    mlplot.run_main("plot_encoding", main)
