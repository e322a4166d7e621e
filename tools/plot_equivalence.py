#!/usr/bin/env python3
"""Equivariance maps, invariant channels and stitching (Lenc & Vedaldi), from equivalence's outputs.

Usage: plot_equivalence.py DIR

Reads DIR/equivalence.json, DIR/maps.csv, DIR/invariant_channels.csv and DIR/stitching.csv (the
networks' part) and DIR/hog_regression.csv (the HOG part), whichever the run wrote, and writes DIR/equivalence.png (Fig. 9-10 analogue: top-1 error per tap for the original network,
uncompensated, P_g only, and the maps learned by ridge, forward selection and the task loss,
one panel per network and transformation), DIR/hog_regression.png (Fig. 6 analogue),
DIR/invariant_channels.png (Tab. 3 analogue),
DIR/stitching.png (Tab. 5-6 analogue: mean over the stitch seeds, ± SD where there are several; beside it
the stitches between networks, seed → seed and variant ↔ variant, against the receiving net's own error),
DIR/rotation_sweep.png (Fig. 11 analogue, when two or more rotation angles were run) and DIR/report.md with a computed verdict per claim of
the paper (§8-§9 of the science file). Prints the paths it wrote. A missing or malformed input
exits with status 2 and one line.
"""
import argparse
import math
import os

import mlplot as mp
from mlplot import fmt, np, plt

METHODS = ["original", "none", "pg", "ridge", "fs", "conv_l2", "relu_l2", "task"]
COLORS = {"original": "k", "none": "tab:red", "pg": "tab:orange", "ridge": "tab:blue", "fs": "tab:purple",
          "conv_l2": "tab:cyan", "relu_l2": "tab:olive", "task": "tab:green"}
# Methods that learn a map M_g (the "best map" of a case is the lowest error among these).
LEARNED = ("ridge", "fs", "conv_l2", "relu_l2", "task")


def read(d):
    meta = mp.read_json(os.path.join(d, "equivalence.json"), ("networks", "transforms"))
    maps, inv, st, hog = [], [], [], []
    if os.path.exists(os.path.join(d, "maps.csv")) or meta["networks"]:
        maps = mp.read_csv(os.path.join(d, "maps.csv"), {"net": str, "tap": str, "transform": str, "method": str,
                                                         "top1": float, "top2": float, "l2_ratio": float,
                                                         "param": float})
        inv = mp.read_csv(os.path.join(d, "invariant_channels.csv"), {"net": str, "tap": str, "transform": str,
                                                                       "channels": int, "invariant": int,
                                                                       "share": float})
        # No stitching asked (--no-stitching, the label-free mode): the file has a header only.
        if meta.get("stitch_seeds", 1):
            st = mp.read_csv(os.path.join(d, "stitching.csv"), {"from_net": str, "from_tap": str, "to_net": str,
                                                                "to_tap": str, "seed": int, "top1": float,
                                                                "baseline_from": float, "baseline_to": float})
            for r in st:
                r["pair"] = pair_kind(r, meta)
    if os.path.exists(os.path.join(d, "hog_regression.csv")) or meta.get("hog_stimuli"):
        hog = mp.read_csv(os.path.join(d, "hog_regression.csv"), {"transform": str, "method": str, "m": int,
                                                                   "hellinger": float, "param": float,
                                                                   "seconds": float})
    return maps, inv, st, hog, meta


PAIR_KINDS = ("within", "seed", "variant")


def pair_kind(row, meta):
    """A stitch's kind: "within" (a network into itself), "seed" (two replicates of one variant:
    different training seeds), "variant" (two variants' networks). The driver writes it in the
    `pair` column; outputs without it (session 5 and before) are read from the labels and the
    networks' variants in equivalence.json (a network without a variant is its own)."""
    given = (row.get("pair") or "").strip()
    if given:
        if given not in PAIR_KINDS:
            raise mp.InputError(f"stitching.csv: pair {given!r} is not one of {', '.join(PAIR_KINDS)}")
        return given
    if row["from_net"] == row["to_net"]:
        return "within"
    variant = {n["label"]: n.get("variant", n["label"]) for n in meta.get("networks", [])}
    same = variant.get(row["from_net"], row["from_net"]) == variant.get(row["to_net"], row["to_net"])
    return "seed" if same else "variant"


