#!/usr/bin/env python3
"""Write torchvision's AlexNet, VGG16, ResNet-50, ConvNeXt-Tiny or ViT-B/16 weights to a safetensors file the engine loads unchanged.

Usage (on a machine with torch and torchvision; the weights download from torchvision's
servers the first time, or come from a local .pth file):

    python3 tools/export_torchvision_weights.py alexnet alexnet.safetensors
    python3 tools/export_torchvision_weights.py vgg16 vgg16.safetensors --pth vgg16-397923af.pth
    python3 tools/export_torchvision_weights.py alexnet random.safetensors --random   # untrained, for tests

The file holds the model's state_dict under PyTorch's names (features.0.weight, ...) as
contiguous float32 tensors (int64 buffers such as BatchNorm's num_batches_tracked become
int32, the engine's integer type), plus metadata naming the source. The engine reads it with
models::load_weights(), which reports every missing, unexpected or mis-shaped name.
"""
import argparse
import json
import os
import sys


# torchvision's IMAGENET1K_V1 evaluation transforms: resize the short side, then centre-crop 224.
# ConvNeXt's weights were evaluated with a 236-pixel resize; the others with 256.
RESIZE = {"convnext_tiny": 236}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["alexnet", "vgg16", "resnet50", "convnext_tiny", "vit_b_16"])
    ap.add_argument("out", help="output .safetensors file")
    ap.add_argument("--pth", help="a torchvision checkpoint (.pth) instead of the download")
    ap.add_argument("--random", action="store_true", help="export torchvision's random initialisation")
    a = ap.parse_args()
    try:
        import torch
        import torchvision
        import safetensors.torch  # noqa: F401 (export() uses it)
    except ImportError as e:
        sys.exit(f"export_torchvision_weights: needs torch, torchvision and safetensors ({e})")

    ctor = getattr(torchvision.models, a.model)
    if a.random:
        net, source = ctor(weights=None), "random initialisation"
    elif a.pth:
        net = ctor(weights=None)
        net.load_state_dict(torch.load(a.pth, map_location="cpu"))
        source = os.path.basename(a.pth)
    else:
        weights = {"alexnet": "AlexNet_Weights", "vgg16": "VGG16_Weights", "resnet50": "ResNet50_Weights",
                   "convnext_tiny": "ConvNeXt_Tiny_Weights", "vit_b_16": "ViT_B_16_Weights"}[a.model]
        net, source = ctor(weights=getattr(torchvision.models, weights).IMAGENET1K_V1), f"{weights}.IMAGENET1K_V1"

    count = export(net, a.model, a.out, source)
    print(f"{a.out}: {count} parameters, from {source}")


def export(net, model_name, out, source):
    """Writes net's state_dict to `out` as the engine reads it; returns the parameter count.

    Also called by tests/python/compare_torchvision.py on torchvision's random initialisation."""
    import torch
    import torchvision
    from safetensors.torch import save_file

    state = {}
    for name, t in net.state_dict().items():
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.int64:
            t = t.to(torch.int32)
        elif t.is_floating_point():
            t = t.to(torch.float32)
        state[name] = t
    count = sum(t.numel() for n, t in net.named_parameters())
    # "model": the JSON the engine's loaders read (experiments/analysis/activations.h, NetMetadata):
    # which net to build and the normalisation its weights expect.
    model = {"name": model_name, "num_classes": 1000, "image_size": 224,
             "normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}
    meta = {"model": json.dumps(model), "source": source, "torchvision": torchvision.__version__,
            "parameters": str(count), "preprocessing": json.dumps(
                {"resize": RESIZE.get(model_name, 256), "crop": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})}
    tmp = out + ".tmp"
    save_file(state, tmp, metadata=meta)
    os.replace(tmp, out)  # atomic: no half-written file under the final name
    return count


if __name__ == "__main__":
    main()
