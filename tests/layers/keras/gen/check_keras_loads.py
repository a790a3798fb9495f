"""Load model files Loom wrote back into Keras and compare the predictions.

Usage:
    check_keras_loads.py FIXTURES_DIR WRITTEN_DIR

For every <case>.json in FIXTURES_DIR (see gen_fixtures.py for the schema):

  WRITTEN_DIR/<case>.keras   loaded with keras.saving.load_model (Keras 3)
  WRITTEN_DIR/<case>.h5      loaded with tf_keras.models.load_model(compile=False)

Either or both may exist; at least one must. The fixture's inputs are run
through each loaded model (model(inputs, training=False), string inputs as
shape (N, 1)) and compared with the fixture's outputs:

    error = max|a - b| / max(max|b|, 1e-6)   per output, must be <= 1e-5

Weights-only files are checked too when present: WRITTEN_DIR/<case>.weights.h5
(Keras 3) or WRITTEN_DIR/<case>_weights.h5 (tf_keras), named like the
fixture's `weights_file`, are loaded into the fixture's own model file
(FIXTURES_DIR/<file>) with load_weights and compared with `weights_outputs`.

Prints one line per file (case, flavour, error, OK/FAIL). Exits 1 when any
file fails, when WRITTEN_DIR holds no model files, when a fixture has neither
file (named), or when WRITTEN_DIR holds a .keras/.h5 file that matches no
fixture. Keras 3 and tf_keras run in this one process (they coexist); pass
--subprocess to run each flavour in a process of its own instead.
"""

import os

for _k, _v in dict(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                   OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
                   TF_NUM_INTEROP_THREADS="1").items():
    os.environ[_k] = _v

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402

TOL = 1e-5


def load_fixtures(fixtures_dir):
    fx = {}
    for f in sorted(os.listdir(fixtures_dir)):
        if f.endswith(".json"):
            with open(os.path.join(fixtures_dir, f)) as fh:
                obj = json.load(fh)
            fx[f[:-len(".json")]] = obj
    return fx


def classify(written_dir, fixtures):
    """-> (jobs, unmatched). A job: (case, kind, path) with kind in
    k3 (model .keras), k2 (model .h5), k3w / k2w (weights-only)."""
    jobs, unmatched = [], []
    weights_names = {}
    for case, obj in fixtures.items():
        wf = obj.get("weights_file")
        if wf:
            weights_names[wf] = (case, "k3w" if wf.endswith(".weights.h5") else "k2w")
    for f in sorted(os.listdir(written_dir)):
        path = os.path.join(written_dir, f)
        if not os.path.isfile(path):
            continue
        if f in weights_names:
            case, kind = weights_names[f]
            jobs.append((case, kind, path))
        elif f.endswith(".keras") and f[:-6] in fixtures:
            jobs.append((f[:-6], "k3", path))
        elif f.endswith(".h5") and f[:-3] in fixtures:
            jobs.append((f[:-3], "k2", path))
        else:
            unmatched.append(f)
    return jobs, unmatched


def make_inputs(obj, tf):
    xs = []
    for inp in obj["inputs"]:
        shape = tuple(inp["shape"])
        if inp["dtype"] == "string":
            xs.append(tf.constant(np.array(inp["data"], dtype=object).reshape(shape)))
        else:
            xs.append(tf.constant(np.array(inp["data"], dtype=inp["dtype"]).reshape(shape)))
    return xs if len(xs) > 1 else xs[0]


def compare(got, want):
    """-> (worst error, note)."""
    if not isinstance(got, (list, tuple)):
        got = [got]
    if len(got) != len(want):
        return float("inf"), "%d outputs, fixture has %d" % (len(got), len(want))
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g, dtype=np.float64)
        b = np.array(w["data"], dtype=np.float64).reshape(w["shape"])
        if g.shape != b.shape:
            return float("inf"), "output %d has shape %s, fixture %s" % (
                i, list(g.shape), list(b.shape))
        err = float(np.max(np.abs(g - b)) / max(float(np.max(np.abs(b))), 1e-6)) if b.size else 0.0
        if not np.isfinite(err):
            return float("inf"), "output %d is not finite" % i
        worst = max(worst, err)
    return worst, ""


