"""Shared helpers of the plotting and report scripts (tools/plot_*.py, tools/demo_report.py).

- typed CSV/JSON/NPY readers whose errors name the file and what is wrong (InputError);
- atomic writes: a figure or text goes to a temporary file in the same folder, then
  os.replace, so a reader never sees a half-written PNG or HTML;
- layer ordering (network order from layer_index) and the conv/FC split;
- the drawing pieces that several figures share (index lines with a floor band).
Runs on Debian's python3 with python3-numpy and python3-matplotlib only.
"""
import csv
import json
import math
import os
import sys
import tempfile
import warnings

try:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt
    import numpy as np
except ImportError as e:  # e.g. a python3 without numpy/matplotlib earlier on PATH
    # Every script that imports this module stops here with one line naming itself.
    prog = os.path.splitext(os.path.basename(sys.argv[0]))[0] or "mlplot"
    print(f"{prog}: {e}; run it with Debian's python3 (python3-numpy, python3-matplotlib), "
          "e.g. /usr/bin/python3", file=sys.stderr)
    sys.exit(2)

# NaN marks a missing value in these files (a layer without a measure, an empty family) and the
# scripts treat it explicitly; numpy's "mean of empty slice" warnings would only be noise.
warnings.filterwarnings("ignore", message="(Mean of empty slice|All-NaN slice)", category=RuntimeWarning)

# The demo's four networks, in the order every table and legend uses.
NETS = ["untrained", "none", "sym", "asym"]
NET_COLORS = {"untrained": "0.45", "none": "tab:blue", "sym": "tab:green", "asym": "tab:red"}
NET_STYLES = {"untrained": ":", "none": "-", "sym": "-", "asym": "--"}  # asym dashed as in the paper's Fig. 4C
TRANSFORMS = ["hflip", "vflip", "rot90"]
TRANSFORM_COLORS = {"hflip": "tab:blue", "vflip": "tab:orange", "rot90": "tab:green"}
DEFINITIONS = ["released", "no_diagonal"]


class InputError(Exception):
    """A missing or malformed input file; the message names the file and the problem."""


def run_main(prog, main):
    """Run main(); an InputError becomes one line on stderr and exit status 2 (no traceback)."""
    try:
        main()
    except InputError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(2)


# ---------------------------------------------------------------- reading

def read_csv(path, columns):
    """Rows of a CSV with a header, as dicts; columns = {name: str|int|float} must all be present.

    float accepts "nan" (the C++ writers print NaN that way). Extra columns are kept as text.
    """
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            if not header:
                raise InputError(f"{path}: empty file (no header row)")
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
            rows = []
            for line, raw in enumerate(reader, start=2):
                row = dict(raw)
                for name, typ in columns.items():
                    text = raw[name]
                    if text is None:
                        raise InputError(f"{path}: line {line}: too few fields (no {name})")
                    try:
                        row[name] = typ(text.strip())
                    except (ValueError, AttributeError):
                        raise InputError(f"{path}: line {line}: column {name} = {text!r} is not a {typ.__name__}") from None
                rows.append(row)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    if not rows:
        raise InputError(f"{path}: no data rows")
    return rows


def read_json(path, keys=()):
    """A JSON object that must contain every key in keys."""
    try:
        with open(path) as f:
            obj = json.load(f)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a JSON object")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise InputError(f"{path}: missing key(s) {', '.join(missing)}")
    return obj


def read_npy(path):
    """A numeric .npy array (never pickles: a data file must not run code)."""
    try:
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise InputError(f"{path}: not a .npy file (no NUMPY magic string)")
            f.seek(0)
            arr = np.lib.format.read_array(f, allow_pickle=False)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise InputError(f"{path}: malformed .npy file ({e})") from None
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{path}: dtype {arr.dtype} is not numeric")
    return arr


MSVT_COLUMNS = {"model": str, "layer": str, "layer_index": int, "category": str, "symmetry": str,
                "definition": str, "mean": float, "sem": float, "n": int}
FLOOR_COLUMNS = {"model": str, "layer": str, "layer_index": int, "definition": str, "null": str,
                 "mean": float, "std": float, "n": int}
EQUIV_COLUMNS = {"model": str, "layer": str, "layer_index": int, "kind": str, "image_set": str,
                 "transform": str, "measure": str, "mean": float, "std": float, "n": int}


def layer_order(rows, path):
    """Layer names in network order (by layer_index); a name with two indices is an error."""
    index = {}
    for r in rows:
        if index.setdefault(r["layer"], r["layer_index"]) != r["layer_index"]:
            raise InputError(f"{path}: layer {r['layer']} has two layer_index values")
    return sorted(index, key=index.get)


def is_fc(layer):
    """The fully connected layers are those whose name starts with "fc" (fc1..fc3, fc6, fc7)."""
    return layer.startswith("fc")