def optimiser_text(meta):
    """How the task maps and stitches were trained, labelled against the pinned choice (SGD with
    MatConvNet's defaults from the full Xavier start)."""
    opt = meta.get("map_optimizer", "sgd")
    lr = meta.get("map_lr", meta.get("lr", math.nan))
    scale = meta.get("map_init_scale", 1.0)
    text = f"task maps and stitches trained with {'Adam' if opt == 'adam' else 'SGD'} at lr {lr:g}"
    stitch_lr = meta.get("stitch_lr", lr)
    if stitch_lr and stitch_lr != lr:
        text += f" (stitches {stitch_lr:g})"
    if opt == "adam":
        text += (" (as the demo's nets were trained; the paper's SGD with MatConvNet's defaults closes every ReLU "
                 "path of ψ in one step from the Xavier start at some taps: a labelled choice)")
    else:
        text += " (momentum 0.9, weight decay 5·10⁻⁴: the paper's)"
    if scale == 1:
        text += ", from the pinned Xavier start"
    else:
        text += f", task maps from {scale:g} × Xavier (a labelled deviation from the pinned Xavier start)"
    return text


def optimiser_short(meta):
    """The stitches' optimiser in a figure title's length (stitches always start from Xavier)."""
    opt = "Adam" if meta.get("map_optimizer", "sgd") == "adam" else "SGD"
    return f"{opt} lr {meta.get('stitch_lr') or meta.get('map_lr', meta.get('lr', math.nan)):g}, Xavier start"


def plot_hog(hog, out):
    gs = ordered(r["transform"] for r in hog)
    ms = ordered(r["m"] for r in hog if r["m"] > 0)
    fig, axes = plt.subplots(1, len(gs), figsize=(4.2 * len(gs), 3.4), squeeze=False)
    for ax, g in zip(axes[0], gs):
        rows = [r for r in hog if r["transform"] == g]
        methods = ordered(r["method"] for r in rows if r["method"] != "identity")
        x = np.arange(len(methods))
        for k, m in enumerate(ms):
            y = [next((r["hellinger"] for r in rows if r["method"] == meth and r["m"] == m), math.nan)
                 for meth in methods]
            ax.bar(x + 0.8 * k / len(ms), y, width=0.8 / len(ms), label=f"m = {m}")
        ident = next((r["hellinger"] for r in rows if r["method"] == "identity"), math.nan)
        ax.axhline(ident, color="k", ls=":", label="identity")
        ax.set_xticks(x + 0.4 - 0.4 / len(ms))
        ax.set_xticklabels(methods, rotation=45, fontsize=8)
        ax.set_yscale("log")
        ax.set_title(g, fontsize=9)
    axes[0, 0].set_ylabel("Hellinger distance per cell")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("HOG: HOG(gx) predicted from HOG(x) (Fig. 6 analogue; LS missing where its Gram is singular)")
    fig.tight_layout()
    return mp.save_fig(fig, out)


def hog_verdict(hog):
    rows = [r for r in hog if r["transform"] == "rot180" and r["method"] != "identity"]
    if not rows:
        return None
    fs = [r for r in rows if r["method"].startswith("fs_k")]
    other = [r for r in rows if r["method"] in ("ls", "rr") and not math.isnan(r["hellinger"])]
    best_fs = min((r["hellinger"] for r in fs), default=math.nan)
    best_other = min((r["hellinger"] for r in other), default=math.nan)
    word = "agrees" if best_fs < 1e-3 and (math.isnan(best_other) or best_other > 10 * best_fs) else "does not agree"
    return ("forward selection recovers HOG's 180° map exactly where least squares and ridge do not", word,
            f"Rule: agrees when the best FS Hellinger distance at 180° is < 10⁻³ and LS/RR's best is > 10× it (or "
            f"LS/RR have no solution). FS {best_fs:.2g}, LS/RR {best_other:.2g}; LS is missing where the Gram "
            f"is singular.")


def ordered(values):
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def best_fs(rows):
    """The forward-selection row with the lowest top-1 error (over k)."""
    fs = [r for r in rows if r["method"].startswith("fs_k")]
    return min(fs, key=lambda r: r["top1"]) if fs else None


def method_error(maps, net, tap, g, method):
    rows = [r for r in maps if r["net"] == net and r["tap"] == tap and r["transform"] == g]
    if method == "fs":
        r = best_fs(rows)
        return r["top1"] if r else math.nan
    for r in rows:
        if r["method"] == method:
            return r["top1"]
    return math.nan


