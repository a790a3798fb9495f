"""Generate `rnn-parity/1` cases with Keras 2 (tf-keras), the primary reference.

Run with the venv from make_venv.sh:
    ~/.cache/loom/venv-keras/bin/python tests/parity/gen/gen_keras.py [--out DIR]

Runs on the CPU so Keras takes its generic (non-cuDNN) path, the one
docs/SEMANTICS.md describes. Every case is seeded from its name, so adding or
removing a case leaves the others byte-identical.
"""

import argparse
import os
import sys
import zlib

# Hide any GPU before TensorFlow loads: the cuDNN path has other semantics.
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from case_io import mask_pattern, write_case  # noqa: E402

tf.config.set_visible_devices([], "GPU")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "cases", "keras"))

# name prefix -> (Keras layer type, extra constructor arguments)
CELLS = {
    "simplernn": ("SimpleRNN", {}),
    "lstm": ("LSTM", {}),
    "gru-resetafter": ("GRU", {"reset_after": True}),
    "gru-resetbefore": ("GRU", {"reset_after": False}),
}

SHORT_ACT = {"tanh": "tanh", "relu": "relu", "sigmoid": "sig",
             "hard_sigmoid": "hsig", "linear": "lin"}


def case_name(s):
    parts = ["%s_b%d_t%d" % (s["cell"], s["B"], s["T"])]
    if s["act"] != "tanh":
        parts.append("act-" + SHORT_ACT[s["act"]])
    if s["ract"] != "sigmoid":
        parts.append("ract-" + SHORT_ACT[s["ract"]])
    if not s["bias"]:
        parts.append("nobias")
    if s["mask"]:
        parts.append("mask-" + s["mask"])
    if s["zofm"]:
        # Under Bidirectional without return_sequences the request is overridden.
        parts.append("zofm-overridden" if s["bidir"] and not s["retseq"] else "zofm")
    if s["goback"]:
        parts.append("goback")
    if s["init"]:
        parts.append("init")
    if s["bidir"]:
        parts.append("bidir-" + s["bidir"])
    if s["retseq"]:
        parts.append("retseq")
    if s["retstate"]:
        parts.append("retstate")
    return "_".join(parts)


def make_layer(s):
    kind, extra = CELLS[s["cell"]]
    kw = dict(extra, units=s["H"], activation=s["act"], use_bias=s["bias"],
              return_sequences=s["retseq"], return_state=s["retstate"],
              go_backwards=s["goback"], zero_output_for_mask=s["zofm"])
    if kind != "SimpleRNN":
        kw["recurrent_activation"] = s["ract"]
    layer = getattr(keras.layers, kind)(**kw)
    if s["bidir"]:
        mode = None if s["bidir"] == "none" else s["bidir"]
        return layer, keras.layers.Bidirectional(layer, merge_mode=mode)
    return layer, layer


def weight_dict(layer, values):
    names = [v.name.split("/")[-1].split(":")[0] for v in layer.weights]
    return dict(zip(names, values))


def layer_record(inner):
    """The "layer" object, from the inner layer's actual configuration."""
    cfg = inner.get_config()
    kind = type(inner).__name__
    rec = {"type": kind, "units": cfg["units"], "activation": cfg["activation"]}
    if kind != "SimpleRNN":
        rec["recurrent_activation"] = cfg["recurrent_activation"]
    rec["use_bias"] = cfg["use_bias"]
    if kind == "GRU":
        rec["reset_after"] = cfg["reset_after"]
    for k in ("return_sequences", "return_state", "go_backwards"):
        rec[k] = cfg[k]
    # Read the attribute: Bidirectional overrides it after construction.
    rec["zero_output_for_mask"] = bool(inner.zero_output_for_mask)
    return rec


