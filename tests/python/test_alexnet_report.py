#!/usr/bin/env python3
"""tools/alexnet_report.py's verdicts on hand-made inputs (run by ctest as alexnet_report_script):
a trained net with exactly the paper's Fig. 2C / 2-S2 / 5-S4 pattern gets "agrees" for every claim;
moving one number across a threshold turns that claim (and only that one) into a disagreement; a
missing layer is a named error, not a silent verdict."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError:  # the pyenv python on PATH lacks them: rerun under Debian's
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.path.insert(0, TOOLS)
import alexnet_report  # noqa: E402
import mlplot as mp  # noqa: E402

LAYERS = ["relu1", "relu2", "relu3", "relu4", "relu5", "relu6", "relu7"]
FAMILIES = {"face": "one_plane", "chair": "one_plane", "airplane": "one_plane", "animal": "one_plane",
            "tool": "one_plane", "car": "two_planes", "boat": "two_planes", "fruit": "none", "flower": "none"}


def paper_pattern(fam):
    """Index per layer as the paper describes the trained net."""
    if FAMILIES[fam] == "one_plane":
        return [0.0, 0.02, 0.05, 0.03, 0.08, 0.7, 0.75]
    if FAMILIES[fam] == "two_planes":
        return [0.8] * 7
    return [0.0, 0.05, 0.1, 0.1, 0.1, 0.2, 0.2]


def write_msvt(folder, model, values):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "msvt.csv"), "w") as f:
        f.write("model,layer,layer_index,category,symmetry,definition,mean,sem,n\n")
        for li, layer in enumerate(LAYERS):
            for fam, sym in FAMILIES.items():
                for d in ("released", "no_diagonal"):
                    f.write(f"{model},{layer},{li},{fam},{sym},{d},{values(fam)[li]},0.01,25\n")
    with open(os.path.join(folder, "msvt_floor.csv"), "w") as f:
        f.write("model,layer,layer_index,definition,null,mean,std,n\n")
        for li, layer in enumerate(LAYERS):
            f.write(f"{model},{layer},{li},released,shuffled_views,-0.12,0.02,100\n")


def make(out, trained=paper_pattern, fc6_share=(0.004, 0.001), significant=1):
    write_msvt(os.path.join(out, "trained", "msvt"), "alexnet_imagenet", trained)
    write_msvt(os.path.join(out, "untrained", "msvt"), "alexnet_untrained", lambda fam: [0.05] * 7)
    os.makedirs(os.path.join(out, "rank_sum"), exist_ok=True)
    with open(os.path.join(out, "rank_sum", "rank_sum.csv"), "w") as f:
        f.write("layer,layer_index,category,mean_trained,sem_trained,n_trained,mean_untrained,sem_untrained,n_untrained,"
                "u,z,p,p_adjusted,significant,procedure\n")
        for li, layer in enumerate(LAYERS):
            for fam in FAMILIES:
                f.write(f"{layer},{li},{fam},{trained(fam)[li]},0.01,25,0.05,0.01,25,600,5,1e-6,1e-5,{significant},BY\n")
    os.makedirs(os.path.join(out, "units"), exist_ok=True)
    with open(os.path.join(out, "units", "unit_shares.csv"), "w") as f:
        f.write("model,layer,layer_index,units,criterion,count,share,ci_low,ci_high,nets,interval\n")
        for li, layer in enumerate(LAYERS):
            t, u = fc6_share if layer == "relu6" else (0.001, 0.001)
            for c in ("face", "mirror", "mirror_strict", "mirror_any", "mirror_any_strict"):
                f.write(f"alexnet_imagenet,{layer},{li},4096,{c},{round(t * 4096)},{t},{t / 2},{t * 2},1,binomial\n")
                f.write(f"untrained,{layer},{li},4096,{c},{u * 4096},{u},{u / 2},{u * 2},10,student_t\n")
    with open(os.path.join(out, "units", "mirror_units.json"), "w") as f:
        json.dump({"layers": LAYERS, "criteria": {}}, f)
    with open(os.path.join(out, "step.json"), "w") as f:
        json.dump({"weights": "w.safetensors", "label": "alexnet_imagenet", "untrained_nets": 10, "rise_masks": 0,
                   "threads": 2, "device": "cpu", "seconds": {"msvt": 1, "units": 1, "rise": 0, "total": 2}}, f)


def verdicts(out):
    return {v["claim"]: v["verdict"] for v in alexnet_report.section(out)[1]}


def main():
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "paper")
        make(base)
        v = verdicts(base)
        check(len(v) == 7 and all(w == "agrees" for w in v.values()), f"paper pattern: {v}")

        # face's fc6 index below 0.6: the one-plane claim fails partly, the others stay.
        def face_low(fam):
            return [0.0, 0.02, 0.05, 0.03, 0.08, 0.4, 0.45] if fam == "face" else paper_pattern(fam)
        d = os.path.join(tmp, "face_low")
        make(d, trained=face_low)
        v = verdicts(d)
        check(v["2C one-plane"] == "partly agrees", f"face fc6 0.4: {v['2C one-plane']}")
        check(v["2C two-plane"] == "agrees" and v["2C no-plane"] == "agrees", f"face fc6 0.4, others: {v}")

        # Only 1.5x the untrained share at fc6: 5-S4 does not agree.
        d = os.path.join(tmp, "units")
        make(d, fc6_share=(0.0015, 0.001))
        v = verdicts(d)
        check(v["5-S4 fc6 mirror units > 2x untrained"] == "does not agree", f"1.5x: {v}")
        check(v["2C one-plane"] == "agrees", f"1.5x leaves 2C: {v}")

        # No significant rank-sum test: 2-S2B does not agree.
        d = os.path.join(tmp, "ns")
        make(d, significant=0)
        check(verdicts(d)["2-S2B fc6 leap is learned"] == "does not agree", "not significant")

        # A fruit reaching 0.7 at fc7 breaks the no-plane claim.
        def fruit_high(fam):
            return [0.0, 0.05, 0.1, 0.1, 0.1, 0.2, 0.7] if fam == "fruit" else paper_pattern(fam)
        d = os.path.join(tmp, "fruit")
        make(d, trained=fruit_high)
        check(verdicts(d)["2C no-plane"] == "partly agrees", "fruit 0.7")

        # A folder without relu7 is a named error; the command line prints it and exits 2.
        d = os.path.join(tmp, "short")
        make(d)
        p = os.path.join(d, "trained", "msvt", "msvt.csv")
        rows = open(p).read().splitlines()
        open(p, "w").write("\n".join(r for r in rows if ",relu7," not in r) + "\n")
        try:
            alexnet_report.section(d)
            check(False, "missing relu7 accepted")
        except mp.InputError as e:
            check("relu7" in str(e), f"error names the layer: {e}")
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "alexnet_report.py"), d], capture_output=True, text=True)
        check(r.returncode == 2 and "relu7" in r.stderr, f"command line: {r.returncode} {r.stderr!r}")

        # The command line writes the page and verdicts.json.
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "alexnet_report.py"), base], capture_output=True, text=True)
        check(r.returncode == 0, f"command line on the paper pattern: {r.stderr}")
        check(os.path.exists(os.path.join(base, "alexnet_imagenet.html")), "no alexnet_imagenet.html")
        j = json.load(open(os.path.join(base, "verdicts.json")))
        check(len(j) == 7, f"verdicts.json: {j}")

    if failures:
        print("test_alexnet_report: FAILED\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("test_alexnet_report: all checks passed")


if __name__ == "__main__":
    main()
