#!/usr/bin/env python3
"""The peer of bench_equivalence: the same conv-shared map solve in NumPy/SciPy.

64,000 rows (1,000 images x 8 x 8 sites; --images changes the count) of 3 x 3 x 128 neighbourhoods plus a bias column, the
float64 Gram X^T X and cross-covariance X^T Y by BLAS, ridge by scipy.linalg.cho_factor /
cho_solve. Prints the median of --runs timings of each part, in ms, as 'name ms'.
Run it with the threads you give the engine (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS)."""
import argparse
import time

import numpy as np
from scipy.linalg import cho_factor, cho_solve


def neighbourhoods(phi, m=3):
    n, c, h, w = phi.shape
    r = m // 2
    p = np.pad(phi, ((0, 0), (0, 0), (r, r), (r, r)))
    cols = [p[:, :, dy:dy + h, dx:dx + w] for dy in range(m) for dx in range(m)]
    x = np.stack(cols, axis=2)                      # (n, c, m*m, h, w)
    return x.transpose(0, 3, 4, 1, 2).reshape(n * h * w, c * m * m)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--images", type=int, default=1000, help="images of 128 x 8 x 8 features (rows = 64 x images)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    phi_x = rng.standard_normal((a.images, 128, 8, 8), dtype=np.float32)
    phi_gx = rng.standard_normal((a.images, 128, 8, 8), dtype=np.float32)
    phi_p = phi_x[:, :, ::-1, :]                   # P_g of a vertical flip: an exact permutation
    times = {"gram": [], "ridge_solve": [], "whole_path": []}
    for _ in range(a.runs):
        t0 = time.perf_counter()
        x = neighbourhoods(phi_p).astype(np.float64)
        x = np.hstack([x, np.ones((x.shape[0], 1))])
        y = phi_gx.transpose(0, 2, 3, 1).reshape(-1, 128).astype(np.float64)
        g = x.T @ x
        b = x.T @ y
        t1 = time.perf_counter()
        d = g.shape[0] - 1
        gc = g[:d, :d] - np.outer(g[:d, d], g[:d, d]) / g[d, d]
        pen = g.copy()
        pen[np.arange(d), np.arange(d)] += 1e-2 * np.trace(gc) / d
        w = cho_solve(cho_factor(pen), b)
        t2 = time.perf_counter()
        times["gram"].append(t1 - t0)
        times["ridge_solve"].append(t2 - t1)
        times["whole_path"].append(t2 - t0)
        assert np.isfinite(w).all()
    for k, v in times.items():
        print(f"{k} {1000 * float(np.median(v)):.1f}")


if __name__ == "__main__":
    main()
