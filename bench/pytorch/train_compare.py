#!/usr/bin/env python3
"""Engine training vs PyTorch training of the demo's recipe (issue 16); run by train_compare.sh.

  train_compare.py train --variant none|sym|asym --seed S --out DIR [--epochs 3] [--threads 2]
                         [--data-dir /usr/share/datasets/fashion-mnist] [--max-batches K]
      Trains vgg_small in PyTorch with the recipe of tools/demo.sh and experiments/training/train.cpp:
      Fashion-MNIST 28x28x1, 10 % of the training set held out for validation (seeded), the fit
      set's per-channel mean/std normalisation, sym/asym flips with p = 0.5 on the training and the
      test set (asym: flipped label c -> c + 10), batch 256 shuffled every epoch, Adam lr 1e-3
      (0.9, 0.999, eps 1e-8), 3 epochs, cross-entropy; PyTorch's default initialisation
      (U(+-1/sqrt(fan_in)) for weights and biases, the engine's default_init), BatchNorm momentum 0.1
      and eps 1e-5, dropout 0.5 (both the engine's defaults). Writes DIR/final.safetensors (the last
      epoch's weights, as the study analyses; the engine's parameter names and its "model" metadata
      with the normalisation, so experiments/mirror_symmetry loads it unchanged), DIR/final.json
      (test accuracy of the best-validation weights, as train.cpp reports, and of the final ones)
      and DIR/log.csv.

  train_compare.py table --engine DIR --pytorch DIR --seeds 0,1 --out DIR
      Reads, per side, seed and variant, RUN/final.json, RUN/msvt/msvt.csv and
      RUN/equivariance/equivariance.csv (layout below) and writes OUT/compare.md and compare.csv:
      mean +- SD over seeds of each row, engine beside PyTorch, and whether they agree.
      Layout: SIDE/seed_S/VARIANT/{final.json, msvt/, equivariance/}; untrained nets have no
      final.json.

The torch random streams are not the engine's Philox streams, so the same seed gives different
initial weights, splits, coins and batch orders on the two sides: the comparison is between
seed distributions, not between nets.
"""
import argparse
import csv
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np


# ---------------------------------------------------------------- data

def read_idx(path):
    """An IDX file (gzip or raw): uint8 array of the stored shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim < 1:
        sys.exit(f"train_compare: {path}: not a uint8 IDX file (magic {magic:#x})")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        sys.exit(f"train_compare: {path}: {arr.size} bytes for shape {shape}")
    return arr.reshape(shape)


def fashion_mnist(folder, train):
    pre = "train" if train else "t10k"
    out = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        for ext in (".gz", ""):
            p = os.path.join(folder, f"{pre}-{kind}{ext}")
            if os.path.exists(p):
                out.append(read_idx(p))
                break
        else:
            sys.exit(f"train_compare: no {pre}-{kind}[.gz] in {folder}")
    return out[0][:, None, :, :], out[1].astype(np.int64)  # (N, 1, 28, 28), (N,)


def mirror_variant(x, y, variant, rng):
    """sym: flip each image left-right with probability 0.5, label kept; asym: flipped label + 10."""
    if variant == "none":
        return x, y, 10
    flip = rng.random(len(x)) < 0.5
    x = x.copy()
    x[flip] = x[flip][..., ::-1]
    if variant == "sym":
        return x, y, 10
    y = y.copy()
    y[flip] += 10
    return x, y, 20


# ---------------------------------------------------------------- model

def vgg_small(torch, num_classes):
    """models/vgg_small.cpp with its module names (state_dict keys conv1_1.weight, bn1_1.running_mean...)."""
    nn = torch.nn
    from collections import OrderedDict
    return nn.Sequential(OrderedDict([
        ("conv1_1", nn.Conv2d(1, 32, 3)), ("relu1_1", nn.ReLU()), ("bn1_1", nn.BatchNorm2d(32)),
        ("conv1_2", nn.Conv2d(32, 32, 3)), ("relu1_2", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2_1", nn.Conv2d(32, 64, 3)), ("relu2_1", nn.ReLU()), ("bn2_1", nn.BatchNorm2d(64)),
        ("conv2_2", nn.Conv2d(64, 128, 3)), ("relu2_2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(128 * 4 * 4, 256)), ("relu_fc1", nn.ReLU()), ("drop1", nn.Dropout(0.5)),
        ("fc2", nn.Linear(256, 256)), ("relu_fc2", nn.ReLU()), ("drop2", nn.Dropout(0.5)),
        ("fc3", nn.Linear(256, num_classes))]))


def write_safetensors(path, tensors, metadata):
    """The safetensors format (8-byte little-endian header length, JSON header, raw data), written
    here so the script needs torch only: float32 and int32 (the engine narrows PyTorch's int64
    num_batches_tracked to int32 itself; we store int32 directly)."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, arr in tensors.items():
        shape = list(arr.shape)  # before ascontiguousarray, which makes a 0-d array 1-d
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}[arr.dtype]
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def state_arrays(net):
    out = {}
    for k, v in net.state_dict().items():
        a = v.detach().cpu().numpy()
        out[k] = a.astype(np.int32) if k.endswith("num_batches_tracked") else a.astype(np.float32)
    return out


