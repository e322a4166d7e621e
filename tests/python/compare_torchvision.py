#!/usr/bin/env python3
"""The engine's forward against torchvision's at every analysis tap (issue 22, "Tests" 4).

For each model (resnet50, convnext_tiny, vit_b_16, alexnet, vgg16): torchvision's randomly
initialised model (seeded) is written with tools/export_torchvision_weights.py's export(), one
random input batch (N, 3, S, S) uniform in [-1, 1) is saved as NPY, the engine's
forward_taps program runs its forward at every tap (the model's analysis layers, raw module
outputs), and torchvision's forward with hooks on the same modules gives the reference. Per tap
the error is max |ours - torch| / max |torch| (relative to the tap's scale, so that a tap whose
values are large does not hide an error in a small one); it must be <= TOLERANCE.

Parameters that torchvision initialises to constants (batch norm's weight 1 and bias 0, its
running mean 0 and variance 1, ConvNeXt's layer scale 1e-6, ViT's zero head and zero biases)
would leave a wrong use of them unseen (a batch norm that ignored its running statistics would
still pass), so every constant floating tensor is redrawn (scales and variances uniform in
[0.5, 1.5], the rest normal with std 0.1) before export. Everything else is torchvision's own
random initialisation.

    python3 tests/python/compare_torchvision.py [--models resnet50,vit_b_16] [--build build-cpu]
            [--venv DIR] [--install]

Needs a virtual environment with PyPI's torch (TORCH_VENV, default ~/.cache/mirrorlab-torch-venv,
as bench/pytorch/run_compare.sh makes it). torchvision, safetensors and pillow are installed into
it when missing (torchvision --no-deps, pinned below: the newest on PyPI when this was written;
its model code is plain torch and runs under torch 2.15). Without a venv holding torch the script
exits 77 (ctest's skip) with the reason, unless --install is given, which first installs torch
2.15.0 (CPU use) as run_compare.sh does. The standard library suffices to start: the script then
reruns itself under the venv's python.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TORCH_VERSION = "2.15.0"
TORCHVISION_VERSION = "0.29.2"
SKIP = 77
# float32 forward passes that differ only in summation order (im2col/Winograd/blocked GEMM vs
# oneDNN/MKL): each layer adds a relative error of order 1e-7..1e-6 (eps 6e-8 times the square
# root of the reduction length, K <= 4608), and the normalisations keep it from growing: the
# worst tap measured over the five models at batch 2 was 2.0e-6 (resnet50 layer4). 2e-5 is 10x
# that; an index or formula error (a transposed filter, an unused running statistic, a missing
# layer scale, GELU's tanh approximation, up to 3e-4 of a unit input) lands far above it. A
# tap's scale is its max |value| in torchvision's output.
TOLERANCE = 2e-5
MODELS = ["resnet50", "convnext_tiny", "vit_b_16", "alexnet", "vgg16"]


def venv_python(venv):
    return Path(venv) / "bin" / "python"


def has_torch(py):
    return py.exists() and subprocess.run([str(py), "-c", "import torch"], capture_output=True).returncode == 0


def ensure_packages(venv, install_torch):
    py = venv_python(venv)
    if not has_torch(py):
        if not install_torch:
            print(f"SKIP: no virtual environment with torch at {venv} (make one with --install, or "
                  f"bench/pytorch/run_compare.sh; TORCH_VENV names another)")
            sys.exit(SKIP)
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(py), "-m", "pip", "install"]
        # CPU use: torch without the GPU wheels it would pull in (PEERS.md), then its pure-Python deps.
        subprocess.run(pip + ["--no-deps", f"torch=={TORCH_VERSION}"], check=True)
        subprocess.run(pip + ["typing-extensions>=4.13.0", "sympy>=1.13.3", "networkx>=2.5.1", "jinja2",
                              "fsspec>=0.8.5", "filelock", "numpy"], check=True)
    check = "import torchvision, safetensors, PIL, numpy"
    if subprocess.run([str(py), "-c", check], capture_output=True).returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "--no-deps", f"torchvision=={TORCHVISION_VERSION}",
                        "safetensors", "pillow"], check=True)
    return py


def randomise_constants(net, gen):
    import torch
    with torch.no_grad():
        for name, t in list(net.state_dict().items()):
            if not t.is_floating_point() or t.numel() == 0:
                continue
            if t.numel() > 1 and bool((t == t.flatten()[0]).all()) or t.numel() == 1:
                scale_like = name.endswith("running_var") or name.endswith("layer_scale") or (
                    name.endswith(".weight") and t.dim() == 1)
                if scale_like:
                    t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=gen) * 0.1)


def torch_taps(net, taps, x):
    """torchvision's outputs of the modules named in taps ({tap: module path})."""
    import torch
    mods = dict(net.named_modules())
    got, hooks = {}, []
    for tap, path in taps.items():
        if path == "class_token_output":  # the engine's module for encoder(x)[:, 0]
            hooks.append(mods["encoder"].register_forward_hook(
                lambda m, i, o, tap=tap: got.__setitem__(tap, o[:, 0].clone())))
        else:
            if path not in mods:
                raise SystemExit(f"compare_torchvision: torchvision's model has no module '{path}' (tap {tap})")
            # clone: AlexNet's and VGG16's ReLU(inplace=True) overwrite a conv's output after its hook.
            hooks.append(mods[path].register_forward_hook(lambda m, i, o, tap=tap: got.__setitem__(tap, o.clone())))
    with torch.inference_mode():
        y = net(x)
    for h in hooks:
        h.remove()
    got["output"] = y
    return got


