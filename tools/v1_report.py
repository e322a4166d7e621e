#!/usr/bin/env python3
"""Report of one fit_v1 output folder (Ecker et al. 2019, rotation-equivariant V1 model; issue 21).

Usage: v1_report.py DIR

Reads DIR/results.json and (simulated data) DIR/neurons.csv and DIR/log_<model>.csv. Writes
  DIR/v1_fit.png       validation loss of every fitted model over optimiser steps;
  DIR/v1_recovery.png  (with truth) recovered vs true orientation, position error, FEVE per type;
  DIR/report.md, DIR/report.html  the Table 1 analogue (val loss, test r, FEVE, parameters), the
                       oracle, and one row per pass check of the science file's §6 with the
                       measured value, the criterion and a computed verdict sentence.
Prints the paths it wrote. A missing or malformed input exits with status 2 and one line.
"""
import argparse
import html
import json
import math
import os

import mlplot as mp
from mlplot import np, plt

TYPE_NAMES = {1: "T1 even simple", 2: "T2 odd simple", 3: "T3 complex", 4: "T4 centre-surround",
              5: "T5 end-stopped"}
TABLE1_ORDER = ["equivariant", "cnn_7", "cnn_32", "cnn_64", "cnn_128", "cnn_128_128_256", "shuffled", "true_rate"]


def f(x, d=3):
    return mp.fmt(x, d) if isinstance(x, (int, float)) else str(x)


def table1(models):
    names = [n for n in TABLE1_ORDER if n in models] + [n for n in models if n not in TABLE1_ORDER]
    rows = ["| model | core | conv params | readout params | val loss | test r (mean) | FEVE (mean) | "
            "median r(pred, true rate) | steps | stop |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        m = models[n]
        core = ("%s %s x %s" % (m.get("kind", ""), m.get("kernels", ""), m.get("features", ""))
                if "kernels" in m else m.get("kind", ""))
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, core, m.get("conv_parameters", "-"), m.get("readout_parameters", "-"), f(m.get("val_loss", "-"), 2),
            f(m.get("test_r_mean", "-")), f(m.get("feve_mean", "-")), f(m.get("r_true_rate_median", "-")),
            m.get("steps", "-"), m.get("stop_reason", "-")))
    return rows


def plot_logs(d, models, out):
    fig, ax = plt.subplots(figsize=(7, 4))
    any_line = False
    for n in models:
        p = os.path.join(d, "log_%s.csv" % n)
        if not os.path.exists(p):
            continue
        rows = mp.read_csv(p, {"step": int, "val_loss": float})
        ax.plot(range(len(rows)), [r["val_loss"] for r in rows], label=n)
        any_line = True
    ax.set_xlabel("validation check (the step counter rewinds at each learning-rate drop)")
    ax.set_ylabel("validation Poisson loss")
    if any_line:
        ax.legend()
    mp.save_fig(fig, out)


def plot_recovery(rows, out):
    fig, axs = plt.subplots(1, 3, figsize=(13, 4))
    oriented = [r for r in rows if r["type"] != 4]
    ax = axs[0]
    for t in sorted({r["type"] for r in oriented}):
        sel = [r for r in oriented if r["type"] == t]
        ax.scatter([r["cell_grating_deg"] for r in sel], [r["theta_grating_deg"] for r in sel], s=10,
                   label=TYPE_NAMES.get(t, t))
    ax.plot([0, 180], [0, 180], "k:", lw=1)
    ax.set_xlabel("true cell: preferred grating orientation (deg)")
    ax.set_ylabel("model: preferred grating orientation (deg)")
    ax.legend(fontsize=7)
    ax = axs[1]
    ax.hist([r["position_error_px"] for r in rows], bins=20, color="tab:blue")
    ax.set_xlabel("|argmax |mask| - true centre| (px)")
    ax.set_ylabel("neurons")
    ax = axs[2]
    types = sorted({r["type"] for r in rows})
    ax.boxplot([[r["feve"] for r in rows if r["type"] == t] for t in types])
    ax.set_xticks(range(1, len(types) + 1))
    ax.set_xticklabels(["T%d" % t for t in types])
    ax.set_ylabel("FEVE (equivariant model)")
    mp.save_fig(fig, out)