def train(a):
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    x_tr, y_tr = fashion_mnist(a.data_dir, True)
    x_te, y_te = fashion_mnist(a.data_dir, False)
    x_tr, y_tr, classes = mirror_variant(x_tr, y_tr, a.variant, rng)
    x_te, y_te, _ = mirror_variant(x_te, y_te, a.variant, rng)
    perm = rng.permutation(len(x_tr))
    nval = int(round(len(x_tr) * 0.1))
    val, fit = np.sort(perm[:nval]), np.sort(perm[nval:])
    mean = float((x_tr[fit] / 255.0).mean())
    std = float((x_tr[fit] / 255.0).std())

    def tensor(x):
        return (torch.from_numpy(x.astype(np.float32)) / 255.0 - mean) / std

    X_fit, Y_fit = tensor(x_tr[fit]), torch.from_numpy(y_tr[fit])
    X_val, Y_val = tensor(x_tr[val]), torch.from_numpy(y_tr[val])
    X_te, Y_te = tensor(x_te), torch.from_numpy(y_te)
    net = vgg_small(torch, classes)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    lossf = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)

    def evaluate(X, Y):
        net.eval()
        loss, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(X), 1024):
                out = net(X[i:i + 1024])
                loss += float(lossf(out, Y[i:i + 1024])) * len(out)
                correct += int((out.argmax(1) == Y[i:i + 1024]).sum())
        return loss / len(X), correct / len(X)

    os.makedirs(a.out, exist_ok=True)
    log, best, best_state, best_epoch = [], math.inf, None, -1
    t_start = time.time()
    for epoch in range(a.epochs):
        t0 = time.time()
        net.train()
        order = torch.randperm(len(X_fit), generator=gen)
        seen, loss_sum, correct = 0, 0.0, 0
        nb = math.ceil(len(order) / 256)
        if a.max_batches:
            nb = min(nb, a.max_batches)
        for b in range(nb):
            idx = order[b * 256:(b + 1) * 256]
            xb, yb = X_fit[idx], Y_fit[idx]
            opt.zero_grad()
            out = net(xb)
            loss = lossf(out, yb)
            loss.backward()
            opt.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += int((out.argmax(1) == yb).sum())
        vl, va = evaluate(X_val, Y_val)
        log.append([epoch + 1, loss_sum / seen, correct / seen, vl, va, 1e-3, time.time() - t0])
        print(f"pytorch {a.variant} seed {a.seed}: epoch {epoch + 1} train loss {loss_sum / seen:.4f} val loss {vl:.4f} "
              f"acc {va:.4f} ({time.time() - t0:.0f} s)", file=sys.stderr)
        if vl < best:
            best, best_epoch = vl, epoch + 1
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
    meta = {"epoch": str(a.epochs), "source": "bench/pytorch/train_compare.py, torch " + torch.__version__,
            "model": json.dumps({"name": "vgg_small", "in_channels": 1, "image_size": 28, "num_classes": classes,
                                 "normalization": {"mean": [mean], "std": [std]}})}
    write_safetensors(os.path.join(a.out, "final.safetensors"), state_arrays(net), meta)
    final_loss, final_acc = evaluate(X_te, Y_te)
    net.load_state_dict(best_state)
    test_loss, test_acc = evaluate(X_te, Y_te)
    with open(os.path.join(a.out, "log.csv"), "w") as f:
        f.write("epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n")
        for r in log:
            f.write(",".join(str(x) for x in r) + "\n")
    res = {"test_accuracy": test_acc, "test_loss": test_loss, "best_epoch": best_epoch, "epochs_run": a.epochs,
           "test_accuracy_final_weights": final_acc, "seed": a.seed, "train_seconds": time.time() - t_start,
           "normalization": {"mean": [mean], "std": [std]}, "torch": torch.__version__, "threads": a.threads,
           "config": {"model": "vgg_small", "dataset": "fashion-mnist", "variant": a.variant, "epochs": a.epochs,
                      "batch_size": 256, "optimizer": "adam", "lr": 1e-3, "seed": a.seed,
                      "max_batches": a.max_batches}}
    with open(os.path.join(a.out, "final.json.tmp"), "w") as f:
        json.dump(res, f, indent=2)
    os.replace(os.path.join(a.out, "final.json.tmp"), os.path.join(a.out, "final.json"))
    print(f"pytorch {a.variant} seed {a.seed}: test accuracy {test_acc:.4f} (best epoch {best_epoch}), "
          f"final weights {final_acc:.4f}", file=sys.stderr)


