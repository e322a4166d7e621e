#!/usr/bin/env python3
"""Alignment of network layers with neural populations and its Shapley split (Farzmahdi et al. 2024, Fig. 6).

Usage: plot_alignment.py DIR [DIR ...] [--out FOLDER]

Each DIR is one neural_alignment result (alignment.csv, areas.csv, alignment.json). Writes, into
--out (default: the first DIR), alignment.png — one row per area, one column per model, layers on
x: stacked bars of the reflection-invariant part phi_I and the reflection-sensitive part phi_S
(error bars: bootstrap SD), the alignment r as a line (bootstrap SD), the split-half noise
ceiling as a band from its lower bound to 1 — and alignment_report.md / alignment_report.html:
per model and area the best layer, r with its 95 % interval, the two parts, the ceiling, and for
simulated data (alignment.json "truth") the known answer and one computed verdict per claim.
Prints the paths it wrote. A missing or malformed input exits with status 2 and one line.
"""
import argparse
import html
import os

import mlplot as mp
from mlplot import np, plt

COLUMNS = {"model": str, "layer": str, "area": str, "units": int, "r": float, "r_sd": float, "r_lo": float, "r_hi": float,
           "phi_i": float, "phi_i_sd": float, "phi_i_lo": float, "phi_i_hi": float, "phi_s": float, "phi_s_sd": float,
           "phi_s_lo": float, "phi_s_hi": float, "v_i": float, "v_s": float, "v_is": float, "samples": int,
           "unusable_samples": int, "ceiling_lower": float, "ceiling_sd": float, "layer_mirror_index": float}
AREA_COLUMNS = {"area": str, "neurons": int, "repeats": int, "ceiling_lower": float, "ceiling_sd": float, "splits": int}


class Result:
    def __init__(self, folder):
        self.folder = folder
        self.rows = mp.read_csv(os.path.join(folder, "alignment.csv"), COLUMNS)
        self.area_rows = mp.read_csv(os.path.join(folder, "areas.csv"), AREA_COLUMNS)
        self.summary = mp.read_json(os.path.join(folder, "alignment.json"), ("model", "layers", "bootstrap"))
        self.model = self.rows[0]["model"]
        self.layers = list(self.summary["layers"])
        self.areas = [a["area"] for a in self.area_rows]
        for r in self.rows:
            if r["layer"] not in self.layers or r["area"] not in self.areas:
                raise mp.InputError(f"{folder}/alignment.csv: layer {r['layer']!r} / area {r['area']!r} not in alignment.json / areas.csv")

    def row(self, layer, area):
        for r in self.rows:
            if r["layer"] == layer and r["area"] == area:
                return r
        raise mp.InputError(f"{self.folder}/alignment.csv: no row for layer {layer}, area {area}")

    def area(self, name):
        return next(a for a in self.area_rows if a["area"] == name)


def plot(results, out):
    areas = results[0].areas
    fig, axes = plt.subplots(len(areas), len(results), figsize=(4.2 * len(results) + 0.6, 2.9 * len(areas)), squeeze=False, sharey=True)
    for j, res in enumerate(results):
        x = np.arange(len(res.layers))
        for i, area in enumerate(areas):
            ax = axes[i, j]
            mp.shade_fc(ax, res.layers)
            if area not in res.areas:
                ax.set_title(f"{res.model}: no {area}")
                continue
            rows = [res.row(l, area) for l in res.layers]
            pi = np.array([r["phi_i"] for r in rows])
            ps = np.array([r["phi_s"] for r in rows])
            # Stacked as in Fig. 6: positive parts stack upwards, negative parts downwards.
            ax.bar(x, pi, width=0.6, color="tab:blue", label="φ_I (reflection-invariant)", yerr=[r["phi_i_sd"] for r in rows],
                   error_kw={"elinewidth": 0.8, "capsize": 1.5}, zorder=2)
            base = np.where(np.sign(ps) == np.sign(pi), pi, 0.0)
            ax.bar(x, ps, width=0.6, bottom=base, color="tab:orange", label="φ_S (reflection-sensitive)",
                   yerr=[r["phi_s_sd"] for r in rows], error_kw={"elinewidth": 0.8, "capsize": 1.5}, zorder=2)
            ax.errorbar(x, [r["r"] for r in rows], yerr=[r["r_sd"] for r in rows], color="k", marker="o", ms=3, lw=1,
                        capsize=2, label="r (bootstrap SD)", zorder=3)
            a = res.area(area)
            ax.axhspan(a["ceiling_lower"], 1.0, color="0.85", zorder=0, label="noise ceiling (split-half .. 1)")
            ax.axhline(0, color="0.4", lw=0.6)
            mp.layer_axis(ax, res.layers, rotate=True)
            ax.set_title(f"{res.model} vs {area} ({a['neurons']} neurons)", fontsize=9)
            if j == 0:
                ax.set_ylabel("RDM correlation")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Alignment with neural populations and its Shapley split (cf. Farzmahdi et al. 2024, Fig. 6)")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return mp.save_fig(fig, out)


