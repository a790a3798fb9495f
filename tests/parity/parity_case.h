// The reader and runner of one recurrent-layer parity case (format
// rnn-parity/1, docs/PARITY_FORMAT.md), shared by loom_parity.cpp and the
// fuzz target tests/fuzz/fuzz_parity.cpp: build the layer a case describes,
// load its weights, run it forward and backward and compare with the
// recorded results. Every malformed case is a loom::Error naming the file
// and the field.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom_parity {

using namespace loom;

constexpr double kForwardTol = 1e-5;   // docs/PARITY_FORMAT.md
constexpr double kGradientTol = 1e-4;  // docs/PARITY_FORMAT.md

// Where the layer runs: the CPU (backends reference, onednn) or cuda:0 (--backend cuda).
inline Device g_device = Device::cpu();

// The worst element of a group of tensor comparisons.
struct Worst {
  double error = 0.0;
  std::string where = "-";  // tensor label, e.g. "output 1" or "weights.kernel"
  std::string detail;       // the element and both values, for FAIL lines
  // Records `err` unless a larger one is already held; NaN always wins.
  void offer(double err, const std::string& label, const std::string& det) {
    if (where == "-" || (std::isnan(err) ? !std::isnan(error) : err > error)) {
      error = err;
      where = label;
      detail = det;
    }
  }
};

// Case-file errors name the file and the field.
struct CaseContext {
  std::string path;
  [[noreturn]] void bad(const std::string& field, const std::string& why) const {
    fail("{}: field '{}': {}", path, field, why);
  }
};

inline std::string index_str(const Shape& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = flat % shape[k];
    flat /= shape[k];
  }
  return fmt::format("[{}]", fmt::join(idx, ","));
}

