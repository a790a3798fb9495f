"""Generate the Keras-format fixtures for loom::load_keras / loom::save_keras.

Run with the venv from make_venv.sh (tensorflow-cpu 2.21.0, tf-keras 2.21.0,
keras 3.15.1):

    PY=$(bash tests/layers/keras/gen/make_venv.sh | tail -n 1)
    $PY tests/layers/keras/gen/gen_fixtures.py [--out DIR] [--only SUBSTR]

For every case <case> it writes into tests/layers/keras/fixtures/:

  <case>.keras          Keras 3 (`keras` 3.15) `model.save`      (cases *_k3)
  <case>.h5             Keras 2 (`tf_keras` 2.21) `model.save(save_format="h5")`
                                                                 (cases *_k2), or
                        Keras 3's legacy .h5, `model.save("x.h5")` (cases *_k3h5)
  <case>.weights.h5     Keras 3 `save_weights`, some cases only
  <case>_weights.h5     tf_keras `save_weights(save_format="h5")`, some cases only
  <case>.json           inputs and Keras's predictions (schema below)

The weights-only files hold the same model after 0.1 was added to every weight;
`weights_outputs` are the predictions of that changed model. The model file is
always written before anything is predicted (stateful layers start from zeros).

JSON schema:
  {"case": str, "keras_version": str, "file": "<case>.keras" | "<case>.h5",
   "weights_file": str (optional),
   "inputs": [{"name": str, "dtype": "int32"|"float32"|"string",
               "shape": [...], "data": flat row-major list}],
   "outputs": [{"shape": [...], "data": flat list of floats}],
   "weights_outputs": [...] (optional, like outputs),
   "description": str}
Floats are float32 values written as Python floats (json repr). String inputs
have shape [N, 1] (the models take Input(shape=(1,), dtype="string")).

It also writes invalid models for the error tests into fixtures/bad/ (see
fixtures/bad/README.md).

Deterministic: every case clears the Keras session (so layer names restart at
"embedding", "lstm", ...), calls keras.utils.set_random_seed(1) and draws its
weights and inputs from a NumPy generator seeded from the case's base name
(without _k3/_k2), so both flavours of a case hold the same weights and
inputs wherever their weight lists line up. Running
it twice gives the same JSON; the .keras zips differ only in the date in
metadata.json.
"""

import os

for _k, _v in dict(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                   OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
                   TF_NUM_INTEROP_THREADS="1").items():
    os.environ[_k] = _v

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.set_visible_devices([], "GPU")
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402  (Keras 3)
import tf_keras  # noqa: E402  (Keras 2)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures"))

# Text for the TextVectorization cases: punctuation, apostrophes, upper case.
TV_ADAPT = [
    "This movie was GREAT!",
    "I didn't like the acting, at all.",
    "What a wonderful, wonderful film.",
    "Terrible plot; awful pacing...",
    "The actors weren't bad, but the script was.",
    "Loved it! Would watch it again.",
    "Boring. So boring.",
    "It's a fun ride for the whole family.",
    "Not my cup of tea, honestly.",
    "An instant classic -- brilliant!",
    "Worst film I've seen this year?",
    "The music was good; the story wasn't.",
]
TV_INPUTS = [
    "The movie was GREAT!",                                          # known words
    "A zyzzyva-like plot, truly bizarre.",                           # out-of-vocabulary
    "I didn't like the acting, the plot, the music or the ending.",  # > 7 tokens
    "BORING!!! so... so Boring?",                                    # punctuation, case
]


# ---------------------------------------------------------------------------
# helpers

def case_rng(name):
    return np.random.RandomState(zlib.crc32(name.encode()) & 0x7FFFFFFF)


def start_case(K, name):
    """Fresh session (layer names restart), fixed seeds, per-case generator."""
    K.backend.clear_session()
    keras.utils.set_random_seed(1)
    tf_keras.utils.set_random_seed(1)
    return case_rng(name)


def randomize(model, rng):
    """Every float weight <- uniform(-0.5, 0.5) (biases, forget gates too)."""
    for w in model.weights:
        if "float" not in str(w.dtype):
            continue
        shape = tuple(int(d) for d in w.shape)
        w.assign(rng.uniform(-0.5, 0.5, size=shape).astype(np.float32))