def inner(a):
    import numpy as np
    import torch
    import torchvision
    sys.path.insert(0, str(ROOT / "tools"))
    from export_torchvision_weights import export

    torch.set_num_threads(a.threads)
    exe = Path(a.forward_taps)
    if not exe.exists():
        raise SystemExit(f"compare_torchvision: no forward_taps program at {exe} (build the target forward_taps)")
    worst, failed = 0.0, []
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; batch {a.batch}, {a.size} px, "
          f"tolerance {TOLERANCE:g} (max |ours - torch| / max |torch| per tap)")
    for name in a.models.split(","):
        gen = torch.Generator().manual_seed(a.seed)
        torch.manual_seed(a.seed)
        net = getattr(torchvision.models, name)(weights=None).eval()
        randomise_constants(net, gen)
        x = torch.rand((a.batch, 3, a.size, a.size), generator=gen) * 2 - 1
        with tempfile.TemporaryDirectory(prefix=f"ml_tv_{name}_") as d:
            d = Path(d)
            export(net, name, str(d / "w.safetensors"), f"torchvision {torchvision.__version__} random, seed {a.seed}")
            np.save(d / "x.npy", x.numpy())
            r = subprocess.run([str(exe), "--model", name, "--weights", str(d / "w.safetensors"), "--input",
                                str(d / "x.npy"), "--out", str(d / "taps"), "--threads", str(a.threads)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"compare_torchvision: forward_taps failed for {name}:\n{r.stdout}{r.stderr}")
            taps = json.loads((d / "taps" / "taps.json").read_text())
            ref = torch_taps(net, taps, x)
            for tap in list(taps) + ["output"]:
                ours = np.load(d / "taps" / f"{tap}.npy").astype(np.float64)
                theirs = ref[tap].detach().numpy().astype(np.float64)
                if ours.shape != theirs.shape:
                    failed.append(f"{name}/{tap}: shape {ours.shape} vs torchvision {theirs.shape}")
                    continue
                scale = np.abs(theirs).max()
                err = np.abs(ours - theirs).max() / scale if scale > 0 else np.abs(ours).max()
                worst = max(worst, err)
                ok = err <= TOLERANCE
                print(f"  {name:14s} {tap:12s} {str(tuple(theirs.shape)):22s} max rel err {err:.2e} "
                      f"(scale {scale:.3g}) {'ok' if ok else 'FAIL'}")
                if not ok:
                    failed.append(f"{name}/{tap}: {err:.3e} > {TOLERANCE:g}")
    print(f"worst max relative error {worst:.2e} (tolerance {TOLERANCE:g})")
    if failed:
        print("FAILED: " + "; ".join(failed))
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--build", default=os.environ.get("ML_BUILD", str(ROOT / "build-cpu")),
                    help="build folder holding tools/forward_taps")
    ap.add_argument("--forward-taps", help="the forward_taps program (default BUILD/tools/forward_taps)")
    ap.add_argument("--venv", default=os.environ.get("TORCH_VENV", str(Path.home() / ".cache/mirrorlab-torch-venv")))
    ap.add_argument("--install", action="store_true", help="install torch into the venv when missing")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2") or 2))
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    for m in a.models.split(","):
        if m not in MODELS:
            ap.error(f"--models: unknown model '{m}'; known: {', '.join(MODELS)}")
    if not a.forward_taps:
        a.forward_taps = str(Path(a.build) / "tools" / "forward_taps")
    if a.inner:
        return inner(a)
    py = ensure_packages(a.venv, a.install)
    args = [str(py), __file__, "--inner", "--models", a.models, "--forward-taps", a.forward_taps, "--batch",
            str(a.batch), "--size", str(a.size), "--seed", str(a.seed), "--threads", str(a.threads)]
    sys.exit(subprocess.run(args).returncode)


if __name__ == "__main__":
    main()
