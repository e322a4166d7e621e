#!/usr/bin/env python3
"""Outside reference for the V1 study's rotation-equivariant convolution (issue 21, item 6).

Not a test dependency: it needs PyPI's torch and escnn, installed in their own virtual
environment (../shared/PEERS.md), e.g.
    python3 -m venv ~/.cache/mirrorlab-escnn-venv
    ~/.cache/mirrorlab-escnn-venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    ~/.cache/mirrorlab-escnn-venv/bin/pip install escnn
    ~/.cache/mirrorlab-escnn-venv/bin/python tools/v1_compare_peers.py --fit-dir OUT [--threads 2]

What it measures, on the ci preset's sizes (20 x 20 input, layer 1: 1 -> 4 x 8 with K 9, layer 2:
32 -> 4 x 8 with K 3, SAME padding):
1. escnn's C8 regular-representation R2Conv stack: its parameter count, and its equivariance error
   under 90- and 45-degree input turns (relative L2 over an interior disc), next to the numbers of
   our tests (tests/test_rot_equivariant.cpp: exact at 90 degrees, 0.020 at 45 degrees).
2. The same model as ours written in PyTorch (the Hermite basis of models/rot_equivariant.cpp
   ported to numpy, weights assembled each forward, BN, softplus, factorised readout, Poisson loss
   and the three regularisers, Adam), timed over `--steps` training steps at batch 64 with
   torch.set_num_threads(--threads); compared with our fit's updates per second read from
   OUT/results.json (our figure includes the validation passes every 20 steps, so it favours
   PyTorch slightly). Figure to reach (issue): ours >= 1.5 x PyTorch on the CPU.
Prints a Markdown table. This script was written but NOT run in the issue-21 session (no torch).
"""
import argparse
import json
import math
import os
import time

import numpy as np


def hermite_basis(K):
    """(Q, K, K) float64, as models/rot_equivariant.cpp: ranks < K, 2K grid, unit norm, 2x2 sums."""
    mus, nus, parts = [], [], []
    for rank in range(K):
        for m in range(rank % 2, rank + 1, 2):
            n = (rank - m) // 2
            if m == 0:
                mus.append(0), nus.append(n), parts.append("z")
            else:
                mus += [m, m], nus += [n, n], parts += ["r", "i"]
    S = 2 * K
    xmax = 2 * math.sqrt(K) * (1 - 1 / S)
    xs = np.linspace(-xmax, xmax, S)
    y, x = np.meshgrid(xs, xs, indexing="ij")
    t, phi = x * x + y * y, np.arctan2(y, x)
    out = []
    for m, n, p in zip(mus, nus, parts):
        c = [math.gamma(m + n + 1) * math.gamma(n + 1) * (-2.0) ** (n - k)
             / (math.gamma(m + 1 + k) * math.gamma(k + 1) * math.gamma(n + 1 - k)) for k in range(n + 1)]
        L = sum(ck * t ** k for k, ck in enumerate(c))
        rad = np.exp(-t / 4) * t ** (m / 2) * L
        f = rad * np.cos(m * phi) / math.sqrt(2) if p == "z" else rad * (np.cos(m * phi) if p == "r" else np.sin(m * phi))
        f = f / np.sqrt((f ** 2).sum())
        out.append(f.reshape(K, 2, K, 2).sum(axis=(1, 3)))
    return np.array(out), mus, parts


def rotation(mus, parts, alpha):
    Q = len(mus)
    M = np.zeros((Q, Q))
    q = 0
    while q < Q:
        if parts[q] == "z":
            M[q, q] = 1
            q += 1
            continue
        a = mus[q] * alpha
        M[q, q], M[q, q + 1], M[q + 1, q], M[q + 1, q + 1] = math.cos(a), math.sin(a), -math.sin(a), math.cos(a)
        q += 2
    return M


