#!/usr/bin/env python3
"""Report of one fit_v1 output folder (Ecker et al. 2019, rotation-equivariant V1 model; issue 21).

Usage: v1_report.py DIR

Reads DIR/results.json and (simulated data) DIR/neurons.csv and DIR/log_<model>.csv. Writes
  DIR/v1_fit.png       validation loss of every fitted model over optimiser steps;
  DIR/v1_recovery.png  (with truth) recovered vs true orientation, position error, FEVE per type;
  DIR/report.md, DIR/report.html  the Table 1 analogue (val loss, test r, FEVE, parameters), the
                       oracle, and one row per pass check of the science file's §6 with the
                       measured value, the criterion and a computed verdict sentence.
  DIR/v1_sweep_features.png, DIR/v1_sweep_data.png (with DIR/sweep_features.json, sweep_data.json of
                       fit_v1 --sweep) test r / FEVE vs last-layer features (Fig. 2, the paper's curve beside)
                       and FEVE of the equivariant model and the equal-channel CNN vs training fraction, with
                       a section in report.md (or DIR/sweep.md where DIR holds only sweeps).
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


# Fig. 2 of the paper (science file §4): test r vs last-layer feature count of the equivariant core.
PAPER_FIG2 = {8: 0.454, 12: 0.454, 16: 0.472, 20: 0.477, 24: 0.475, 28: 0.482, 32: 0.477, 40: 0.486, 48: 0.485}


def sweep_report(d, written):
    """Figures and a Markdown section for DIR/sweep_features.json and DIR/sweep_data.json (fit_v1 --sweep)."""
    md = []
    p = os.path.join(d, "sweep_features.json")
    if os.path.exists(p):
        sw = mp.read_json(p, ["points"])
        pts = sorted((q for q in sw["points"] if q.get("model") == "equivariant"), key=lambda q: q["last_features"])
        fig, axs = plt.subplots(1, 2, figsize=(10, 4))
        F = [q["last_features"] for q in pts]
        axs[0].plot(F, [q["test_r_mean"] for q in pts], "o-", label="test r (mean)")
        axs[0].plot(F, [q["feve_mean"] for q in pts], "s-", label="FEVE (mean)")
        axs[0].set_xlabel("last-layer features F (x 8 rotations)")
        axs[0].set_title("this run (preset %s)" % sw.get("preset", "?"))
        axs[0].legend()
        axs[1].plot(list(PAPER_FIG2), list(PAPER_FIG2.values()), "o-", color="0.4")
        axs[1].set_xlabel("last-layer features")
        axs[1].set_ylabel("test r")
        axs[1].set_title("paper, Fig. 2 (science file §4)")
        out = os.path.join(d, "v1_sweep_features.png")
        mp.save_fig(fig, out)
        written.append(out)
        md += ["## Performance vs number of last-layer features (Fig. 2 analogue)", "",
               "| F | conv params | test r | FEVE | median r(pred, true rate) | ARI | steps |", "|---|---|---|---|---|---|---|"]
        md += ["| %s | %s | %s | %s | %s | %s | %s |" % (q["last_features"], q.get("conv_parameters", "-"),
                                                      f(q.get("test_r_mean", "-")), f(q.get("feve_mean", "-")),
                                                      f(q.get("r_true_rate_median", "-")), f(q.get("ari", "-")),
                                                      q.get("steps", "-")) for q in pts]
        if len(pts) >= 2:
            best = max(pts, key=lambda q: q["test_r_mean"])
            rising = pts[-1]["test_r_mean"] > pts[0]["test_r_mean"]
            md += ["", "Test r %s from F = %s (%s) to F = %s (%s), best at F = %s; the paper's Fig. 2 rises from "
                   "0.454 (8) to 0.485 (48)." % ("rises" if rising else "does not rise", pts[0]["last_features"],
                                                  f(pts[0]["test_r_mean"]), pts[-1]["last_features"],
                                                  f(pts[-1]["test_r_mean"]), best["last_features"])]
        md += ["", "![features](v1_sweep_features.png)", ""]
    p = os.path.join(d, "sweep_data.json")
    if os.path.exists(p):
        sw = mp.read_json(p, ["points"])
        cnn = sw.get("equal_channel_cnn", "cnn")
        by = {}
        for q in sw["points"]:
            by.setdefault(q["model"], {})[q["train_fraction"]] = q
        fr = sorted(set(by.get("equivariant", {})) & set(by.get(cnn, {})))
        fig, axs = plt.subplots(1, 2, figsize=(10, 4))
        for name in ("equivariant", cnn):
            xs = sorted(by.get(name, {}))
            axs[0].plot([100 * x for x in xs], [by[name][x]["feve_mean"] for x in xs], "o-", label=name)
        axs[0].set_xscale("log", base=2)
        axs[0].set_xlabel("training data (%)")
        axs[0].set_ylabel("FEVE (mean)")
        axs[0].legend()
        gaps = [by["equivariant"][x]["feve_mean"] - by[cnn][x]["feve_mean"] for x in fr]
        axs[1].plot([100 * x for x in fr], gaps, "o-", color="tab:green")
        axs[1].axhline(0, color="0.5", lw=0.8)
        axs[1].set_xscale("log", base=2)
        axs[1].set_xlabel("training data (%)")
        axs[1].set_ylabel("FEVE gap (equivariant - %s)" % cnn)
        out = os.path.join(d, "v1_sweep_data.png")
        mp.save_fig(fig, out)
        written.append(out)
        md += ["## Performance vs amount of training data", "",
               "| training data | images | FEVE equivariant | FEVE %s | gap | test r equivariant | test r %s |" % (cnn, cnn),
               "|---|---|---|---|---|---|---|"]
        for x, g in zip(fr, gaps):
            e, c = by["equivariant"][x], by[cnn][x]
            md.append("| %s %% | %s | %s | %s | %s | %s | %s |" % (f(100 * x, 1), e.get("train_images", "-"), f(e["feve_mean"]),
                                                             f(c["feve_mean"]), f(g), f(e["test_r_mean"]), f(c["test_r_mean"])))
        if 1.0 in fr and any(x <= 0.5 for x in fr):
            small = [g for x, g in zip(fr, gaps) if x <= 0.5]
            full = gaps[fr.index(1.0)]
            grows = min(small) > full
            md += ["", "The FEVE gap at 12.5-50 %% data (%s) %s the gap at 100 %% (%s): the claim that the equivariant "
                   "model's advantage grows with less data is %s." % (
                       ", ".join(f(g) for g in small), "exceeds" if grows else "does not everywhere exceed", f(full),
                       "supported" if grows else "not supported")]
        md += ["", "![data](v1_sweep_data.png)", ""]
    return md


def verdict(c):
    v = c["value"]
    if c["pass"]:
        return "Passes: %s = %s meets %s." % (c["check"], f(v), c["criterion"])
    return "Fails: %s = %s does not meet %s (%s)." % (c["check"], f(v), c["criterion"], c.get("detail", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.dir, "results.json")) and any(
            os.path.exists(os.path.join(a.dir, "sweep_%s.json" % k)) for k in ("features", "data")):
        written = []
        md = ["# V1 study sweeps (fit_v1 --sweep)", ""] + sweep_report(a.dir, written)
        p_md = os.path.join(a.dir, "sweep.md")
        mp.write_text(p_md, "\n".join(md) + "\n")
        for w in written + [p_md]:
            print(w)
        return
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
               "- in silico (not pinned; the model's responses to gratings, 36 orientations x 8 phases at each "
               "neuron's gradient-RF centre, aligned to its preferred grating): cell types ARI %s (centre over a "
               "%s x %s window; 5 x 5 window %s; true centres %s, no 180-degree reflection %s); T4 grating tuning "
               "max/min %s" % (
                   f(eq.get("ari_in_silico_gratings", float("nan"))),
                   eq.get("grating_centre_window", "?"), eq.get("grating_centre_window", "?"),
                   f(eq.get("ari_in_silico_gratings_5x5_centres", float("nan"))),
                   f(eq.get("ari_in_silico_gratings_true_centres", float("nan"))),
                   f(eq.get("ari_in_silico_gratings_no_reflection", float("nan"))),
                   f(eq.get("t4_grating_tuning_max_over_min_median", float("nan")), 2)),
               "- position: median distance from the true centre of argmax |mask| (the pinned measure) %s px; "
               "of the readout RF centre (argmax |mask| plus the read channels' RF offsets, our measure for "
               "check 5) %s px; of the gradient receptive field's centroid %s px" % (
                   f(eq["position_error_median_px"], 2),
                   f(eq.get("position_error_readout_rf_median_px", float("nan")), 2),
                   f(eq.get("position_error_gradient_rf_median_px", float("nan")), 2))]
    if res.get("fit_options", {}).get("centring", 0):
        md += ["", "Centring penalty on (not in the paper): weight %s on every core filter's energy centroid "
               "(`--centre-features`)." % f(res["fit_options"]["centring"])]
    md += ["", "## Pass checks (science file §6)", "", "| # | check | value | criterion | pass | detail |",
           "|---|---|---|---|---|---|"]
    for c in res["pass_checks"]:
        md.append("| %s | %s | %s | %s | %s | %s |" % (c["id"], c["check"], f(c["value"]), c["criterion"],
                                                       "yes" if c["pass"] else "**no**", c.get("detail", "")))
    md += [""] + [verdict(c) for c in res["pass_checks"]]
    sw = sweep_report(a.dir, written)
    if sw:
        md += [""] + sw
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