def run_jobs(jobs, fixtures, fixtures_dir):
    """Check (case, kind, path) jobs in this process; -> list of result dicts."""
    import tensorflow as tf
    tf.config.set_visible_devices([], "GPU")
    kinds = {k for _, k, _ in jobs}
    keras = tf_keras = None
    if kinds & {"k3", "k3w"}:
        import keras
    if kinds & {"k2", "k2w"}:
        import tf_keras

    def load(case, kind, path):
        if kind == "k3":
            return keras.saving.load_model(path, compile=False)
        if kind == "k2":
            return tf_keras.models.load_model(path, compile=False)
        # weights-only: the fixture's own model file, then the written weights
        obj = fixtures[case]
        base = os.path.join(fixtures_dir, obj["file"])
        if obj["file"].endswith(".keras"):
            m = keras.saving.load_model(base, compile=False)
        else:
            m = tf_keras.models.load_model(base, compile=False)
        m.load_weights(path)
        return m

    results = []
    for case, kind, path in jobs:
        obj = fixtures[case]
        want = obj["weights_outputs"] if kind.endswith("w") else obj["outputs"]
        try:
            model = load(case, kind, path)
            got = model(make_inputs(obj, tf), training=False)
            got = [np.asarray(t) for t in (got if isinstance(got, (list, tuple)) else [got])]
            err, note = compare(got, want)
        except Exception as e:  # a file Keras cannot load is a failure, not a crash
            err, note = float("inf"), "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            if os.environ.get("CHECK_KERAS_TRACEBACK"):
                traceback.print_exc()
        results.append(dict(case=case, kind=kind, file=os.path.basename(path),
                            error=err, ok=err <= TOL, note=note))
    return results


FLAVOUR = {"k3": "keras3", "k2": "tf_keras", "k3w": "keras3-weights", "k2w": "tf_keras-weights"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fixtures_dir")
    ap.add_argument("written_dir")
    ap.add_argument("--subprocess", action="store_true",
                    help="run Keras 3 and tf_keras files in separate processes")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    fixtures = load_fixtures(args.fixtures_dir)
    if not os.path.isdir(args.written_dir):
        print("FAIL: %s is not a directory" % args.written_dir)
        return 1
    jobs, unmatched = classify(args.written_dir, fixtures)

    if args.worker:  # child of --subprocess: one flavour, results as JSON
        mine = [j for j in jobs if j[1].startswith(args.worker)]
        print("@@RESULTS@@" + json.dumps(run_jobs(mine, fixtures, args.fixtures_dir)))
        return 0

    if not fixtures:
        print("FAIL: no <case>.json fixtures in %s" % args.fixtures_dir)
        return 1
    if not jobs and not unmatched:
        print("FAIL: %s holds no .keras or .h5 files" % args.written_dir)
        return 1

    if args.subprocess:
        results = []
        for flavour in ("k3", "k2"):
            if not any(k.startswith(flavour) for _, k, _ in jobs):
                continue
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", flavour,
                                args.fixtures_dir, args.written_dir],
                               stdout=subprocess.PIPE, text=True)
            line = [l for l in p.stdout.splitlines() if l.startswith("@@RESULTS@@")]
            if p.returncode != 0 or not line:
                print("FAIL: the %s worker exited with %d" % (flavour, p.returncode))
                return 1
            results += json.loads(line[0][len("@@RESULTS@@"):])
    else:
        results = run_jobs(jobs, fixtures, args.fixtures_dir)

    failed = 0
    print("%-36s %-17s %-11s %s" % ("case", "flavour", "error", "result"))
    for r in results:
        err = "inf" if r["error"] == float("inf") else "%.3g" % r["error"]
        print("%-36s %-17s %-11s %s%s" % (r["case"], FLAVOUR[r["kind"]], err,
                                         "OK" if r["ok"] else "FAIL",
                                         ("  (" + r["note"] + ")") if r["note"] else ""))
        failed += not r["ok"]

    have_model = {c for c, k, _ in jobs if k in ("k3", "k2")}
    missing = [c for c in fixtures if c not in have_model]
    for c in missing:
        print("FAIL: no %s.keras or %s.h5 in %s" % (c, c, args.written_dir))
    for f in unmatched:
        print("FAIL: %s matches no fixture in %s" % (f, args.fixtures_dir))

    n_bad = failed + len(missing) + len(unmatched)
    print("%d files checked, %d failed, %d fixtures without a file, %d unmatched files"
          % (len(results), failed, len(missing), len(unmatched)))
    return 1 if n_bad else 0


if __name__ == "__main__":
    sys.exit(main())
