#!/usr/bin/env python3
"""Outside reference for the RSA core: mirrorlab's rsa_compare against rsatoolbox (PyPI) on the same data.

Usage: compare_rsatoolbox.py --rsa-compare build-cpu/experiments/rsa_compare --out DIR [--threads 2]
Run it with a virtual environment's python that has rsatoolbox (the engine and the suite never
need it; see ../shared/PEERS.md):
    python3 -m venv /tmp/rsa-venv && /tmp/rsa-venv/bin/pip install rsatoolbox==0.3.2
    /tmp/rsa-venv/bin/python tools/compare_rsatoolbox.py --rsa-compare build-cpu/experiments/rsa_compare --out out/rsatoolbox

Data (seeded): 125 stimuli x 8 "layers" (units from a 10-d latent structure plus noise) and one
"area" of 150 neurons. Both sides get the same 1,000 bootstrap samples (stimulus indices drawn
with numpy). Checked: the correlation-distance RDMs, the full-set comparisons (Pearson,
Spearman, Kendall tau_A) and every bootstrap sample's comparison (rsatoolbox: RDMs.subsample_pattern,
which marks the cells pairing an image with its copy as NaN, then rdm.compare). Timed (best of
--repeat runs, same thread count, BLAS/OpenMP threads capped): RDMs + 1,000-sample Pearson
bootstrap over the 8 layers; rsatoolbox both as the explicit subsample/compare loop and as its
own inference.eval_bootstrap_pattern (N=1000, boot_noise_ceil=False). Writes DIR/compare_rsatoolbox.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rsa-compare", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(a.threads)
    import numpy as np
    try:
        import rsatoolbox
        from rsatoolbox.data import Dataset
        from rsatoolbox.rdm import calc_rdm, compare
        from rsatoolbox.model import ModelFixed
        from rsatoolbox.inference import eval_bootstrap_pattern
    except ImportError:
        sys.exit("compare_rsatoolbox: rsatoolbox is not installed in this python (see --help)")

    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(0)
    n, L = 125, 8
    latent = rng.standard_normal((n, 10))
    layers = []
    for l in range(L):
        units = 500 * (l + 1)
        x = latent @ rng.standard_normal((10, units)) + (1.0 + 0.3 * l) * rng.standard_normal((n, units))
        layers.append(np.maximum(x, 0).astype(np.float32))  # post-ReLU-like
    neural = (latent @ rng.standard_normal((10, 150)) + 2.0 * rng.standard_normal((n, 150))).astype(np.float32)
    samples = rng.integers(0, n, size=(a.samples, n)).astype(np.int32)
    paths = []
    for l, x in enumerate(layers):
        p = os.path.join(a.out, f"layer{l}.npy")
        np.save(p, x)
        paths.append(p)
    np.save(os.path.join(a.out, "neural.npy"), neural)
    np.save(os.path.join(a.out, "samples.npy"), samples)

    ours = {}
    for method in ("pearson", "spearman", "kendall_tau_a"):
        d = os.path.join(a.out, "ours_" + method)
        cmd = [a.rsa_compare, "--layers", ",".join(paths), "--neural", os.path.join(a.out, "neural.npy"), "--samples",
               os.path.join(a.out, "samples.npy"), "--comparison", method, "--out", d,
               "--repeat", str(a.repeat if method == "pearson" else 1)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ))
        with open(os.path.join(d, "rsa_compare.json")) as f:
            ours[method] = {"json": json.load(f), "rdms": np.load(os.path.join(d, "rdms.npy")), "boot": np.load(os.path.join(d, "boot.npy"))}

    # rsatoolbox: RDMs, full-set comparisons, the same bootstrap samples.
    def rt_rdms():
        desc = {"index": np.arange(n)}
        return ([calc_rdm(Dataset(x, obs_descriptors=desc), method="correlation") for x in layers],
                calc_rdm(Dataset(neural, obs_descriptors=desc), method="correlation"))

    model_rdms, data_rdm = rt_rdms()
    ref_rdms = np.stack([m.get_matrices()[0] for m in model_rdms] + [data_rdm.get_matrices()[0]])
    report = {"rsatoolbox_version": getattr(rsatoolbox, "__version__", "0.3.2 (pip)"), "stimuli": n, "layers": L,
              "samples": a.samples, "threads": a.threads}
    report["rdm_max_abs_diff"] = float(np.max(np.abs(ref_rdms - ours["pearson"]["rdms"])))
    rt_method = {"pearson": "corr", "spearman": "spearman", "kendall_tau_a": "tau-a"}
    for method, m in rt_method.items():
        full = np.array([compare(model_rdms[l], data_rdm, method=m)[0, 0] for l in range(L)])
        mine = np.array([lay["r"] for lay in ours[method]["json"]["layers"]])
        report[f"compare_{method}_max_abs_diff"] = float(np.max(np.abs(full - mine)))
    # Bootstrap: every sample (Pearson, Spearman), the first 100 (tau_A: rsatoolbox's tau-a is slow).
    def rt_boot(method, count):
        out = np.zeros((count, L))
        for s in range(count):
            idx = samples[s]
            d = data_rdm.subsample_pattern("index", idx)
            for l in range(L):
                out[s, l] = compare(model_rdms[l].subsample_pattern("index", idx), d, method=method)[0, 0]
        return out
    for method, count in (("pearson", a.samples), ("spearman", a.samples), ("kendall_tau_a", min(100, a.samples))):
        ref = rt_boot(rt_method[method], count)
        mine = ours[method]["boot"][:count]
        report[f"bootstrap_{method}_samples_checked"] = count
        report[f"bootstrap_{method}_max_abs_diff"] = float(np.max(np.abs(ref - mine)))
        report[f"bootstrap_{method}_sd_ref"] = [float(v) for v in ref.std(axis=0, ddof=1)]
        report[f"bootstrap_{method}_sd_ours"] = [float(v) for v in mine.std(axis=0, ddof=1)]
        if method == "pearson":
            lo_ref, hi_ref = np.percentile(ref, [2.5, 97.5], axis=0)
            lay = ours[method]["json"]["layers"]
            report["bootstrap_pearson_interval_max_abs_diff"] = float(max(np.max(np.abs(lo_ref - [x["lo"] for x in lay])),
                                                                        np.max(np.abs(hi_ref - [x["hi"] for x in lay]))))
            report["bootstrap_pearson_sd_max_abs_diff"] = float(np.max(np.abs(ref.std(axis=0, ddof=1) - [x["boot_sd"] for x in lay])))

    # Timing: RDMs + the 1,000-sample Pearson bootstrap over the 8 layers.
    def best_of(f):
        best = float("inf")
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t0)
        return best

    def explicit():
        rt_rdms()
        rt_boot("corr", a.samples)

    def packaged():
        ms, d = rt_rdms()
        models = [ModelFixed(f"layer{l}", ms[l]) for l in range(L)]
        eval_bootstrap_pattern(models, d, method="corr", N=a.samples, boot_noise_ceil=False)

    t_ours = ours["pearson"]["json"]["seconds"]
    t_explicit = best_of(explicit)
    t_packaged = best_of(packaged)
    report["seconds_ours"] = t_ours
    report["seconds_rsatoolbox_explicit_loop"] = t_explicit
    report["seconds_rsatoolbox_eval_bootstrap_pattern"] = t_packaged
    report["speed_ratio_vs_explicit_loop"] = t_explicit / t_ours
    report["speed_ratio_vs_eval_bootstrap_pattern"] = t_packaged / t_ours
    with open(os.path.join(a.out, "compare_rsatoolbox.json"), "w") as f:
        json.dump(report, f, indent=1)
    for k, v in report.items():
        if not isinstance(v, list):
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