def plot_maps(maps, out, meta=None):
    nets, gs, taps = ordered(r["net"] for r in maps), ordered(r["transform"] for r in maps), ordered(r["tap"] for r in maps)
    fig, axes = plt.subplots(len(nets), len(gs), figsize=(3.4 * len(gs), 2.8 * len(nets)), squeeze=False, sharey=True)
    x = np.arange(len(taps))
    for i, n in enumerate(nets):
        for j, g in enumerate(gs):
            ax = axes[i, j]
            for m in METHODS:
                y = [method_error(maps, n, t, g, m) for t in taps]
                if all(math.isnan(v) for v in y):
                    continue
                ax.plot(x, y, "-o", ms=3, color=COLORS[m], label=m if m != "fs" else "fs (best k)",
                        ls=":" if m == "original" else "-")
            ax.set_xticks(x)
            ax.set_xticklabels(taps, rotation=60, fontsize=7)
            ax.set_title(f"{n}: {g}", fontsize=9)
            if j == 0:
                ax.set_ylabel("top-1 error")
    axes[0, 0].legend(fontsize=6)
    task = ""
    if meta and any(r["method"] == "task" for r in maps):
        opt = "Adam" if meta.get("map_optimizer", "sgd") == "adam" else "SGD"
        scale = meta.get("map_init_scale", 1.0)
        task = (f"; task map: {opt} lr {meta.get('map_lr', meta.get('lr', math.nan)):g} from "
                + ("Xavier" if scale == 1 else f"{scale:g} × Xavier (labelled deviation)"))
    fig.suptitle(f"Equivariance maps M_g: task error with the map inserted at each tap (fed g⁻¹x){task}", fontsize=9)
    fig.tight_layout()
    return mp.save_fig(fig, out)


def plot_invariant(inv, out):
    nets, gs, taps = ordered(r["net"] for r in inv), ordered(r["transform"] for r in inv), ordered(r["tap"] for r in inv)
    fig, axes = plt.subplots(1, len(gs), figsize=(3.6 * len(gs), 3.2), squeeze=False, sharey=True)
    x = np.arange(len(taps))
    for j, g in enumerate(gs):
        ax = axes[0, j]
        for n in nets:
            y = [next((r["share"] for r in inv if r["net"] == n and r["tap"] == t and r["transform"] == g), math.nan)
                 for t in taps]
            ax.plot(x, y, "-o", ms=3, label=n)
        ax.set_xticks(x)
        ax.set_xticklabels(taps, rotation=60, fontsize=7)
        ax.set_title(g, fontsize=9)
        ax.set_ylim(-0.05, 1.05)
    axes[0, 0].set_ylabel("share of invariant channels")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Invariant channels of the learned map (Tab. 3 analogue)")
    fig.tight_layout()
    return mp.save_fig(fig, out)


def stitch_groups(st):
    """Stitching rows grouped over seeds: {(from_net, from_tap, to_net, to_tap): (mean, sd, n, base_to)}.
    SD is the sample SD (n - 1), NaN for a single seed."""
    groups = {}
    for r in st:
        groups.setdefault((r["from_net"], r["from_tap"], r["to_net"], r["to_tap"]), []).append(r)
    out = {}
    for k, rows in groups.items():
        v = np.array([r["top1"] for r in rows], dtype=float)
        out[k] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan, len(v), rows[0]["baseline_to"])
    return out


def mean_sd(mean, sd):
    return fmt(mean, 3) if math.isnan(sd) else f"{fmt(mean, 3)} ± {fmt(sd, 3)}"


def plot_stitching(st, out, meta=None):
    if not st:
        return None
    first = st[0]["from_net"]
    groups = stitch_groups(st)
    inner = {k: v for k, v in groups.items() if k[0] == first and k[2] == first}
    taps = ordered([k[1] for k in inner])
    M = np.full((len(taps), len(taps)), np.nan)
    SD = np.full((len(taps), len(taps)), np.nan)
    for k, v in inner.items():
        M[taps.index(k[1]), taps.index(k[3])] = v[0]
        SD[taps.index(k[1]), taps.index(k[3])] = v[1]
    seeds = max(v[2] for v in inner.values())
    kinds = pair_kinds(st)
    between = {k: v for k, v in groups.items() if kinds[k] in ("seed", "variant")}
    fig, axes = plt.subplots(1, 2 if between else 1, squeeze=False,
                             figsize=(1.3 * len(taps) + 2.5 + (5.0 if between else 0), 1.0 * len(taps) + 1.5))
    ax = axes[0, 0]
    im = ax.imshow(M, cmap="viridis", vmin=0, vmax=1)
    for i in range(len(taps)):
        for j in range(len(taps)):
            label = fmt(M[i, j], 2) if math.isnan(SD[i, j]) else f"{fmt(M[i, j], 2)}\n±{fmt(SD[i, j], 2)}"
            ax.text(j, i, label, ha="center", va="center", color="w", fontsize=7)
    ax.set_xticks(range(len(taps)))
    ax.set_xticklabels(taps, rotation=45)
    ax.set_yticks(range(len(taps)))
    ax.set_yticklabels(taps)
    ax.set_xlabel(f"into {first}'s layer (ψ from there on)")
    ax.set_ylabel(f"from {first}'s layer (φ up to there)")
    fig.colorbar(im, ax=ax, label="top-1 error")
    base = next(iter(inner.values()))[3]
    ax.set_title(f"Stitching {first} into itself (baseline {fmt(base, 3)}; mean of {seeds} seed(s))", fontsize=9)
    if between:
        # Per layer, each (A, B) stitch's error above B's own (mean over the stitch seeds):
        # seed → seed (nets of one recipe from different training seeds) and variant ↔ variant.
        bx = axes[0, 1]
        btaps = ordered(k[1] for k in between)
        for off, kind, color in ((-0.15, "seed", "tab:green"), (0.15, "variant", "tab:blue")):
            pts = [(btaps.index(k[1]) + off, v[0] - v[3]) for k, v in between.items() if kinds[k] == kind]
            if pts:
                bx.plot([p[0] for p in pts], [p[1] for p in pts], "o", ms=4, color=color, alpha=0.7,
                        label=f"{kind} → {kind}" if kind == "seed" else "variant ↔ variant")
        bx.axhline(0, color="k", lw=0.8)
        bx.axhline(0.05, color="k", ls=":", lw=0.8, label="5 points")
        bx.set_xticks(range(len(btaps)))
        bx.set_xticklabels(btaps, rotation=45)
        bx.set_ylabel("Franken-net error − B's own")
        bx.legend(fontsize=7)
        bx.set_title("Between networks, same layer (mean over stitch seeds)", fontsize=9)
    if meta:
        fig.suptitle(f"Stitches: {optimiser_short(meta)}", fontsize=8)
    fig.tight_layout()
    return mp.save_fig(fig, out)


