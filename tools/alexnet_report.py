#!/usr/bin/env python3
"""The report section of tools/alexnet_imagenet.sh: the mirror study's claims about an
ImageNet-trained AlexNet (Farzmahdi et al. 2024, Figs. 2C, 2-S2, 5-S4), each with a verdict
computed from the step's outputs.

    /usr/bin/python3 tools/alexnet_report.py OUT      # OUT = the step's folder

Reads OUT/trained/msvt, OUT/untrained/msvt (mirror_symmetry), OUT/rank_sum/rank_sum.csv
(msvt_rank_sum), OUT/units (mirror_units), OUT/rise (importance_maps, optional) and OUT/step.json;
writes OUT/alexnet_imagenet.html (a section the demo report includes) and OUT/verdicts.json.
Thresholds are the paper's own words: "low (below 0.1)" and "considerably higher (above 0.6)"
(Results, Fig. 2C); "more than twofold" (Discussion, Fig. 5-S4). Released index definition.
"""
import argparse
import html
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlplot as mp  # noqa: E402

ONE_PLANE = ["face", "chair", "airplane", "animal", "tool"]
TWO_PLANES = ["car", "boat"]
NO_PLANE = ["fruit", "flower"]
CONV = ["relu1", "relu2", "relu3", "relu4", "relu5"]
FC6, FC7 = "relu6", "relu7"
LOW, HIGH = 0.1, 0.6
DEF = "released"


def esc(x):
    return html.escape(str(x))


def fmt(x, digits=3):
    return mp.fmt(x, digits)


def load(out):
    d = {"out": out, "step": mp.read_json(os.path.join(out, "step.json"), ("weights", "seconds"))}
    d["trained"] = mp.Msvt(os.path.join(out, "trained", "msvt"))
    d["untrained"] = mp.Msvt(os.path.join(out, "untrained", "msvt"))
    for n in ("trained", "untrained"):
        missing = [l for l in CONV + [FC6, FC7] if l not in d[n].layers]
        if missing:
            raise mp.InputError(f"{d[n].path}: layer(s) {', '.join(missing)} missing (run with --layers relu1,...,relu7)")
    d["rank_sum"] = mp.read_csv(os.path.join(out, "rank_sum", "rank_sum.csv"),
                                {"layer": str, "category": str, "mean_trained": float, "mean_untrained": float,
                                 "p_adjusted": float, "significant": int})
    d["shares"] = mp.read_csv(os.path.join(out, "units", "unit_shares.csv"),
                              {"model": str, "layer": str, "criterion": str, "units": int, "share": float,
                               "ci_low": float, "ci_high": float, "nets": int, "interval": str})
    d["units"] = mp.read_json(os.path.join(out, "units", "mirror_units.json"), ("layers", "criteria"))
    rise = os.path.join(out, "rise", "rise.json")
    d["rise"] = mp.read_json(rise) if os.path.exists(rise) else None
    return d


def family_values(m, fam):
    """{layer: (mean, sem)} of one family (released definition)."""
    mean, sem = m.index(fam, DEF)
    return {l: (float(a), float(b)) for l, a, b in zip(m.layers, mean, sem)}


def claim_one_plane(d):
    rows, ok = [], 0
    for fam in ONE_PLANE:
        if fam not in d["trained"].categories:
            continue
        v = family_values(d["trained"], fam)
        conv_max = max(v[l][0] for l in CONV)
        good = conv_max < LOW and v[FC6][0] > HIGH
        ok += good
        rows.append(f"{fam}: max over conv {fmt(conv_max)}, fc6 {fmt(v[FC6][0])}, fc7 {fmt(v[FC7][0])}")
    n = len(rows)
    word = "agrees" if n and ok == n else "does not agree" if ok * 2 < n else "partly agrees"
    return word, (f"Rule: each one-plane family's mean index is below {LOW} at every conv layer (relu1–relu5) and above "
                  f"{HIGH} at fc6 (relu6). {ok} of {n} families meet it — " + "; ".join(rows) + ".")


def claim_two_planes(d):
    rows, ok = [], 0
    for fam in TWO_PLANES:
        if fam not in d["trained"].categories:
            continue
        v = family_values(d["trained"], fam)
        lo = min(v[l][0] for l in CONV + [FC6, FC7])
        ok += lo > HIGH
        rows.append(f"{fam}: relu1 {fmt(v['relu1'][0])}, lowest over layers {fmt(lo)}")
    n = len(rows)
    word = "agrees" if n and ok == n else "does not agree" if ok == 0 else "partly agrees"
    return word, (f"Rule: cars and boats are above {HIGH} already at relu1 and at every later layer. {ok} of {n} meet it — "
                  + "; ".join(rows) + ".")


