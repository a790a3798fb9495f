"""PyTorch peer for Loom's training-step benchmarks.

One full training step of
    Embedding(vocab, E) -> RNN (LSTM | GRU | SimpleRNN tanh, optionally
    bidirectional, concat) -> last-step output -> Linear(1) -> BCEWithLogits
    -> Adam (dense, every parameter)
on random (seeded) token ids, timed per step after warm-up.

Prints one line
    pytorch cell=lstm threads=1 median_ms=X tokens_per_s=Y ...
(tokens = batch * timesteps). With --json the line goes to stderr and stdout
gets one JSON object instead.

Dropout is variational as in docs/SEMANTICS.md: one input mask (B, F) per batch,
and with --recurrent-dropout one recurrent mask (B, H) per batch on h where
it enters the recurrent matmul. PyTorch's fused RNNs cannot do the latter, so
then the cell is stepped in a Python loop, which is what a PyTorch user has
to write.

Run with the venv from bench/setup_peer.sh, e.g. imdb-lstm:
    python bench/pytorch_peer.py --cell lstm --batch 32 --timesteps 80 \
        --features 128 --units 128 --vocab 20000 --threads 1
"""

import argparse
import json
import os
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description="PyTorch RNN training-step peer benchmark")
    ap.add_argument("--cell", choices=["lstm", "gru", "simplernn"], default="lstm")
    ap.add_argument("--bidirectional", action="store_true")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--timesteps", type=int, default=80)
    ap.add_argument("--features", type=int, default=128, help="embedding size E")
    ap.add_argument("--units", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=20000)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--recurrent-dropout", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--sparse-embedding", action="store_true",
                    help="nn.Embedding(sparse=True) updated by SparseAdam (lazy rows); "
                         "the other parameters by Adam")
    ap.add_argument("--flush-denormal", choices=["on", "off"], default="on",
                    help="torch.set_flush_denormal (default on: Loom flushes denormals "
                         "by default, as TensorFlow does; PyTorch's own default is off)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="cuda: model, data and masks on the GPU (cuDNN RNNs; the "
                         "recurrent-dropout model is the LSTMCell loop), each step "
                         "ending with torch.cuda.synchronize()")
    ap.add_argument("--precision", choices=["f32", "bf16", "f16"], default="f32",
                    help="bf16/f16: forward and loss under torch.autocast to that dtype "
                         "(f16 with a GradScaler), as PyTorch's mixed-precision recipe")
    ap.add_argument("--json", action="store_true", help="print a JSON object on stdout")
    return ap.parse_args()


args = parse_args()
# Thread pools size themselves when the libraries load, so this must precede
# `import torch`. OpenBLAS in particular ignores torch.set_num_threads.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)
# A gradient decaying over a long sequence turns subnormal; without flushing,
# large-lstm (T=200) runs ~25x slower here. Both sides flush by default.
torch.set_flush_denormal(args.flush_denormal == "on")


def variational_mask(shape, rate, gen):
    """Inverted-dropout mask, drawn once per batch and reused at every step."""
    keep = 1.0 - rate
    return torch.bernoulli(torch.full(shape, keep, device=gen.device), generator=gen) / keep


class LoopedDirection(nn.Module):
    """One direction of an RNN stepped in Python, for recurrent dropout."""

    def __init__(self, cell, F_, H, reverse):
        super().__init__()
        self.kind, self.H, self.reverse = cell, H, reverse
        if cell == "lstm":
            self.cell = nn.LSTMCell(F_, H)
        elif cell == "gru":
            # nn.GRUCell would also mask the h of the interpolation z*h; the
            # step is written out to mask only the recurrent matmul's input.
            self.cell = nn.GRUCell(F_, H)
        else:
            self.cell = nn.RNNCell(F_, H, nonlinearity="tanh")

    def forward(self, x, rmask):
        B, T, _ = x.shape
        h = x.new_zeros(B, self.H)
        c = x.new_zeros(B, self.H)
        steps = range(T - 1, -1, -1) if self.reverse else range(T)
        if self.kind == "gru":
            cell = self.cell
            gi_all = F.linear(x, cell.weight_ih, cell.bias_ih)  # all steps at once
            for t in steps:
                gi = gi_all[:, t]
                gh = F.linear(h * rmask, cell.weight_hh, cell.bias_hh)
                i_r, i_z, i_n = gi.chunk(3, 1)
                h_r, h_z, h_n = gh.chunk(3, 1)
                r = torch.sigmoid(i_r + h_r)
                z = torch.sigmoid(i_z + h_z)
                n = torch.tanh(i_n + r * h_n)
                h = (1 - z) * n + z * h
            return h
        for t in steps:
            # In LSTMCell and RNNCell h enters only the recurrent matmul, so
            # masking it here masks exactly that input.
            if self.kind == "lstm":
                h, c = self.cell(x[:, t], (h * rmask, c))
            else:
                h = self.cell(x[:, t], h * rmask)
        return h


class Net(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.dirs = 2 if a.bidirectional else 1
        self.emb = nn.Embedding(a.vocab, a.features, sparse=a.sparse_embedding)
        self.looped = a.recurrent_dropout > 0
        if self.looped:
            self.rnn = nn.ModuleList(
                LoopedDirection(a.cell, a.features, a.units, reverse=d == 1)
                for d in range(self.dirs))
        else:
            cls = {"lstm": nn.LSTM, "gru": nn.GRU, "simplernn": nn.RNN}[a.cell]
            self.rnn = cls(a.features, a.units, batch_first=True,
                           bidirectional=a.bidirectional)
        self.fc = nn.Linear(a.units * self.dirs, 1)

    def forward(self, ids, gen):
        a = self.a
        x = self.emb(ids)
        B = x.shape[0]
        if self.looped:
            last = []
            for d, direction in enumerate(self.rnn):
                xd = x
                if a.dropout > 0:  # each direction is its own layer with its own masks
                    xd = x * variational_mask((B, a.features), a.dropout, gen)[:, None, :]
                rmask = variational_mask((B, a.units), a.recurrent_dropout, gen)
                last.append(direction(xd, rmask))
            last = torch.cat(last, 1)
        else:
            if a.dropout > 0:
                x = x * variational_mask((B, a.features), a.dropout, gen)[:, None, :]
            _, hn = self.rnn(x)
            hn = hn[0] if a.cell == "lstm" else hn
            # h_n = forward last step and backward final state (Keras's
            # non-sequence Bidirectional output), concatenated.
            last = torch.cat(list(hn), 1)
        return self.fc(last).squeeze(1)


def main():
    a = args
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    data_gen = torch.Generator().manual_seed(a.seed + 1)
    gen = torch.Generator(device=dev).manual_seed(a.seed + 2)  # dropout masks
    model = Net(a).to(dev)
    if a.sparse_embedding:
        dense = [p for n, p in model.named_parameters() if not n.startswith("emb.")]
        opts = [torch.optim.SparseAdam(list(model.emb.parameters()), lr=1e-3),
                torch.optim.Adam(dense, lr=1e-3)]
    else:
        opts = [torch.optim.Adam(model.parameters(), lr=1e-3)]
    loss_fn = nn.BCEWithLogitsLoss()
    autocast_dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(a.precision)
    scaler = (torch.amp.GradScaler(a.device) if a.precision == "f16" else None)

    # A few fixed batches, cycled, so data generation is not timed.
    nbatch = 4
    data = [(torch.randint(1, a.vocab, (a.batch, a.timesteps), generator=data_gen).to(dev),
             torch.randint(0, 2, (a.batch,), generator=data_gen).float().to(dev))
            for _ in range(nbatch)]

    def step(i):
        ids, y = data[i % nbatch]
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        if autocast_dtype is None:
            loss = loss_fn(model(ids, gen), y)
        else:
            with torch.autocast(dev.type, dtype=autocast_dtype):
                loss = loss_fn(model(ids, gen), y)
        if scaler is None:
            loss.backward()
            for opt in opts:
                opt.step()
        else:
            scaler.scale(loss).backward()
            for opt in opts:
                scaler.step(opt)
            scaler.update()
        if dev.type == "cuda":
            torch.cuda.synchronize()  # time whole steps, as Loom's (its loss.item() waits)
        return loss

    model.train()
    for i in range(a.warmup):
        step(i)
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        step(i)
        times.append((time.perf_counter() - t0) * 1e3)

    med = statistics.median(times)
    tps = a.batch * a.timesteps / (med / 1e3)
    cell = a.cell
    line = ("pytorch cell=%s threads=%d median_ms=%.2f tokens_per_s=%.0f "
            "bidirectional=%d batch=%d timesteps=%d features=%d units=%d vocab=%d "
            "dropout=%g recurrent_dropout=%g path=%s flush_denormal=%s embedding=%s torch=%s "
            "device=%s precision=%s"
            % (cell, a.threads, med, tps, a.bidirectional, a.batch, a.timesteps,
               a.features, a.units, a.vocab, a.dropout, a.recurrent_dropout,
               "cell-loop" if model.looped else "fused", a.flush_denormal,
               "sparse" if a.sparse_embedding else "dense", torch.__version__, a.device,
               a.precision))
    if a.json:
        print(line, file=sys.stderr)
        print(json.dumps({
            "framework": "pytorch", "torch": torch.__version__, "cell": cell,
            "device": a.device, "precision": a.precision,
            "bidirectional": a.bidirectional, "batch": a.batch,
            "timesteps": a.timesteps, "features": a.features, "units": a.units,
            "vocab": a.vocab, "dropout": a.dropout,
            "recurrent_dropout": a.recurrent_dropout, "threads": a.threads,
            "path": "cell-loop" if model.looped else "fused",
            "flush_denormal": a.flush_denormal,
            "parameters": sum(p.numel() for p in model.parameters()),
            "warmup": a.warmup, "steps": a.steps, "median_ms": med,
            "min_ms": min(times), "mean_ms": statistics.fmean(times),
            "tokens_per_s": tps, "step_ms": times,
        }))
    else:
        print(line)


if __name__ == "__main__":
    main()