def verdict(c):
    v = c["value"]
    if c["pass"]:
        return "Passes: %s = %s meets %s." % (c["check"], f(v), c["criterion"])
    return "Fails: %s = %s does not meet %s (%s)." % (c["check"], f(v), c["criterion"], c.get("detail", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    a = ap.parse_args()
    res = mp.read_json(os.path.join(a.dir, "results.json"), ["models", "pass_checks", "oracle"])
    models = res["models"]
    written = []
    png_fit = os.path.join(a.dir, "v1_fit.png")
    plot_logs(a.dir, models, png_fit)
    written.append(png_fit)
    rows = None
    ncsv = os.path.join(a.dir, "neurons.csv")
    if os.path.exists(ncsv):
        rows = mp.read_csv(ncsv, {"type": int, "theta_grating_deg": float, "cell_grating_deg": float,
                                  "position_error_px": float, "feve": float})
        png_rec = os.path.join(a.dir, "v1_recovery.png")
        plot_recovery(rows, png_rec)
        written.append(png_rec)
    md = ["# V1 system identification: rotation-equivariant CNN vs CNN controls (Ecker et al. 2019)", "",
          "Data: `%s`, preset `%s`, %s neurons; run took %s s (source revision %s)." % (
              res.get("data_dir", "?"), res.get("preset", "?"), res.get("neurons", "?"), f(res.get("seconds", "?"), 0),
              res.get("source_revision", "?")), "",
          "## Table 1 analogue", ""] + table1(models)
    eq = models.get("equivariant", {})
    ratio = res.get("conv_parameter_ratio_equal_channel_cnn")
    if isinstance(ratio, (int, float)) and not math.isnan(ratio):
        md += ["", "The equal-channel CNN has %s x the equivariant core's convolution parameters." % f(ratio, 1)]
    o = res["oracle"]
    md += ["", "## Oracle", "",
           "Estimated FEV (ICLR oracle) %s, mean sqrt(FEV) %s, single-trial explainable fraction %s, "
           "jackknife oracle r %s." % (f(o.get("fev_mean")), f(o.get("sqrt_fev_mean")),
                                       f(o.get("explainable_single_trial_mean")), f(o.get("jackknife_oracle_r_mean")))]
    if "analytic_fev_mean" in o:
        md += ["Analytic (from the true rates): FEV %s, single-trial %s." % (
            f(o["analytic_fev_mean"]), f(o["analytic_single_trial_fev_mean"]))]
    if "ari" in eq:
        md += ["", "## Recovered cells (equivariant model)", "",
               "- cell types: k-means on readouts rolled to their peak rotation, ARI %s (without the roll %s)" % (
                   f(eq["ari"]), f(eq["ari_without_roll"])),
               "- per true type, the mean share of each last-layer feature in the readout energy, and the "
               "neurons per k-means cluster: " + "; ".join(
                   "%s: features [%s], clusters %s" % (k, ", ".join(f(x, 2) for x in v["feature_energy_share"]),
                                                       json.dumps(v["clusters"]))
                   for k, v in sorted(eq.get("readout_by_type", {}).items())),
               "- orientation: median error from gratings %s deg against the cells' own grating preference, "
               "%s deg against theta; from readout energy %s deg (one orientation offset fitted per recovered "
               "cluster, which uses the truth: readouts alone do not give the base feature's orientation)" % (
                   f(eq["orientation_error_grating_median_deg"], 1),
                   f(eq.get("orientation_error_grating_vs_theta_median_deg", float("nan")), 1),
                   f(eq["orientation_error_readout_median_deg"], 1)),
               "- T4 readout flatness (max/min energy over rotations, median) %s" % f(eq["t4_energy_max_over_min_median"], 2),
               "- position: median distance of argmax |mask| from the true centre %s px; of the gradient "
               "receptive field's centroid %s px" % (f(eq["position_error_median_px"], 2),
                                                     f(eq.get("position_error_gradient_rf_median_px", float("nan")), 2))]
    md += ["", "## Pass checks (science file §6)", "", "| # | check | value | criterion | pass | detail |",
           "|---|---|---|---|---|---|"]
    for c in res["pass_checks"]:
        md.append("| %s | %s | %s | %s | %s | %s |" % (c["id"], c["check"], f(c["value"]), c["criterion"],
                                                       "yes" if c["pass"] else "**no**", c.get("detail", "")))
    md += [""] + [verdict(c) for c in res["pass_checks"]]
    md += ["", "![fit](v1_fit.png)"] + (["", "![recovery](v1_recovery.png)"] if rows is not None else [])
    text = "\n".join(md) + "\n"
    p_md = os.path.join(a.dir, "report.md")
    mp.write_text(p_md, text)
    written.append(p_md)
    # HTML: the same content, tables as <pre> blocks of the Markdown (no converter dependency).
    body = []
    for line in md:
        if line.startswith("# "):
            body.append("<h1>%s</h1>" % html.escape(line[2:]))
        elif line.startswith("## "):
            body.append("<h2>%s</h2>" % html.escape(line[3:]))
        elif line.startswith("!["):
            src = line[line.index("(") + 1:-1]
            body.append('<img src="%s" style="max-width:100%%">' % html.escape(src))
        elif line.startswith("|"):
            body.append("<pre>%s</pre>" % html.escape(line))
        elif line:
            body.append("<p>%s</p>" % html.escape(line))
    p_html = os.path.join(a.dir, "report.html")
    mp.write_text(p_html, "<!doctype html><meta charset='utf-8'><title>V1 report</title>\n" + "\n".join(body) + "\n")
    written.append(p_html)
    for w in written:
        print(w)


if __name__ == "__main__":
    mp.run_main("v1_report", main)