def pair_kinds(st):
    """{(from_net, from_tap, to_net, to_tap): pair kind} of the stitching rows."""
    return {(r["from_net"], r["from_tap"], r["to_net"], r["to_tap"]): r.get("pair") or
            ("within" if r["from_net"] == r["to_net"] else "variant") for r in st}


def rotation_angle(g):
    """The angle of a pure rotation transform name (rot90 -> 90, rot15 -> 15), else None."""
    if g.startswith("rot") and "_" not in g:
        try:
            return float(g[3:])
        except ValueError:
            return None
    return None


def plot_rotation_sweep(maps, out):
    """Fig. 11 analogue: top-1 error against the rotation angle, per network and tap, uncompensated
    (dotted) and with the best learned map (solid); angle 0 is the original network."""
    angles = sorted({a for a in (rotation_angle(r["transform"]) for r in maps) if a is not None})
    if len(angles) < 2:
        return None
    nets, taps = ordered(r["net"] for r in maps), ordered(r["tap"] for r in maps)
    fig, axes = plt.subplots(1, len(nets), figsize=(4.2 * len(nets), 3.4), squeeze=False, sharey=True)
    cmap = plt.get_cmap("viridis")
    for i, n in enumerate(nets):
        ax = axes[0, i]
        for k, t in enumerate(taps):
            gs = {rotation_angle(r["transform"]): r["transform"] for r in maps
                  if r["net"] == n and r["tap"] == t and rotation_angle(r["transform"]) is not None}
            xs = sorted(gs)
            if not xs:
                continue
            orig = method_error(maps, n, t, gs[xs[0]], "original")
            none = [orig] + [method_error(maps, n, t, gs[a], "none") for a in xs]
            # Fig. 11 plots the task-trained map; without one, the best learned map.
            has_task = not math.isnan(method_error(maps, n, t, gs[xs[-1]], "task"))
            best = [orig] + [method_error(maps, n, t, gs[a], "task") if has_task else
                             min(method_error(maps, n, t, gs[a], m) for m in LEARNED) for a in xs]
            c = cmap(k / max(1, len(taps) - 1))
            ax.plot([0.0] + xs, best, "-o", ms=3, color=c, label=t)
            ax.plot([0.0] + xs, none, ":", color=c)
        ax.set_xlabel("rotation (degrees)")
        ax.set_title(f"{n}: solid task map (else best), dotted none", fontsize=8)
    axes[0, 0].set_ylabel("top-1 error")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle("Rotation sweep (Fig. 11 analogue)")
    fig.tight_layout()
    return mp.save_fig(fig, out)


def tap_depth(taps, t):
    return taps.index(t)