# ---------------------------------------------------------------- table

VARIANTS = ["none", "sym", "asym"]


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fc_index(folder, category="pooled"):
    """Mean over the fc layers of the index (released definition) and the mean of their SEMs."""
    rows = [r for r in read_rows(os.path.join(folder, "msvt.csv"))
            if r["category"] == category and r["definition"] == "released" and r["layer"].startswith("fc")]
    if not rows:
        raise SystemExit(f"train_compare: {folder}/msvt.csv: no fc rows of {category}")
    return float(np.mean([float(r["mean"]) for r in rows])), float(np.mean([float(r["sem"]) for r in rows]))


def fc_invariance(folder, g):
    rows = [r for r in read_rows(os.path.join(folder, "equivariance.csv"))
            if r["image_set"] == "stimuli" and r["transform"] == g and r["measure"] == "invariance"
            and r["kind"] == "fc"]
    if not rows:
        raise SystemExit(f"train_compare: {folder}/equivariance.csv: no fc invariance rows for {g}")
    return (float(np.mean([float(r["mean"]) for r in rows])),
            float(np.mean([float(r["std"]) / math.sqrt(max(float(r["n"]), 1)) for r in rows])))


def quantities(run, variant):
    """{row name: (value, within-net SEM)} of one net."""
    q = {}
    fj = os.path.join(run, "final.json")
    if os.path.exists(fj):
        with open(fj) as f:
            acc = float(json.load(f)["test_accuracy"])
        # Within-net error of a test accuracy: the binomial SE over the 10,000 test images.
        q[f"test accuracy, {variant}"] = (acc, math.sqrt(acc * (1 - acc) / 10000))
    q[f"pooled fc index, {variant}"] = fc_index(os.path.join(run, "msvt"))
    for g in ("hflip", "vflip", "rot90"):
        q[f"fc invariance {g}, {variant}"] = fc_invariance(os.path.join(run, "equivariance"), g)
    return q


def families(run):
    rows = read_rows(os.path.join(run, "msvt", "msvt.csv"))
    return list(dict.fromkeys(r["category"] for r in rows if r["category"] != "pooled"))


