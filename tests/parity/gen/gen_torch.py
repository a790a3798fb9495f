"""Generate `rnn-parity/1` cases with PyTorch, a second opinion on Keras.

Run with the venv from make_venv.sh:
    ~/.cache/loom/venv-torch/bin/python tests/parity/gen/gen_torch.py [--out DIR]

PyTorch has no masking, so these cases are unmasked. The layers run in
float64 on float32-valued weights and inputs; results are written rounded to
float32. Weights are converted to the Keras layout of docs/PARITY_FORMAT.md:
  LSTM: gates i,f,g,o = Keras i,f,c,o; kernel = W_ih^T; bias = b_ih + b_hh.
  GRU:  = Keras reset_after=true; torch rows r,z,n -> Keras z,r,h;
        bias = [b_ih; b_hh] with the same reordering.
  RNN:  kernel = W_ih^T; bias = b_ih + b_hh (tanh or relu).
Outputs follow the Keras conventions: without return_sequences a
bidirectional layer returns the forward last step and the backward final
state (the backward pass's output at input step 0), merged.
"""

import argparse
import os
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from case_io import write_case  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "cases", "torch"))

# name -> (torch module, extra args, Keras type, activation)
CELLS = {
    "lstm": (torch.nn.LSTM, {}, "LSTM", "tanh"),
    "gru": (torch.nn.GRU, {}, "GRU", "tanh"),
    "simplernn": (torch.nn.RNN, {"nonlinearity": "tanh"}, "SimpleRNN", "tanh"),
    "simplernn-relu": (torch.nn.RNN, {"nonlinearity": "relu"}, "SimpleRNN", "relu"),
}


def case_name(s):
    parts = ["torch-%s_b%d_t%d" % (s["cell"], s["B"], s["T"])]
    if not s["bias"]:
        parts.append("nobias")
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


def _gru_rows(H):
    # torch row blocks r, z, n  ->  Keras column blocks z, r, h
    return np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])


def to_keras(kind, p, H, bias):
    """Keras-layout weights (or their gradients) of one direction.

    p maps 'w_ih', 'w_hh', 'b_ih', 'b_hh' to float64 arrays. For LSTM and RNN
    the bias is b_ih + b_hh, whose gradient equals either term's, so `bias`
    says whether p holds values (sum them) or gradients (take one).
    """
    rows = _gru_rows(H) if kind == "GRU" else np.arange(p["w_ih"].shape[0])
    out = {"kernel": p["w_ih"][rows].T, "recurrent_kernel": p["w_hh"][rows].T}
    if "b_ih" in p:
        if kind == "GRU":
            out["bias"] = np.stack([p["b_ih"][rows], p["b_hh"][rows]])
        else:
            out["bias"] = p["b_ih"] + p["b_hh"] if bias == "values" else p["b_ih"]
    return out