def bump(model, delta=0.1):
    for w in model.weights:
        if "float" in str(w.dtype):
            w.assign(np.asarray(w.numpy()) + np.float32(delta))


def tokens(rng, batch, steps, vocab, pads=("full", "end", "start", "endlong")):
    """Int tokens in [1, vocab) with zero padding: row patterns from `pads`.

    full: no padding; end: 2 zeros at the end; start: 2 zeros at the start;
    endlong: only 2 real tokens, then zeros; both: 1 zero each side.
    """
    x = rng.randint(1, vocab, size=(batch, steps)).astype(np.int32)
    for r in range(batch):
        p = pads[r % len(pads)]
        if p == "end":
            x[r, steps - 2:] = 0
        elif p == "start":
            x[r, :2] = 0
        elif p == "endlong":
            x[r, 2:] = 0
        elif p == "both":
            x[r, 0] = 0
            x[r, -1] = 0
    return x


def to_list(y):
    if isinstance(y, dict):
        raise TypeError("dict outputs are not used")
    if isinstance(y, (list, tuple)):
        return list(y)
    return [y]


def predict(model, inputs):
    xs = [tf.constant(a) for _, a in inputs]
    y = model(xs if len(xs) > 1 else xs[0], training=False)
    return [np.asarray(t).astype(np.float32) for t in to_list(y)]


def tensor_json(name, arr):
    if arr.dtype == object or arr.dtype.kind in "SU":
        dtype, data = "string", [str(s) for s in arr.ravel()]
    elif arr.dtype.kind in "iu":
        dtype, data = "int32", [int(v) for v in arr.ravel()]
    else:
        dtype, data = "float32", [float(v) for v in arr.astype(np.float32).ravel()]
    d = {"shape": list(arr.shape), "data": data}
    if name is not None:
        d = {"name": name, "dtype": dtype, **d}
    return d


def write_json(path, obj):
    """One top-level key per line; each tensor on a line of its own."""
    lines = []
    for k, v in obj.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            inner = ",\n".join("    " + json.dumps(t) for t in v)
            lines.append('  %s: [\n%s\n  ]' % (json.dumps(k), inner))
        else:
            lines.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


# ---------------------------------------------------------------------------
# cases: each builder(K, rng) -> (model, [(input name, array)], description)
# K is `keras` (Keras 3) or `tf_keras` (Keras 2). Where the two differ the
# builder looks at `K is keras`.

B, T, V, E, H = 4, 6, 20, 4, 3


def int_input(K, steps=T, name="tokens", batch=None):
    if batch is not None:
        if K is keras:
            return K.Input(batch_shape=(batch, steps), dtype="int32", name=name)
        return K.Input(shape=(steps,), batch_size=batch, dtype="int32", name=name)
    return K.Input(shape=(steps,), dtype="int32", name=name)


def c_embedding_lstm(K, rng):
    L = K.layers
    m = K.Sequential([int_input(K), L.Embedding(V, E, mask_zero=True), L.LSTM(H),
                      L.Dense(1, activation="sigmoid")])
    return m, [("tokens", tokens(rng, B, T, V))], \
        "Sequential Embedding(mask_zero) -> LSTM -> Dense(1, sigmoid)"


def c_simplernn_seq_maxpool(K, rng):
    L = K.layers
    m = K.Sequential([int_input(K), L.Embedding(V, E, mask_zero=True),
                      L.SimpleRNN(H, return_sequences=True), L.GlobalMaxPooling1D(),
                      L.Dense(2, activation="softmax")])
    return m, [("tokens", tokens(rng, B, T, V))], \
        "Sequential Embedding(mask_zero) -> SimpleRNN(return_sequences) -> GlobalMaxPooling1D -> Dense(2, softmax)"


def make_gru(reset_after):
    def c(K, rng):
        L = K.layers
        m = K.Sequential([int_input(K), L.Embedding(V, E, mask_zero=True),
                          L.GRU(H, reset_after=reset_after), L.Dense(2)])
        return m, [("tokens", tokens(rng, B, T, V))], \
            "Sequential Embedding(mask_zero) -> GRU(reset_after=%s) -> Dense(2)" % reset_after
    return c


