#!/usr/bin/env python3
"""Tests of bench/pytorch/train_compare.py's parts that need no torch: the safetensors writer and
the engine-vs-PyTorch table (agreement rule, too few seeds). Run: python3 tests/python/test_train_compare.py
"""
import csv
import json
import os
import shutil
import struct
import sys
import tempfile
import unittest

try:
    import numpy as np
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "pytorch"))
import train_compare as tc  # noqa: E402

LAYERS = ["conv1_1", "fc1", "fc2", "fc3"]


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), n


def write_run(root, acc, index, inv):
    """A run folder as train_compare.sh lays it out: final.json, msvt/msvt.csv, equivariance/equivariance.csv."""
    os.makedirs(os.path.join(root, "msvt"))
    os.makedirs(os.path.join(root, "equivariance"))
    with open(os.path.join(root, "final.json"), "w") as f:
        json.dump({"test_accuracy": acc}, f)
    with open(os.path.join(root, "msvt", "msvt.csv"), "w") as f:
        f.write("model,layer,layer_index,category,symmetry,definition,mean,sem,n\n")
        for i, layer in enumerate(LAYERS):
            for cat in ("face", "pooled"):
                for d in ("released", "no_diagonal"):
                    f.write(f"m,{layer},{i},{cat},one_plane,{d},{index if layer.startswith('fc') else -0.1},0.01,25\n")
    with open(os.path.join(root, "equivariance", "equivariance.csv"), "w") as f:
        f.write("model,layer,layer_index,kind,image_set,transform,measure,mean,std,n\n")
        for i, layer in enumerate(LAYERS):
            kind = "fc" if layer.startswith("fc") else "conv"
            for g in ("hflip", "vflip", "rot90"):
                f.write(f"m,{layer},{i},{kind},stimuli,{g},invariance,{inv},0.1,2025\n")


class TrainCompareTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_train_compare_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_safetensors_keeps_scalar_shapes(self):
        # A 0-d BatchNorm counter must stay 0-d: the engine's loader refuses shape (1,) for it.
        path = os.path.join(self.tmp, "w.safetensors")
        w = np.arange(6, dtype=np.float32).reshape(2, 3)
        tc.write_safetensors(path, {"fc.weight": w, "bn.num_batches_tracked": np.array(7, np.int32)},
                             {"model": "{}"})
        header, n = read_header(path)
        self.assertEqual(n % 8, 0)
        self.assertEqual(header["bn.num_batches_tracked"]["shape"], [])
        self.assertEqual(header["fc.weight"], {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]})
        with open(path, "rb") as f:
            f.seek(8 + n)
            data = f.read()
        np.testing.assert_array_equal(np.frombuffer(data[:24], np.float32).reshape(2, 3), w)
        self.assertEqual(struct.unpack("<i", data[24:28])[0], 7)

    def table(self, engine, pytorch, seeds):
        for side, runs in (("engine", engine), ("pytorch", pytorch)):
            for s, (acc, index, inv) in zip(seeds, runs):
                write_run(os.path.join(self.tmp, side, f"seed_{s}", "sym"), acc, index, inv)

        class A:
            pass
        a = A()
        a.engine, a.pytorch = os.path.join(self.tmp, "engine"), os.path.join(self.tmp, "pytorch")
        a.seeds, a.out = ",".join(str(s) for s in seeds), os.path.join(self.tmp, "out")
        tc.table(a)
        with open(os.path.join(a.out, "compare.csv"), newline="") as f:
            return {r[0]: r for r in csv.reader(f)}

    def test_agreement_follows_the_seed_spread(self):
        # Index: engine 0.55/0.65 (SD 0.071), PyTorch 0.60/0.70: difference 0.05, 2 SE ~0.14 -> agree.
        # Accuracy: 0.90/0.90 vs 0.80/0.80, binomial SE ~0.004 -> disagree.
        rows = self.table([(0.90, 0.55, 0.8), (0.90, 0.65, 0.8)], [(0.80, 0.60, 0.3), (0.80, 0.70, 0.3)], [0, 1])
        self.assertTrue(rows["pooled fc index, sym"][4].startswith("yes"), rows["pooled fc index, sym"])
        self.assertTrue(rows["test accuracy, sym"][4].startswith("no"), rows["test accuracy, sym"])
        self.assertTrue(rows["fc invariance hflip, sym"][4].startswith("no"))
        self.assertIn("fc index face, sym", rows)

    def test_one_seed_cannot_tell(self):
        rows = self.table([(0.90, 0.55, 0.8)], [(0.80, 0.60, 0.3)], [0])
        self.assertIn("cannot tell", rows["pooled fc index, sym"][4])


if __name__ == "__main__":
    unittest.main(verbosity=2)
