// Recurrent-layer consistency of a backend against the reference backend,
// shared by the oneDNN (tests/backend_consistency) and CUDA (tests/cuda)
// suites.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
//
// A configuration runs twice through rnn_sequence (the whole-sequence tape
// entry every built-in RNN layer uses): on the backend under test, where its
// own RNN takes the configurations it supports and the explicit BPTT on its
// GEMM and step kernels takes the rest, and on the reference backend in f64
// (the oracle). Outputs, final states and the gradients of a random linear
// loss with respect to x, the initial states and the three weights must agree.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "backends/consistency/consistency_util.h"
#include "loom/autograd/precision.h"
#include "loom/layers/rnn/bptt.h"

namespace loom::test {

inline constexpr double kOutputTol = 2e-5;    // max |onednn - ref| / (1 + |ref|)
inline constexpr double kGradientTol = 2e-4;

enum class MaskType { none, right, left, holes, empty_row };

inline const char* mask_name(MaskType m) {
  switch (m) {
    case MaskType::none: return "none";
    case MaskType::right: return "right";
    case MaskType::left: return "left";
    case MaskType::holes: return "holes";
    case MaskType::empty_row: return "empty_row";
  }
  return "?";
}

struct Config {
  RnnDesc desc;  // cell, reset_after, activations, go_backwards, return_sequences, zero_output_for_mask
  int64_t B = 2, T = 3, F = 2, H = 2;
  bool initial_state = false, use_bias = true;
  MaskType mask = MaskType::none;
  bool input_dropout = false, recurrent_dropout = false;

  std::string str() const {
    const RnnDesc& d = desc;
    return fmt::format(
        "{}{} act={} rec_act={} B={} T={} F={} H={} backwards={} seq={} zero_out={} h0={} "
        "bias={} mask={} dropout={} rec_dropout={}",
        rnn_cell_kind_name(d.cell),
        d.cell == RnnCellKind::gru ? (d.reset_after ? "(reset_after)" : "(reset_before)") : "",
        rnn_activation_name(d.activation), rnn_activation_name(d.recurrent_activation), B, T, F,
        H, d.go_backwards, d.return_sequences, d.zero_output_for_mask, initial_state, use_bias,
        mask_name(mask), input_dropout, recurrent_dropout);
  }
  // The descriptor rnn_sequence will hand the backend in f32.
  RnnDesc full_desc() const {
    RnnDesc d = desc;
    d.B = B;
    d.T = T;
    d.F = F;
    d.H = H;
    d.dtype = DType::f32;
    d.use_bias = use_bias;
    d.has_mask = mask != MaskType::none;
    d.has_initial_state = initial_state;
    d.input_dropout = input_dropout;
    d.recurrent_dropout = recurrent_dropout;
    d.training = true;
    return d;
  }
};

// The f64 values of one configuration's inputs (undefined = absent).
struct Inputs {
  Tensor x, mask, h0, c0, kernel, recurrent_kernel, bias, input_mask, recurrent_mask;
};

inline Tensor dropout_mask(const Shape& shape, double rate, std::mt19937& rng) {
  std::bernoulli_distribution keep(1.0 - rate);
  std::vector<double> v(static_cast<size_t>(numel_of(shape)));
  for (double& e : v) e = keep(rng) ? 1.0 / (1.0 - rate) : 0.0;
  return Tensor::from_vector(v, shape);
}

inline Tensor mask_of(MaskType type, int64_t B, int64_t T, std::mt19937& rng) {
  std::vector<double> m(static_cast<size_t>(B * T), 1.0);
  std::uniform_int_distribution<int64_t> len(0, T);
  std::bernoulli_distribution hole(0.3);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = b == 0 ? T : len(rng);  // one full row, the others any length (0 too)
    for (int64_t t = 0; t < T; ++t) {
      double& v = m[b * T + t];
      switch (type) {
        case MaskType::none: break;
        case MaskType::right: v = t < L ? 1 : 0; break;
        case MaskType::left: v = t >= T - L ? 1 : 0; break;
        case MaskType::holes: v = hole(rng) ? 0 : 1; break;
        case MaskType::empty_row: v = b == 0 ? 0 : (hole(rng) ? 0 : 1); break;
      }
    }
  }
  return Tensor::from_vector(m, {B, T});
}

inline Inputs make_inputs(const Config& c, uint64_t seed) {
  Generator g(seed);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  const RnnDesc& d = c.desc;
  const int64_t GH = d.gates() * c.H;
  Inputs in;
  in.x = Tensor::uniform({c.B, c.T, c.F}, -1, 1, g, DType::f64);
  in.kernel = Tensor::uniform({c.F, GH}, -0.8, 0.8, g, DType::f64);
  in.recurrent_kernel = Tensor::uniform({c.H, GH}, -0.8, 0.8, g, DType::f64);
  if (c.use_bias) {
    const Shape bs = d.cell == RnnCellKind::gru && d.reset_after ? Shape{2, GH} : Shape{GH};
    in.bias = Tensor::uniform(bs, -0.5, 0.5, g, DType::f64);
  }
  if (c.initial_state) {
    in.h0 = Tensor::uniform({c.B, c.H}, -1, 1, g, DType::f64);
    if (d.cell == RnnCellKind::lstm) in.c0 = Tensor::uniform({c.B, c.H}, -1, 1, g, DType::f64);
  }
  if (c.mask != MaskType::none) in.mask = mask_of(c.mask, c.B, c.T, rng);
  if (c.input_dropout) in.input_mask = dropout_mask({c.B, c.F}, 0.3, rng);
  if (c.recurrent_dropout) in.recurrent_mask = dropout_mask({c.B, c.H}, 0.3, rng);
  return in;
}

