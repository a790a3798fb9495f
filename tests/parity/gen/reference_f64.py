"""Float64 NumPy stepping implementation of docs/SEMANTICS.md.

Independent of every framework: it exists to cross-check the cases the
framework generators record (check_cases.py). Written straight from the
semantics document, step by step, with no attempt at speed.

Entry points:
  run_case(case)            -> list of float64 outputs in Keras order
  case_loss(case, **over)   -> sum_k sum(outputs[k] * cotangents[k])
"""

import numpy as np


def _hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "hard_sigmoid": _hard_sigmoid,
    "linear": lambda x: x,
}


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _cell_step(layer, w, x, states):
    """One step of the cell: returns (output, new_states)."""
    kind = layer["type"]
    act = ACTIVATIONS[layer.get("activation", "tanh")]
    ra = ACTIVATIONS[layer.get("recurrent_activation", "sigmoid")]
    W, U = w["kernel"], w["recurrent_kernel"]
    b = w.get("bias")
    h = states[0]
    H = U.shape[0]

    if kind == "SimpleRNN":
        z = x @ W + h @ U
        if b is not None:
            z = z + b
        h2 = act(z)
        return h2, [h2]

    if kind == "LSTM":
        c = states[1]
        z = x @ W + h @ U
        if b is not None:
            z = z + b
        zi, zf, zc, zo = (z[:, k * H:(k + 1) * H] for k in range(4))
        i, f, o = ra(zi), ra(zf), ra(zo)
        c2 = f * c + i * act(zc)
        h2 = o * act(c2)
        return h2, [h2, c2]

    if kind == "GRU":
        if layer.get("reset_after", True):
            bi = b[0] if b is not None else 0.0
            br = b[1] if b is not None else 0.0
            xz = x @ W + bi
            hz = h @ U + br
            z = ra(xz[:, :H] + hz[:, :H])
            r = ra(xz[:, H:2 * H] + hz[:, H:2 * H])
            hh = act(xz[:, 2 * H:] + r * hz[:, 2 * H:])
        else:
            bb = b if b is not None else 0.0
            xz = x @ W + bb
            z = ra(xz[:, :H] + h @ U[:, :H])
            r = ra(xz[:, H:2 * H] + h @ U[:, H:2 * H])
            hh = act(xz[:, 2 * H:] + (r * h) @ U[:, 2 * H:])
        h2 = z * h + (1.0 - z) * hh
        return h2, [h2]

    raise ValueError("unknown layer type %r" % kind)


def run_layer(layer, w, x, mask, init, zero_output_for_mask):
    """A plain (unidirectional) layer: [output] (+ final states)."""
    B, T, _ = x.shape
    H = w["recurrent_kernel"].shape[0]
    nstates = 2 if layer["type"] == "LSTM" else 1
    states = list(init) if init is not None else [np.zeros((B, H))] * nstates
    prev = np.zeros((B, H))
    outs = []
    order = range(T - 1, -1, -1) if layer.get("go_backwards") else range(T)
    for t in order:
        out, new = _cell_step(layer, w, x[:, t, :], states)
        if mask is not None:
            m = mask[:, t].astype(bool)[:, None]
            # Masked step: states carried over; output is the previous
            # output, or zeros with zero_output_for_mask.
            new = [np.where(m, n, s) for n, s in zip(new, states)]
            out = np.where(m, out, 0.0 if zero_output_for_mask else prev)
        states, prev = new, out
        outs.append(out)
    # The sequence is returned in processing order (reversed for go_backwards).
    y = np.stack(outs, axis=1) if layer.get("return_sequences") else outs[-1]
    result = [y]
    if layer.get("return_state"):
        result += states
    return result


def _weights(wdict):
    return {k: _f64(v) for k, v in wdict.items()}


def run_case(case, inputs=None, initial_state=None, weights=None):
    """Forward outputs of a case (optionally with substituted tensors)."""
    layer = case["layer"]
    x = _f64(case["inputs"] if inputs is None else inputs)
    mask = None if case.get("mask") is None else np.asarray(case["mask"])
    init = case.get("initial_state") if initial_state is None else initial_state
    init = None if init is None else [_f64(s) for s in init]
    wts = case["weights"] if weights is None else weights
    bidi = case.get("bidirectional")

    if bidi is None:
        return run_layer(layer, _weights(wts), x, mask, init,
                         layer.get("zero_output_for_mask", False))

    # Bidirectional forces zero_output_for_mask = return_sequences on both
    # directions; the backward copy flips go_backwards.
    zofm = bool(layer.get("return_sequences"))
    back = dict(layer, go_backwards=not layer.get("go_backwards", False))
    n = 0 if init is None else len(init) // 2
    fo = run_layer(layer, _weights(wts["forward"]), x, mask,
                   None if init is None else init[:n], zofm)
    bo = run_layer(back, _weights(wts["backward"]), x, mask,
                   None if init is None else init[n:], zofm)
    fy, by = fo[0], bo[0]
    if layer.get("return_sequences"):
        by = by[:, ::-1, :]  # back into input order, as Keras does
    mode = bidi.get("merge_mode")
    if mode == "concat":
        merged = [np.concatenate([fy, by], axis=-1)]
    elif mode == "sum":
        merged = [fy + by]
    elif mode == "mul":
        merged = [fy * by]
    elif mode == "ave":
        merged = [(fy + by) / 2.0]
    elif mode is None:
        merged = [fy, by]
    else:
        raise ValueError("unknown merge_mode %r" % mode)
    return merged + fo[1:] + bo[1:]


def case_loss(case, **over):
    outs = run_case(case, **over)
    return sum(float(np.sum(o * _f64(c))) for o, c in zip(outs, case["cotangents"]))