def report(results, fig_name):
    """(markdown, html) of the report section."""
    md = ["## Alignment with neural populations (Fig. 6)", ""]
    s0 = results[0].summary
    md.append(f"Neural data: `{s0['neural']}`; {s0['stimuli']} stimuli; RDM {s0['distance']}, comparison {s0['comparison']}, "
              f"{s0['bootstrap']} bootstrap samples over stimuli, {s0['splits']} split-halves for the noise ceiling, "
              f"Shapley sum: {s0['shapley_sum']}.")
    md.append("")
    md.append(f"![alignment]({fig_name})")
    md.append("")
    md.append("| model | area | best layer | r [95 % CI] | φ_I ± SD | φ_S ± SD | ceiling (lower) | area mirror index |")
    md.append("|---|---|---|---|---|---|---|---|")
    f = mp.fmt
    for res in results:
        idx = {a["name"]: a.get("mirror_index") for a in res.summary.get("areas", [])}
        for area in res.areas:
            rows = [res.row(l, area) for l in res.layers]
            b = max(rows, key=lambda r: r["r"])
            md.append(f"| {res.model} | {area} | {b['layer']} | {f(b['r'])} [{f(b['r_lo'])}, {f(b['r_hi'])}] | "
                      f"{f(b['phi_i'])} ± {f(b['phi_i_sd'])} | {f(b['phi_s'])} ± {f(b['phi_s_sd'])} | "
                      f"{f(res.area(area)['ceiling_lower'])} ± {f(res.area(area)['ceiling_sd'])} | {f(idx.get(area))} |")
    md.append("")
    truth = s0.get("truth")
    if truth:
        md.append("**Simulated data, known answer.** " + truth.get("known_answer", ""))
        mixes = ", ".join(f"{a['name']}: {a['neurons']} neurons, view-tuned {a['view_tuned']:.2f} / mirror {a['mirror']:.2f} / "
                          f"invariant {a['invariant']:.2f}" for a in truth["areas"])
        md.append("")
        md.append(f"Mixes: {mixes}.")
        md.append("")
        for res in results:
            for v in res.summary.get("verdicts", []):
                word = "recovers it" if v["agrees"] else "does NOT recover it"
                md.append(f"- {res.model}: {v['claim']}: **{word}**.")
        md.append("")
    else:
        md.append("Recorded data: no known answer; the paper reports ML/MF best matched by the last conv layers with a "
                  "dominant sensitive part, AL peaking at fc6 and AM at the fc layers, both almost entirely invariant.")
        md.append("")
    text = "\n".join(md) + "\n"
    # A small HTML rendering of the same section (headings, table, list, image).
    out = ["<section>"]
    in_table = in_list = False
    for line in md:
        if line.startswith("| ") and "---" not in line:
            if not in_table:
                out.append("<table border='1' cellspacing='0' cellpadding='3'>")
                in_table = True
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if "---" in line and line.startswith("|"):
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append("<li>" + html.escape(line[2:]).replace("**", "") + "</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        if line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            out.append(f"<img src='{html.escape(fig_name)}' style='max-width:100%'>")
        elif line:
            out.append("<p>" + html.escape(line).replace("**", "") + "</p>")
    if in_table:
        out.append("</table>")
    if in_list:
        out.append("</ul>")
    out.append("</section>")
    return text, "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--out", help="output folder (default: the first DIR)")
    a = ap.parse_args()
    results = []
    for d in a.dirs:
        if not os.path.isdir(d):
            raise mp.InputError(f"{d}: not a folder")
        results.append(Result(d))
    out = a.out or a.dirs[0]
    print(plot(results, os.path.join(out, "alignment.png")))
    md, page = report(results, "alignment.png")
    print(mp.write_text(os.path.join(out, "alignment_report.md"), md))
    print(mp.write_text(os.path.join(out, "alignment_report.html"), page))


if __name__ == "__main__":
    mp.run_main("plot_alignment", main)
