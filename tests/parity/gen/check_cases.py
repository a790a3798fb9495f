"""Cross-check recorded parity cases against reference_f64.py (NumPy float64).

    python tests/parity/gen/check_cases.py [FILE_OR_DIR ...]   (default: tests/parity/cases)

Any Python with NumPy will do (e.g. either venv of make_venv.sh).

Forward: the outputs are recomputed from the case's weights, inputs, mask and
initial state; error = max |ref - recorded| / (1 + |recorded|), as the runners
measure it.

Gradients: reference_f64 has no backward pass, so each recorded gradient
tensor G of a tensor P is checked along a random direction V by a central
difference of the loss:  (L(P + eV) - L(P - eV)) / 2e  ~  sum(G * V);
error = |difference| / (1 + sum |G * V|).

Prints one line per case and exits non-zero when any case exceeds the limits.
"""

import argparse
import copy
import glob
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from case_io import read_case  # noqa: E402
from reference_f64 import case_loss, run_case  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.normpath(os.path.join(HERE, "..", "cases"))
EPS = 1e-5


def forward_error(case):
    ref = run_case(case)
    rec = case["outputs"]
    if len(ref) != len(rec):
        return float("inf"), "output count %d != %d" % (len(ref), len(rec))
    worst, where = 0.0, ""
    for k, (a, b) in enumerate(zip(ref, rec)):
        b = np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return float("inf"), "outputs[%d] shape %s != %s" % (k, a.shape, b.shape)
        e = float(np.max(np.abs(a - b) / (1.0 + np.abs(b)))) if a.size else 0.0
        if e >= worst:
            worst, where = e, "outputs[%d]" % k
    return worst, where


def _grad_targets(case):
    """(label, getter of the recorded grad, setter building a perturbed case)."""
    g = case["grads"]
    yield "inputs", g["inputs"], ("inputs",)
    for i, gs in enumerate(g.get("initial_state") or []):
        yield "initial_state[%d]" % i, gs, ("initial_state", i)
    gw = g["weights"]
    if case.get("bidirectional") is not None:
        for d in ("forward", "backward"):
            for k, v in gw[d].items():
                yield "weights.%s.%s" % (d, k), v, ("weights", d, k)
    else:
        for k, v in gw.items():
            yield "weights.%s" % k, v, ("weights", k)


def _get(case, path):
    obj = case
    for p in path:
        obj = obj[p]
    return obj


def _with(case, path, value):
    c = copy.copy(case)
    if path[0] == "inputs":
        c["inputs"] = value
    elif path[0] == "initial_state":
        st = list(case["initial_state"])
        st[path[1]] = value
        c["initial_state"] = st
    else:
        w = copy.deepcopy(case["weights"])
        tgt = w
        for p in path[1:-1]:
            tgt = tgt[p]
        tgt[path[-1]] = value
        c["weights"] = w
    return c


def grad_error(case):
    rng = np.random.default_rng(zlib.crc32(case["name"].encode()))
    worst, where = 0.0, ""
    for label, g, path in _grad_targets(case):
        p = np.asarray(_get(case, path), dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
        if g.shape != p.shape:
            return float("inf"), "%s shape %s != %s" % (label, g.shape, p.shape)
        v = rng.uniform(-1, 1, p.shape)
        lp = case_loss(_with(case, path, p + EPS * v))
        lm = case_loss(_with(case, path, p - EPS * v))
        fd = (lp - lm) / (2 * EPS)
        an = float(np.sum(g * v))
        e = abs(fd - an) / (1.0 + float(np.sum(np.abs(g * v))))
        if e >= worst:
            worst, where = e, label
    return worst, where


def main():
    ap = argparse.ArgumentParser(description="check parity cases against reference_f64")
    ap.add_argument("paths", nargs="*", default=[DEFAULT_DIR])
    ap.add_argument("--fwd-tol", type=float, default=1e-5)
    ap.add_argument("--grad-tol", type=float, default=1e-4)
    ap.add_argument("--no-grad", action="store_true", help="forward check only")
    ap.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    args = ap.parse_args()

    files = []
    for p in args.paths:
        files += sorted(glob.glob(os.path.join(p, "**", "*.json"), recursive=True)) \
            if os.path.isdir(p) else [p]
    if not files:
        sys.exit("no case files found")

    nfail, max_f, max_g = 0, 0.0, 0.0
    for path in files:
        case = read_case(path)
        ef, wf = forward_error(case)
        eg, wg = (0.0, "-") if args.no_grad else grad_error(case)
        ok = ef <= args.fwd_tol and eg <= args.grad_tol
        nfail += not ok
        max_f, max_g = max(max_f, ef), max(max_g, eg)
        if not ok or not args.quiet:
            print("%s %s fwd=%.2e (%s) grad=%.2e (%s)"
                  % ("PASS" if ok else "FAIL", os.path.relpath(path), ef, wf, eg, wg))
    print("%d cases: %d passed, %d failed; max forward error %.2e, max gradient error %.2e"
          % (len(files), len(files) - nfail, nfail, max_f, max_g))
    sys.exit(1 if nfail else 0)


if __name__ == "__main__":
    main()