def build_case(s, source):
    name = case_name(s)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    mod_cls, extra, kind, act = CELLS[s["cell"]]
    B, T, F, H = s["B"], s["T"], s["F"], s["H"]
    ndir = 2 if s["bidir"] else 1
    nst = 2 if kind == "LSTM" else 1

    mod = mod_cls(F, H, batch_first=True, bias=s["bias"],
                  bidirectional=bool(s["bidir"]), **extra).double()
    dirs = ["_l0", "_l0_reverse"][:ndir]
    with torch.no_grad():
        for sfx in dirs:
            for pn in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                if hasattr(mod, pn + sfx):
                    t = getattr(mod, pn + sfx)
                    t.copy_(torch.from_numpy(
                        rng.uniform(-0.5, 0.5, t.shape).astype(np.float32).astype(np.float64)))
            if kind != "GRU" and s["bias"]:
                # Keras keeps one bias b_ih + b_hh; round it to float32 and
                # move the rounding into b_hh so torch sees exactly that value.
                bi, bh = getattr(mod, "bias_ih" + sfx), getattr(mod, "bias_hh" + sfx)
                b32 = (bi + bh).float().double()
                bh.copy_(b32 - bi)

    x32 = rng.uniform(-1, 1, (B, T, F)).astype(np.float32)
    x = torch.tensor(x32, dtype=torch.float64, requires_grad=True)
    init32 = None
    if s["init"]:
        # Keras order: forward states (h[, c]) then backward states.
        init32 = [rng.uniform(-0.5, 0.5, (B, H)).astype(np.float32) for _ in range(nst * ndir)]
    init = None if init32 is None else [
        torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init32]

    xin = torch.flip(x, [1]) if s["goback"] else x
    if init is None:
        seq, st = mod(xin)
    else:
        h0 = torch.stack([init[d * nst] for d in range(ndir)])
        if kind == "LSTM":
            c0 = torch.stack([init[d * nst + 1] for d in range(ndir)])
            seq, st = mod(xin, (h0, c0))
        else:
            seq, st = mod(xin, h0)
    hn, cn = st if kind == "LSTM" else (st, None)

    if s["bidir"]:
        if s["retseq"]:
            fy, by = seq[..., :H], seq[..., H:]  # both already in input order
        else:
            fy, by = seq[:, -1, :H], seq[:, 0, H:]  # Keras: backward's last output
        mode = s["bidir"]
        merged = {"concat": lambda: [torch.cat([fy, by], -1)], "sum": lambda: [fy + by],
                  "mul": lambda: [fy * by], "ave": lambda: [(fy + by) / 2],
                  "none": lambda: [fy, by]}[mode]()
    else:
        merged = [seq if s["retseq"] else seq[:, -1]]
    outs = merged
    if s["retstate"]:
        for d in range(ndir):
            outs = outs + [hn[d]] + ([cn[d]] if kind == "LSTM" else [])

    cots = [rng.uniform(-1, 1, tuple(o.shape)).astype(np.float32) for o in outs]
    loss = sum((o * torch.from_numpy(c).double()).sum() for o, c in zip(outs, cots))
    params = [p for _, p in mod.named_parameters()]
    grads = torch.autograd.grad(loss, [x] + (init or []) + params, allow_unused=True)
    grads = [np.zeros(tuple(t.shape)) if g is None else g.detach().numpy()
             for g, t in zip(grads, [x] + (init or []) + params)]
    gmap = dict(zip([n for n, _ in mod.named_parameters()], grads[1 + len(init or []):]))

    def direction(sfx, src, what):
        p = {"w_ih": src["weight_ih" + sfx], "w_hh": src["weight_hh" + sfx]}
        if s["bias"]:
            p["b_ih"], p["b_hh"] = src["bias_ih" + sfx], src["bias_hh" + sfx]
        return to_keras(kind, p, H, what)

    vals = {n: p.detach().numpy() for n, p in mod.named_parameters()}
    if s["bidir"]:
        wrec = {"forward": direction("_l0", vals, "values"),
                "backward": direction("_l0_reverse", vals, "values")}
        grec = {"forward": direction("_l0", gmap, "grads"),
                "backward": direction("_l0_reverse", gmap, "grads")}
    else:
        wrec, grec = direction("_l0", vals, "values"), direction("_l0", gmap, "grads")

    layer = {"type": kind, "units": H, "activation": act}
    if kind != "SimpleRNN":
        layer["recurrent_activation"] = "sigmoid"
    layer["use_bias"] = s["bias"]
    if kind == "GRU":
        layer["reset_after"] = True
    layer.update(return_sequences=s["retseq"], return_state=s["retstate"],
                 go_backwards=s["goback"],
                 # Bidirectional semantics force it to return_sequences; it
                 # does not matter unmasked, but record what Keras would have.
                 zero_output_for_mask=bool(s["bidir"]) and s["retseq"])

    gr = {"inputs": grads[0]}
    if init is not None:
        gr["initial_state"] = grads[1:1 + len(init)]
    gr["weights"] = grec
    return {
        "name": name, "source": source, "layer": layer,
        "bidirectional": {"merge_mode": None if s["bidir"] == "none" else s["bidir"]}
        if s["bidir"] else None,
        "weights": wrec, "inputs": x32, "mask": None, "initial_state": init32,
        "outputs": [o.detach().numpy() for o in outs], "cotangents": cots, "grads": gr,
    }


def spec(cell, B=3, T=5, bias=True, retseq=False, retstate=False, goback=False,
         init=False, bidir=None):
    k = list(CELLS).index(cell)
    return dict(cell=cell, B=B, T=T, F=2 + (k + B + 2 * T) % 4, H=2 + (k + T + B) % 4,
                bias=bias, retseq=retseq, retstate=retstate, goback=goback,
                init=init, bidir=bidir)


def all_specs():
    out = []
    for cell in CELLS:
        S = lambda **kw: out.append(spec(cell, **kw))  # noqa: E731
        S()
        S(retseq=True)
        S(retstate=True)
        S(retseq=True, retstate=True)
        S(init=True, retstate=True)
        S(init=True, retseq=True)
        S(goback=True, retseq=True, retstate=True)
        S(bias=False, retseq=True)
        S(B=1, T=1, retstate=True)
        S(B=2, T=7, retseq=True, retstate=True)
        S(bidir="concat", retseq=True)
        S(bidir="concat")
        S(bidir="concat", init=True, retseq=True, retstate=True)
        S(bidir="concat", retstate=True)
        S(bidir="sum", retseq=True)
        S(bidir="mul")
        S(bidir="ave", init=True, retseq=True)
        S(bidir="none", retseq=True, retstate=True)
        S(bidir="concat", bias=False, init=True, retstate=True)
        S(bidir="concat", B=1, T=1, retstate=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    source = "torch %s" % torch.__version__.split("+")[0]
    specs = all_specs()
    names = [case_name(s) for s in specs]
    assert len(set(names)) == len(names), "duplicate case names"
    for s in specs:
        write_case(args.out, build_case(s, source))
    print("wrote %d cases to %s (%s)" % (len(specs), args.out, source))


if __name__ == "__main__":
    main()