def claim_no_plane(d):
    rows, ok = [], 0
    for fam in NO_PLANE:
        if fam not in d["trained"].categories:
            continue
        v = family_values(d["trained"], fam)
        hi = max(v[l][0] for l in CONV + [FC6, FC7])
        ok += hi < HIGH
        rows.append(f"{fam}: highest over layers {fmt(hi)}")
    n = len(rows)
    word = "agrees" if n and ok == n else "does not agree" if ok == 0 else "partly agrees"
    return word, (f"Rule: fruits and flowers never reach the 'considerably higher' level ({HIGH}) at any layer. "
                  f"{ok} of {n} meet it — " + "; ".join(rows) + ".")


def one_plane_pooled(m):
    """Mean over the one-plane families of their mean index, per layer."""
    fams = [f for f in ONE_PLANE if f in m.categories]
    return {l: sum(family_values(m, f)[l][0] for f in fams) / max(len(fams), 1) for l in m.layers}


def claim_untrained_flat(d):
    t, u = one_plane_pooled(d["trained"]), one_plane_pooled(d["untrained"])
    layers = CONV + [FC6, FC7]
    u_range = max(u[l] for l in layers) - min(u[l] for l in layers)
    t_leap, u_leap = t[FC6] - t["relu5"], u[FC6] - u["relu5"]
    good = u_range < 0.2 and abs(u_leap) < 0.5 * max(t_leap, 0)
    word = "agrees" if good else "does not agree"
    return word, (f"Rule: the untrained net's index (mean of the one-plane families) varies by less than 0.2 over "
                  f"relu1–relu7 and its relu5 → fc6 step is less than half of the trained net's. Untrained range "
                  f"{fmt(u_range)} ({', '.join(fmt(u[l], 2) for l in layers)}); relu5 → fc6 step trained {fmt(t_leap)}, "
                  f"untrained {fmt(u_leap)}.")


def claim_rank_sum(d):
    rows = {r["category"]: r for r in d["rank_sum"] if r["layer"] == FC6}
    fams = [f for f in ONE_PLANE if f in rows]
    ok = [f for f in fams if rows[f]["significant"] == 1 and rows[f]["mean_trained"] > rows[f]["mean_untrained"]]
    word = "agrees" if fams and len(ok) == len(fams) else "does not agree" if len(ok) * 2 < len(fams) else "partly agrees"
    detail = "; ".join(f"{f}: trained {fmt(rows[f]['mean_trained'])} vs untrained {fmt(rows[f]['mean_untrained'])}, "
                       f"adjusted p {rows[f]['p_adjusted']:.2g}" for f in fams)
    return word, (f"Rule: at fc6 every one-plane family's index is higher in the trained net, significant after "
                  f"Benjamini–Yekutieli FDR (q 0.05, over all family × layer tests). {len(ok)} of {len(fams)} — {detail}.")


def share(d, model_is_trained, layer, criterion):
    for r in d["shares"]:
        if r["layer"] == layer and r["criterion"] == criterion and ((r["model"] != "untrained") == model_is_trained):
            return r
    return None


def claim_units(d, criterion):
    t, u = share(d, True, FC6, criterion), share(d, False, FC6, criterion)
    if t is None or u is None:
        return "inconclusive", f"No trained and untrained {criterion} shares at fc6 (run mirror_units with --untrained-nets)."
    ratio = t["share"] / u["share"] if u["share"] > 0 else math.inf
    word = "agrees" if t["share"] > 2 * u["share"] else "does not agree"
    return word, (f"Rule: the trained fc6 share of {criterion} units is more than twice the untrained nets' mean. "
                  f"Trained {100 * t['share']:.3f} % [{100 * t['ci_low']:.3f}, {100 * t['ci_high']:.3f}] (binomial), "
                  f"untrained {100 * u['share']:.3f} % [{100 * u['ci_low']:.3f}, {100 * u['ci_high']:.3f}] "
                  f"(Student t, {u['nets']} nets); ratio {fmt(ratio, 2)}.")


