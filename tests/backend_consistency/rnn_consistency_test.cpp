// The oneDNN backend's recurrent layers against the reference backend.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
//
// Every configuration runs twice through rnn_sequence (the whole-sequence
// tape entry every built-in RNN layer uses): on the oneDNN backend in f32,
// where supported configurations go through oneDNN's RNN primitive and the
// others fall back to the explicit BPTT on oneDNN's GEMM, and on the
// reference backend in f64 (the oracle). Outputs, final states and the
// gradients of a random linear loss with respect to x, the initial states
// and the three weights must agree to f32 accuracy.
#include <random>
#include <string>
#include <vector>

#include "backend_consistency/consistency_util.h"

namespace loom::test {
namespace {

constexpr double kOutputTol = 2e-5;    // max |onednn - ref| / (1 + |ref|)
constexpr double kGradientTol = 2e-4;

enum class MaskType { none, right, left, holes, empty_row };

const char* mask_name(MaskType m) {
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

Tensor dropout_mask(const Shape& shape, double rate, std::mt19937& rng) {
  std::bernoulli_distribution keep(1.0 - rate);
  std::vector<double> v(static_cast<size_t>(numel_of(shape)));
  for (double& e : v) e = keep(rng) ? 1.0 / (1.0 - rate) : 0.0;
  return Tensor::from_vector(v, shape);
}

Tensor mask_of(MaskType type, int64_t B, int64_t T, std::mt19937& rng) {
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

Inputs make_inputs(const Config& c, uint64_t seed) {
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
Result run_on(Backend& be, const Config& c, const Inputs& in, DType dtype, uint64_t cot_seed) {
  auto leaf = [&](const Tensor& t) {
    return t.defined() ? t.detach().to(dtype).clone().set_requires_grad(true) : Tensor();
  };
  auto constant = [&](const Tensor& t) { return t.defined() ? t.to(dtype) : Tensor(); };
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
  for (const Tensor& o : outs) cots.push_back(Tensor::uniform(o.shape(), -1, 1, g, DType::f64).to(dtype));
  std::vector<Tensor> grads = grad(outs, cots, wrt);
  for (const Tensor& o : outs) r.outputs.push_back(o.detach().to(DType::f64));
  for (const Tensor& gr : grads) r.grads.push_back(gr.defined() ? gr.to(DType::f64) : gr);
  return r;
}

// Runs `c` on oneDNN (f32) and the reference (f64) and expects agreement.
// Returns whether oneDNN claimed the configuration for its primitive.
bool check_config(Backend& onednn, const Config& c, uint64_t seed) {
  SCOPED_TRACE(c.str());
  const bool claimed = onednn.supports_rnn(c.full_desc());
  const Inputs in = make_inputs(c, seed);
  const Result got = run_on(onednn, c, in, DType::f32, seed + 1);
  const Result want = run_on(reference_backend(), c, in, DType::f64, seed + 1);
  EXPECT_EQ(got.outputs.size(), want.outputs.size());
  for (size_t k = 0; k < std::min(got.outputs.size(), want.outputs.size()); ++k)
    EXPECT_LE(scaled_error(got.outputs[k], want.outputs[k]), kOutputTol)
        << (k == 0 ? "output" : "final state " + std::to_string(k - 1))
        << (claimed ? " (primitive)" : " (explicit fallback)");
  EXPECT_EQ(got.grads.size(), want.grads.size());
  for (size_t k = 0; k < std::min(got.grads.size(), want.grads.size()); ++k) {
    if (!got.grads[k].defined() || !want.grads[k].defined()) {
      ADD_FAILURE() << got.grad_names[k] << " is missing";
      continue;
    }
    EXPECT_LE(scaled_error(got.grads[k], want.grads[k]), kGradientTol)
        << got.grad_names[k] << (claimed ? " (primitive)" : " (explicit fallback)");
  }
  return claimed;
}

Config base_config(RnnCellKind cell, bool reset_after) {
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
const CellVariant kCells[] = {{RnnCellKind::simple_rnn, false, "SimpleRNN"},
                              {RnnCellKind::lstm, false, "LSTM"},
                              {RnnCellKind::gru, false, "GRU reset_after=false"},
                              {RnnCellKind::gru, true, "GRU reset_after=true"}};

// Every cell, both directions, with and without sequences, initial states,
// bias and input dropout: all of them go through the primitive.
TEST(OneDnnRnnConsistency, EveryCellAndDirectionThroughThePrimitive) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  uint64_t seed = 100;
  for (const CellVariant& v : kCells)
    for (bool backwards : {false, true})
      for (bool seq : {false, true})
        for (int extras = 0; extras < 4; ++extras) {
          Config c = base_config(v.cell, v.reset_after);
          c.B = 3;
          c.T = 5;
          c.F = 4;
          c.H = 3;
          c.desc.go_backwards = backwards;
          c.desc.return_sequences = seq;
          c.initial_state = extras & 1;
          c.input_dropout = extras & 2;
          c.use_bias = extras != 3;
          EXPECT_TRUE(check_config(*onednn, c, seed++)) << "expected the primitive for " << c.str();
        }
}

// SimpleRNN's activations that oneDNN's vanilla_rnn has (tanh, relu,
// sigmoid) go through the primitive; the others fall back and still agree.
TEST(OneDnnRnnConsistency, SimpleRnnActivations) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  uint64_t seed = 300;
  for (RnnActivation act : {RnnActivation::tanh, RnnActivation::relu, RnnActivation::sigmoid,
                            RnnActivation::hard_sigmoid, RnnActivation::linear}) {
    Config c = base_config(RnnCellKind::simple_rnn, false);
    c.desc.activation = act;
    c.B = 4;
    c.T = 6;
    c.F = 3;
    c.H = 5;
    c.desc.return_sequences = true;
    const bool expect_primitive = act == RnnActivation::tanh || act == RnnActivation::relu ||
                                  act == RnnActivation::sigmoid;
    EXPECT_EQ(check_config(*onednn, c, seed++), expect_primitive) << rnn_activation_name(act);
  }
}

// Padding masks (the common case after pad_sequences: left or right, rows of
// any length including none) on every cell, both directions, with and
// without sequences, zero_output_for_mask, initial states and input dropout.
// oneDNN runs them packed on its primitive (tests/onednn check the path).
TEST(OneDnnRnnConsistency, PaddingMasks) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  uint64_t seed = 2000;
  for (const CellVariant& v : kCells)
    for (MaskType m : {MaskType::right, MaskType::left})
      for (bool backwards : {false, true})
        for (int extras = 0; extras < 8; ++extras) {
          Config c = base_config(v.cell, v.reset_after);
          c.B = 6;
          c.T = 7;
          c.F = 3;
          c.H = 4;
          c.mask = m;
          c.desc.go_backwards = backwards;
          c.desc.return_sequences = extras & 1;
          c.desc.zero_output_for_mask = extras & 2;
          c.initial_state = extras & 4;
          c.input_dropout = extras == 5;
          EXPECT_TRUE(check_config(*onednn, c, seed++));
        }
}

// What the primitive cannot express is declined, and the fallback (explicit
// BPTT on the oneDNN backend's GEMM) gives the reference's results.
TEST(OneDnnRnnConsistency, DeclinedConfigurationsFallBackAndAgree) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  uint64_t seed = 400;
  for (const CellVariant& v : kCells) {
    SCOPED_TRACE(v.name);
    Config c = base_config(v.cell, v.reset_after);
    c.B = 4;
    c.T = 6;
    c.F = 3;
    c.H = 4;
    c.desc.return_sequences = true;
    for (MaskType m : {MaskType::right, MaskType::left, MaskType::holes, MaskType::empty_row})
      for (bool zero_out : {false, true}) {
        Config cm = c;
        cm.mask = m;
        cm.desc.zero_output_for_mask = zero_out;
        check_config(*onednn, cm, seed++);
      }
    Config cr = c;
    cr.recurrent_dropout = true;
    cr.input_dropout = true;
    EXPECT_FALSE(check_config(*onednn, cr, seed++)) << "recurrent dropout";
    if (v.cell != RnnCellKind::simple_rnn) {
      Config ch = c;
      ch.desc.recurrent_activation = RnnActivation::hard_sigmoid;
      EXPECT_FALSE(check_config(*onednn, ch, seed++)) << "hard_sigmoid";
      Config ca = c;
      ca.desc.activation = RnnActivation::relu;
      EXPECT_FALSE(check_config(*onednn, ca, seed++)) << "relu activation";
    }
    // f64 always falls back (oneDNN's RNNs are f32).
    RnnDesc d64 = c.full_desc();
    d64.dtype = DType::f64;
    EXPECT_FALSE(onednn->supports_rnn(d64));
  }
}

// Random configurations over every option; each cell must have hit both the
// primitive and the fallback at least once.
TEST(OneDnnRnnConsistency, RandomConfigurations) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  std::mt19937 rng(20261122);
  auto pick = [&](int n) { return static_cast<int>(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  auto flip = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  const RnnActivation acts[] = {RnnActivation::tanh, RnnActivation::relu, RnnActivation::sigmoid,
                                RnnActivation::hard_sigmoid, RnnActivation::linear};
  int primitive[4] = {}, fallback[4] = {};
  for (int i = 0; i < 120; ++i) {
    const int v = pick(4);
    Config c = base_config(kCells[v].cell, kCells[v].reset_after);
    c.B = 1 + pick(5);
    c.T = 1 + pick(9);
    c.F = 1 + pick(6);
    c.H = 1 + pick(7);
    c.desc.go_backwards = flip(0.5);
    c.desc.return_sequences = flip(0.5);
    c.desc.zero_output_for_mask = flip(0.3);
    c.initial_state = flip(0.5);
    c.use_bias = flip(0.8);
    c.mask = flip(0.5) ? MaskType::none : static_cast<MaskType>(1 + pick(4));
    c.input_dropout = flip(0.3);
    c.recurrent_dropout = flip(0.2);
    if (c.desc.cell == RnnCellKind::simple_rnn) c.desc.activation = acts[flip(0.6) ? pick(3) : pick(5)];
    else if (flip(0.15)) c.desc.recurrent_activation = RnnActivation::hard_sigmoid;
    (check_config(*onednn, c, 1000 + i) ? primitive : fallback)[v]++;
    if (HasFatalFailure()) return;
  }
  for (int v = 0; v < 4; ++v) {
    EXPECT_GT(primitive[v], 0) << kCells[v].name << " never took the primitive";
    EXPECT_GT(fallback[v], 0) << kCells[v].name << " never fell back";
  }
}

// The layer API end to end: Bidirectional LSTM and GRU layers (each
// direction one primitive call) give the same outputs and weight gradients
// on both backends in f32.
TEST(OneDnnRnnConsistency, BidirectionalLayers) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  const int64_t B = 3, T = 7, F = 5, H = 4;
  for (int kind = 0; kind < 3; ++kind) {
    RecurrentOptions o;
    o.units = H;
    o.return_sequences = kind != 1;
    o.seed = 11 + kind;
    std::shared_ptr<RNN> inner;
    if (kind == 0) inner = LSTM::make(o);
    else if (kind == 1) inner = GRU::make(o);
    else inner = SimpleRNN::make(o);
    auto layer = Bidirectional::make(inner);
    Generator g(7);
    const Tensor x = Tensor::uniform({B, T, F}, -1, 1, g, DType::f32);
    std::vector<std::vector<Tensor>> results;
    for (const char* name : {"reference", "onednn"}) {
      BackendScope scope(name);
      LayerOutput out = layer->run(x.detach().clone().set_requires_grad(true));
      Generator gc(9);
      const Tensor cot = Tensor::uniform(out[0].shape(), -1, 1, gc, DType::f32);
      std::vector<Tensor> wrt;
      for (const ParameterPtr& p : layer->parameters()) wrt.push_back(p->value);
      std::vector<Tensor> r{out[0].detach().clone()};
      for (const Tensor& gr : grad({out[0]}, {cot}, wrt)) r.push_back(gr);
      results.push_back(r);
    }
    ASSERT_EQ(results[0].size(), results[1].size());
    for (size_t k = 0; k < results[0].size(); ++k)
      EXPECT_LE(scaled_error(results[1][k], results[0][k]), k == 0 ? kOutputTol : kGradientTol)
          << "layer kind " << kind << (k == 0 ? " output" : " gradient " + std::to_string(k));
  }
}

}  // namespace
}  // namespace loom::test
