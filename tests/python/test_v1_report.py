#!/usr/bin/env python3
"""Test of tools/v1_report.py on a synthetic fit_v1 folder: outputs written, the Table 1 rows and
one computed verdict per pass check present, and a missing results.json a one-line error (status 2)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

SCRIPT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "v1_report.py"))


class V1Report(unittest.TestCase):
    def test_report(self):
        with tempfile.TemporaryDirectory() as d:
            models = {"equivariant": {"kind": "equivariant", "kernels": [9, 3], "features": [4, 4], "conv_parameters": 948,
                                      "readout_parameters": 55424, "val_loss": 72.9, "test_r_mean": 0.8, "feve_mean": 0.7,
                                      "r_true_rate_median": 0.91, "steps": "1200", "stop_reason": "early_stopping",
                                      "ari": 0.85, "ari_without_roll": 0.3, "orientation_error_grating_median_deg": 4.0,
                                      "orientation_error_grating_vs_theta_median_deg": 5.0,
                                      "orientation_error_readout_median_deg": 9.0, "t4_energy_max_over_min_median": 1.2,
                                      "position_error_median_px": 0.7},
                      "cnn_32": {"kind": "cnn", "kernels": [9, 3], "features": [32, 32], "conv_parameters": 11808,
                                 "readout_parameters": 55424, "val_loss": 74.0, "test_r_mean": 0.78, "feve_mean": 0.65},
                      "true_rate": {"kind": "true_rate", "test_r_mean": 0.87, "feve_mean": 1.0}}
            checks = [{"id": 2, "check": "fit", "value": 0.91, "criterion": ">= 0.9", "pass": True, "detail": ""},
                      {"id": 3, "check": "types", "value": 0.5, "criterion": ">= 0.8", "pass": False, "detail": "misses by 0.3"}]
            res = {"models": models, "pass_checks": checks, "preset": "ci", "neurons": 2, "data_dir": "x",
                   "oracle": {"fev_mean": 0.8, "sqrt_fev_mean": 0.87, "explainable_single_trial_mean": 0.4,
                              "jackknife_oracle_r_mean": 0.5}, "conv_parameter_ratio_equal_channel_cnn": 12.46}
            json.dump(res, open(os.path.join(d, "results.json"), "w"))
            with open(os.path.join(d, "log_equivariant.csv"), "w") as f:
                f.write("step,train_loss,val_loss,lr,seconds,action\n20,80,90,0.005,1,best\n40,75,85,0.005,2,best\n")
            with open(os.path.join(d, "neurons.csv"), "w") as f:
                f.write("neuron,type,theta_grating_deg,cell_grating_deg,position_error_px,feve\n"
                        "0,1,10,12,0.5,0.7\n1,4,nan,nan,1.0,0.6\n")
            p = subprocess.run([sys.executable, SCRIPT, d], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            for f in ("report.md", "report.html", "v1_fit.png", "v1_recovery.png"):
                self.assertTrue(os.path.exists(os.path.join(d, f)), f)
            md = open(os.path.join(d, "report.md")).read()
            self.assertIn("| equivariant | equivariant [9, 3] x [4, 4] | 948 |", md)
            self.assertIn("12.5 x the equivariant core's convolution parameters", md)
            self.assertIn("Passes: fit = 0.910 meets >= 0.9.", md)
            self.assertIn("Fails: types = 0.500 does not meet >= 0.8 (misses by 0.3).", md)
            os.remove(os.path.join(d, "results.json"))
            p = subprocess.run([sys.executable, SCRIPT, d], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
            self.assertIn("results.json", p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_sweeps(self):
        with tempfile.TemporaryDirectory() as d:
            feats = {"sweep": "features", "preset": "ci", "points": [
                {"model": "equivariant", "last_features": F, "conv_parameters": 180 + 192 * F, "test_r_mean": r,
                 "feve_mean": r - 0.1, "r_true_rate_median": r + 0.1, "ari": 0.5, "steps": "100"}
                for F, r in ((2, 0.70), (4, 0.80), (8, 0.78))]}
            data = {"sweep": "data", "preset": "ci", "equal_channel_cnn": "cnn_32", "points": []}
            for fr, fe, fc in ((0.125, 0.50, 0.30), (0.5, 0.70, 0.62), (1.0, 0.85, 0.83)):
                data["points"] += [{"model": "equivariant", "train_fraction": fr, "train_images": int(1500 * fr),
                                    "feve_mean": fe, "test_r_mean": fe},
                                   {"model": "cnn_32", "train_fraction": fr, "train_images": int(1500 * fr),
                                    "feve_mean": fc, "test_r_mean": fc}]
            json.dump(feats, open(os.path.join(d, "sweep_features.json"), "w"))
            json.dump(data, open(os.path.join(d, "sweep_data.json"), "w"))
            p = subprocess.run([sys.executable, SCRIPT, d], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            for f in ("sweep.md", "v1_sweep_features.png", "v1_sweep_data.png"):
                self.assertTrue(os.path.exists(os.path.join(d, f)), f)
            md = open(os.path.join(d, "sweep.md")).read()
            self.assertIn("| 4 | 948 | 0.800 |", md)
            self.assertIn("Test r rises from F = 2 (0.700) to F = 8 (0.780), best at F = 4", md)
            self.assertIn("| 12.5 % | 187 | 0.500 | 0.300 | 0.200 |", md)
            # gaps 0.20 and 0.08 at 12.5 and 50 %, 0.02 at 100 %: supported
            self.assertIn("is supported.", md)
            data["points"][2]["feve_mean"] = 0.63  # the gap at 50 % drops to 0.01 < 0.02: not supported
            json.dump(data, open(os.path.join(d, "sweep_data.json"), "w"))
            p = subprocess.run([sys.executable, SCRIPT, d], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("is not supported.", open(os.path.join(d, "sweep.md")).read())


if __name__ == "__main__":
    unittest.main()