def verdicts(maps, inv, st):
    out = []
    orig = [r["top1"] for r in maps if r["method"] == "original"]
    if orig and float(np.mean(orig)) > 0.5:
        why = (f"The networks' own top-1 error is {fmt(float(np.mean(orig)))} (near chance): untrained or failed "
               f"networks say nothing about what training learns.")
        return [(c, "inconclusive", why) for c in (
            "vflip and rot90 need a map M_g", "hflip is learned as invariance with depth",
            "deeper layers cover earlier ones and not the reverse (stitching)")]
    taps = ordered(r["tap"] for r in maps)
    spatial = [t for t in taps if not t.startswith("fc")]
    # (1) vflip and rot90 need M_g; hflip gains little in a net trained with flips.
    gaps = []
    for r in maps:
        if r["method"] != "none" or r["tap"] not in spatial or r["transform"] not in ("vflip", "rot90"):
            continue
        orig = method_error(maps, r["net"], r["tap"], r["transform"], "original")
        best = min(method_error(maps, r["net"], r["tap"], r["transform"], m) for m in LEARNED)
        gaps.append((r["net"], r["tap"], r["transform"], orig, r["top1"], best))
    if gaps:
        recovered = [g for g in gaps if g[4] - g[3] > 0.05 and (g[4] - g[5]) >= 0.5 * (g[4] - g[3])]
        hurt = [g for g in gaps if g[4] - g[3] > 0.05]
        word = "agrees" if hurt and len(recovered) >= 0.75 * len(hurt) and len(hurt) >= 0.75 * len(gaps) else \
            ("does not agree" if not hurt else "inconclusive")
        out.append(("vflip and rot90 need a map M_g (uncompensated error well above the original; a learned map "
                    "recovers most of the gap)", word,
                    f"Rule: agrees when at ≥ 75 % of (net, conv/pool tap, vflip|rot90) cases the uncompensated error "
                    f"exceeds the original by > 5 points and, in ≥ 75 % of those, the best map (ridge, FS or task) "
                    f"recovers ≥ half of the gap. Hurt: {len(hurt)} of {len(gaps)}; recovered: {len(recovered)}."))
    # (2) hflip learned as invariance with depth: the sym net's hflip invariant share rises from the
    # first to the last spatial tap, and exceeds the asym net's at the last one.
    sym = {r["tap"]: r["share"] for r in inv if r["net"] == "sym" and r["transform"] == "hflip"}
    asym = {r["tap"]: r["share"] for r in inv if r["net"] == "asym" and r["transform"] == "hflip"}
    sp = [t for t in spatial if t in sym]
    if len(sp) >= 2:
        rises = sym[sp[-1]] >= sym[sp[0]]
        above = sp[-1] in asym and sym[sp[-1]] > asym[sp[-1]]
        word = "agrees" if rises and above else ("inconclusive" if rises or above else "does not agree")
        out.append(("hflip is learned as invariance with depth (sym net), less so in the asym net", word,
                    f"Rule: agrees when the sym net's hflip invariant-channel share at the deepest spatial tap "
                    f"({sp[-1]}: {fmt(sym[sp[-1]])}) is ≥ that at the first ({sp[0]}: {fmt(sym[sp[0]])}) and above the "
                    f"asym net's there ({fmt(asym.get(sp[-1], math.nan))})."))
    else:
        out.append(("hflip is learned as invariance with depth", "inconclusive",
                    "Needs networks labelled sym and asym with invariant-channel counts at ≥ 2 spatial taps."))
    # (3) Deeper layers cover earlier ones, not the reverse (stitching within one net).
    if st:
        first = st[0]["from_net"]
        inner = {k: v for k, v in stitch_groups(st).items() if k[0] == first and k[2] == first}
        order = ordered([k[1] for k in inner])
        down = [v[0] for k, v in inner.items() if order.index(k[1]) > order.index(k[3])]
        up = [v[0] for k, v in inner.items() if order.index(k[1]) < order.index(k[3])]
        base = next(iter(inner.values()))[3] if inner else math.nan
        diag = [v[0] for k, v in inner.items() if k[1] == k[3]]
        if diag and float(np.mean(diag)) - base > 0.05:
            # A stitch of a layer into itself can reproduce the network exactly: when it does not,
            # the stitches are undertrained and their off-diagonal order says nothing.
            out.append(("deeper layers cover earlier ones and not the reverse (stitching)", "inconclusive",
                        f"Rule: needs the self-stitches (a layer into itself) within 5 points of the network's own "
                        f"error ({fmt(base)}); their mean is {fmt(float(np.mean(diag)))}, so the stitches are "
                        f"undertrained (more images or epochs)."))
        elif down and up:
            md, mu = float(np.mean(down)), float(np.mean(up))
            word = "agrees" if md < mu and md - base < 0.05 else ("inconclusive" if md < mu else "does not agree")
            out.append(("deeper layers cover earlier ones and not the reverse (stitching)", word,
                        f"Rule: agrees when stitching a deeper layer into a shallower one (mean top-1 error "
                        f"{fmt(md)}) is better than the reverse ({fmt(mu)}) and within 5 points of the network's own "
                        f"error ({fmt(base)}); means over the stitch seeds."))
    sweep = sweep_verdict(maps)
    if sweep:
        out.append(sweep)
    for v in (cheap_transforms_verdict(maps, spatial), invariant_by_transform_verdict(inv, spatial),
              across_nets_verdict(st), seed_verdict(st)):
        if v:
            out.append(v)
    return out


