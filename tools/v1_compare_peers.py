#!/usr/bin/env python3
"""Outside reference for the V1 study's rotation-equivariant convolution (issue 21, item 6).

Not a test dependency: it needs PyPI's torch and escnn in their own virtual environment
(../shared/PEERS.md); tools/v1_compare_peers.sh makes that environment (torch from TORCH_VENV, as
bench/pytorch/run_compare.sh installs it, plus `pip install escnn`) and runs this script in it.

What it measures, on the ci preset's sizes (20 x 20 input, layer 1: 1 -> 4 x 8 with K 9, layer 2:
32 -> 4 x 8 with K 3, SAME padding):
1. escnn's C8 regular-representation R2Conv stack: its parameter count, and its equivariance error
   under 90- and 45-degree input turns (relative L2 over an interior disc), next to the numbers of
   our tests (tests/test_rot_equivariant.cpp: exact at 90 degrees, 0.020 at 45 degrees).
2. Training speed of the ci preset, side by side in one run, alternating ours / PyTorch `--runs`
   times so the other users' load falls on both: ours is `fit_v1 --preset ci --skip-cnns
   --skip-shuffled --max-steps S` on the ci dataset (--data), read back as the equivariant fit's
   updates / seconds and updates / cpu_seconds from its results.json (validation passes every 20
   steps included); PyTorch's is the same model (the Hermite basis of models/rot_equivariant.cpp
   ported to numpy, weights assembled each forward, BN, softplus, factorised readout, Poisson loss
   and the three regularisers, Adam) over S steps at batch 64 on minibatches of the same images,
   with the same validation pass every 20 steps (the 200 validation images, eval mode, no
   gradient), wall and process CPU time. Both with --threads threads (OMP_NUM_THREADS,
   torch.set_num_threads). Figure to reach (issue): ours >= 1.5 x PyTorch on the CPU.
Prints a Markdown table (medians over the runs, load average beside each run).
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
                mus += [m, m]
                nus += [n, n]
                parts += ["r", "i"]
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


def load_npy_images(data, n):
    """The first n training images and the validation images, z-scored with the training images'
    mean and SD (as fit_v1 loads them)."""
    x = np.load(os.path.join(data, "images_train.npy"))[:n].astype(np.float32)
    v = np.load(os.path.join(data, "images_val.npy")).astype(np.float32)
    mu, sd = x.mean(), x.std()
    return (x - mu) / sd, (v - mu) / sd


def torch_run(torch, data, steps, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    imgs, val = load_npy_images(data, 1500)
    resp = np.load(os.path.join(data, "responses_train.npy"))[:len(imgs)].astype(np.float32)
    H, W, N = imgs.shape[1], imgs.shape[2], resp.shape[1]
    m = torch_model(torch, H, W, N)
    opt = torch.optim.Adam(m.parameters(), lr=0.005)
    X = torch.tensor(imgs)[:, None]
    Y = torch.tensor(resp)
    rng = np.random.default_rng(0)

    Xv = torch.tensor(val)[:, None]
    Yv = torch.tensor(np.load(os.path.join(data, "responses_val.npy")).astype(np.float32))

    def step():
        idx = torch.tensor(rng.choice(len(imgs), 64, replace=False))
        opt.zero_grad()
        r = m(X[idx])
        ((r - Y[idx] * torch.log(r + 1e-5)).sum(1).mean() + m.regularizer()).backward()
        opt.step()

    def validate():  # what the ci fit does every 20 steps: the Poisson loss on the validation set
        m.eval()
        with torch.no_grad():
            r = m(Xv)
            float((r - Yv * torch.log(r + 1e-5)).sum(1).mean())
        m.train()
    for _ in range(5):  # warm-up
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        step()
        if (k + 1) % 20 == 0:
            validate()
    return steps / (time.perf_counter() - t0), steps / (time.process_time() - c0)


def ours_run(fit_bin, data, steps, threads, tmp):
    import shutil
    import subprocess
    out = os.path.join(tmp, "ours")
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run([fit_bin, "--data", data, "--preset", "ci", "--out", out, "--skip-cnns", "--skip-shuffled",
                    "--max-steps", str(steps), "--threads", str(threads), "--quiet"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    eq = json.load(open(os.path.join(out, "results.json")))["models"]["equivariant"]
    u = float(eq["updates"])
    return u / float(eq["seconds"]), u / float(eq["cpu_seconds"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="a simulate_v1 --preset ci dataset folder")
    ap.add_argument("--fit-bin", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build-cpu",
                                                      "experiments", "fit_v1"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tmp", default="/tmp/v1_compare_peers")
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rows = ["| measure | ours | reference |", "|---|---|---|"]
    try:
        import escnn
        params, errs = escnn_check(torch)
        rows.append("| conv parameters, C8 regular 1->4x8 (K 9), 32->4x8 (K 3) | 948 | %d (escnn %s) |" % (
            params, getattr(escnn, "__version__", "")))
        rows.append("| relative equivariance error, 90-degree turn | exact (< 1e-4 abs., tests) | %.2g (escnn) |" % errs[90])
        rows.append("| relative equivariance error, 45-degree turn, r <= 7 px | 0.020 (tests) | %.3f (escnn) |" % errs[45])
    except ImportError as e:
        rows.append("| escnn | - | not installed (%s) |" % e)
    if a.data:
        os.makedirs(a.tmp, exist_ok=True)
        per = []
        for k in range(a.runs):
            l0 = os.getloadavg()[0]
            o = ours_run(a.fit_bin, a.data, a.steps, a.threads, a.tmp)
            l1 = os.getloadavg()[0]
            t = torch_run(torch, a.data, a.steps, a.threads)
            per.append((o, t, l0, l1))
            print("run %d: ours %.2f steps/s wall, %.2f steps/CPU-s (load %.1f); PyTorch %.2f steps/s wall, %.2f "
                  "steps/CPU-s (load %.1f)" % (k + 1, o[0], o[1], l0, t[0], t[1], l1), flush=True)
        med = lambda v: float(np.median(v))
        ow, oc = med([p[0][0] for p in per]), med([p[0][1] for p in per])
        tw, tc = med([p[1][0] for p in per]), med([p[1][1] for p in per])
        rows.append("| ci training, steps/s wall (median of %d, batch 64, %d threads, %d steps) | %.2f | %.2f "
                    "(PyTorch %s); ours/PyTorch %.2f |" % (a.runs, a.threads, a.steps, ow, tw, torch.__version__, ow / tw))
        rows.append("| ci training, steps per CPU-second | %.2f | %.2f; ours/PyTorch %.2f |" % (oc, tc, oc / tc))
        rows.append("| load average (1 min) over the runs | %s | |" % ", ".join("%.1f/%.1f" % (p[2], p[3]) for p in per))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