struct Result {
  std::vector<Tensor> outputs;  // output, then the final states
  std::vector<Tensor> grads;    // x, h0, (c0), kernel, recurrent_kernel, (bias)
  std::vector<std::string> grad_names;
};

// Runs the configuration on `be` in `dtype`; cotangents are drawn from
// `cot_seed` in f64 and converted, so both runs get the same ones.
inline Result run_on(Backend& be, const Config& c, const Inputs& in, DType dtype, uint64_t cot_seed) {
  // Inputs live on the backend's device (cuda:0 for the CUDA backend).
  const Device dev = be.device();
  auto leaf = [&](const Tensor& t) {
    return t.defined() ? t.detach().to(dtype).to(dev).clone().set_requires_grad(true) : Tensor();
  };
  auto constant = [&](const Tensor& t) { return t.defined() ? t.to(dtype).to(dev) : Tensor(); };
  RnnSequenceArgs a;
  a.x = leaf(in.x);
  a.mask = constant(in.mask);
  if (in.h0.defined()) a.initial_state.push_back(leaf(in.h0));
  if (in.c0.defined()) a.initial_state.push_back(leaf(in.c0));
  a.kernel = leaf(in.kernel);
  a.recurrent_kernel = leaf(in.recurrent_kernel);
  a.bias = leaf(in.bias);
  a.input_dropout_mask = constant(in.input_mask);
  a.recurrent_dropout_mask = constant(in.recurrent_mask);

  Result r;
  std::vector<Tensor> wrt{a.x};
  r.grad_names = {"dx"};
  for (size_t k = 0; k < a.initial_state.size(); ++k) {
    wrt.push_back(a.initial_state[k]);
    r.grad_names.push_back(k == 0 ? "dh0" : "dc0");
  }
  wrt.push_back(a.kernel);
  wrt.push_back(a.recurrent_kernel);
  r.grad_names.insert(r.grad_names.end(), {"dkernel", "drecurrent_kernel"});
  if (a.bias.defined()) {
    wrt.push_back(a.bias);
    r.grad_names.push_back("dbias");
  }

  RnnSequenceResult out = rnn_sequence(be, c.desc, a, "consistency");
  std::vector<Tensor> outs{out.output};
  outs.insert(outs.end(), out.states.begin(), out.states.end());
  Generator g(cot_seed);
  std::vector<Tensor> cots;
  for (const Tensor& o : outs)
    cots.push_back(Tensor::uniform(o.shape(), -1, 1, g, DType::f64).to(dtype).to(dev));
  std::vector<Tensor> grads = grad(outs, cots, wrt);
  for (const Tensor& o : outs) r.outputs.push_back(o.detach().cpu().to(DType::f64));
  for (const Tensor& gr : grads) r.grads.push_back(gr.defined() ? gr.cpu().to(DType::f64) : gr);
  return r;
}

// Runs `c` on `backend` (in `dtype`) and on the reference (f64) and expects
// agreement within the tolerances (f32's unless given). Returns whether the
// backend claimed the configuration for its own RNN (primitive, cuDNN).
inline bool check_config(Backend& backend, const Config& c, uint64_t seed,
                         DType dtype = DType::f32, double output_tol = kOutputTol,
                         double gradient_tol = kGradientTol) {
  SCOPED_TRACE(c.str() + " on " + backend.name() + " " + dtype_name(dtype));
  RnnDesc full = c.full_desc();
  full.dtype = dtype;
  full.compute = compute_precision_for(dtype);
  const bool claimed = backend.supports_rnn(full);
  const Inputs in = make_inputs(c, seed);
  const Result got = run_on(backend, c, in, dtype, seed + 1);
  const Result want = run_on(reference_backend(), c, in, DType::f64, seed + 1);
  EXPECT_EQ(got.outputs.size(), want.outputs.size());
  for (size_t k = 0; k < std::min(got.outputs.size(), want.outputs.size()); ++k)
    EXPECT_LE(scaled_error(got.outputs[k], want.outputs[k]), output_tol)
        << (k == 0 ? "output" : "final state " + std::to_string(k - 1))
        << (claimed ? " (backend RNN)" : " (explicit fallback)");
  EXPECT_EQ(got.grads.size(), want.grads.size());
  for (size_t k = 0; k < std::min(got.grads.size(), want.grads.size()); ++k) {
    if (!got.grads[k].defined() || !want.grads[k].defined()) {
      ADD_FAILURE() << got.grad_names[k] << " is missing";
      continue;
    }
    EXPECT_LE(scaled_error(got.grads[k], want.grads[k]), gradient_tol)
        << got.grad_names[k] << (claimed ? " (backend RNN)" : " (explicit fallback)");
  }
  return claimed;
}

inline Config base_config(RnnCellKind cell, bool reset_after) {
  Config c;
  c.desc.cell = cell;
  c.desc.reset_after = reset_after;
  return c;
}

struct CellVariant {
  RnnCellKind cell;
  bool reset_after;
  const char* name;
};
inline const CellVariant kCells[] = {{RnnCellKind::simple_rnn, false, "SimpleRNN"},
                              {RnnCellKind::lstm, false, "LSTM"},
                              {RnnCellKind::gru, false, "GRU reset_after=false"},
                              {RnnCellKind::gru, true, "GRU reset_after=true"}};

}  // namespace loom::test
