#!/usr/bin/python3
"""Our Dalal-Triggs HOG (models/hog.h) against scikit-image's hog on the same images.

Reads the <set>_images.npy (N, C, H, W) and <set>_dalal_triggs.npy (N, 36, R, Q) files that
tools/hog_reference writes, runs skimage.feature.hog (9 orientations, 8x8 cells, 2x2 blocks,
L2-Hys; colour: channel_axis=-1, i.e. the channel of largest gradient magnitude) on each image
in float64 and compares value for value.

Tolerance 1e-5 (absolute, on values in [0, 0.5]): both sides bin the same float64 gradients with
the same float64 angle formula and sum cells in float32 as skimage's cell_hog does, so only the
order of float32 additions and our float32 output remain (~1e-7); a pixel whose angle falls on a
bin edge differently would move a whole magnitude (>1e-3), which the tolerance does not hide.
Usage: hog_skimage_compare.py DIR  (Debian's python3-skimage, python3-numpy)
"""
import glob
import os
import sys

try:
    import numpy as np
    from skimage.feature import hog
except ImportError as e:  # the packages are Debian's; tools/hog_reference.sh installs them
    sys.exit(f"hog_skimage_compare: {e}; install python3-skimage and python3-numpy (tools/hog_reference.sh does)")

TOL = 1e-5


def main(d):
    worst_all = 0.0
    files = sorted(glob.glob(os.path.join(d, "*_images.npy")))
    if not files:
        sys.exit(f"hog_skimage_compare: no *_images.npy in {d}")
    for f in files:
        name = os.path.basename(f)[: -len("_images.npy")]
        x = np.load(f)
        ours = np.load(os.path.join(d, name + "_dalal_triggs.npy"))
        worst = 0.0
        for i in range(x.shape[0]):
            img = x[i].astype(np.float64)
            if img.shape[0] == 1:
                ref = hog(img[0], orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                          block_norm="L2-Hys", feature_vector=False)
            else:
                ref = hog(np.moveaxis(img, 0, -1), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                          block_norm="L2-Hys", feature_vector=False, channel_axis=-1)
            # ref: (R, Q, 2, 2, 9); ours: ((a*2 + b)*9 + o, R, Q)
            o = ours[i].reshape(2, 2, 9, ours.shape[2], ours.shape[3]).transpose(3, 4, 0, 1, 2)
            if o.shape != ref.shape:
                sys.exit(f"hog_skimage_compare: {name}: shapes differ, ours {o.shape}, skimage {ref.shape}")
            worst = max(worst, float(np.abs(o - ref).max()))
        worst_all = max(worst_all, worst)
        print(f"dalal_triggs vs skimage {name:18s} {x.shape[0]} images, max |diff| {worst:.3g}")
    verdict = "agree" if worst_all <= TOL else "DISAGREE"
    print(f"dalal_triggs vs skimage: largest |diff| {worst_all:.3g}; tolerance {TOL:g}: {verdict}")
    return 0 if worst_all <= TOL else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: hog_skimage_compare.py DIR")
    sys.exit(main(sys.argv[1]))