def torch_model(torch, H, W, N, R=8, F=(4, 4), K=(9, 3)):
    nn = torch.nn

    class RotConv(nn.Module):
        def __init__(self, cin, f, k, first):
            super().__init__()
            H_, mus, parts = hermite_basis(k)
            Q = len(mus)
            B = [rotation(mus, parts, 2 * math.pi * i / R).T @ H_.reshape(Q, -1) for i in range(R)]
            self.register_buffer("B", torch.tensor(np.array(B), dtype=torch.float32))
            c = torch.randn(f, cin, Q) * 0.1
            self.coeffs = nn.Parameter(c.clamp(-0.2, 0.2))
            self.f, self.cin, self.k, self.first = f, cin, k, first

        def weights(self):
            flat = self.coeffs.reshape(self.f * self.cin, -1)
            blocks = []
            for i in range(R):
                w = flat @ self.B[i]
                if not self.first and i > 0:
                    w = torch.roll(w.reshape(self.f, R, -1), shifts=i, dims=1)
                blocks.append(w.reshape(self.f, self.cin, self.k, self.k))
            return torch.cat(blocks, 0)

        def forward(self, x):
            return torch.nn.functional.conv2d(x, self.weights(), padding=self.k // 2)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = RotConv(1, F[0], K[0], True)
            self.c2 = RotConv(R * F[0], F[1], K[1], False)
            self.bn1 = nn.BatchNorm2d(R * F[0], eps=1e-3, momentum=0.1)
            self.bn2 = nn.BatchNorm2d(R * F[1], eps=1e-3, momentum=0.1, affine=False)
            self.beta2 = nn.Parameter(torch.zeros(R * F[1]))
            self.mask = nn.Parameter(torch.randn(H * W, N) * 0.01)
            self.w = nn.Parameter(torch.randn(R * F[1], N) * 0.01)
            self.b = nn.Parameter(torch.zeros(N))
            lap = torch.tensor([[0.25, 0.5, 0.25], [0.5, -3, 0.5], [0.25, 0.5, 0.25]])
            self.register_buffer("lap", lap.reshape(1, 1, 3, 3))

        def forward(self, x):
            h = torch.nn.functional.softplus(self.bn1(self.c1(x)))
            h = self.bn2(self.c2(h)) + self.beta2.reshape(1, -1, 1, 1)
            B, C = h.shape[:2]
            pooled = (h.reshape(B * C, -1) @ self.mask.abs()).reshape(B, C, -1)
            return torch.nn.functional.softplus((pooled * self.w).sum(1) + self.b)

        def regularizer(self):
            r = 0.015 * (self.mask.abs().sum(0) * self.w.abs().sum(0)).sum()
            for l, (conv, rel) in enumerate(((self.c1, 1.0), (self.c2, 0.5))):
                w = conv.weights()
                O, I, k, _ = w.shape
                lw = torch.nn.functional.conv2d(w.reshape(O * I, 1, k, k), self.lap, padding=1)
                r = r + 0.01 * rel * ((lw ** 2).reshape(O, -1).sum(1) / (w ** 2).reshape(O, -1).sum(1)).sum()
                if l > 0:
                    per_k = ((w ** 2).reshape(O, I, -1).sum(2) + 1e-12).sqrt().sum(1)
                    r = r + 0.01 * (per_k / ((w ** 2).reshape(O, -1).sum(1) + 1e-12).sqrt()).sum()
            return r

    return Model()


def escnn_check(torch, S=31):
    from escnn import gspaces, nn as enn
    g = gspaces.rot2dOnR2(N=8)
    t_in = enn.FieldType(g, [g.trivial_repr])
    t1 = enn.FieldType(g, 4 * [g.regular_repr])
    t2 = enn.FieldType(g, 4 * [g.regular_repr])
    net = enn.SequentialModule(enn.R2Conv(t_in, t1, kernel_size=9, padding=4, bias=False), enn.ELU(t1),
                               enn.R2Conv(t1, t2, kernel_size=3, padding=1, bias=False)).eval()
    params = sum(p.numel() for p in net.parameters())
    yy, xx = np.mgrid[0:S, 0:S] - (S - 1) / 2
    img = sum(np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * s * s)) * a
              for bx, by, s, a in np.random.default_rng(0).uniform([-8, -8, 2, -1], [8, 8, 4, 1], (6, 4)))
    x = enn.GeometricTensor(torch.tensor(img, dtype=torch.float32)[None, None], t_in)
    errs = {}
    with torch.no_grad():
        y = net(x)
        for k, deg in ((2, 90), (1, 45)):
            elem = g.fibergroup.element(k)
            yt = net(x.transform(elem)).tensor
            ref = y.transform(elem).tensor
            mask = torch.tensor((xx ** 2 + yy ** 2) <= 49)
            errs[deg] = float(((yt - ref)[..., mask] ** 2).sum().sqrt() / (ref[..., mask] ** 2).sum().sqrt())
    return params, errs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fit-dir", help="a fit_v1 --preset ci output folder (our training speed)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rows = ["| measure | ours | reference |", "|---|---|---|"]
    try:
        params, errs = escnn_check(torch)
        rows.append("| conv parameters, C8 regular 1->4x8 (K 9), 32->4x8 (K 3) | 948 | %d (escnn) |" % params)
        rows.append("| relative equivariance error, 90-degree turn | exact (< 1e-4 abs., tests) | %.2g (escnn) |" % errs[90])
        rows.append("| relative equivariance error, 45-degree turn, r <= 7 px | 0.020 (tests) | %.3f (escnn) |" % errs[45])
    except ImportError as e:
        rows.append("| escnn | - | not installed (%s) |" % e)
    H = W = 20
    N = 128
    m = torch_model(torch, H, W, N)
    opt = torch.optim.Adam(m.parameters(), lr=0.005)
    x = torch.randn(64, 1, H, W)
    y = torch.poisson(torch.ones(64, N))
    for _ in range(5):  # warm-up
        opt.zero_grad()
        r = m(x)
        ((r - y * torch.log(r + 1e-5)).sum(1).mean() + m.regularizer()).backward()
        opt.step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        opt.zero_grad()
        r = m(x)
        ((r - y * torch.log(r + 1e-5)).sum(1).mean() + m.regularizer()).backward()
        opt.step()
    torch_rate = a.steps / (time.perf_counter() - t0)
    ours = "-"
    if a.fit_dir:
        res = json.load(open(os.path.join(a.fit_dir, "results.json")))
        eq = res["models"]["equivariant"]
        ours_rate = float(eq["updates"]) / float(eq["seconds"])
        ours = "%.1f steps/s (ratio ours/PyTorch %.2f)" % (ours_rate, ours_rate / torch_rate)
    rows.append("| ci training steps per second, batch 64, %d threads | %s | %.1f (PyTorch %s) |" % (
        a.threads, ours, torch_rate, torch.__version__))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