def cheap_transforms_verdict(maps, spatial):
    """Fig. 10: hflip and scaling gain nothing from M_g (the uncompensated net is already close to
    the original) in a net trained with flips, while vflip and rot90 gain much. Read on the sym
    net (the flip-trained one; the first net when none is labelled sym), conv/pool taps."""
    nets = ordered(r["net"] for r in maps)
    if not nets:
        return None
    net = "sym" if "sym" in nets else nets[0]
    cheap = [g for g in ordered(r["transform"] for r in maps if r["net"] == net)
             if g == "hflip" or g.startswith("scale")]
    claim = f"hflip and scaling gain little from a map, unlike vflip and rot90 (Fig. 10; {net} net)"
    if not cheap:
        return (claim, "inconclusive", "Needs hflip or a scale transform in the run.")
    gaps = {}
    for g in cheap + ["vflip", "rot90"]:
        v = [method_error(maps, net, t, g, "none") - method_error(maps, net, t, g, "original") for t in spatial]
        v = [x for x in v if not math.isnan(x)]
        if v:
            gaps[g] = float(np.mean(v))
    hard = [gaps[g] for g in ("vflip", "rot90") if g in gaps]
    small = all(gaps[g] <= 0.05 for g in cheap if g in gaps)
    larger = bool(hard) and all(gaps[g] < min(hard) for g in cheap if g in gaps)
    word = "agrees" if small and larger else ("inconclusive" if small or larger else "does not agree")
    return (claim, word,
            "Rule: agrees when, averaged over the conv/pool taps, the uncompensated error exceeds the original by "
            "≤ 5 points for every hflip/scale transform and by less than for vflip and rot90. Mean gaps: "
            + ", ".join(f"{g} {fmt(v, 3)}" for g, v in gaps.items()) + ".")


def invariant_by_transform_verdict(inv, spatial):
    """§9 B / Tab. 3: in the flip-trained net the share of channels invariant to hflip is higher
    than to vflip and rot90 (mean over the conv/pool taps)."""
    net = "sym" if any(r["net"] == "sym" for r in inv) else None
    claim = "invariant channels: many for hflip, few for vflip and rot90 (Tab. 3; sym net)"
    if net is None:
        return None
    share = {}
    for g in ("hflip", "vflip", "rot90"):
        v = [r["share"] for r in inv if r["net"] == net and r["transform"] == g and r["tap"] in spatial]
        if v:
            share[g] = float(np.mean(v))
    if "hflip" not in share or not ({"vflip", "rot90"} & set(share)):
        return (claim, "inconclusive", "Needs invariant-channel counts of the sym net for hflip and vflip or rot90.")
    others = [share[g] for g in ("vflip", "rot90") if g in share]
    above = [share["hflip"] > o for o in others]
    word = "agrees" if all(above) else ("inconclusive" if any(above) else "does not agree")
    return (claim, word,
            "Rule: agrees when the sym net's mean invariant-channel share over the conv/pool taps is higher for "
            "hflip than for each of vflip and rot90. Shares: " + ", ".join(f"{g} {fmt(v, 3)}" for g, v in share.items())
            + ".")


def across_nets_verdict(st):
    """§6 / Tab. 5: networks trained on the same data are compatible: a 1 x 1 stitch from one net's
    layer into another's same layer comes close to the receiving net's own error. Read on the
    stitches between variants (sym ↔ asym, the main network of each)."""
    return between_verdict(st, "variant",
                           "stitching between networks at the same layer comes close to the receiving net's own "
                           "error (Tab. 5)",
                           "Needs stitches between two variants' networks (two or more --net labels).")


def seed_verdict(st):
    """§9 C seed → seed: networks of one recipe trained from different seeds are stitchable with
    little loss (the paper's nets of one architecture and data, Tab. 5's diagonal)."""
    if not st:
        return None
    return between_verdict(st, "seed",
                           "networks trained from different seeds are stitchable with little loss (seed → seed)",
                           "Needs two training seeds of one variant (a --net label given twice).")


def between_verdict(st, kind, claim, needs):
    if not st:
        return None
    kinds = pair_kinds(st)
    groups = stitch_groups(st)
    across = {k: v for k, v in groups.items() if kinds[k] == kind and k[1] == k[3]}
    if not across:
        return (claim, "inconclusive", needs)
    diag = [v for k, v in groups.items() if k[0] == k[2] and k[1] == k[3]]
    if diag and float(np.mean([v[0] - v[3] for v in diag])) > 0.05:
        # As for the layer order: when a net's layer cannot even be stitched into itself, the
        # stitches are undertrained and their errors between nets say nothing about compatibility.
        return (claim, "inconclusive",
                f"Rule: needs the self-stitches (a layer into itself) within 5 points of the network's own error; "
                f"they exceed it by {fmt(float(np.mean([v[0] - v[3] for v in diag])), 3)} on average, so the stitches "
                f"are undertrained (more images or epochs).")
    gaps = [v[0] - v[3] for v in across.values()]
    close = [gp for gp in gaps if gp <= 0.05]
    word = "agrees" if len(close) >= 0.75 * len(gaps) else ("inconclusive" if close else "does not agree")
    worst = max(across.items(), key=lambda kv: kv[1][0] - kv[1][3])
    return (claim, word,
            f"Rule: agrees when ≥ 75 % of the ({kind} pair A → B, layer) stitches, mean over the stitch seeds, are "
            f"within 5 points of B's own error; here {len(close)} of {len(gaps)} (mean excess "
            f"{fmt(float(np.mean(gaps)), 3)}; worst {worst[0][0]} → {worst[0][2]} at {worst[0][1]}: "
            f"{fmt(worst[1][0], 3)} against {fmt(worst[1][3], 3)}).")


