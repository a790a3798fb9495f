"""Accuracy of a saved Keras 3 model (.keras) on a `sentence<TAB>label` TSV.

    PY=$(bash tests/layers/keras/gen/make_venv.sh | tail -n 1)
    $PY examples/sentiment/keras/evaluate_keras.py MODEL.keras TEST.tsv [--batch-size 256]

Meant for models Loom exports with loom::save_keras as well as those
train_sst2_keras.py writes. The model must take the raw sentences, i.e. an
Input(shape=(1,), dtype="string") followed by TextVectorization. A single
sigmoid output is thresholded at 0.5; a wider (softmax) output is argmaxed.
Prints the accuracy; --json also prints it as one JSON line.
"""

import os

for _k, _v in dict(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                   OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
                   TF_NUM_INTEROP_THREADS="1").items():
    os.environ[_k] = _v

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.set_visible_devices([], "GPU")

import keras  # noqa: E402


def read_tsv(path):
    sents, labels = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            text, sep, label = line.rpartition("\t")
            if not sep or not label.strip().isdigit():
                raise ValueError("%s:%d: expected sentence<TAB>label" % (path, n))
            sents.append(text)
            labels.append(int(label))
    return sents, np.array(labels, dtype=np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("tsv")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--json", action="store_true", help="also print a JSON line")
    args = ap.parse_args()

    model = keras.saving.load_model(args.model, compile=False)
    if len(model.inputs) != 1 or model.inputs[0].dtype != "string":
        print("error: %s must take one string input (Input(shape=(1,), dtype=\"string\") -> "
              "TextVectorization); it takes %s" % (args.model,
                                                   [(t.name, t.dtype, t.shape) for t in model.inputs]),
              file=sys.stderr)
        return 2
    sents, labels = read_tsv(args.tsv)
    x = tf.constant(np.array(sents, dtype=object).reshape(-1, 1))
    y = model.predict(x, batch_size=args.batch_size, verbose=0)
    if isinstance(y, (list, tuple)):
        y = y[0]
    y = np.asarray(y)
    pred = (y[:, 0] > 0.5).astype(np.int64) if y.shape[-1] == 1 else np.argmax(y, axis=-1)
    correct = int(np.sum(pred == labels))
    acc = correct / max(len(labels), 1)
    print("accuracy %.4f (%d/%d) %s on %s" % (acc, correct, len(labels), args.model, args.tsv))
    if args.json:
        print(json.dumps({"model": args.model, "tsv": args.tsv, "accuracy": acc,
                          "correct": correct, "total": len(labels)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
