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

#include "backends/consistency/rnn_consistency_util.h"

namespace loom::test {
namespace {
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
