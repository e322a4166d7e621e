#!/usr/bin/env python3
"""The same cross-validated ridge problem through himalaya's KernelRidgeCV (numpy backend) and
scikit-learn's RidgeCV, beside our bench_ridge (bench/ridge/bench_ridge.cpp), on the same group
folds (leave one session out), the same penalties, the same threads.

Usage: compare_peers.py DUMP_DIR   (the folder `bench_ridge --dump DIR` wrote)

Compared results and tolerances:
  himalaya: per-target alpha* (same grid) must agree for >= 99 % of targets, and the fold-mean
    held-out R2 at alpha* within 1e-3 (both solve the same centred problem; ours multiplies in
    float32 and himalaya in float64 here, so differences come from the ~1e-6 relative rounding
    amplified by at most the grid's condition number ~1e4 at the smallest alpha).
  scikit-learn RidgeCV with cv=folds chooses ONE alpha for all targets (its mean-over-targets R2);
    ours must give the same argmax of the mean over targets of our fold-mean R2.
Timing: wall time of each fit (ours read from engine_seconds.txt, measured by bench_ridge).
SKIP_SKLEARN=1 leaves scikit-learn out (its fit takes ~13 min at the paper size on 2 cores), e.g.
for the AVX2 comparison, where OPENBLAS_CORETYPE=Haswell holds NumPy's OpenBLAS to AVX2 as well.
"""
import json
import os
import sys
import time

import numpy as np


def main():
    d = sys.argv[1]
    X = np.load(os.path.join(d, "X.npy")).astype(np.float64)
    Y = np.load(os.path.join(d, "Y.npy")).astype(np.float64)
    groups = np.load(os.path.join(d, "groups.npy")).astype(int)
    alphas = np.load(os.path.join(d, "alphas.npy")).astype(np.float64)
    ours_best = np.load(os.path.join(d, "best_alpha.npy")).astype(int)
    ours_r2 = np.load(os.path.join(d, "r2.npy"))
    ours_cv = np.load(os.path.join(d, "cv_r2.npy"))
    ours_s = float(open(os.path.join(d, "engine_seconds.txt")).read())
    from sklearn.model_selection import LeaveOneGroupOut
    folds = list(LeaveOneGroupOut().split(X, Y, groups))
    out = {"n": X.shape[0], "p": X.shape[1], "t": Y.shape[1], "alphas": len(alphas), "folds": len(folds),
           "threads": os.environ.get("OMP_NUM_THREADS"), "engine_seconds": ours_s}

    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.scoring import r2_score
    set_backend("numpy")
    t0 = time.perf_counter()
    kr = KernelRidgeCV(alphas=alphas, kernel="linear", fit_intercept=True, cv=folds,
                       solver_params=dict(score_func=r2_score, n_targets_batch=2000))
    kr.fit(X.astype(np.float32), Y.astype(np.float32))
    out["himalaya_seconds"] = time.perf_counter() - t0
    hb = np.asarray(kr.best_alphas_)
    h_idx = np.array([int(np.argmin(np.abs(np.log(alphas) - np.log(a)))) for a in hb])
    out["himalaya_same_alpha"] = float(np.mean(h_idx == ours_best))
    hs = np.asarray(kr.cv_scores_).reshape(-1)
    if hs.shape[0] == Y.shape[1]:
        out["himalaya_max_abs_d_r2"] = float(np.max(np.abs(hs - ours_r2)))
    out["speedup_vs_himalaya"] = out["himalaya_seconds"] / ours_s

    out["ours_mean_over_targets_argmax"] = int(np.argmax(ours_cv.mean(axis=1)))
    sk_ok = True
    if os.environ.get("SKIP_SKLEARN") != "1":
        from sklearn.linear_model import RidgeCV
        t0 = time.perf_counter()
        sk = RidgeCV(alphas=alphas, fit_intercept=True, cv=folds).fit(X, Y)
        out["sklearn_seconds"] = time.perf_counter() - t0
        sk_idx = int(np.argmin(np.abs(np.log(alphas) - np.log(sk.alpha_))))
        out["sklearn_alpha_index"] = sk_idx
        out["speedup_vs_sklearn"] = out["sklearn_seconds"] / ours_s
        sk_ok = sk_idx == out["ours_mean_over_targets_argmax"]
    out["openblas_coretype"] = os.environ.get("OPENBLAS_CORETYPE", "(auto)")
    print(json.dumps(out, indent=1))
    ok = out["himalaya_same_alpha"] >= 0.99 and out.get("himalaya_max_abs_d_r2", 0) <= 1e-3 and sk_ok
    print("compare_peers: results " + ("agree" if ok else "DISAGREE") + " within the stated tolerances")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
