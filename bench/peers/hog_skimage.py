"""scikit-image's hog (Dalal-Triggs: 9 orientations, 8x8 cells, 2x2 blocks, L2-Hys) on 16 gray
224x224 float64 uniform-noise images, for bench/peers/run_compare.sh: median megapixels/s of 5
timed passes after 1 warm-up (one process, scikit-image is single-threaded here).
Usage: /usr/bin/python3 hog_skimage.py  (Debian python3-skimage)
"""
import statistics
import time

import numpy as np
import skimage
from skimage.feature import hog

rng = np.random.default_rng(3)
imgs = rng.random((16, 224, 224))


def run():
    for im in imgs:
        hog(im, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys")


run()
times = []
for _ in range(5):
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(f"hog_skimage: scikit-image {skimage.__version__}: 16 images 224x224 in {med:.3f} s (median of 5): "
      f"{16 * 224 * 224 / med / 1e6:.2f} Mpx/s, {16 / med:.1f} images/s")
