#!/usr/bin/env python3
"""bench/pytorch/forward.py -- PyTorch's side of the inference comparison (issue 13).

AlexNet and VGG16 exactly as torchvision lays them out (and as models/alexnet.cpp and
models/vgg16.cpp build them; written out here so torchvision is not needed), one forward in
eval mode under torch.inference_mode() on a fixed random batch of 224x224x3 images (uniform in
[-1, 1), seeded). Two warm-up forwards, then 7 timed ones (wall clock); prints one JSON line with
the median, as bench/cpu/bench_forward.cpp reports ours.

    forward.py --net vgg16 --batch 4 --threads 2

The JSON also carries torch.backends.cpu.get_cpu_capability(): the kernels ATen picked at run
time (ATEN_CPU_CAPABILITY=avx2 in the environment caps them at AVX2 on an AVX-512 machine).
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def alexnet(num_classes: int = 1000) -> nn.Module:
    return nn.Sequential(
        nn.Sequential(  # features
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2)),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
        nn.Sequential(  # classifier
            nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes)))


def vgg16(num_classes: int = 1000) -> nn.Module:
    layers, c = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(
        nn.Sequential(*layers), nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
        nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
                      nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, num_classes)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # resnet50 and vit_b_16 (issue 22) are torchvision's own modules: torchvision must be installed
    # (tests/python/compare_torchvision.py installs it into the same venv).
    ap.add_argument("--net", choices=["alexnet", "vgg16", "resnet50", "vit_b_16"], default="alexnet")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if a.net in ("resnet50", "vit_b_16"):
        import torchvision
        model = getattr(torchvision.models, a.net)(weights=None).eval()
    else:
        model = (alexnet if a.net == "alexnet" else vgg16)().eval()
    x = torch.rand(a.batch, 3, 224, 224) * 2 - 1
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            model(x)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "torch_version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "net": a.net,
        "batch": a.batch,
        "images_per_s": a.batch / med,
        "median_s": med,
        "times_s": times,
    }))


if __name__ == "__main__":
    main()
