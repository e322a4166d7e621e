#!/usr/bin/env python3
"""bench/pytorch/train_step.py -- PyTorch's side of the training-throughput comparison.

The small VGG-like net of SCIENCE.md (Figure 4), exactly as models/vgg_small.cpp builds it, and
the same training step as bench/cpu/bench_train_step.cpp:
    zero_grad -> forward in train mode (batch-norm batch statistics, dropout)
    -> cross_entropy -> backward -> SGD(lr 1e-3, momentum 0.9) step
on one fixed random batch (inputs uniform in [-1, 1), labels in [0, 10), seeded), batch 256.
Three warm-up steps, then 17 timed steps (wall clock); prints one JSON line with the median.

    train_step.py --shape 32x32x3 --threads 2

bench/pytorch/run_compare.sh runs it beside our benchmark; see there for the install.
"""
import argparse
import json
from collections import OrderedDict
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


def vgg_small(in_channels: int, image_size: int, num_classes: int = 10) -> nn.Sequential:
    """conv1_1 3x3 C->32, ReLU, BN(32); conv1_2 32->32, ReLU; max-pool 2/2;
    conv2_1 32->64, ReLU, BN(64); conv2_2 64->128, ReLU; max-pool 2/2; flatten;
    fc1 -> 256, ReLU, dropout .5; fc2 256->256, ReLU, dropout .5; fc3 256->classes. No padding."""
    s = ((image_size - 4) // 2 - 4) // 2  # spatial size after the four unpadded convs and two pools
    # Module names as in models/vgg_small.cpp, so the two state dicts line up.
    return nn.Sequential(OrderedDict([
        ("conv1_1", nn.Conv2d(in_channels, 32, 3)),
        ("relu1_1", nn.ReLU()),
        ("bn1_1", nn.BatchNorm2d(32)),
        ("conv1_2", nn.Conv2d(32, 32, 3)),
        ("relu1_2", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2_1", nn.Conv2d(32, 64, 3)),
        ("relu2_1", nn.ReLU()),
        ("bn2_1", nn.BatchNorm2d(64)),
        ("conv2_2", nn.Conv2d(64, 128, 3)),
        ("relu2_2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(128 * s * s, 256)),
        ("relu_fc1", nn.ReLU()),
        ("drop1", nn.Dropout(0.5)),
        ("fc2", nn.Linear(256, 256)),
        ("relu_fc2", nn.ReLU()),
        ("drop2", nn.Dropout(0.5)),
        ("fc3", nn.Linear(256, num_classes)),
    ]))


def parse_shape(text: str):
    """'32x32x3' -> (32, 3): height x width x channels, square images only."""
    try:
        h, w, c = (int(v) for v in text.lower().split("x"))
    except ValueError:
        sys.exit(f"train_step.py: --shape wants HxWxC such as 32x32x3, got '{text}'")
    if h != w or c not in (1, 3) or h < 20:
        sys.exit(f"train_step.py: --shape {text}: vgg_small takes square images of side >= 20 with 1 or 3 channels")
    return h, c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="32x32x3", help="HxWxC (28x28x1 or 32x32x3)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=17)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    size, channels = parse_shape(a.shape)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = vgg_small(channels, size)
    model.train()
    # The notebooks' CIFAR-10 recipe: SGD, lr 1e-3, momentum 0.9.
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.rand(a.batch, channels, size, size) * 2 - 1
    y = torch.randint(0, 10, (a.batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)  # drop the gradients, as our zero_grad (1.13 defaults to zeroing)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "torch_version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # ATen's kernels: avx512, avx2, ...
        "threads": torch.get_num_threads(),
        "shape": a.shape,
        "batch": a.batch,
        "images_per_s": a.batch / med,
        "median_step_s": med,
        "step_s": times,
    }))


if __name__ == "__main__":
    main()