def sweep_verdict(maps):
    """Fig. 11: the task-trained map recovers most of the error at every rotation 0-90°, and the
    intermediate angles are slightly harder than 90° (interpolation and boundary effects). Read on
    the first network (the sweep's), with the task map where there is one, else the best map."""
    if not maps:
        return None
    net = maps[0]["net"]
    rows = [r for r in maps if r["net"] == net and rotation_angle(r["transform"]) is not None
            and 0 < rotation_angle(r["transform"]) <= 90]
    angles = sorted({rotation_angle(r["transform"]) for r in rows})
    claim = "rotations 0-90°: a learned map recovers most of the error, intermediate angles slightly harder than 90° (Fig. 11)"
    if 90.0 not in angles or len(angles) < 2:
        return (claim, "inconclusive", "Needs rot90 and at least one intermediate angle (the cpu preset's --sweep).")
    taps = ordered(r["tap"] for r in rows)
    has_task = any(r["method"] == "task" for r in rows)
    method = "task" if has_task else "best map"
    names = {rotation_angle(r["transform"]): r["transform"] for r in rows}

    def err(tap, a):
        g = names[a]
        if has_task:
            return method_error(maps, net, tap, g, "task")
        return min(method_error(maps, net, tap, g, m) for m in LEARNED)
    cases = []
    for t in taps:
        for a in angles:
            orig, none, e = (method_error(maps, net, t, names[a], "original"), method_error(maps, net, t, names[a], "none"),
                             err(t, a))
            if not any(math.isnan(v) for v in (orig, none, e)):
                cases.append((t, a, orig, none, e))
    hurt = [c for c in cases if c[3] - c[2] > 0.05]
    recovered = [c for c in hurt if c[3] - c[4] >= 0.5 * (c[3] - c[2])]
    mid = [c[4] for c in cases if c[1] % 90 != 0]
    right = [c[4] for c in cases if c[1] == 90]
    if not hurt or not mid or not right:
        return (claim, "inconclusive", f"Too few cases with the {method} map: {len(cases)} (hurt {len(hurt)}).")
    ok_recover = len(recovered) >= 0.75 * len(hurt)
    m_mid, m_right = float(np.mean(mid)), float(np.mean(right))
    ok_harder = m_mid >= m_right
    word = "agrees" if ok_recover and ok_harder else ("inconclusive" if ok_recover or ok_harder else "does not agree")
    return (claim, word,
            f"Rule ({net}, the {method} map, taps {', '.join(taps)}, angles {', '.join(fmt(a, 0) for a in angles)}): "
            f"agrees when in ≥ 75 % of the (tap, angle) cases whose uncompensated error exceeds the original by > 5 "
            f"points the map recovers ≥ half of the gap (here {len(recovered)} of {len(hurt)}) and the mean error "
            f"with the map at the intermediate angles ({fmt(m_mid, 3)}) is ≥ that at 90° ({fmt(m_right, 3)}).")


