"""Train the Keras 3 reference SST-2 sentiment model (for comparison with Loom).

    PY=$(bash tests/layers/keras/gen/make_venv.sh | tail -n 1)
    $PY examples/sentiment/keras/train_sst2_keras.py [DATA_DIR] \
        [--epochs 3] [--out model.keras] [--report report.json]

DATA_DIR (default: ../shared/data/sst2 relative to the repository root) holds
train.tsv, dev.tsv and test.tsv: `sentence<TAB>label` lines, no header, label
0 or 1.

Model (functional):
    Input(shape=(1,), dtype="string")
    -> TextVectorization(max_tokens=10000, output_sequence_length=50),
       adapted on the training sentences
    -> Embedding(10000, 64, mask_zero=True)
    -> Bidirectional(LSTM(32))
    -> Dense(1, sigmoid)
Adam(1e-3), binary cross-entropy, batch 32, validation on dev.tsv. Writes the
model (`model.save`, .keras) and a JSON report with Keras's test accuracy
(model.evaluate on test.tsv) and a few predictions. Seeded; runs on the CPU.
The saved model can be evaluated again with evaluate_keras.py, and so can a
model Loom exports with loom::save_keras.
"""

import os

for _k, _v in dict(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                   OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
                   TF_NUM_INTEROP_THREADS="1").items():
    os.environ[_k] = _v

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.set_visible_devices([], "GPU")
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "sst2"))

EXAMPLES = [
    "a gorgeous , witty , seductive movie .",
    "the plot is nothing but boilerplate cliches from start to finish .",
    "it 's not a great film , but it is a good one .",
    "an utterly unwatchable mess .",
]


def read_tsv(path):
    """-> (sentences, labels) from `sentence<TAB>label` lines."""
    sents, labels = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            text, sep, label = line.rpartition("\t")
            if not sep or label.strip() not in ("0", "1"):
                raise ValueError("%s:%d: expected sentence<TAB>0|1" % (path, n))
            sents.append(text)
            labels.append(int(label))
    return sents, np.array(labels, dtype=np.float32)


def dataset(sents, labels, batch, shuffle_seed=None):
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(np.array(sents, dtype=object).reshape(-1, 1)), labels))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(sents), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch)


def build_model(train_sents, max_tokens, seq_len, embed, units):
    tv = keras.layers.TextVectorization(max_tokens=max_tokens, output_mode="int",
                                        output_sequence_length=seq_len, name="text_vectorization")
    tv.adapt(tf.data.Dataset.from_tensor_slices(train_sents).batch(256))
    x = keras.Input(shape=(1,), dtype="string", name="text")
    t = tv(x)
    e = keras.layers.Embedding(max_tokens, embed, mask_zero=True, name="embedding")(t)
    h = keras.layers.Bidirectional(keras.layers.LSTM(units), name="bidirectional")(e)
    y = keras.layers.Dense(1, activation="sigmoid", name="dense")(h)
    return keras.Model(x, y, name="sst2_bilstm"), tv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", nargs="?", default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-tokens", type=int, default=10000)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="model.keras", help="where to save the model (.keras)")
    ap.add_argument("--report", default="report.json", help="where to write the JSON report")
    args = ap.parse_args()

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()

    paths = {s: os.path.join(args.data_dir, s + ".tsv") for s in ("train", "dev", "test")}
    for p in paths.values():
        if not os.path.isfile(p):
            print("error: %s not found (pass the SST-2 data directory)" % p, file=sys.stderr)
            return 2
    train_s, train_y = read_tsv(paths["train"])
    dev_s, dev_y = read_tsv(paths["dev"])
    test_s, test_y = read_tsv(paths["test"])
    print("train %d, dev %d, test %d sentences (%s)" % (len(train_s), len(dev_s), len(test_s),
                                                        args.data_dir))

    t0 = time.time()
    model, tv = build_model(train_s, args.max_tokens, args.seq_len, args.embed, args.units)
    vocab_size = len(tv.get_vocabulary())
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.summary()
    hist = model.fit(dataset(train_s, train_y, args.batch_size, shuffle_seed=args.seed),
                     validation_data=dataset(dev_s, dev_y, args.batch_size),
                     epochs=args.epochs, shuffle=False, verbose=2)  # ds is shuffled
    train_seconds = time.time() - t0

    test_loss, test_acc = model.evaluate(dataset(test_s, test_y, args.batch_size), verbose=0)
    print("test accuracy %.4f (loss %.4f) on %d sentences" % (test_acc, test_loss, len(test_s)))

    sample = test_s[:4] + EXAMPLES
    sample_y = [int(v) for v in test_y[:4]] + [None] * len(EXAMPLES)
    probs = model.predict(tf.constant(np.array(sample, dtype=object).reshape(-1, 1)), verbose=0)
    preds = []
    for s, y, p in zip(sample, sample_y, probs[:, 0]):
        preds.append({"sentence": s, "label": y, "probability": float(p)})
        print("  %.4f  %s  %s" % (p, "-" if y is None else y, s))

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    model.save(args.out)
    report = {
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "data_dir": os.path.abspath(args.data_dir),
        "model_file": os.path.abspath(args.out),
        "config": {k: getattr(args, k) for k in
                   ("epochs", "batch_size", "lr", "max_tokens", "seq_len", "embed", "units", "seed")},
        "vocabulary_size": vocab_size,
        "sizes": {"train": len(train_s), "dev": len(dev_s), "test": len(test_s)},
        "history": {k: [float(v) for v in vs] for k, vs in hist.history.items()},
        "train_seconds": round(train_seconds, 1),
        "test_loss": float(test_loss),
        "test_accuracy": float(test_acc),
        "predictions": preds,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    with open(args.report, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print("saved %s and %s (%.0f s)" % (args.out, args.report, train_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