def verdict(claim, word, text):
    return (f'<p class="verdict" data-claim="{esc(claim)}" data-verdict="{esc(word)}"><strong>Claim ({esc(claim)}): '
            f"{esc(word)}.</strong> {esc(text)}</p>")


def table(header, rows):
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def section(out, prefix=""):
    """(html, verdicts) for the folder OUT; figure links start with prefix (the demo report's path to OUT)."""
    d = load(out)
    s = d["step"]
    claims = [("2C one-plane", *claim_one_plane(d)), ("2C two-plane", *claim_two_planes(d)),
              ("2C no-plane", *claim_no_plane(d)), ("2-S2A untrained flat", *claim_untrained_flat(d)),
              ("2-S2B fc6 leap is learned", *claim_rank_sum(d)),
              ("5-S4 fc6 mirror units > 2x untrained", *claim_units(d, "mirror_strict")),
              ("5-S4 (all units) fc6 mirror units > 2x untrained", *claim_units(d, "mirror_any_strict"))]
    layers = CONV + [FC6, FC7]
    rows = []
    for net in ("trained", "untrained"):
        m = d[net]
        for fam in m.categories + ["pooled"]:
            mean, sem = m.index(fam, DEF, layers)
            rows.append([net, fam] + [f"{fmt(a, 2)} ± {fmt(b, 2)}" for a, b in zip(mean, sem)])
    unit_rows = []
    for r in d["shares"]:
        if r["criterion"] in ("face", "mirror", "mirror_strict", "mirror_any_strict"):
            unit_rows.append([r["model"], r["layer"], r["criterion"], r["units"],
                              f"{100 * r['share']:.3f} % [{100 * r['ci_low']:.3f}, {100 * r['ci_high']:.3f}]"])
    h = ["<h2>ImageNet-trained AlexNet on the rendered stimuli (Figs. 2C, 2—S2, 5—S4)</h2>",
         f"<p>Weights <code>{esc(s['weights'])}</code> (label {esc(s.get('label', ''))}); torchvision's AlexNet at 224 px "
         f"(the paper's Fig. 2 and 5 net is MATLAB's Caffe AlexNet at 227 px, with LRN and grouped convolutions), "
         f"the project's procedural stimuli (not the paper's 3D models), {s['untrained_nets']} untrained nets for the "
         f"unit shares, {s['threads']} threads on {esc(s['device'])}: index {s['seconds']['msvt']} s, units "
         f"{s['seconds']['units']} s, RISE {s['seconds']['rise']} s.</p>",
         f'<figure><img src="{esc(prefix)}trained/msvt/msvt.png" alt="index per layer, trained"><figcaption>Trained: '
         f"the index per layer and family (Fig. 2C).</figcaption></figure>",
         f'<figure><img src="{esc(prefix)}untrained/msvt/msvt.png" alt="index per layer, untrained"><figcaption>'
         f"Untrained (Fig. 2—S2A).</figcaption></figure>",
         "<p class='cap'>Index (released definition) per family, mean ± SEM over 25 exemplars</p>",
         table(["net", "family"] + layers, rows)]
    h += [verdict(c, w, t) for c, w, t in claims[:5]]
    h += ["<p class='cap'>Unit shares (Figs. 5—S2…S4): trained with a binomial, untrained with a Student-t 95 % interval</p>",
          table(["net", "layer", "criterion", "units", "share"], unit_rows)]
    h += [verdict(c, w, t) for c, w, t in claims[5:]]
    if d["rise"] is not None:
        h.append(f'<figure><img src="{esc(prefix)}rise/rise.png" alt="RISE"><figcaption>RISE through fc6 (Fig. 5), one '
                 f"object per family, {esc(s['rise_masks'])} masks.</figcaption></figure>")
    verdicts = [{"claim": c, "verdict": w, "text": t} for c, w, t in claims]
    return "".join(h), verdicts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    a = ap.parse_args()
    body, verdicts = section(a.out)
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>AlexNet (ImageNet) claims</title></head><body>"
            + body + "</body></html>")
    mp.write_text(os.path.join(a.out, "alexnet_imagenet.html"), page)
    mp.write_text(os.path.join(a.out, "verdicts.json"), json.dumps(verdicts, indent=1) + "\n")
    for v in verdicts:
        print(f"{v['claim']}: {v['verdict']}. {v['text']}")


if __name__ == "__main__":
    mp.run_main("alexnet_report", main)
