#!/usr/bin/env python3
"""bench/pytorch/forward_layers.py -- PyTorch's forward of AlexNet or VGG16 at 224, layer by layer
(issue 13: find which layers make our forward slower than PyTorch's).

The nets of forward.py (torchvision's layouts). Each leaf module gets a forward hook that takes
a timestamp; a layer's time is its timestamp minus the previous one (the leaves of a Sequential
run one after another, so the differences add up to the whole forward). Two warm-up forwards,
then --runs timed ones; prints one line per layer with the median ms, its share of the summed
medians, and the layer's GEMM GFLOP/s for Conv2d and Linear, then the total.

    forward_layers.py --net alexnet --batch 16 --threads 2
    forward_layers.py --net alexnet --batch 16 --threads 1 --cpu-time

--cpu-time takes the timestamps from time.thread_time() (the CPU time of the calling thread)
instead of the wall clock: with one thread all of PyTorch's work runs on it, so on a shared,
oversubscribed machine this is the work done rather than the other users' load (it needs
--threads 1; bench_cpu's "CPU" column with OMP_NUM_THREADS=1 is our side of it).

Our side: bench_cpu --benchmark_filter='conv2d_forward/alexnet' times the same convolution
shapes (bench/cpu/bench_conv_cpu.cpp). Run it in the venv run_compare.sh installs
($HOME/.cache/mirrorlab-torch-venv/bin/python); ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
MKL_ENABLE_INSTRUCTIONS=AVX2 in the environment caps PyTorch at AVX2 (as run_compare.sh --torch-isa).
"""
import argparse
import statistics
import time

import torch
from torch import nn

from forward import alexnet, vgg16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", choices=["alexnet", "vgg16"], default="alexnet")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cpu-time", action="store_true", help="thread CPU time instead of wall (needs --threads 1)")
    a = ap.parse_args()
    if a.cpu_time and a.threads != 1:
        ap.error("--cpu-time measures the calling thread only: it needs --threads 1")
    clock = time.thread_time if a.cpu_time else time.perf_counter
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = (alexnet if a.net == "alexnet" else vgg16)().eval()
    x = torch.rand(a.batch, 3, 224, 224) * 2 - 1

    leaves = [(name, m) for name, m in model.named_modules() if len(list(m.children())) == 0]
    stamps = []
    flops = {}
    for name, m in leaves:
        def hook(mod, inp, out, name=name):
            stamps.append((name, clock()))
            if isinstance(mod, nn.Conv2d):
                k = mod.weight.shape[1] * mod.weight.shape[2] * mod.weight.shape[3]
                flops[name] = 2.0 * out.numel() * k
            elif isinstance(mod, nn.Linear):
                flops[name] = 2.0 * out.numel() * mod.in_features
        m.register_forward_hook(hook)

    per_layer = {name: [] for name, _ in leaves}
    with torch.inference_mode():
        for i in range(a.warmup + a.runs):
            stamps.clear()
            t0 = clock()
            model(x)
            if i < a.warmup:
                continue
            prev = t0
            for name, t in stamps:
                per_layer[name].append(t - prev)
                prev = t
    med = {name: statistics.median(v) for name, v in per_layer.items()}
    total = sum(med.values())
    print(f"torch {torch.__version__} capability {torch.backends.cpu.get_cpu_capability()} "
          f"threads {torch.get_num_threads()} {a.net} batch {a.batch} "
          f"({'thread CPU time' if a.cpu_time else 'wall time'}, median of {a.runs})")
    for name, m in leaves:
        gf = f"{flops[name] / med[name] / 1e9:8.1f} GFLOP/s" if name in flops else ""
        print(f"{name:16s} {type(m).__name__:18s} {med[name] * 1e3:9.2f} ms {100 * med[name] / total:5.1f} % {gf}")
    print(f"{'total':16s} {'':18s} {total * 1e3:9.2f} ms")


if __name__ == "__main__":
    main()
