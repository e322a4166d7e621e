#!/usr/bin/env python3
"""Figures and report of the encoding study (experiments/encoding; Eickenberg et al. 2017).

Usage: plot_encoding.py OUT_DIR   (the folder `encoding --out` wrote)

On measured data (`--data-mode images|movie`; encoding.json has "mode"): reads encoding.json,
voxels.csv, roi_profiles.csv; writes
  fingerprints.png  Fig. 2-like ROI profiles (top 25 % voxels by max score, divided by their max)
                    + Fig. 4 PC1 of significant fingerprints vs the linear trend
  maps.png          best layer per ROI (share of its significant voxels, cf. Fig. 3) and the
                    fingerprint summary per ROI (cf. Fig. 4); for vim-1, also the best-layer map of
                    significant voxels on the 18 slices of its 64 x 64 x 18 volume (voxIdx)
and adds them to report.md (written by the driver with the computed verdicts).

On SimVox: reads encoding.json, voxels.csv, roi_profiles.csv, pr_curve.csv; writes
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


def profiles_panel(ax, prof_rows, layers, label):
    cmap = plt.get_cmap("viridis")
    for i, r in enumerate(prof_rows):
        ax.plot(range(len(layers)), [r[l] for l in layers], "-o", color=cmap(i / max(1, len(prof_rows) - 1)),
                label=label(r["roi"]))
    mlplot.layer_axis(ax, layers, rotate=True)
    ax.set_ylabel("mean fingerprint of top 25 % / max")
    ax.set_title("ROI fingerprints (cf. Fig. 2)")
    ax.legend(fontsize=7)


def pc1_panel(ax, pc1, layers):
    L = len(layers)
    ax.plot(range(L), pc1, "-o", color="k", label="PC1 of significant fingerprints")
    lin = np.linspace(-1, 1, L)
    ax.plot(range(L), lin / max(np.linalg.norm(lin), 1e-12), "--", color="0.5", label="linear trend (normalised)")
    mlplot.layer_axis(ax, layers, rotate=True)
    ax.legend(fontsize=7)
    ax.set_title("First PC vs linear trend (cf. Fig. 4)")


def main_data(out, summ):
    """Measured responses (images or movie mode): ROI fingerprints, best-layer maps, report figures."""
    layers = [l["name"] for l in summ["layers"]]
    L = len(layers)
    vox = mlplot.read_csv(os.path.join(out, "voxels.csv"), {"roi": str, "best_layer": int, "trend": float,
                                                            "significant": int, "source_index": int})
    prof_path = os.path.join(out, "roi_profiles.csv")
    try:
        with open(prof_path, encoding="utf-8") as f:
            header_only = len([ln for ln in f.read().splitlines() if ln.strip()]) <= 1
    except OSError as e:
        raise mlplot.InputError(f"cannot read {prof_path}: {e.strerror}") from None
    # No ROI names (e.g. a movie manifest without "roi"): the driver writes the header only.
    prof_rows = [] if header_only else mlplot.read_csv(prof_path, {"roi": str, **{l: float for l in layers}})
    for v in vox:
        if not 0 <= v["best_layer"] < L:
            raise mlplot.InputError(f"{out}/voxels.csv: best_layer {v['best_layer']} outside the {L} layers")
    score = "Pearson r" if summ["mode"] == "movie" else "R²"

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if prof_rows:
        profiles_panel(axes[0], prof_rows, layers, lambda roi: roi)
    else:
        axes[0].text(0.5, 0.5, "no ROI names given\n(--roi-order, or \"roi\" in the manifest)", ha="center", va="center")
        axes[0].set_axis_off()
    pc1 = summ.get("fingerprint_pc1", [])
    if len(pc1) == L:
        pc1_panel(axes[1], pc1, layers)
    else:
        axes[1].set_axis_off()
    fig.suptitle(f"{summ.get('responses', '?')}: fingerprints of {score} over layers", fontsize=9)
    mlplot.save_fig(fig, os.path.join(out, "fingerprints.png"))

    # Best layer per ROI (share of significant voxels) and the summary per ROI.
    rois = [r["roi"] for r in prof_rows] or sorted({v["roi"] for v in vox})  # "" = voxels without an ROI
    vim1 = str(summ.get("responses", "")).startswith("vim-1")
    fig, axes = plt.subplots(1, 3 if vim1 else 2, figsize=(17 if vim1 else 11, 4.5), squeeze=False)
    axes = axes[0]
    share = np.zeros((len(rois), L))
    summaries = []
    for i, roi in enumerate(rois):
        sig = [v for v in vox if v["roi"] == roi and v["significant"]]
        for v in sig:
            share[i, v["best_layer"]] += 1.0 / len(sig)
        summaries.append([v["trend"] for v in sig])
    im = axes[0].imshow(share, cmap="magma", vmin=0, vmax=max(1e-9, share.max()), aspect="auto", interpolation="nearest")
    axes[0].set_yticks(range(len(rois)))
    axes[0].set_yticklabels([f"{r or 'all voxels'} ({len(s)})" for r, s in zip(rois, summaries)], fontsize=8)
    mlplot.layer_axis(axes[0], layers, rotate=True)
    axes[0].set_title("best layer: share of significant voxels (cf. Fig. 3)", fontsize=9)
    fig.colorbar(im, ax=axes[0])
    pos = [i for i, s in enumerate(summaries) if s]
    if pos:
        axes[1].boxplot([summaries[i] for i in pos], positions=pos, widths=0.6)
    axes[1].set_xticks(range(len(rois)))
    axes[1].set_xticklabels([r or "all voxels" for r in rois], rotation=45, ha="right", fontsize=8)
    axes[1].set_ylabel("fingerprint . (-1 .. 1)")
    axes[1].set_title("fingerprint summary of significant voxels per ROI (cf. Fig. 4)", fontsize=9)
    if vim1:
        # voxIdx: MATLAB's 1-based linear index into the 64 x 64 x 18 functional volume.
        vol = np.full((18, 64, 64), np.nan)
        for v in vox:
            k = v["source_index"] - 1
            if v["significant"] and 0 <= k < 64 * 64 * 18:
                x, y, z = k % 64, (k // 64) % 64, k // (64 * 64)
                vol[z, y, x] = v["best_layer"]
        mosaic = np.full((3 * 64, 6 * 64), np.nan)
        for z in range(18):
            r, c = divmod(z, 6)
            mosaic[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64] = vol[z]
        im = axes[2].imshow(mosaic, cmap="viridis", vmin=0, vmax=L - 1, interpolation="nearest")
        axes[2].set_title("best layer of significant voxels, 18 slices (voxIdx)", fontsize=9)
        axes[2].set_axis_off()
        cb = fig.colorbar(im, ax=axes[2], ticks=range(L))
        cb.ax.set_yticklabels(layers, fontsize=7)
    mlplot.save_fig(fig, os.path.join(out, "maps.png"))

    report = os.path.join(out, "report.md")
    try:
        with open(report, encoding="utf-8") as f:
            md = f.read()
    except OSError as e:
        raise mlplot.InputError(f"cannot read {report}: {e.strerror}") from None
    if "![fingerprints](fingerprints.png)" not in md:
        md = md.rstrip("\n") + "\n\n![fingerprints](fingerprints.png)\n\n![maps](maps.png)\n"
        mlplot.write_text(report, md)
    print(f"plot_encoding: {out}/fingerprints.png, maps.png (report.md)")


def main():
    if len(sys.argv) != 2:
        raise mlplot.InputError("usage: plot_encoding.py OUT_DIR")
    out = sys.argv[1]
    summ = mlplot.read_json(os.path.join(out, "encoding.json"), ["layers"])
    if summ.get("mode") in ("images", "movie"):
        main_data(out, summ)
        return
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
    profiles_panel(axes[0], prof_rows, layers, lambda roi: f"area of {roi}")
    pc1 = summ.get("fingerprint_pc1", [])
    if pc1:
        pc1_panel(axes[1], pc1, layers)
    mlplot.save_fig(fig, os.path.join(out, "fingerprints.png"))

    # Flat maps.
    fig, axes = plt.subplots(2, 2, figsize=(12, 7))
    # Fig. 3's map is the argmax of the smoothed score maps (best_layer_fig3; older outputs: per voxel).
    fig3 = "best_layer_fig3" if "best_layer_fig3" in vox[0] else "best_layer"
    for v in vox:
        v[fig3] = int(v[fig3])
    panels = [("area", "true area (layer)", "tab10", (0, L - 1)), (fig3, "best layer (Fig. 3)", "tab10", (0, L - 1)),
              ("trend", "summary: fingerprint . (-1..1) (Fig. 4)", "coolwarm", (-1, 1)), ("synth_angle", "synthesised polar angle (Fig. 5)", "hsv", (-180, 180))]
    for ax, (key, title, cm, lim) in zip(axes.flat, panels):
        g = grid(vox, key, R, C)
        if key in ("best_layer", "best_layer_fig3", "trend", "synth_angle"):
            mask = grid(vox, "significant", R, C) < 1
            g[mask] = np.nan
        im = ax.imshow(g, cmap=cm, vmin=lim[0], vmax=lim[1], interpolation="nearest", aspect="auto")
        ax.axvline(C - 0.5, color="k", lw=2)
        ax.set_title(title + "   [left hemi | right hemi]", fontsize=9)
        fig.colorbar(im, ax=ax)
    mlplot.save_fig(fig, os.path.join(out, "maps.png"))

    # Fig. 6: precision/recall.
    fig, ax = plt.subplots(figsize=(5, 4))
    # all_layers and layer1 on the significant voxels (the check); all_layers on every voxel beside.
    for model, style in (("all_layers", "-"), ("layer1", "--"), ("all_layers_every_voxel", ":")):
        rr = [r for r in pr if r["model"] == model]
        if rr:
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
          *([f"Net trained: " + ", ".join(f"{k} {v}" for k, v in summ["network_training"].items()) + ".", ""]
            if summ.get("network_training") else []),
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