def table(a):
    seeds = [int(s) for s in a.seeds.split(",")]
    sides = {"engine": a.engine, "pytorch": a.pytorch}
    vals = {}  # (side, row) -> [(value, sem)] over seeds
    order = []
    fams = None
    for side, root in sides.items():
        for s in seeds:
            for v in VARIANTS:
                run = os.path.join(root, f"seed_{s}", v)
                if not os.path.isdir(run):
                    continue
                fams = fams or families(run)
                q = quantities(run, v)
                for c in fams:
                    q[f"fc index {c}, {v}"] = fc_index(os.path.join(run, "msvt"), c)
                for k, x in q.items():
                    if k not in order:
                        order.append(k)
                    vals.setdefault((side, k), []).append(x)
    lines = ["| quantity | engine mean ± SD (n seeds) [min–max] | PyTorch mean ± SD (n seeds) [min–max] | "
             "difference | agree? |", "|---|---|---|---|---|"]
    out_rows = []
    sentences = []
    pvals = {}
    for k in order:
        cells, stats = [], {}
        for side in sides:
            xs = vals.get((side, k), [])
            if not xs:
                cells.append("–")
                continue
            m = np.array([x[0] for x in xs])
            sem = float(np.mean([x[1] for x in xs]))
            sd = float(m.std(ddof=1)) if len(m) > 1 else math.nan
            stats[side] = (float(m.mean()), sd, len(m), sem)
            cells.append(f"{m.mean():.3f} ± {sd:.3f} ({len(m)}) [{m.min():.3f}–{m.max():.3f}]" if len(m) > 1
                         else f"{m.mean():.3f} (1)")
        if len(stats) == 2:
            (me, se, ne, we), (mp_, sp, np_, wp) = stats["engine"], stats["pytorch"]
            diff = me - mp_
            if ne < 2 or np_ < 2:
                word = "cannot tell (fewer than 2 seeds on a side)"
            else:
                # Standard error of the difference of the two seed means: each side's seed SD over
                # sqrt(n), combined with the within-net SEM (stimulus sampling, shared by both sides).
                se_diff = math.sqrt(se ** 2 / ne + sp ** 2 / np_ + we ** 2 + wp ** 2)
                word = ("yes" if abs(diff) <= 2 * se_diff else "no") + f" (difference {abs(diff):.3f} vs 2 SE {2 * se_diff:.3f})"
                # Two-sided normal p of the difference, for the family-wise view below.
                pvals[k] = math.erfc(abs(diff) / se_diff / math.sqrt(2)) if se_diff > 0 else (0.0 if diff else 1.0)
            cells += [f"{diff:+.3f}", word]
        else:
            cells += ["–", "–"]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
        out_rows.append([k] + cells)
        if len(stats) == 2 and not k.startswith("fc index "):
            agree = cells[-1].startswith("yes")
            sentences.append(f"- {k}: engine {stats['engine'][0]:.3f}, PyTorch {stats['pytorch'][0]:.3f}; "
                             + ("they agree within the seed spread." if agree else
                                "they do not agree within the seed spread." if cells[-1].startswith("no")
                                else "too few seeds to tell."))
    # Many rows are tested at once: at 2 SE each row says "no" with probability 4.6 % when the two
    # trainings are the same, so among ~40 rows about two "no"s are expected by chance, and which row
    # says it changes with the seeds. Holm's step-down adjustment holds the chance of any false
    # "differs" over all rows to 5 %; the per-row verdicts above stay the 2-SE rule.
    holm = {}
    ranked = sorted(pvals.items(), key=lambda kv: kv[1])
    running = 0.0
    for i, (k, pv) in enumerate(ranked):
        running = max(running, min(1.0, (len(ranked) - i) * pv))
        holm[k] = running
    flagged = [k for k in order if k in pvals and pvals[k] < math.erfc(2 / math.sqrt(2))]
    differ = [k for k in order if holm.get(k, 1.0) < 0.05]
    family = (f"Over all {len(pvals)} rows (the {sum(1 for k in pvals if not k.startswith('fc index '))} above and the "
              f"{sum(1 for k in pvals if k.startswith('fc index '))} per family): {len(flagged)} say \"no\" by the 2-SE rule "
              f"({', '.join(flagged) if flagged else 'none'}); {0.0455 * len(pvals):.1f} are expected by chance at 4.6 % each. "
              "Family-wise (Holm over all rows, 5 %, normal p of difference / SE): "
              + (f"{len(differ)} differ: " + ", ".join(f"{k} (Holm p {holm[k]:.3f})" for k in differ) if differ else
                 "no row differs" + (f" (smallest Holm p {min(holm.values()):.2f}, {ranked[0][0]})" if ranked else "")) + ".")
    for r in out_rows:
        r.append(f"{holm[r[0]]:.3f}" if r[0] in holm else "–")
    rule = ("Rule: a row agrees when the difference of the seed means is at most 2 standard errors of the difference, "
            "SE = sqrt(SD_engine²/n_engine + SD_pytorch²/n_pytorch + SEM_engine² + SEM_pytorch²) (SD over seeds; "
            "SEM within a net, over exemplars or images, averaged over seeds; for test accuracy the binomial SE over "
            "the 10,000 test images); with fewer than 2 seeds on a side "
            "the seed spread is unknown and the row says so. Test accuracy: best-validation weights, as train.cpp; "
            "indices and invariances: final (epoch 3) weights, as the demo analyses.")
    text = ("# Engine training vs PyTorch training (vgg_small, Fashion-MNIST, 3 epochs, Adam 1e-3, batch 256)\n\n"
            f"Seeds {seeds}. " + rule + "\n\n" + "\n".join(lines[:2] + [l for l in lines[2:] if "| fc index " not in l])
            + "\n\n" + "\n".join(sentences) + "\n\n" + family + "\n\n## Per family (fc index, released definition)\n\n"
            + "\n".join(lines[:2] + [l for l in lines[2:] if "| fc index " in l]) + "\n")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "compare.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "compare.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["quantity", "engine", "pytorch", "difference", "agree", "holm_p"])
        w.writerows(out_rows)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--variant", choices=VARIANTS, required=True)
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    t.add_argument("--max-batches", type=int, default=0)
    t.add_argument("--out", required=True)
    s = sub.add_parser("table")
    s.add_argument("--engine", required=True)
    s.add_argument("--pytorch", required=True)
    s.add_argument("--seeds", required=True)
    s.add_argument("--out", required=True)
    a = ap.parse_args()
    train(a) if a.cmd == "train" else table(a)


if __name__ == "__main__":
    main()