def make_bidi(mode):
    def c(K, rng):
        L = K.layers
        m = K.Sequential([int_input(K), L.Embedding(V, E, mask_zero=True),
                          L.Bidirectional(L.LSTM(H, return_sequences=True), merge_mode=mode),
                          L.GlobalAveragePooling1D(), L.Dense(2)])
        return m, [("tokens", tokens(rng, B, T, V))], \
            "Sequential Embedding(mask_zero) -> Bidirectional(LSTM(return_sequences), merge_mode=%s) -> GlobalAveragePooling1D -> Dense(2)" % mode
    return c


def c_bidi_none(K, rng):
    L = K.layers
    x = int_input(K)
    e = L.Embedding(V, E, mask_zero=True)(x)
    fwd, bwd = L.Bidirectional(L.GRU(H), merge_mode=None)(e)
    y1 = L.Dense(1, activation="sigmoid", name="forward_head")(fwd)
    y2 = L.Dense(2, name="backward_head")(bwd)
    m = K.Model(x, [y1, y2])
    return m, [("tokens", tokens(rng, B, T, V))], \
        "functional Embedding(mask_zero) -> Bidirectional(GRU, merge_mode=None) -> [Dense(1, sigmoid) on forward, Dense(2) on backward]"


def c_bidi_backward_layer(K, rng):
    L = K.layers
    x = int_input(K)
    e = L.Embedding(V, E, mask_zero=True)(x)
    b = L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3, go_backwards=True, activation="relu"))(e)
    y = L.Dense(1, activation="sigmoid")(b)
    m = K.Model(x, y)
    return m, [("tokens", tokens(rng, B, T, V))], \
        "functional Embedding(mask_zero) -> Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards, relu)) -> Dense(1, sigmoid)"


def c_lstm_go_backwards(K, rng):
    L = K.layers
    m = K.Sequential([int_input(K), L.Embedding(V, E, mask_zero=True),
                      L.LSTM(H, go_backwards=True, return_sequences=True), L.Dense(2)])
    return m, [("tokens", tokens(rng, B, T, V))], \
        "Sequential Embedding(mask_zero) -> LSTM(go_backwards, return_sequences) -> Dense(2) per timestep (3-D output)"


def c_masking_float(K, rng):
    L = K.layers
    F = 3
    m = K.Sequential([K.Input(shape=(T, F), dtype="float32", name="features"),
                      L.Masking(mask_value=0.0), L.LSTM(H), L.Dense(2)])
    x = rng.uniform(-1, 1, size=(B, T, F)).astype(np.float32)
    x[1, T - 2:, :] = 0.0   # padded at the end
    x[2, :2, :] = 0.0       # padded at the start
    x[3, 2:, :] = 0.0       # two real steps
    x[0, 3, 0] = 0.0        # a single zero feature does not mask the step
    return m, [("features", x)], \
        "Sequential float Input(T, F) -> Masking(0.0) -> LSTM -> Dense(2); zero timesteps at start/end"


def c_dropout_layers(K, rng):
    L = K.layers
    m = K.Sequential([int_input(K), L.Embedding(V, E, mask_zero=True),
                      L.SpatialDropout1D(0.3),
                      L.LSTM(H, dropout=0.2, recurrent_dropout=0.2, return_sequences=True),
                      L.Dropout(0.5), L.GlobalAveragePooling1D(), L.Dense(4),
                      L.Activation("relu"), L.Dense(1)])
    return m, [("tokens", tokens(rng, B, T, V))], \
        "Sequential Embedding(mask_zero) -> SpatialDropout1D -> LSTM(dropout, recurrent_dropout, return_sequences) -> Dropout -> GlobalAveragePooling1D -> Dense(4) -> Activation(relu) -> Dense(1); inference"


def c_functional_two_inputs(K, rng):
    L = K.layers
    a = int_input(K, 5, "words")
    b = int_input(K, 7, "chars")
    ha = L.LSTM(H)(L.Embedding(V, E, mask_zero=True)(a))
    hb = L.GRU(H)(L.Embedding(12, 3)(b))
    z = L.Dense(3, activation="tanh")(L.Concatenate()([ha, hb]))
    y1 = L.Dense(1, activation="sigmoid", name="score")(z)
    y2 = L.Dense(2, activation="softmax", name="label")(z)
    m = K.Model([a, b], [y1, y2])
    return m, [("words", tokens(rng, B, 5, V)),
               ("chars", rng.randint(0, 12, size=(B, 7)).astype(np.int32))], \
        "functional two int inputs (T=5 Embedding(mask_zero) -> LSTM; T=7 Embedding -> GRU) -> Concatenate -> Dense(3, tanh) -> [Dense(1, sigmoid), Dense(2, softmax)]"


