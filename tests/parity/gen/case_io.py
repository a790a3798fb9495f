"""Reading and writing `rnn-parity/1` case files (shared by the generators).

Floats are written as float32 values with '%.9g', which round-trips any
float32. Each top-level key goes on its own line so diffs stay readable.
"""

import json
import os

import numpy as np

FORMAT = "rnn-parity/1"

# Key order of a case file, as in docs/PARITY_FORMAT.md.
KEY_ORDER = ["format", "name", "source", "layer", "bidirectional", "weights",
             "inputs", "mask", "initial_state", "outputs", "cotangents", "grads"]


def _dump(v):
    if v is None:
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + _dump(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_dump(x) for x in v) + "]"
    a = np.asarray(v)
    if a.dtype.kind in "iub":
        return json.dumps(a.astype(np.int64).tolist())
    if a.dtype.kind == "f":
        a = a.astype(np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError("non-finite value in case tensor")
        if a.ndim == 0:
            return "%.9g" % float(a)
        return "[" + ",".join(_dump(x) for x in a) + "]"
    raise TypeError("cannot write %r" % type(v))


def write_case(directory, case):
    """Write case to directory/<name>.json; returns the path."""
    case = dict(case, format=FORMAT)
    keys = [k for k in KEY_ORDER if k in case] + [k for k in case if k not in KEY_ORDER]
    lines = ["  %s: %s" % (json.dumps(k), _dump(case[k])) for k in keys]
    text = "{\n" + ",\n".join(lines) + "\n}\n"
    json.loads(text)  # the file must be valid JSON
    path = os.path.join(directory, case["name"] + ".json")
    with open(path, "w") as f:
        f.write(text)
    return path


def read_case(path):
    with open(path) as f:
        case = json.load(f)
    if case.get("format") != FORMAT:
        raise ValueError("%s: not an %s case" % (path, FORMAT))
    return case


def mask_pattern(kind, B, T, rng):
    """A (B, T) 0/1 mask of the named kind.

    right / left: padded after / before the data (row 0 full, the last row one
    step); holes: random gaps inside each row; allmasked: row 0 has no unmasked
    step, the others holes; mixed: right, left and holes rows in turn; full: all
    ones (a mask that masks nothing).
    """
    t = np.arange(T)
    if B > 1:
        lengths = [T - int(round(i * (T - 1) / (B - 1))) for i in range(B)]
    else:
        lengths = [max(1, T - 2)]

    def holes_row():
        if T == 1:
            return np.ones(1, bool)
        while True:
            r = rng.random(T) < 0.6
            if r.any() and not r.all():
                return r

    if kind == "right":
        m = np.stack([t < n for n in lengths])
    elif kind == "left":
        m = np.stack([t >= T - n for n in lengths])
    elif kind == "holes":
        m = np.stack([holes_row() for _ in range(B)])
    elif kind == "allmasked":
        m = np.stack([np.zeros(T, bool)] + [holes_row() for _ in range(B - 1)])
    elif kind == "mixed":
        rows = []
        for i in range(B):
            n = max(1, T - 1 - i)
            rows.append([t < n, t >= T - n, holes_row()][i % 3])
        m = np.stack(rows)
    elif kind == "full":
        m = np.ones((B, T), bool)
    else:
        raise ValueError(kind)
    return m.astype(np.int32)
