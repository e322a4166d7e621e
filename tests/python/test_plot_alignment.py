#!/usr/bin/env python3
"""Tests of tools/plot_alignment.py on a synthetic neural_alignment result (issue 19).

Writes alignment.csv / areas.csv / alignment.json for two models in a temporary folder, runs
the script and checks the figure, the report's verdict sentences and the error on a bad file.
"""
import json
import os
import shutil
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

TOOLS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
LAYERS = ["conv1", "conv2", "fc1"]
AREAS = ["ML_MF", "AL"]
HEADER = ("model,layer,area,units,r,r_mean,r_sd,r_lo,r_hi,phi_i,phi_i_mean,phi_i_sd,phi_i_lo,phi_i_hi,phi_s,phi_s_mean,"
          "phi_s_sd,phi_s_lo,phi_s_hi,v_i,v_s,v_is,samples,unusable_samples,ceiling_lower,ceiling_sd,layer_mirror_index")


def write_result(folder, model, agrees):
    os.makedirs(folder, exist_ok=True)
    rows = [HEADER]
    for li, layer in enumerate(LAYERS):
        for area in AREAS:
            r = 0.3 + 0.1 * li
            pi, ps = (0.1, r - 0.1) if area == "ML_MF" else (r + 0.02, -0.02)
            rows.append(f"{model},{layer},{area},100,{r},{r},0.03,{r-0.06},{r+0.06},{pi},{pi},0.02,{pi-0.04},{pi+0.04},"
                        f"{ps},{ps},0.02,{ps-0.04},{ps+0.04},0.4,0.1,{r},100,0,0.8,0.02,0.1")
    with open(os.path.join(folder, "alignment.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    with open(os.path.join(folder, "areas.csv"), "w") as f:
        f.write("area,neurons,repeats,ceiling_lower,ceiling_sd,ceiling_raw_r,ceiling_upper,splits,mirror_index,index_note\n")
        f.write("ML_MF,120,8,0.8,0.02,0.7,1,10,-0.3,\nAL,80,8,0.7,0.03,0.5,1,10,0.8,\n")
    summary = {"model": model, "layers": LAYERS, "bootstrap": 100, "neural": "sim", "stimuli": 125, "distance": "correlation",
               "comparison": "pearson", "splits": 10, "shapley_sum": "features",
               "areas": [{"name": "ML_MF", "mirror_index": -0.3}, {"name": "AL", "mirror_index": 0.8}],
               "truth": {"known_answer": "KNOWN", "areas": [
                   {"name": "ML_MF", "neurons": 120, "view_tuned": 0.7, "mirror": 0.2, "invariant": 0.1},
                   {"name": "AL", "neurons": 80, "view_tuned": 0.15, "mirror": 0.7, "invariant": 0.15}]},
               "verdicts": [{"claim": "CLAIM-ONE", "agrees": agrees}]}
    with open(os.path.join(folder, "alignment.json"), "w") as f:
        json.dump(summary, f)


class PlotAlignment(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_script(self, *args):
        return subprocess.run([sys.executable, os.path.join(TOOLS, "plot_alignment.py"), *args], capture_output=True, text=True)

    def test_figure_and_verdicts(self):
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        write_result(a, "net_a", True)
        write_result(b, "net_b", False)
        p = self.run_script(a, b)
        self.assertEqual(p.returncode, 0, p.stderr)
        for f in ("alignment.png", "alignment_report.md", "alignment_report.html"):
            self.assertTrue(os.path.getsize(os.path.join(a, f)) > 0, f)
        md = open(os.path.join(a, "alignment_report.md")).read()
        self.assertIn("net_a: CLAIM-ONE: **recovers it**", md)
        self.assertIn("net_b: CLAIM-ONE: **does NOT recover it**", md)
        self.assertIn("KNOWN", md)
        # The best layer per area is the one with the largest r (fc1 here) and its interval is shown.
        self.assertIn("| net_a | ML_MF | fc1 | 0.500 [0.440, 0.560] |", md)

    def test_bad_input_is_one_line(self):
        a = os.path.join(self.tmp, "a")
        write_result(a, "net_a", True)
        with open(os.path.join(a, "alignment.csv"), "w") as f:
            f.write("model,layer\nx,y\n")
        p = self.run_script(a)
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing column", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(a, "alignment.png")))


if __name__ == "__main__":
    unittest.main()