def c_stateful_lstm(K, rng):
    L = K.layers
    m = K.Sequential([int_input(K, batch=3), L.Embedding(V, E), L.LSTM(H, stateful=True),
                      L.Dense(1)])
    return m, [("tokens", rng.randint(0, V, size=(3, T)).astype(np.int32))], \
        "Sequential fixed batch 3: Embedding -> LSTM(stateful) -> Dense(1); one prediction from zero state"


def c_lstm_return_state(K, rng):
    L = K.layers
    x = int_input(K)
    e = L.Embedding(V, E, mask_zero=True)(x)
    s, h, c = L.LSTM(H, return_sequences=True, return_state=True)(e)
    y1 = L.Dense(2, name="state_head")(L.Concatenate()([h, c]))
    y2 = L.GlobalAveragePooling1D(name="seq_pool")(s)
    m = K.Model(x, [y1, y2])
    return m, [("tokens", tokens(rng, B, T, V))], \
        "functional Embedding(mask_zero) -> LSTM(return_sequences, return_state) -> [Dense(2) on concat(h, c), GlobalAveragePooling1D(seq)]"


def c_stacked_lstm(K, rng):
    L = K.layers
    m = K.Sequential([int_input(K), L.Embedding(V, E, mask_zero=True),
                      L.LSTM(H, return_sequences=True), L.LSTM(H), L.Dense(1)])
    return m, [("tokens", tokens(rng, B, T, V))], \
        "Sequential Embedding(mask_zero) -> LSTM(return_sequences) -> LSTM -> Dense(1)"


def c_dense_activations(K, rng):
    L = K.layers
    m = K.Sequential([K.Input(shape=(5,), dtype="float32", name="features"),
                      L.Dense(4, activation="relu"), L.Dense(4, activation="tanh"),
                      L.Dense(3, activation="softmax")])
    return m, [("features", rng.uniform(-1, 1, size=(B, 5)).astype(np.float32))], \
        "Sequential float Input(5) -> Dense(4, relu) -> Dense(4, tanh) -> Dense(3, softmax)"


def make_tv(K):
    tv = K.layers.TextVectorization(
        max_tokens=30, standardize="lower_and_strip_punctuation", split="whitespace",
        output_mode="int", output_sequence_length=7)
    tv.adapt(tf.constant(TV_ADAPT))
    return tv


def tv_inputs():
    return [("text", np.array(TV_INPUTS, dtype=object).reshape(-1, 1))]


def c_text_vectorization_bilstm(K, rng):
    L = K.layers
    x = K.Input(shape=(1,), dtype="string", name="text")
    t = make_tv(K)(x)
    e = L.Embedding(30, E, mask_zero=True)(t)
    y = L.Dense(1, activation="sigmoid")(L.Bidirectional(L.LSTM(4))(e))
    return K.Model(x, y), tv_inputs(), \
        "functional string Input(1) -> TextVectorization(30, lower_and_strip_punctuation, whitespace, int, len 7) -> Embedding(mask_zero) -> Bidirectional(LSTM(4)) -> Dense(1, sigmoid)"


def c_text_vectorization_sequential(K, rng):
    L = K.layers
    m = K.Sequential([K.Input(shape=(1,), dtype="string", name="text"), make_tv(K),
                      L.Embedding(30, E, mask_zero=True), L.Bidirectional(L.LSTM(4)),
                      L.Dense(1, activation="sigmoid")])
    return m, tv_inputs(), \
        "Sequential string Input(1) -> TextVectorization(30, len 7) -> Embedding(mask_zero) -> Bidirectional(LSTM(4)) -> Dense(1, sigmoid)"