def series(rows, layers, value="mean", **match):
    """(len(layers),) array of rows[value] for the rows matching every key=value; NaN where absent."""
    by_layer = {r["layer"]: r[value] for r in rows if all(r[k] == v for k, v in match.items())}
    return np.array([by_layer.get(layer, math.nan) for layer in layers], dtype=float)


class Msvt:
    """One mirror_symmetry folder: msvt.csv (+ msvt_floor.csv when present)."""

    def __init__(self, folder, need_floor=True):
        self.path = os.path.join(folder, "msvt.csv")
        self.rows = read_csv(self.path, MSVT_COLUMNS)
        self.layers = layer_order(self.rows, self.path)
        self.model = self.rows[0]["model"]
        fpath = os.path.join(folder, "msvt_floor.csv")
        self.floor_path = fpath
        self.floor = read_csv(fpath, FLOOR_COLUMNS) if (need_floor or os.path.exists(fpath)) else []
        # Families in first-seen order; "pooled" is the summary, not a family.
        self.categories, self.symmetry = [], {}
        for r in self.rows:
            if r["category"] != "pooled" and r["category"] not in self.symmetry:
                self.categories.append(r["category"])
                self.symmetry[r["category"]] = r["symmetry"]

    def index(self, category, definition, layers=None):
        """(mean, sem) arrays over layers."""
        layers = layers or self.layers
        m = dict(category=category, definition=definition)
        return series(self.rows, layers, "mean", **m), series(self.rows, layers, "sem", **m)

    def floor_of(self, definition, null="shuffled_views", layers=None):
        """(mean, std) arrays over layers of a null representation's index."""
        layers = layers or self.layers
        m = dict(definition=definition, null=null)
        return series(self.floor, layers, "mean", **m), series(self.floor, layers, "std", **m)


# ---------------------------------------------------------------- writing

UMASK = os.umask(0)
os.umask(UMASK)

def _atomic(path, write):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; the output gets the usual permissions
        os.replace(tmp, path)  # atomic on one file system: never a half-written output
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_fig(fig, path, dpi=110):
    _atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    plt.close(fig)
    return path


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    _atomic(path, write)
    return path


# ---------------------------------------------------------------- drawing

def layer_axis(ax, layers, rotate=False):
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlim(-0.5, len(layers) - 0.5)


def shade_fc(ax, layers):
    """Tint the fully connected layers so the conv/FC boundary is visible in every panel."""
    fc = [i for i, name in enumerate(layers) if is_fc(name)]
    if fc:
        ax.axvspan(min(fc) - 0.5, max(fc) + 0.5, color="0.93", zorder=0)


def floor_band(ax, layers, mean, std, label, color="0.6"):
    """mean ± std of a null index per layer, drawn as a band behind the data."""
    x = np.arange(len(layers))
    ok = np.isfinite(mean) & np.isfinite(std)
    if ok.any():
        ax.fill_between(x[ok], (mean - std)[ok], (mean + std)[ok], color=color, alpha=0.35, lw=0, label=label, zorder=1)


def index_line(ax, layers, mean, sem, offset=0.0, **style):
    x = np.arange(len(layers)) + offset
    ax.errorbar(x, mean, yerr=np.where(np.isfinite(sem), sem, 0), capsize=2, marker="o", ms=4, zorder=3, **style)


def fmt(x, digits=3):
    """A number for a table; NaN shows as an en dash."""
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


class Equivariance:
    """One equivariance folder: equivariance.csv."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "equivariance.csv")
        self.rows = read_csv(self.path, EQUIV_COLUMNS)
        self.layers = layer_order(self.rows, self.path)
        self.model = self.rows[0]["model"]
        self.image_sets = list(dict.fromkeys(r["image_set"] for r in self.rows))
        self.kind = {r["layer"]: r["kind"] for r in self.rows}

    def values(self, image_set, transform, measure, layers=None):
        """(mean, std, n) arrays over layers; NaN where a layer lacks the measure (FC equivariance)."""
        layers = layers or self.layers
        m = dict(image_set=image_set, transform=transform, measure=measure)
        return tuple(series(self.rows, layers, v, **m) for v in ("mean", "std", "n"))


def equivariance_panel(ax, eq, image_set, layers=None):
    """Invariance (solid) and equivariance (dashed) per transform vs layer; bars = std over images."""
    layers = layers or eq.layers
    shade_fc(ax, layers)
    for k, g in enumerate(TRANSFORMS):
        for measure, ls in (("invariance", "-"), ("equivariance", "--")):
            mean, std, _ = eq.values(image_set, g, measure, layers)
            if np.isfinite(mean).any():
                # Shift transforms apart a little so the std bars stay readable.
                index_line(ax, layers, mean, std, 0.08 * (k - 1), color=TRANSFORM_COLORS[g], ls=ls, lw=1.4,
                           label=f"{g} {measure}")
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_ylim(-0.2, 1.0)
    layer_axis(ax, layers, rotate=len(layers) > 4)  # panels are narrow: slanted names do not collide