def completeness(d, maps, inv, st, hog, meta, figs):
    """Lines for the report's "Outputs" section: each file the run wrote with its rows, and every
    case the run's settings ask for that has no row (so a cut-short run does not read as complete).
    Expected: for every network, tap (those in maps.csv) and transform of equivalence.json (the sweep
    angles on the first network), the rows original, none and ridge, and task wherever any task map
    ran; one invariant-channel row per (network, tap, non-sweep transform); stitch_seeds rows per
    stitched pair."""
    missing = []
    if maps:
        # Replicates beyond the first of a variant run the maps only with --replicate-maps.
        nets = [n["label"] for n in meta["networks"] if n.get("maps", True)]
        taps = ordered(r["tap"] for r in maps)
        have = {(r["net"], r["tap"], r["transform"], r["method"]) for r in maps}
        methods = ["original", "none", "ridge"] + (["task"] if any(r["method"] == "task" for r in maps) else [])
        for i, n in enumerate(nets):
            gs = list(meta["transforms"]) + ([g for g in meta.get("sweep", []) if g not in meta["transforms"]]
                                             if i == 0 else [])
            for t in taps:
                for g in gs:
                    missing += [f"maps.csv: {n} {t} {g} {m}" for m in methods if (n, t, g, m) not in have]
        inv_have = {(r["net"], r["tap"], r["transform"]) for r in inv}
        for n in nets:
            for t in taps:
                missing += [f"invariant_channels.csv: {n} {t} {g}" for g in meta["transforms"]
                            if (n, t, g) not in inv_have]
    seeds = meta.get("stitch_seeds", 0)
    for k, v in stitch_groups(st).items() if st else []:
        if v[2] != seeds:
            missing.append(f"stitching.csv: {k[0]} {k[1]} -> {k[2]} {k[3]} has {v[2]} of {seeds} seeds")
    lines = ["## Outputs", ""]
    for name, rows in (("maps.csv", maps), ("invariant_channels.csv", inv), ("stitching.csv", st),
                       ("hog_regression.csv", hog)):
        if rows:
            lines.append(f"- `{name}`: {len(rows)} rows")
    lines += [f"- `{os.path.basename(f)}`" for f in figs if f]
    if missing:
        lines += ["", f"**Incomplete: {len(missing)} expected row(s) missing** (first 20):", ""]
        lines += [f"- {m}" for m in missing[:20]]
    else:
        lines += ["", "Complete: every (network, tap, transform) case of the run's settings has its rows "
                  "(original, none, ridge" + (", task" if any(r["method"] == "task" for r in maps) else "")
                  + "; invariant channels; every stitch seed)."]
    return lines, missing


def report(d, maps, inv, st, hog, meta, figs):
    lines = ["# Equivariance and equivalence (Lenc & Vedaldi) on the demo's networks", "",
             f"Networks: {', '.join(n['label'] + ' (' + n['network'] + ')' for n in meta['networks']) or 'none'}. "
             f"Preset {meta.get('preset', '?')}: {meta.get('fit_images', '?')} fitting and {meta.get('test_images', '?')} "
             f"test images, transforms {', '.join(meta['transforms'])}, m = {meta.get('m', '?')}; "
             f"{optimiser_text(meta)}.", ""]
    if meta.get("label_free_images"):
        lines += [f"Label-free mode on {meta['label_free_images']}: labels are {meta.get('labels', '?')}, so every "
                  "top-1/top-2 'error' is the disagreement with the network's own decision on the untransformed "
                  "image (a labelled deviation from the paper's ImageNet labels); ridge and FS maps only.", ""]
    for f in figs:
        if f:
            lines += [f"![{os.path.basename(f)}]({os.path.basename(f)})", ""]
    lines += ["## Verdicts", ""]
    claims = verdicts(maps, inv, st) if maps else []
    hv = hog_verdict(hog) if hog else None
    if hv:
        claims.append(hv)
    for claim, word, text in claims:
        lines += [f"- **{claim}: {word}.** {text}"]
    if not maps:
        lines += ["- The networks' part was not run (no --net/--untrained)."]
    if st:
        lines += ["", "## Stitching (top-1 error, mean ± SD over the stitch seeds)", "",
                  "Pairs: within (a network into itself), seed (two training seeds of one variant), variant "
                  "(two variants' networks).", "",
                  "| pair | from | to | seeds | Franken-net | B's own |", "|---|---|---|---|---|---|"]
        kinds = pair_kinds(st)
        groups = stitch_groups(st)
        for kind in PAIR_KINDS:
            for (fn, ft, tn, tt), (mean, sd, n, base) in groups.items():
                if kinds[(fn, ft, tn, tt)] == kind:
                    lines += [f"| {kind} | {fn} {ft} | {tn} {tt} | {n} | {mean_sd(mean, sd)} | {fmt(base, 3)} |"]
    if not hog:
        lines += ["", "The HOG part was not run (no --hog-stimuli)."]
    lines += [""] + completeness(d, maps, inv, st, hog, meta, figs)[0] + [""]
    return mp.write_text(os.path.join(d, "report.md"), "\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", metavar="DIR")
    a = ap.parse_args()
    maps, inv, st, hog, meta = read(a.dir)
    figs = [plot_maps(maps, os.path.join(a.dir, "equivalence.png"), meta) if maps else None,
            plot_invariant(inv, os.path.join(a.dir, "invariant_channels.png")) if inv else None,
            plot_stitching(st, os.path.join(a.dir, "stitching.png"), meta) if st else None,
            plot_rotation_sweep(maps, os.path.join(a.dir, "rotation_sweep.png")) if maps else None,
            plot_hog(hog, os.path.join(a.dir, "hog_regression.png")) if hog else None]
    for f in figs:
        if f:
            print(f)
    print(report(a.dir, maps, inv, st, hog, meta, figs))


if __name__ == "__main__":
    mp.run_main("plot_equivalence", main)