def build_case(s, source):
    name = case_name(s)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    B, T, F, H = s["B"], s["T"], s["F"], s["H"]
    keras.backend.clear_session()
    inner, layer = make_layer(s)

    x = rng.uniform(-1, 1, (B, T, F)).astype(np.float32)
    layer(x)  # build, so the weights exist
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
               for w in layer.get_weights()]
    layer.set_weights(weights)

    mask = mask_pattern(s["mask"], B, T, rng) if s["mask"] else None
    init = None
    if s["init"]:
        n = (2 if CELLS[s["cell"]][0] == "LSTM" else 1) * (2 if s["bidir"] else 1)
        init = [rng.uniform(-0.5, 0.5, (B, H)).astype(np.float32) for _ in range(n)]

    xt = tf.constant(x)
    it = None if init is None else [tf.constant(v) for v in init]
    with tf.GradientTape() as tape:
        # Constants are not watched by default; RNN inputs need it explicitly.
        tape.watch(xt)
        if it:
            tape.watch(it)
        kwargs = {}
        if mask is not None:
            kwargs["mask"] = tf.constant(mask.astype(bool))
        if it is not None:
            kwargs["initial_state"] = it
        outs = tf.nest.flatten(layer(xt, **kwargs))
        cots = [rng.uniform(-1, 1, o.shape).astype(np.float32) for o in outs]
        loss = tf.add_n([tf.reduce_sum(o * c) for o, c in zip(outs, cots)])
    wvars = list(layer.weights)
    sources = [xt] + (it or []) + wvars
    grads = tape.gradient(loss, sources,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    grads = [g.numpy() for g in grads]
    g_x, g_init = grads[0], grads[1:1 + len(it or [])]
    g_w = grads[1 + len(it or []):]

    if s["bidir"]:
        fl, bl = layer.forward_layer, layer.backward_layer
        nf = len(fl.weights)
        wrec = {"forward": weight_dict(fl, weights[:nf]),
                "backward": weight_dict(bl, weights[nf:])}
        grec = {"forward": weight_dict(fl, g_w[:nf]),
                "backward": weight_dict(bl, g_w[nf:])}
        rec_layer = layer_record(fl)
        # Both directions must agree on what Bidirectional forced.
        assert fl.zero_output_for_mask == bl.zero_output_for_mask == s["retseq"]
        bidi = {"merge_mode": None if s["bidir"] == "none" else s["bidir"]}
    else:
        wrec, grec = weight_dict(layer, weights), weight_dict(layer, g_w)
        rec_layer, bidi = layer_record(layer), None

    gr = {"inputs": g_x}
    if init is not None:
        gr["initial_state"] = g_init
    gr["weights"] = grec
    return {
        "name": name, "source": source, "layer": rec_layer,
        "bidirectional": bidi, "weights": wrec, "inputs": x, "mask": mask,
        "initial_state": init, "outputs": [o.numpy() for o in outs],
        "cotangents": cots, "grads": gr,
    }


def spec(cell, B=3, T=5, act="tanh", ract="sigmoid", bias=True, retseq=False,
         retstate=False, goback=False, zofm=False, init=False, mask=None,
         bidir=None):
    # Feature and unit counts vary with the cell so shapes are not all equal.
    k = list(CELLS).index(cell)
    return dict(cell=cell, B=B, T=T, F=2 + (k + B + T) % 4, H=2 + (k + 2 * T + B) % 4,
                act=act, ract=ract, bias=bias, retseq=retseq, retstate=retstate,
                goback=goback, zofm=zofm, init=init, mask=mask, bidir=bidir)


MASKS = ["right", "left", "holes", "allmasked", "mixed"]


def all_specs():
    out = []
    for cell in CELLS:
        gated = cell != "simplernn"
        S = lambda **kw: out.append(spec(cell, **kw))  # noqa: E731

        # Unidirectional: return options, go_backwards, bias, initial state, sizes.
        S()
        S(retseq=True)
        S(retstate=True)
        S(retseq=True, retstate=True)
        S(goback=True, retseq=True)
        S(goback=True, retstate=True)
        S(bias=False, retseq=True)
        S(init=True, retstate=True)
        S(init=True, retseq=True, retstate=True)
        S(init=True, goback=True, retseq=True)
        S(B=1, T=1)
        S(B=3, T=1, retseq=True, retstate=True)
        S(B=1, T=7, retseq=True)
        S(B=2, T=7, retstate=True)

        # Masks, with and without zero_output_for_mask and return_sequences.
        for m in MASKS:
            for zofm in (False, True):
                for retseq in (False, True):
                    S(mask=m, zofm=zofm, retseq=retseq, retstate=True)
        S(mask="full", retseq=True, retstate=True)
        S(mask="left", goback=True, retseq=True)
        S(mask="holes", goback=True, zofm=True, retstate=True)
        S(mask="allmasked", goback=True, zofm=True, retseq=True, retstate=True)
        S(mask="right", init=True, retstate=True)
        S(mask="mixed", init=True, zofm=True, retseq=True, retstate=True)
        S(mask="allmasked", init=True, retseq=True, retstate=True)
        S(mask="holes", B=3, T=1, retseq=True, retstate=True)
        S(mask="holes", B=2, T=7, bias=False, retseq=True)
        S(mask="left", B=1, T=6, retstate=True)
        S(mask="allmasked", B=1, T=4, retstate=True)

        # Activations.
        for a in ("relu", "sigmoid", "hard_sigmoid", "linear"):
            S(act=a, retseq=True, retstate=True)
        S(act="relu", mask="holes", retseq=True, retstate=True)
        if gated:
            for r in ("hard_sigmoid", "relu", "linear"):
                S(ract=r, retseq=True, retstate=True)
            S(act="relu", ract="hard_sigmoid", retseq=True, retstate=True)
            S(act="linear", ract="linear", mask="holes", zofm=True, retseq=True)
            S(act="hard_sigmoid", ract="relu", init=True, retstate=True)

        # Bidirectional: merge modes x return_sequences.
        for mode in ("concat", "sum", "mul", "ave", "none"):
            for retseq in (False, True):
                S(bidir=mode, retseq=retseq)
        S(bidir="concat", retseq=True, retstate=True)
        S(bidir="sum", init=True, retstate=True)
        S(bidir="none", init=True, retseq=True, retstate=True)
        S(bidir="ave", init=True, retseq=True)
        # Masked Bidirectional (zero_output_for_mask forced to return_sequences).
        S(bidir="concat", mask="left", retseq=True)
        S(bidir="concat", mask="left")
        S(bidir="sum", mask="right", retstate=True)
        S(bidir="mul", mask="holes", retseq=True, retstate=True)
        S(bidir="ave", mask="allmasked", retstate=True)
        S(bidir="none", mask="mixed", retseq=True)
        S(bidir="concat", mask="mixed", init=True, retstate=True)
        S(bidir="sum", mask="holes", init=True, retseq=True, retstate=True)
        # The layer asked for zero_output_for_mask but Bidirectional overrides it.
        S(bidir="concat", mask="right", zofm=True)
        # Inner layer with go_backwards: Keras still reverses the backward output.
        S(bidir="concat", goback=True, mask="holes", retseq=True)
        S(bidir="concat", goback=True, retstate=True)
        S(bidir="concat", B=1, T=1, retseq=True, retstate=True)
        S(bidir="mul", B=2, T=7, bias=False, mask="allmasked", retseq=True)
        if gated:
            S(bidir="concat", act="relu", ract="hard_sigmoid", mask="right", retseq=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", help="generate only cases whose name contains this")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    source = "tf-keras %s" % keras.__version__
    specs = all_specs()
    names = [case_name(s) for s in specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit("duplicate case names: %s" % sorted(dup))
    n = 0
    for s in specs:
        if args.only and args.only not in case_name(s):
            continue
        write_case(args.out, build_case(s, source))
        n += 1
    print("wrote %d cases to %s (%s)" % (n, args.out, source))


if __name__ == "__main__":
    main()