BOTH = ("k3", "k2")
# (base name, builder, flavours, weights-only file too)
CASES = [
    ("embedding_lstm", c_embedding_lstm, BOTH, True),
    # Keras 3 writing the legacy .h5 format (Keras 3 config, Keras 2 layout).
    ("embedding_lstm", c_embedding_lstm, ("k3h5",), False),
    ("functional_two_inputs", c_functional_two_inputs, ("k3h5",), False),
    ("simplernn_seq_maxpool", c_simplernn_seq_maxpool, BOTH, False),
    ("gru_reset_after", make_gru(True), BOTH, False),
    ("gru_reset_before", make_gru(False), BOTH, False),
] + [("bidi_" + m, make_bidi(m), BOTH, False) for m in ("concat", "sum", "mul", "ave")] + [
    ("bidi_none", c_bidi_none, BOTH, False),
    ("bidi_backward_layer", c_bidi_backward_layer, BOTH, False),
    ("lstm_go_backwards", c_lstm_go_backwards, BOTH, False),
    ("masking_float", c_masking_float, BOTH, False),
    ("dropout_layers", c_dropout_layers, BOTH, False),
    ("functional_two_inputs", c_functional_two_inputs, BOTH, True),
    ("stateful_lstm", c_stateful_lstm, BOTH, False),
    ("lstm_return_state", c_lstm_return_state, BOTH, False),
    ("stacked_lstm", c_stacked_lstm, BOTH, False),
    ("text_vectorization_bilstm", c_text_vectorization_bilstm, ("k3",), True),
    ("text_vectorization_sequential", c_text_vectorization_sequential, ("k3",), False),
    ("dense_activations", c_dense_activations, BOTH, False),
]


def reset_states(model):
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()


def gen_case(out, base, builder, flavour, with_weights):
    K = tf_keras if flavour == "k2" else keras
    case = "%s_%s" % (base, flavour)
    rng = start_case(K, base)   # same weights and inputs for _k3 and _k2
    model, inputs, desc = builder(K, rng)
    randomize(model, rng)

    file = case + (".keras" if flavour == "k3" else ".h5")
    path = os.path.join(out, file)
    if flavour == "k2":
        model.save(path, save_format="h5")
    else:
        model.save(path)  # Keras 3 picks the format from the extension

    outputs = predict(model, inputs)
    obj = {"case": case, "keras_version": K.__version__, "file": file}
    if with_weights:
        obj["weights_file"] = case + (".weights.h5" if flavour == "k3" else "_weights.h5")
    obj["inputs"] = [tensor_json(n, a) for n, a in inputs]
    obj["outputs"] = [tensor_json(None, y) for y in outputs]
    if with_weights:
        reset_states(model)
        bump(model, 0.1)
        wout = predict(model, inputs)
        wpath = os.path.join(out, obj["weights_file"])
        if flavour == "k3":
            model.save_weights(wpath)
        else:
            model.save_weights(wpath, save_format="h5")
        obj["weights_outputs"] = [tensor_json(None, y) for y in wout]
        for a, b in zip(outputs, wout):
            assert np.max(np.abs(a - b)) > 1e-3, case + ": bump did not change the output"
    obj["description"] = desc
    write_json(os.path.join(out, case + ".json"), obj)
    return case, [file] + ([obj["weights_file"]] if with_weights else []) + [case + ".json"]


# ---------------------------------------------------------------------------
# invalid models for the error tests

BAD_README = """# Invalid Keras fixtures

Models loom::load_keras must reject with a clear error (written by
`../../gen/gen_fixtures.py`; Keras's seeded initial weights, no predictions).

| file | what |
|---|---|
"""


