#!/usr/bin/env python3
"""bench/pytorch/rise.py -- PyTorch's side of the RISE speed comparison (issue 18, "Speed").

Reads what bench_rise --dump DIR wrote (the image, the very masks our engine op drew, the
network's weights, the explained module) and computes the same map of the same unit,
map = (1/N) sum_i m_i * score(g + m_i * (x - g)), the network cut after the explained module
(pre-ReLU), in one of two ways:

  --mode per-mask   the released code's approach: one masked image at a time through the net;
  --mode batched    the same computation batched: --batch masked images per forward, the map
                    as one matrix product of the scores with the masks.

Two warm-up passes over 10 % of the masks, then --repeats timed runs over all of them; prints one
JSON line with the median masks/s and the largest |map - ours| relative to max |ours| (same
masks, same weights, so the maps must agree to float rounding: the check that the two sides
compute the same thing).

    rise.py --dump DIR --model vgg_small --mode batched --batch 250 --threads 2
"""
import argparse
import json
import statistics
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

import train_step  # vgg_small with models/vgg_small.cpp's module names


def alexnet(num_classes: int = 1000) -> nn.Sequential:
    """torchvision's AlexNet with models/alexnet.cpp's module names (features.N, classifier.N)."""
    return nn.Sequential(OrderedDict([
        ("features", nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))),
        ("avgpool", nn.AdaptiveAvgPool2d((6, 6))), ("flatten", nn.Flatten()),
        ("classifier", nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes)))]))


def cut_after(model: nn.Module, path: str) -> nn.Sequential:
    """The Sequential that runs `model` up to and including the module at dotted `path`."""
    head, _, rest = path.partition(".")
    layers = []
    for name, m in model.named_children():
        if name == head:
            layers.append(cut_after(m, rest) if rest else m)
            return nn.Sequential(*layers)
        layers.append(m)
    raise SystemExit(f"rise.py: no module '{path}'")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", required=True, type=Path)
    ap.add_argument("--model", choices=["vgg_small", "alexnet"], required=True)
    ap.add_argument("--mode", choices=["per-mask", "batched"], required=True)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--unit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0,
                    help="time the first LIMIT masks only (the slow per-mask side); the map check then skips")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    image = torch.from_numpy(np.load(a.dump / "image.npy"))   # (1, C, S, S)
    masks = torch.from_numpy(np.load(a.dump / "masks.npy"))   # (N, 1, S, S)
    ours = np.load(a.dump / "map.npy")                        # (1, S, S)
    meta = json.loads((a.dump / "norm.json").read_text())
    C, S = image.shape[1], image.shape[2]
    N = masks.shape[0]
    model = (train_step.vgg_small(C, S) if a.model == "vgg_small" else alexnet())
    state = {p.stem: torch.from_numpy(np.load(p)) for p in (a.dump / "weights").glob("*.npy")}
    missing = model.load_state_dict(state, strict=False)
    if missing.unexpected_keys or [k for k in missing.missing_keys if not k.endswith("num_batches_tracked")]:
        raise SystemExit(f"rise.py: weights do not line up: {missing}")
    net = cut_after(model, meta["module"]).eval()
    mean = torch.tensor(meta["mean"]).view(1, C, 1, 1)
    std = torch.tensor(meta["std"]).view(1, C, 1, 1)
    g = float(meta["gray"])
    x_minus_g = image - g
    flat = masks.view(N, S * S)

    def run(count: int) -> torch.Tensor:
        scores = torch.empty(count)
        with torch.inference_mode():
            if a.mode == "per-mask":
                for i in range(count):
                    xm = g + masks[i:i + 1] * x_minus_g
                    scores[i] = net((xm - mean) / std).reshape(1, -1)[0, a.unit]
            else:
                for i0 in range(0, count, a.batch):
                    m = masks[i0:min(i0 + a.batch, count)]
                    xm = g + m * x_minus_g
                    scores[i0:i0 + m.shape[0]] = net((xm - mean) / std).reshape(m.shape[0], -1)[:, a.unit]
            return (scores @ flat[:count]) / count

    count = min(a.limit, N) if a.limit > 0 else N
    for _ in range(2):
        run(max(1, count // 10))
    times, sal = [], None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        sal = run(count)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    diff = None
    if count == N:
        diff = float(np.abs(sal.numpy().reshape(-1) - ours.reshape(-1)).max() / max(np.abs(ours).max(), 1e-30))
    print(json.dumps({"side": f"pytorch-{a.mode}", "torch_version": torch.__version__,
                      "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
                      "model": a.model, "masks": count, "batch": 1 if a.mode == "per-mask" else a.batch,
                      "median_s": med, "masks_per_s": count / med, "max_rel_diff_vs_ours": diff}))


if __name__ == "__main__":
    main()
