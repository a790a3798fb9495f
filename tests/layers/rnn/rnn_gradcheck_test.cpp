// Gradient checks (f64, central differences) of the recurrent layers:
// every built-in cell through the explicit BPTT and through the generic
// unrolled path, with every option of docs/SEMANTICS.md: masks (right,
// left, holes, all-masked rows, with and without zero_output_for_mask),
// go_backwards, initial states, stateful carry, dropout and recurrent
// dropout with fixed masks, each activation, no bias, time_major,
// Bidirectional in each merge mode, stacked and user-written cells.
// Gradients are checked with respect to the inputs, the initial states
// and every weight at once.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
#include "layers/rnn/rnn_test_util.h"

namespace loom::test {
namespace {

struct Case {
  int64_t B = 3, T = 5, F = 4;
  MaskKind mask = MaskKind::none;
  bool initial_state = false;
  bool training = false;
  uint64_t seed = 7;
};

// Gradchecks `layer` (an RNN or Bidirectional, built here in f64) with
// respect to x, the initial states (n_states of width H) and all weights.
void check_layer(Layer& layer, const Case& c, int n_states, int64_t H) {
  layer.ensure_built({{c.B, c.T, c.F}}, {DType::f64});
  std::vector<Tensor> inputs{rand64({c.B, c.T, c.F}, c.seed)};
  const int n_init = c.initial_state ? n_states : 0;
  for (int k = 0; k < n_init; ++k) inputs.push_back(rand64({c.B, H}, c.seed + 10 + k));
  const std::vector<Tensor> w = weight_leaves(layer);
  inputs.insert(inputs.end(), w.begin(), w.end());
  const Tensor mask = c.mask == MaskKind::none ? Tensor() : make_mask(c.mask, c.B, c.T);
  auto fn = [&](const std::vector<Tensor>& xs) {
    bind_weights(layer, std::vector<Tensor>(xs.begin() + 1 + n_init, xs.end()));
    RnnCallArgs args;
    args.mask = mask;
    args.initial_state.assign(xs.begin() + 1, xs.begin() + 1 + n_init);
    args.training = c.training;
    if (auto* bi = dynamic_cast<Bidirectional*>(&layer)) return bi->run(xs[0], args).tensors;
    return static_cast<RNN&>(layer).run(xs[0], args).tensors;
  };
  EXPECT_GRADCHECK(fn, inputs);
}

class RnnGradcheck : public ::testing::TestWithParam<Kind> {
 protected:
  Kind kind() const { return GetParam(); }
  // A layer of this kind; `explicit_bptt` false runs it through the generic path.
  std::shared_ptr<BuiltinRNN> layer(RecurrentOptions o, bool explicit_bptt = true) {
    if (o.units == 0) o.units = 3;
    if (!o.seed) o.seed = 11;
    auto l = make_rnn(kind(), o);
    l->set_use_explicit_bptt(explicit_bptt);
    return l;
  }
  int states() const { return num_states(kind()); }
};

TEST_P(RnnGradcheck, SequencesStatesAndInitialState) {
  for (bool explicit_bptt : {true, false}) {
    SCOPED_TRACE(explicit_bptt ? "explicit BPTT" : "generic");
    auto l = layer({.return_sequences = true, .return_state = true}, explicit_bptt);
    check_layer(*l, {.initial_state = true}, states(), 3);
  }
}

TEST_P(RnnGradcheck, LastOutputOnly) {
  auto l = layer({});
  check_layer(*l, {}, states(), 3);
}

TEST_P(RnnGradcheck, Masks) {
  for (MaskKind m : {MaskKind::right, MaskKind::left, MaskKind::holes, MaskKind::all_masked,
                     MaskKind::mixed})
    for (bool zofm : {false, true})
      for (bool seq : {false, true})
        for (bool explicit_bptt : {true, false}) {
          SCOPED_TRACE(fmt::format("mask {} zofm {} return_sequences {} {}", static_cast<int>(m),
                                   zofm, seq, explicit_bptt ? "explicit BPTT" : "generic"));
          auto l = layer({.return_sequences = seq, .return_state = true,
                          .zero_output_for_mask = zofm},
                         explicit_bptt);
          check_layer(*l, {.B = 4, .mask = m, .initial_state = true}, states(), 3);
        }
}

TEST_P(RnnGradcheck, GoBackwards) {
  for (MaskKind m : {MaskKind::none, MaskKind::left, MaskKind::holes})
    for (bool seq : {false, true})
      for (bool explicit_bptt : {true, false}) {
        SCOPED_TRACE(fmt::format("mask {} return_sequences {} {}", static_cast<int>(m), seq,
                                 explicit_bptt ? "explicit BPTT" : "generic"));
        auto l = layer({.return_sequences = seq, .return_state = true, .go_backwards = true},
                       explicit_bptt);
        check_layer(*l, {.mask = m, .initial_state = true}, states(), 3);
      }
}

TEST_P(RnnGradcheck, DropoutAndRecurrentDropoutWithFixedMasks) {
  const int64_t B = 3, F = 4, H = 3;
  Generator g(99);
  const Tensor mx = dropout_mask({B, F}, 0.3, DType::f64, g);
  const Tensor mh = dropout_mask({B, H}, 0.4, DType::f64, g);
  for (bool explicit_bptt : {true, false})
    for (MaskKind m : {MaskKind::none, MaskKind::holes}) {
      SCOPED_TRACE(fmt::format("{} mask {}", explicit_bptt ? "explicit BPTT" : "generic", static_cast<int>(m)));
      auto l = layer({.units = H, .dropout = 0.3, .recurrent_dropout = 0.4,
                      .return_sequences = true, .return_state = true},
                     explicit_bptt);
      l->set_dropout_masks(mx, mh);
      check_layer(*l, {.B = B, .F = F, .mask = m, .initial_state = true, .training = true},
                  states(), H);
    }
}

TEST_P(RnnGradcheck, EachActivation) {
  const char* acts[] = {"tanh", "sigmoid", "hard_sigmoid", "relu", "linear"};
  for (const char* a : acts)
    for (const char* ra : acts) {
      if (kind() == Kind::simple_rnn && std::string(ra) != "sigmoid") continue;
      SCOPED_TRACE(fmt::format("activation {} recurrent_activation {}", a, ra));
      auto l = layer({.activation = a, .recurrent_activation = ra, .return_sequences = true,
                      .return_state = true});
      check_layer(*l, {.mask = MaskKind::holes, .initial_state = true}, states(), 3);
    }
}

TEST_P(RnnGradcheck, NoBias) {
  auto l = layer({.use_bias = false, .return_sequences = true, .return_state = true});
  check_layer(*l, {.mask = MaskKind::right, .initial_state = true}, states(), 3);
}

TEST_P(RnnGradcheck, BatchOneAndOneTimestep) {
  auto l = layer({.return_sequences = true, .return_state = true});
  check_layer(*l, {.B = 1, .T = 1, .initial_state = true}, states(), 3);
  auto l2 = layer({.return_state = true});
  check_layer(*l2, {.B = 1, .T = 7, .mask = MaskKind::holes}, states(), 3);
}

TEST_P(RnnGradcheck, TimeMajor) {
  auto l = layer({.return_sequences = true, .return_state = true, .time_major = true});
  // x is (T,B,F) here: the case's B and T swap roles for the input shape.
  check_layer(*l, {.B = 5, .T = 3, .F = 4}, states(), 3);
}

// Stateful across two batches: the second batch starts from the first's
// final states (constants, as in Keras: no gradient flows between batches).
TEST_P(RnnGradcheck, StatefulSecondBatch) {
  const int64_t B = 3, T = 4, F = 4;
  auto l = layer({.return_sequences = true, .return_state = true, .stateful = true});
  l->ensure_built({{B, T, F}}, {DType::f64});
  const Tensor x1 = rand64({B, T, F}, 5, -1, 1, false);
  l->run(x1);
  const std::vector<Tensor> carried = l->states();
  ASSERT_EQ(static_cast<int>(carried.size()), states());
  std::vector<Tensor> inputs{rand64({B, T, F}, 6)};
  for (const Tensor& w : weight_leaves(*l)) inputs.push_back(w);
  auto fn = [&](const std::vector<Tensor>& xs) {
    bind_weights(*l, std::vector<Tensor>(xs.begin() + 1, xs.end()));
    l->reset_states(carried);
    return l->run(xs[0], {.mask = make_mask(MaskKind::holes, B, T)}).tensors;
  };
  EXPECT_GRADCHECK(fn, inputs);
}

TEST_P(RnnGradcheck, BidirectionalEachMergeMode) {
  for (const char* mode : {"concat", "sum", "mul", "ave", "none"})
    for (bool seq : {false, true})
      for (bool state : {false, true}) {
        SCOPED_TRACE(fmt::format("merge_mode {} return_sequences {} return_state {}", mode, seq,
                                 state));
        auto bi = Bidirectional::make(layer({.return_sequences = seq, .return_state = state}),
                                      {.merge_mode = mode});
        check_layer(*bi, {.mask = MaskKind::mixed, .initial_state = state}, 2 * states(), 3);
      }
}

TEST_P(RnnGradcheck, BidirectionalGoBackwardsInnerLayerAndGivenBackwardLayer) {
  auto fw = layer({.return_sequences = true, .go_backwards = true});
  auto bw = layer({.units = 2, .return_sequences = true});
  auto bi = Bidirectional::make(fw, {.merge_mode = "concat", .backward_layer = bw});
  check_layer(*bi, {.mask = MaskKind::left}, 0, 3);
}

INSTANTIATE_TEST_SUITE_P(AllCells, RnnGradcheck, ::testing::ValuesIn(all_kinds()),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// ---- generic cells ------------------------------------------------------------------

// A user cell written with ops: h' = tanh(x W + h U) * sigmoid(x V), two states
// where the second accumulates outputs (so states differ from the output).
class GatedSumCell : public Cell {
 public:
  explicit GatedSumCell(int64_t units) : Cell("GatedSumCell"), units_(units) {}
  std::vector<int64_t> state_size() const override { return {units_, units_}; }
  int64_t output_size() const override { return units_; }
  void build(const std::vector<Shape>& s) override {
    Generator g(3);
    w_ = add_weight("kernel", Tensor::uniform({s[0][1], units_}, -0.6, 0.6, g, dtype()));
    v_ = add_weight("gate_kernel", Tensor::uniform({s[0][1], units_}, -0.6, 0.6, g, dtype()));
    u_ = add_weight("recurrent_kernel", Tensor::uniform({units_, units_}, -0.6, 0.6, g, dtype()));
  }
  CellOutput call(const Tensor& x, const std::vector<Tensor>& st, bool) override {
    Tensor h = mul(tanh(add(matmul(x, w_->value), matmul(st[0], u_->value))),
                   sigmoid(matmul(x, v_->value)));
    return {h, {h, add(st[1], h)}};
  }
  using Cell::call;

 private:
  int64_t units_;
  ParameterPtr w_, v_, u_;
};

TEST(RnnGradcheckGeneric, UserCellWithMasksGoBackwardsAndInitialState) {
  for (bool back : {false, true}) {
    auto l = RNN::make(std::make_shared<GatedSumCell>(3),
                       {.return_sequences = true, .return_state = true, .go_backwards = back});
    check_layer(*l, {.mask = MaskKind::all_masked, .initial_state = true}, 2, 3);
  }
}

TEST(RnnGradcheckGeneric, StackedCells) {
  RnnCellOptions lstm{.units = 3, .seed = 1}, gru{.units = 2, .reset_after = false, .seed = 2};
  RnnCellOptions simple{.units = 3, .activation = "relu", .seed = 3};
  auto cells = StackedRNNCells::make(
      {LSTMCell::make(lstm), GRUCell::make(gru), SimpleRNNCell::make(simple)});
  EXPECT_EQ(cells->state_size(), (std::vector<int64_t>{3, 3, 2, 3}));
  auto l = RNN::make(cells, {.return_sequences = true, .return_state = true});
  // Initial states of different widths: check_layer draws (B,H) ones, so
  // exercise initial states through a separate fixed-width stack below.
  check_layer(*l, {.mask = MaskKind::holes}, 4, 3);
  auto same = StackedRNNCells::make({LSTMCell::make({.units = 3, .seed = 4}),
                                     GRUCell::make({.units = 3, .seed = 5})});
  auto l2 = RNN::make(same, {.return_state = true, .go_backwards = true});
  check_layer(*l2, {.mask = MaskKind::right, .initial_state = true}, 3, 3);
}

TEST(RnnGradcheckGeneric, StackedCellsWithDropout) {
  auto a = LSTMCell::make({.units = 3, .dropout = 0.25, .recurrent_dropout = 0.5, .seed = 1});
  auto b = GRUCell::make({.units = 3, .dropout = 0.5, .recurrent_dropout = 0.25, .seed = 2});
  Generator g(4);
  a->set_dropout_masks(dropout_mask({3, 4}, 0.25, DType::f64, g),
                       dropout_mask({3, 3}, 0.5, DType::f64, g));
  b->set_dropout_masks(dropout_mask({3, 3}, 0.5, DType::f64, g),
                       dropout_mask({3, 3}, 0.25, DType::f64, g));
  auto l = RNN::make(StackedRNNCells::make({a, b}), {.return_sequences = true});
  check_layer(*l, {.mask = MaskKind::holes, .training = true}, 3, 3);
}

}  // namespace
}  // namespace loom::test