@keras.saving.register_keras_serializable(package="loom_test")
class MyScale(keras.layers.Layer):
    """A custom (registered, not built-in) layer: x * scale, passes masks."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                     name="scale")

    def call(self, x):
        return x * self.scale


def gen_bad(out):
    os.makedirs(out, exist_ok=True)
    written = []
    L3, L2 = keras.layers, tf_keras.layers

    def done(file, what):
        written.append((file, what))

    start_case(keras, "custom_layer_k3")
    m = keras.Sequential([int_input(keras), L3.Embedding(V, E, mask_zero=True), MyScale(),
                          L3.LSTM(H), L3.Dense(1)])
    m.save(os.path.join(out, "custom_layer_k3.keras"))
    done("custom_layer_k3.keras", "Keras 3: custom registered layer `loom_test>MyScale` "
         "between Embedding and LSTM (unknown class_name).")

    start_case(keras, "conv1d_k3")
    m = keras.Sequential([int_input(keras), L3.Embedding(V, E), L3.Conv1D(4, 3),
                          L3.GlobalMaxPooling1D(), L3.Dense(1)])
    m.save(os.path.join(out, "conv1d_k3.keras"))
    done("conv1d_k3.keras", "Keras 3: built-in but unsupported layer Conv1D.")

    start_case(tf_keras, "lstm_constraint_k2")
    m = tf_keras.Sequential([int_input(tf_keras), L2.Embedding(V, E, mask_zero=True),
                             L2.LSTM(H, kernel_constraint=tf_keras.constraints.MaxNorm(2)),
                             L2.Dense(1)])
    m.save(os.path.join(out, "lstm_constraint_k2.h5"), save_format="h5")
    done("lstm_constraint_k2.h5", "Keras 2 (.h5): LSTM with kernel_constraint=MaxNorm(2), "
         "an option Loom does not implement.")

    start_case(keras, "tv_tfidf_k3")
    tv = L3.TextVectorization(max_tokens=30, output_mode="tf_idf")
    tv.adapt(tf.constant(TV_ADAPT))
    x = keras.Input(shape=(1,), dtype="string", name="text")
    m = keras.Model(x, L3.Dense(1)(tv(x)))
    m.save(os.path.join(out, "tv_tfidf_k3.keras"))
    done("tv_tfidf_k3.keras", "Keras 3: TextVectorization(output_mode=\"tf_idf\") -> Dense "
         "(only output_mode=\"int\" is supported).")

    start_case(keras, "tv_bigrams_k3")
    tv = L3.TextVectorization(max_tokens=30, ngrams=2, output_mode="int",
                              output_sequence_length=7)
    tv.adapt(tf.constant(TV_ADAPT))
    x = keras.Input(shape=(1,), dtype="string", name="text")
    y = L3.Dense(1)(L3.LSTM(H)(L3.Embedding(30, E, mask_zero=True)(tv(x))))
    m = keras.Model(x, y)
    m.save(os.path.join(out, "tv_bigrams_k3.keras"))
    done("tv_bigrams_k3.keras", "Keras 3: TextVectorization(ngrams=2, output_mode=\"int\") "
         "-> Embedding -> LSTM -> Dense (n-grams unsupported).")

    start_case(keras, "mixed_precision_k3")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        m = keras.Sequential([keras.Input(shape=(5,), name="features"),
                              L3.Dense(4, activation="relu"), L3.Dense(1)])
        m.save(os.path.join(out, "mixed_precision_k3.keras"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    done("mixed_precision_k3.keras", "Keras 3: Dense model built under the "
         "\"mixed_bfloat16\" dtype policy (layer dtype is a DTypePolicy, not float32).")

    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(BAD_README)
        for file, what in written:
            f.write("| `%s` | %s |\n" % (file, what))
    return [w[0] for w in written]


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", default=None, help="only cases whose name contains this")
    ap.add_argument("--no-bad", action="store_true", help="skip fixtures/bad/")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if not args.only:
        # A full run owns the folder: drop files of cases that no longer exist.
        for d in (args.out, os.path.join(args.out, "bad")):
            if os.path.isdir(d):
                for f in os.listdir(d):
                    if f.endswith((".json", ".keras", ".h5")):
                        os.remove(os.path.join(d, f))

    summary = []
    for base, builder, flavours, with_weights in CASES:
        for fl in flavours:
            case = "%s_%s" % (base, fl)
            if args.only and args.only not in case:
                continue
            summary.append(gen_case(args.out, base, builder, fl, with_weights))
    bad = []
    if not args.no_bad and (not args.only or "bad" in args.only):
        bad = gen_bad(os.path.join(args.out, "bad"))

    total = 0
    print("%-40s %s" % ("case", "files (bytes)"))
    for case, files in summary:
        sizes = [(f, os.path.getsize(os.path.join(args.out, f))) for f in files]
        total += sum(s for _, s in sizes)
        print("%-40s %s" % (case, "  ".join("%s=%d" % fs for fs in sizes)))
    for f in bad:
        s = os.path.getsize(os.path.join(args.out, "bad", f))
        total += s
        print("%-40s %d" % ("bad/" + f, s))
    print("%d cases, %d bad files, %d bytes in all" % (len(summary), len(bad), total))


if __name__ == "__main__":
    sys.exit(main())