// A case array as a tensor of `dtype`. Values are rounded to float32 first:
// the files hold float32 values (%.9g round-trips), so the f64 run sees
// exactly the numbers the reference consumed.
inline Tensor tensor_from_json(const CaseContext& c, const Json& j, const std::string& field,
                        DType dtype) {
  NumericArray a;
  try {
    a = j.to_numeric_array();
  } catch (const Error& e) {
    c.bad(field, e.what());
  }
  if (a.shape.empty()) c.bad(field, "expected an array, got a bare number");
  std::vector<double> v(a.values.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(static_cast<float>(a.values[i]));
  return Tensor::from_vector(v, a.shape).to(dtype);
}

// Copies a case's weight into a layer's parameter (in place: it stays the
// same leaf the layer computes with).
inline void load_weight(const CaseContext& c, const Json& weights, const std::string& key,
                 const ParameterPtr& param, const std::string& field, DType dtype) {
  const Json* j = weights.find(key);
  if (!param) {
    if (j && !j->is_null())
      c.bad(field, "present, but the layer has no such weight (use_bias is false)");
    return;
  }
  if (!j || j->is_null())
    c.bad(field, fmt::format("missing; the layer has {} of shape {}", param->name,
                             shape_str(param->value.shape())));
  const Tensor v = tensor_from_json(c, *j, field, dtype);
  if (v.shape() != param->value.shape())
    c.bad(field, fmt::format("shape {} does not match the layer's {} {}", shape_str(v.shape()),
                             param->name, shape_str(param->value.shape())));
  LOOM_CHECK(param->value.is_contiguous(), "{}: parameter {} is not contiguous", c.path,
             param->name);
  NoGradGuard no_grad;
  const std::vector<double> src = v.to_vector<double>();
  if (dtype == DType::f32) {
    float* dst = param->value.data<float>();
    for (size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<float>(src[i]);
  } else {
    double* dst = param->value.data<double>();
    std::copy(src.begin(), src.end(), dst);
  }
}

// The layer's weights with their case names ("weights.kernel",
// "weights.forward.bias", ...), in the order of the case's grads.weights.
// Without use_bias the bias entry has a null param (the file must not have one).
struct NamedWeight {
  std::string field;  // "weights.forward.kernel"
  std::string key;    // "kernel"
  std::string group;  // "" or "forward"/"backward"
  ParameterPtr param;
};

inline std::vector<NamedWeight> weights_of(const BuiltinRNN& layer, const std::string& group) {
  const std::string prefix = group.empty() ? "weights." : "weights." + group + ".";
  std::vector<NamedWeight> out{
      {prefix + "kernel", "kernel", group, layer.kernel()},
      {prefix + "recurrent_kernel", "recurrent_kernel", group, layer.recurrent_kernel()},
      {prefix + "bias", "bias", group, layer.bias()}};
  return out;
}

inline std::shared_ptr<BuiltinRNN> make_layer_from_case(const CaseContext& c, const Json& layer) {
  auto str = [&](const char* key, const char* fallback) -> std::string {
    const Json* v = layer.find(key);
    if (!v || v->is_null()) {
      if (fallback) return fallback;
      c.bad(std::string("layer.") + key, "missing");
    }
    if (!v->is_string())
      c.bad(std::string("layer.") + key, fmt::format("expected a string, got {}", v->type_name()));
    return v->as_string();
  };
  auto flag = [&](const char* key, bool fallback) -> bool {
    const Json* v = layer.find(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_bool())
      c.bad(std::string("layer.") + key, fmt::format("expected a boolean, got {}", v->type_name()));
    return v->as_bool();
  };
  if (!layer.is_object())
    c.bad("layer", fmt::format("expected an object, got {}", layer.type_name()));
  const std::string type = str("type", nullptr);
  const Json* units = layer.find("units");
  if (!units || !units->is_integer() || units->as_int() <= 0)
    c.bad("layer.units", "expected a positive integer");

  RecurrentOptions o;
  o.units = units->as_int();
  o.activation = str("activation", "tanh");
  o.recurrent_activation = str("recurrent_activation", "sigmoid");
  o.use_bias = flag("use_bias", true);
  o.reset_after = flag("reset_after", true);  // Keras 2's GRU default
  o.return_sequences = flag("return_sequences", false);
  o.return_state = flag("return_state", false);
  o.go_backwards = flag("go_backwards", false);
  o.zero_output_for_mask = flag("zero_output_for_mask", false);
  if (type == "SimpleRNN") return SimpleRNN::make(o, "rnn");
  if (type == "LSTM") return LSTM::make(o, "rnn");
  if (type == "GRU") return GRU::make(o, "rnn");
  c.bad("layer.type", fmt::format("unknown type '{}' (expected SimpleRNN, LSTM or GRU)", type));
}

struct CaseResult {
  std::string name;
  bool ok = false;
  Worst fwd, grad;
  double fwd_tol = kForwardTol, grad_tol = kGradientTol;
  bool forward_only = false;  // mixed precision with relu (see run_case_json)
};

// The tolerances of a case run under a mixed policy (compute bf16 or f16)
// against its f32/f64 reference, from the format's unit roundoff u = 2^-p
// (p = 8 significand bits for bf16, 11 for f16): rounding both operands of
// a product errs by at most 2u of its magnitude, the activations are
// 1-Lipschitz and each step's error is carried into the next, so T steps
// give about 2uT, plus 2u for the last product: forward 2u(T + 1);
// gradients chain through the same products once more: twice that.
// (docs/PARITY_FORMAT.md, "Mixed precision".)
inline double mixed_forward_tolerance(DType compute, int64_t T) {
  const double u = compute == DType::bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  return 2.0 * u * static_cast<double>(T + 1);
}

// max |a - b| / (1 + |b|) of loom `a` against reference `b` (same shape).
inline void compare(const CaseContext& c, const Tensor& a, const Tensor& ref, const std::string& label,
             Worst& worst) {
  if (a.shape() != ref.shape())
    c.bad(label, fmt::format("reference shape {} but Loom computed {}", shape_str(ref.shape()),
                             shape_str(a.shape())));
  const std::vector<double> x = a.to_vector<double>(), y = ref.to_vector<double>();
  double err = 0.0;
  int64_t at = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = std::abs(x[i] - y[i]) / (1.0 + std::abs(y[i]));
    if (std::isnan(e) || e > err) {
      err = std::isnan(e) ? std::numeric_limits<double>::quiet_NaN() : e;
      at = static_cast<int64_t>(i);
      if (std::isnan(e)) break;
    }
  }
  const std::string det =
      at < 0 ? ""
             : fmt::format("{}{}: loom={:.9g} ref={:.9g}", label, index_str(ref.shape(), at),
                           x[static_cast<size_t>(at)], y[static_cast<size_t>(at)]);
  worst.offer(err, label, det);
}

inline std::vector<Tensor> tensor_list(const CaseContext& c, const Json& j, const std::string& field,
                                DType dtype) {
  if (!j.is_array()) c.bad(field, fmt::format("expected a list of tensors, got {}", j.type_name()));
  std::vector<Tensor> out;
  for (size_t k = 0; k < j.size(); ++k)
    out.push_back(tensor_from_json(c, j.at(k), fmt::format("{}[{}]", field, k), dtype));
  return out;
}

// One case from its parsed JSON (`path` names it in errors).
// `compute` bf16 or f16 runs it under that mixed precision (the products'
// operands rounded), checked at mixed_forward_tolerance.
inline CaseResult run_case_json(const Json& doc, const std::string& path, DType dtype,
                                DType compute = DType::f32) {
  CaseContext c{path};
  if (!doc.is_object())
    c.bad("(top level)", fmt::format("expected an object, got {}", doc.type_name()));
  auto need = [&](const char* key) -> const Json& {
    const Json* v = doc.find(key);
    if (!v) c.bad(key, "missing");
    return *v;
  };
  if (!need("format").is_string() || need("format").as_string() != "rnn-parity/1")
    c.bad("format", "expected \"rnn-parity/1\"");
  CaseResult r;
  if (!need("name").is_string()) c.bad("name", "expected a string");
  r.name = need("name").as_string();

  // ---- the layer -------------------------------------------------------------------------
  const std::shared_ptr<BuiltinRNN> inner = make_layer_from_case(c, need("layer"));
  const Json& bidir = need("bidirectional");
  std::shared_ptr<Bidirectional> bi;
  if (!bidir.is_null()) {
    if (!bidir.is_object()) c.bad("bidirectional", "expected null or an object");
    const Json* mm = bidir.find("merge_mode");
    if (!mm) c.bad("bidirectional.merge_mode", "missing (null means none)");
    if (!mm->is_null() && !mm->is_string())
      c.bad("bidirectional.merge_mode", "expected a string or null");
    Bidirectional::Options bo;
    bo.merge_mode = mm->is_null() ? "none" : mm->as_string();
    bi = Bidirectional::make(inner, bo, "bidirectional");
  }
  Layer& layer = bi ? static_cast<Layer&>(*bi) : static_cast<Layer&>(*inner);

  // A mixed policy on the layer (a Bidirectional passes it to both directions).
  if (compute == DType::bf16) layer.set_dtype_policy("mixed_bfloat16");
  if (compute == DType::f16) layer.set_dtype_policy("mixed_float16");

  // ---- inputs ----------------------------------------------------------------------------
  Tensor x = tensor_from_json(c, need("inputs"), "inputs", dtype);
  if (x.ndim() != 3)
    c.bad("inputs",
          fmt::format("expected (batch, timesteps, features), got {}", shape_str(x.shape())));
  x = x.to(g_device);  // the leaf lives where the layer runs
  x.set_requires_grad(true);
  const int64_t B = x.dim(0), T = x.dim(1);
  Tensor mask;
  if (!need("mask").is_null()) {
    mask = tensor_from_json(c, need("mask"), "mask", dtype);
    if (mask.shape() != Shape({B, T}))
      c.bad("mask", fmt::format("shape {} does not match inputs (B,T) = {}",
                                shape_str(mask.shape()), shape_str({B, T})));
    mask = mask.to(g_device);
  }
  std::vector<Tensor> initial;
  if (!need("initial_state").is_null()) {
    initial = tensor_list(c, need("initial_state"), "initial_state", dtype);
    for (Tensor& s : initial) {
      s = s.to(g_device);
      s.set_requires_grad(true);
    }
  }

  {
    // Every weight must be in the case, each value at least 2 bytes of its
    // text: that bounds what building the layer may allocate ("units":
    // 200000000 beside a 2x8 kernel is refused, not allocated).
    const Json* w = doc.find("weights");
    WeightBudget budget(8 * (w ? w->dump().size() : 0) + (uint64_t{1} << 20), path + ": the layer");
    layer.ensure_built({x.shape()}, {dtype});
  }
  std::vector<NamedWeight> weights;
  const Json& wj = need("weights");
  if (!wj.is_object()) c.bad("weights", "expected an object");
  if (bi) {
    auto bw = std::dynamic_pointer_cast<BuiltinRNN>(bi->backward_layer());
    LOOM_CHECK(bw != nullptr, "{}: the backward layer is not a built-in RNN", path);
    for (auto& w : weights_of(*inner, "forward")) weights.push_back(w);
    for (auto& w : weights_of(*bw, "backward")) weights.push_back(w);
    for (const char* g : {"forward", "backward"})
      if (!wj.find(g) || !wj.at(g).is_object())
        c.bad(std::string("weights.") + g, "missing or not an object");
  } else {
    weights = weights_of(*inner, "");
  }
  for (const NamedWeight& w : weights)
    load_weight(c, w.group.empty() ? wj : wj.at(w.group), w.key, w.param, w.field, dtype);
  std::erase_if(weights, [](const NamedWeight& w) { return !w.param; });  // no bias: no gradient
  layer.to(g_device);  // loaded on the host, then moved (--backend cuda)

  // ---- forward ---------------------------------------------------------------------------
  RnnCallArgs args;
  args.mask = mask;
  args.initial_state = initial;
  args.training = false;
  const LayerOutput out = bi ? bi->run(x, args) : inner->run(x, args);

  const std::vector<Tensor> ref_out = tensor_list(c, need("outputs"), "outputs", dtype);
  if (ref_out.size() != out.size())
    c.bad("outputs", fmt::format("{} reference outputs but the layer returned {}", ref_out.size(),
                                 out.size()));
  for (size_t k = 0; k < out.size(); ++k)
    compare(c, out[k], ref_out[k], fmt::format("output {}", k), r.fwd);

  // ---- gradients of sum_k <outputs[k], cotangents[k]> --------------------------------------
  std::vector<Tensor> cot = tensor_list(c, need("cotangents"), "cotangents", dtype);
  for (Tensor& t : cot) t = t.to(g_device);
  if (cot.size() != out.size())
    c.bad("cotangents", fmt::format("{} cotangents for {} outputs", cot.size(), out.size()));
  for (size_t k = 0; k < cot.size(); ++k)
    if (cot[k].shape() != out[k].shape())
      c.bad(fmt::format("cotangents[{}]", k),
            fmt::format("shape {} but output {} is {}", shape_str(cot[k].shape()), k,
                        shape_str(out[k].shape())));

  std::vector<Tensor> wrt{x};
  wrt.insert(wrt.end(), initial.begin(), initial.end());
  for (const NamedWeight& w : weights) wrt.push_back(w.param->value);
  const std::vector<Tensor> g = loom::grad(out.tensors, cot, wrt);

  const Json& gj = need("grads");
  if (!gj.is_object()) c.bad("grads", "expected an object");
  auto gfield = [&](const char* key) -> const Json& {
    const Json* v = gj.find(key);
    if (!v || v->is_null()) c.bad(std::string("grads.") + key, "missing");
    return *v;
  };
  size_t gi = 0;
  compare(c, g[gi++], tensor_from_json(c, gfield("inputs"), "grads.inputs", dtype), "inputs",
          r.grad);
  if (!initial.empty()) {
    const std::vector<Tensor> ref =
        tensor_list(c, gfield("initial_state"), "grads.initial_state", dtype);
    if (ref.size() != initial.size())
      c.bad("grads.initial_state",
            fmt::format("{} tensors for {} initial states", ref.size(), initial.size()));
    for (size_t k = 0; k < ref.size(); ++k)
      compare(c, g[gi++], ref[k], fmt::format("initial_state[{}]", k), r.grad);
  }
  const Json& gw = gfield("weights");
  for (const NamedWeight& w : weights) {
    const std::string field = "grads." + w.field;
    const Json* group = w.group.empty() ? &gw : gw.find(w.group);
    if (!group || !group->find(w.key)) c.bad(field, "missing");
    compare(c, g[gi++], tensor_from_json(c, group->at(w.key), field, dtype), w.field, r.grad);
  }

  if (compute != DType::f32 && dtype == DType::f32) {
    r.fwd_tol = mixed_forward_tolerance(compute, x.dim(1));
    r.grad_tol = 2 * r.fwd_tol;
    // relu's derivative jumps at 0: a pre-activation within the rounding
    // error of 0 flips it between 0 and 1 and no tolerance holds for the
    // gradients (one torch case does, under f16). Forward only there.
    const Json* act = need("layer").find("activation");
    if (act && act->is_string() && act->as_string() == "relu") {
      r.grad_tol = std::numeric_limits<double>::infinity();
      r.forward_only = true;
    }
  }
  r.ok = r.fwd.error <= r.fwd_tol && r.grad.error <= r.grad_tol;  // false for NaN
  return r;
}

inline CaseResult run_case(const std::string& path, DType dtype, DType compute = DType::f32) {
  return run_case_json(Json::parse_file(path), path, dtype, compute);
}

}  // namespace loom_parity
