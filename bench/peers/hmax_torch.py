"""HMAX to C2 in PyTorch: the same model as models/hmax.h (CBCL standard model, S1 16 sizes x 4
orientations, C1 8 bands top-left, S2 1000 prototypes of sizes 4/8/12/16, C2), written with
conv2d / max_pool2d as van Vliet's port does, for bench/peers/run_compare.sh. Batch 16 of
227x227 gray uniform noise, torch.set_num_threads(T); prints the median images/s of 5 timed
forwards after 1 warm-up. Usage: hmax_torch.py [THREADS]
"""
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def gabor(j, o):
    size = 7 + 2 * j
    div = 4.0 - 0.05 * j
    lam = 2.0 * size / div
    sigma = 0.8 * lam
    theta = [90.0, -45.0, 0.0, 45.0][o] * math.pi / 180
    c = (size + 1) // 2
    f = np.zeros((size, size))
    for di in range(1 - c, size - c + 1):
        for dj in range(1 - c, size - c + 1):
            if math.sqrt(di * di + dj * dj) <= size / 2:
                x = di * math.cos(theta) - dj * math.sin(theta)
                y = di * math.sin(theta) + dj * math.cos(theta)
                f[dj + c - 1, di + c - 1] = math.exp(-(x * x + 0.09 * y * y) / (2 * sigma * sigma)) * math.cos(2 * math.pi * x / lam)
    f -= f.mean()
    return f / np.sqrt((f * f).sum())


class Hmax(torch.nn.Module):
    def __init__(self, protos):
        super().__init__()
        self.bank = [torch.tensor(np.stack([gabor(j, o) for o in range(4)])[:, None], dtype=torch.float32) for j in range(16)]
        self.protos = protos
        self.pp = [(p * p).sum(dim=(1, 2, 3)) for p in protos]

    def forward(self, x):
        x2 = x * x
        s1 = []
        for j, w in enumerate(self.bank):
            s = w.shape[-1]
            h = (s - 1) // 2
            r = F.conv2d(x, w).abs() / torch.sqrt(F.conv2d(x2, torch.ones(1, 1, s, s)) + 1e-12)
            s1.append(F.pad(r, (h, h, h, h)))
        c1 = []
        for b in range(8):
            m = 8 + 2 * b
            step = (m + 1) // 2
            pool = [F.max_pool2d(F.pad(s1[2 * b + i], (0, m - 1, 0, m - 1)), m, step) for i in range(2)]
            c1.append(torch.maximum(pool[0], pool[1]))
        c2 = []
        for p, pp in zip(self.protos, self.pp):
            n = p.shape[-1]
            best = None
            for c in c1:
                if c.shape[-1] < n:
                    continue
                xx = F.conv2d(c.pow(2).sum(1, keepdim=True), torch.ones(1, 1, n, n))
                d2 = torch.relu(xx + F.conv2d(c, -2 * p, pp))
                r = torch.exp(-d2 / 2).amax(dim=(2, 3))
                best = r if best is None else torch.maximum(best, r)
            c2.append(best)
        return torch.cat(c2, 1)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(2)
    protos = [torch.rand(250, 4, n, n, generator=g) * 0.5 for n in (4, 8, 12, 16)]
    model = Hmax(protos)
    x = torch.rand(16, 1, 227, 227, generator=g)
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(5):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"hmax_torch: torch {torch.__version__}, {threads} threads: batch 16 to C2 in {med:.3f} s (median of 5): {16 / med:.2f} images/s")


if __name__ == "__main__":
    main()
