"""Re-run recorded cases (from any source) through Keras and compare outputs.

    ~/.cache/loom/venv-keras/bin/python tests/parity/gen/replay_keras.py [FILE_OR_DIR ...]

A check that a second-opinion source (e.g. the PyTorch cases, whose weights
were converted to the Keras layout) agrees with Keras itself, not only with
reference_f64.py. Forward outputs only; error as in check_cases.py.
"""

import argparse
import glob
import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from case_io import read_case  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.normpath(os.path.join(HERE, "..", "cases", "torch"))


def keras_outputs(case):
    L = case["layer"]
    kw = {k: L[k] for k in ("units", "activation", "use_bias", "return_sequences",
                            "return_state", "go_backwards", "zero_output_for_mask")}
    if L["type"] != "SimpleRNN":
        kw["recurrent_activation"] = L["recurrent_activation"]
    if L["type"] == "GRU":
        kw["reset_after"] = L["reset_after"]
    keras.backend.clear_session()
    layer = getattr(keras.layers, L["type"])(**kw)
    wts = [case["weights"]]
    if case.get("bidirectional") is not None:
        layer = keras.layers.Bidirectional(layer, merge_mode=case["bidirectional"]["merge_mode"])
        wts = [case["weights"]["forward"], case["weights"]["backward"]]
    x = tf.constant(np.asarray(case["inputs"], np.float32))
    layer(x)
    order = ["kernel", "recurrent_kernel", "bias"]
    layer.set_weights([np.asarray(w[k], np.float32) for w in wts for k in order if k in w])
    kwargs = {}
    if case.get("mask") is not None:
        kwargs["mask"] = tf.constant(np.asarray(case["mask"]).astype(bool))
    if case.get("initial_state") is not None:
        kwargs["initial_state"] = [tf.constant(np.asarray(s, np.float32))
                                   for s in case["initial_state"]]
    return [o.numpy() for o in tf.nest.flatten(layer(x, **kwargs))]


def main():
    ap = argparse.ArgumentParser(description="replay parity cases through Keras")
    ap.add_argument("paths", nargs="*", default=[DEFAULT_DIR])
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    files = []
    for p in args.paths:
        files += sorted(glob.glob(os.path.join(p, "**", "*.json"), recursive=True)) \
            if os.path.isdir(p) else [p]
    nfail, worst = 0, 0.0
    for path in files:
        case = read_case(path)
        got = keras_outputs(case)
        rec = [np.asarray(o, np.float64) for o in case["outputs"]]
        if len(got) != len(rec) or any(a.shape != b.shape for a, b in zip(got, rec)):
            e = float("inf")
        else:
            e = max(float(np.max(np.abs(a - b) / (1 + np.abs(b)))) for a, b in zip(got, rec))
        worst = max(worst, e)
        ok = e <= args.tol
        nfail += not ok
        print("%s %s fwd=%.2e" % ("PASS" if ok else "FAIL", os.path.relpath(path), e))
    print("%d cases: %d passed, %d failed; max forward error %.2e"
          % (len(files), len(files) - nfail, nfail, worst))
    sys.exit(1 if nfail else 0)


if __name__ == "__main__":
    main()
