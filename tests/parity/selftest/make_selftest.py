"""Writes the runner self-test cases: copies of two committed Keras cases,
some left exact, some perturbed just inside or just outside the runner's
tolerances, some broken, plus expected.tsv saying what loom_parity must
print for each. runner_selftest.sh checks it.

    python3 tests/parity/selftest/make_selftest.py   # stdlib only
"""

import copy
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
cases = os.path.join(here, "..", "cases", "keras")
FWD_TOL, GRAD_TOL = 1e-5, 1e-4  # docs/PARITY_FORMAT.md

plain = json.load(open(os.path.join(cases, "lstm_b1_t6_mask-left_retstate.json")))
bidir = json.load(open(os.path.join(cases, "lstm_b3_t5_init_bidir-sum_retstate.json")))

expected = []  # (file stem, verdict, substring of loom_parity's line)


def write(stem, case, verdict, substring):
    case = copy.deepcopy(case)
    case["name"] = "selftest_" + stem
    with open(os.path.join(here, stem + ".json"), "w") as f:
        json.dump(case, f)
    expected.append((stem, verdict, substring))


def bump(tensor, path, rel):
    """Moves one element by rel * (1 + |ref|): an error of exactly rel."""
    *outer, last = path
    t = tensor
    for i in outer:
        t = t[i]
    t[last] += rel * (1 + abs(t[last]))


def perturbed(case, where, path, rel):
    c = copy.deepcopy(case)
    t = c
    for k in where:
        t = t[k]
    bump(t, path, rel)
    return c


# Exact copies pass; half a tolerance still passes.
write("pass_plain", plain, "PASS", "selftest_pass_plain fwd=")
write("pass_bidir", bidir, "PASS", "selftest_pass_bidir fwd=")
c = perturbed(plain, ["outputs", 0], [0, 1], 0.5 * FWD_TOL)
c = perturbed(c, ["grads", "weights", "kernel"], [1, 2], 0.5 * GRAD_TOL)
write("pass_half_tolerance", c, "PASS", "grad=5.0e-05 (weights.kernel)")

# Twice a tolerance fails, naming the tensor.
write("fail_output", perturbed(plain, ["outputs", 0], [0, 3], 2 * FWD_TOL), "FAIL",
      "fwd=2.0e-05 (output 0)")
write("fail_cell_state", perturbed(plain, ["outputs", 2], [0, 0], 2 * FWD_TOL), "FAIL",
      "fwd=2.0e-05 (output 2)")
write("fail_grad_inputs", perturbed(plain, ["grads", "inputs"], [0, 4, 1], 2 * GRAD_TOL),
      "FAIL", "grad=2.0e-04 (inputs)")
write("fail_grad_initial_state",
      perturbed(bidir, ["grads", "initial_state", 3], [2, 1], 2 * GRAD_TOL), "FAIL",
      "grad=2.0e-04 (initial_state[3])")
write("fail_grad_backward_bias",
      perturbed(bidir, ["grads", "weights", "backward", "bias"], [5], 2 * GRAD_TOL), "FAIL",
      "grad=2.0e-04 (weights.backward.bias)")
c = copy.deepcopy(plain)
c["outputs"][1][0][2] = float("nan")  # Python's json writes NaN; the reader accepts it
write("fail_nan", c, "FAIL", "fwd=nan (output 1)")

# Broken files fail with the file and the reason, and the run goes on.
c = copy.deepcopy(plain)
del c["cotangents"]
write("fail_missing_field", c, "FAIL", "field 'cotangents': missing")
c = copy.deepcopy(plain)
c["weights"]["kernel"] = c["weights"]["kernel"][:-1]
write("fail_weight_shape", c, "FAIL", "field 'weights.kernel': shape")
c = copy.deepcopy(plain)
c["outputs"] = c["outputs"][:2]
write("fail_output_count", c, "FAIL", "field 'outputs': 2 reference outputs but the layer returned 3")
c = copy.deepcopy(plain)
c["layer"]["type"] = "ConvLSTM2D"
write("fail_layer_type", c, "FAIL", "field 'layer.type': unknown type 'ConvLSTM2D'")
c = copy.deepcopy(plain)
c["grads"]["weights"]["recurrent_kernel"][0] = c["grads"]["weights"]["recurrent_kernel"][0][:-1]
write("fail_ragged", c, "FAIL", "field 'grads.weights.recurrent_kernel'")
c = json.load(open(os.path.join(cases, "gru-resetafter_b3_t5_nobias_retseq.json")))
c["weights"]["bias"] = [[0.0] * 15, [0.0] * 15]  # use_bias is false: must not be ignored
write("fail_bias_without_use_bias", c, "FAIL", "field 'weights.bias': present")
with open(os.path.join(here, "fail_truncated.json"), "w") as f:
    f.write(json.dumps(plain)[:300])
expected.append(("fail_truncated", "FAIL", "JSON parse error"))

with open(os.path.join(here, "expected.tsv"), "w") as f:
    f.write("# file stem\tverdict\tsubstring of loom_parity's line (make_selftest.py writes this)\n")
    for row in expected:
        f.write("\t".join(row) + "\n")
