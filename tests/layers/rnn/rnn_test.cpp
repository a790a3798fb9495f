// Behaviour of the recurrent layers beyond gradients: the explicit BPTT
// against the generic path and against cells written with ops, the masking
// and state rules of docs/SEMANTICS.md checked as properties, stateful
// layers, Bidirectional, dropout, weights, configs and errors.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
#include "loom/backends/reference/reference_backend.h"
#include "layers/rnn/rnn_test_util.h"

namespace loom::test {
namespace {

// Outputs of one call and the gradients of sum_k <out_k, cot_k> with
// respect to x, the initial states and every parameter.
struct CallResult {
  std::vector<Tensor> outputs, grads;
};

CallResult run_with_grads(Layer& layer, const Tensor& x_in, const RnnCallArgs& args_in) {
  Tensor x = x_in.detach().clone().set_requires_grad(true);
  RnnCallArgs args = args_in;
  for (Tensor& s : args.initial_state) s = s.detach().clone().set_requires_grad(true);
  for (const ParameterPtr& p : layer.parameters()) p->value.zero_grad();
  LayerOutput out = dynamic_cast<Bidirectional*>(&layer)
                        ? static_cast<Bidirectional&>(layer).run(x, args)
                        : static_cast<RNN&>(layer).run(x, args);
  Generator g(77);
  std::vector<Tensor> cots;
  for (const Tensor& o : out.tensors) cots.push_back(Tensor::uniform(o.shape(), -1, 1, g, o.dtype()));
  backward(out.tensors, cots);
  CallResult r;
  r.outputs = out.tensors;
  r.grads.push_back(x.grad());
  for (const Tensor& s : args.initial_state) r.grads.push_back(s.grad());
  for (const ParameterPtr& p : layer.parameters()) r.grads.push_back(p->value.grad());
  return r;
}

void expect_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tol,
                 const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t k = 0; k < a.size(); ++k) {
    ASSERT_TRUE(a[k].defined() && b[k].defined()) << what << " " << k;
    ASSERT_EQ(shape_str(a[k].shape()), shape_str(b[k].shape())) << what << " " << k;
    EXPECT_LE(rel_error(a[k], b[k]), tol) << what << " " << k;
  }
}

Tensor rand_x(int64_t B, int64_t T, int64_t F, uint64_t seed) {
  return rand64({B, T, F}, seed, -1, 1, false);
}

std::vector<Tensor> rand_states(Kind k, int64_t B, int64_t H, uint64_t seed) {
  std::vector<Tensor> s;
  for (int i = 0; i < num_states(k); ++i) s.push_back(rand64({B, H}, seed + i, -1, 1, false));
  return s;
}

// ---- explicit BPTT == generic unrolled path ---------------------------------------------

class RnnPaths : public ::testing::TestWithParam<Kind> {};

TEST_P(RnnPaths, FusedEqualsGenericForEveryOption) {
  const int64_t B = 4, T = 6, F = 5, H = 4;
  const Kind k = GetParam();
  for (MaskKind m : {MaskKind::none, MaskKind::left, MaskKind::all_masked, MaskKind::mixed})
    for (bool seq : {false, true})
      for (bool back : {false, true})
        for (bool zofm : {false, true})
          for (bool drop : {false, true}) {
            SCOPED_TRACE(fmt::format("mask {} seq {} back {} zofm {} dropout {}",
                                     static_cast<int>(m), seq, back, zofm, drop));
            RecurrentOptions o{.units = H, .return_sequences = seq, .return_state = true,
                               .go_backwards = back, .zero_output_for_mask = zofm, .seed = 3};
            if (drop) o.dropout = 0.3, o.recurrent_dropout = 0.4;
            auto explicit_bptt = make_rnn(k, o), generic = make_rnn(k, o);
            generic->set_use_explicit_bptt(false);
            explicit_bptt->ensure_built({{B, T, F}}, {DType::f64});
            generic->ensure_built({{B, T, F}}, {DType::f64});
            generic->set_weights(explicit_bptt->get_weights());
            if (drop) {
              Generator g(5);
              Tensor mx = dropout_mask({B, F}, 0.3, DType::f64, g);
              Tensor mh = dropout_mask({B, H}, 0.4, DType::f64, g);
              explicit_bptt->set_dropout_masks(mx, mh);
              generic->set_dropout_masks(mx, mh);
            }
            RnnCallArgs args{.mask = m == MaskKind::none ? Tensor() : make_mask(m, B, T),
                             .initial_state = rand_states(k, B, H, 9),
                             .training = drop};
            CallResult a = run_with_grads(*explicit_bptt, rand_x(B, T, F, 1), args);
            CallResult b = run_with_grads(*generic, rand_x(B, T, F, 1), args);
            expect_same(a.outputs, b.outputs, 1e-12, "outputs");
            expect_same(a.grads, b.grads, 1e-11, "gradients");
          }
}

TEST_P(RnnPaths, FusedEqualsGenericInF32) {
  const int64_t B = 5, T = 7, F = 3, H = 6;
  const Kind k = GetParam();
  RecurrentOptions o{.units = H, .return_sequences = true, .return_state = true, .seed = 4};
  auto explicit_bptt = make_rnn(k, o), generic = make_rnn(k, o);
  generic->set_use_explicit_bptt(false);
  explicit_bptt->ensure_built({{B, T, F}}, {DType::f32});
  generic->ensure_built({{B, T, F}}, {DType::f32});
  generic->set_weights(explicit_bptt->get_weights());
  RnnCallArgs args{.mask = make_mask(MaskKind::mixed, B, T).to(DType::f32)};
  CallResult a = run_with_grads(*explicit_bptt, rand_x(B, T, F, 2).to(DType::f32), args);
  CallResult b = run_with_grads(*generic, rand_x(B, T, F, 2).to(DType::f32), args);
  expect_same(a.outputs, b.outputs, 2e-6, "outputs");
  expect_same(a.grads, b.grads, 2e-5, "gradients");
}

INSTANTIATE_TEST_SUITE_P(AllCells, RnnPaths, ::testing::ValuesIn(all_kinds()),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// ---- built-in cells == the same cells written by hand with ops ----------------------------

// Keras's LSTM step written out with ops, as a user would.
class HandLSTMCell : public Cell {
 public:
  explicit HandLSTMCell(int64_t units) : Cell("HandLSTMCell"), H_(units) {}
  std::vector<int64_t> state_size() const override { return {H_, H_}; }
  int64_t output_size() const override { return H_; }
  void build(const std::vector<Shape>& s) override {
    W_ = add_weight("kernel", Tensor::zeros({s[0][1], 4 * H_}, dtype()));
    U_ = add_weight("recurrent_kernel", Tensor::zeros({H_, 4 * H_}, dtype()));
    b_ = add_weight("bias", Tensor::zeros({4 * H_}, dtype()));
  }
  CellOutput call(const Tensor& x, const std::vector<Tensor>& st, bool) override {
    Tensor z = matmul(x, W_->value) + matmul(st[0], U_->value) + b_->value;
    auto gate = [&](int k) { return slice(z, 1, k * H_, (k + 1) * H_); };
    Tensor i = sigmoid(gate(0)), f = sigmoid(gate(1)), g = tanh(gate(2)), o = sigmoid(gate(3));
    Tensor c = f * st[1] + i * g;
    Tensor h = o * tanh(c);
    return {h, {h, c}};
  }
  using Cell::call;

 private:
  int64_t H_;
  ParameterPtr W_, U_, b_;
};

// Keras's GRU (reset_after) step written out with ops.
class HandGRUCell : public Cell {
 public:
  explicit HandGRUCell(int64_t units) : Cell("HandGRUCell"), H_(units) {}
  std::vector<int64_t> state_size() const override { return {H_}; }
  int64_t output_size() const override { return H_; }
  void build(const std::vector<Shape>& s) override {
    W_ = add_weight("kernel", Tensor::zeros({s[0][1], 3 * H_}, dtype()));
    U_ = add_weight("recurrent_kernel", Tensor::zeros({H_, 3 * H_}, dtype()));
    b_ = add_weight("bias", Tensor::zeros({2, 3 * H_}, dtype()));
  }
  CellOutput call(const Tensor& x, const std::vector<Tensor>& st, bool) override {
    const Tensor& h = st[0];
    Tensor ax = matmul(x, W_->value) + select(b_->value, 0, 0);
    Tensor ah = matmul(h, U_->value) + select(b_->value, 0, 1);
    auto part = [&](const Tensor& t, int k) { return slice(t, 1, k * H_, (k + 1) * H_); };
    Tensor z = sigmoid(part(ax, 0) + part(ah, 0)), r = sigmoid(part(ax, 1) + part(ah, 1));
    Tensor hh = tanh(part(ax, 2) + r * part(ah, 2));
    Tensor out = z * h + (1.0 - z) * hh;
    return {out, {out}};
  }
  using Cell::call;

 private:
  int64_t H_;
  ParameterPtr W_, U_, b_;
};

void compare_with_hand_cell(Kind kind, CellPtr hand) {
  const int64_t B = 3, T = 6, F = 4, H = 5;
  for (MaskKind m : {MaskKind::none, MaskKind::mixed})
    for (bool back : {false, true}) {
      SCOPED_TRACE(fmt::format("mask {} go_backwards {}", static_cast<int>(m), back));
      RnnLayerOptions lo{.return_sequences = true, .return_state = true, .go_backwards = back};
      auto builtin = make_rnn(kind, {.units = H, .return_sequences = true, .return_state = true,
                                     .go_backwards = back, .seed = 8});
      auto user = RNN::make(hand, lo);
      builtin->ensure_built({{B, T, F}}, {DType::f64});
      user->ensure_built({{B, T, F}}, {DType::f64});
      // Non-zero biases so every term is exercised.
      std::vector<Tensor> w = builtin->get_weights();
      Generator g(2);
      w[2] = Tensor::uniform(w[2].shape(), -0.5, 0.5, g, DType::f64);
      builtin->set_weights(w);
      user->set_weights(w);
      RnnCallArgs args{.mask = m == MaskKind::none ? Tensor() : make_mask(m, B, T),
                       .initial_state = rand_states(kind, B, H, 4)};
      CallResult a = run_with_grads(*builtin, rand_x(B, T, F, 3), args);
      CallResult b = run_with_grads(*user, rand_x(B, T, F, 3), args);
      expect_same(a.outputs, b.outputs, 1e-12, "outputs");
      expect_same(a.grads, b.grads, 1e-11, "gradients");
    }
}

TEST(RnnCells, BuiltinLSTMEqualsLSTMWrittenWithOps) {
  compare_with_hand_cell(Kind::lstm, std::make_shared<HandLSTMCell>(5));
}

TEST(RnnCells, BuiltinGRUEqualsGRUWrittenWithOps) {
  compare_with_hand_cell(Kind::gru_after, std::make_shared<HandGRUCell>(5));
}

TEST(RnnCells, CellCalledAsALayerSteps) {
  auto cell = LSTMCell::make({.units = 3, .seed = 1});
  Tensor x = rand_x(2, 1, 4, 1).select(1, 0), h = rand64({2, 3}, 2, -1, 1, false);
  Tensor c = rand64({2, 3}, 3, -1, 1, false);
  LayerOutput o = (*cell)({x, h, c});
  ASSERT_EQ(o.size(), 3u);
  // One step of the layer from the same states gives the same h and c.
  auto layer = LSTM::make({.units = 3, .return_state = true, .seed = 1});
  layer->ensure_built({{2, 1, 4}}, {DType::f64});
  layer->set_weights(cell->get_weights());
  LayerOutput l = layer->run(unsqueeze(x, 1), {.initial_state = {h, c}});
  expect_same({o[0], o[1], o[2]}, {l[0], l[1], l[2]}, 1e-14, "one step");
  expect_shape(o[0], {2, 3});
}

// ---- masking and state rules as properties ------------------------------------------------

class RnnSemantics : public ::testing::TestWithParam<Kind> {
 protected:
  static constexpr int64_t B = 4, T = 7, F = 3, H = 4;
  std::shared_ptr<BuiltinRNN> layer(RecurrentOptions o, const std::vector<Tensor>& w = {}) {
    o.units = H;
    o.seed = 21;
    auto l = make_rnn(GetParam(), o);
    l->ensure_built({{B, T, F}}, {DType::f64});
    if (!w.empty()) l->set_weights(w);
    return l;
  }
};

// A masked step is as if it were not there: running each row's unmasked
// steps alone, without a mask, gives the same final states and last output.
TEST_P(RnnSemantics, MaskedStepsAreSkipped) {
  for (bool back : {false, true}) {
    auto masked = layer({.return_state = true, .go_backwards = back});
    auto plain = layer({.return_state = true, .go_backwards = back}, masked->get_weights());
    const Tensor x = rand_x(B, T, F, 5), mask = make_mask(MaskKind::mixed, B, T);
    const std::vector<Tensor> init = rand_states(GetParam(), B, H, 6);
    LayerOutput all = masked->run(x, {.mask = mask, .initial_state = init});
    for (int64_t b = 0; b < B; ++b) {
      std::vector<Tensor> steps;
      for (int64_t t = 0; t < T; ++t)
        if (mask.at({b, t}) != 0) steps.push_back(x.slice(0, b, b + 1).slice(1, t, t + 1));
      ASSERT_FALSE(steps.empty());
      std::vector<Tensor> row_init;
      for (const Tensor& s : init) row_init.push_back(s.slice(0, b, b + 1));
      LayerOutput row = plain->run(concat(steps, 1), {.initial_state = row_init});
      for (size_t k = 0; k < all.size(); ++k)
        EXPECT_LE(rel_error(all[k].slice(0, b, b + 1), row[k]), 1e-13) << "row " << b << " output " << k;
    }
  }
}

TEST_P(RnnSemantics, MaskedOutputsRepeatThePreviousOutputOrAreZero) {
  for (bool zofm : {false, true}) {
    auto l = layer({.return_sequences = true, .zero_output_for_mask = zofm});
    const Tensor mask = make_mask(MaskKind::all_masked, B, T);
    const Tensor y = l->run(rand_x(B, T, F, 7), {.mask = mask,
                                                 .initial_state = rand_states(GetParam(), B, H, 1)})[0];
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        if (mask.at({b, t}) != 0) continue;
        for (int64_t j = 0; j < H; ++j) {
          // Zeros before the first unmasked step, even with an initial state.
          const double want = zofm || t == 0 ? 0.0 : y.at({b, t - 1, j});
          EXPECT_EQ(y.at({b, t, j}), want) << "b " << b << " t " << t;
        }
      }
  }
}

TEST_P(RnnSemantics, AllMaskedRowKeepsItsInitialStateAndOutputsZeros) {
  auto l = layer({.return_state = true});
  const Tensor mask = make_mask(MaskKind::all_masked, B, T);  // row 0: no step
  const std::vector<Tensor> init = rand_states(GetParam(), B, H, 3);
  LayerOutput o = l->run(rand_x(B, T, F, 2), {.mask = mask, .initial_state = init});
  for (int64_t j = 0; j < H; ++j) {
    EXPECT_EQ(o[0].at({0, j}), 0.0);
    for (size_t k = 0; k < init.size(); ++k) EXPECT_EQ(o[1 + k].at({0, j}), init[k].at({0, j}));
  }
}

TEST_P(RnnSemantics, ZeroOutputForMaskZeroesTheLastOutputWhenTheLastStepIsMasked) {
  auto l = layer({.zero_output_for_mask = true});
  auto keep = layer({}, l->get_weights());
  const Tensor x = rand_x(B, T, F, 4), mask = make_mask(MaskKind::right, B, T);
  const Tensor zero_last = l->run(x, {.mask = mask})[0];
  const Tensor prev_last = keep->run(x, {.mask = mask})[0];
  for (int64_t j = 0; j < H; ++j) {
    EXPECT_NE(zero_last.at({0, j}), 0.0);  // row 0 is complete
    EXPECT_EQ(zero_last.at({0, j}), prev_last.at({0, j}));
    EXPECT_EQ(zero_last.at({1, j}), 0.0);  // rows 1.. end masked
    EXPECT_NE(prev_last.at({1, j}), 0.0);
  }
}

TEST_P(RnnSemantics, GoBackwardsIsTheForwardLayerOnTheReversedInput) {
  auto back = layer({.return_sequences = true, .return_state = true, .go_backwards = true});
  auto fwd = layer({.return_sequences = true, .return_state = true}, back->get_weights());
  const Tensor x = rand_x(B, T, F, 9), mask = make_mask(MaskKind::holes, B, T);
  LayerOutput a = back->run(x, {.mask = mask});
  LayerOutput b = fwd->run(flip(x, 1), {.mask = flip(mask, 1)});
  expect_same(a.tensors, b.tensors, 1e-14, "go_backwards");
}

TEST_P(RnnSemantics, StatefulCarriesStatesAcrossBatches) {
  auto st = layer({.return_sequences = true, .return_state = true, .stateful = true});
  auto whole = layer({.return_sequences = true, .return_state = true}, st->get_weights());
  const Tensor x = rand_x(B, T, F, 10);
  const int64_t half = 3;
  LayerOutput first = st->run(x.slice(1, 0, half));
  LayerOutput second = st->run(x.slice(1, half, T));
  LayerOutput all = whole->run(x);
  EXPECT_LE(rel_error(second[0], all[0].slice(1, half, T)), 1e-13);
  EXPECT_LE(rel_error(first[0], all[0].slice(1, 0, half)), 1e-13);
  for (size_t k = 1; k < all.size(); ++k) EXPECT_LE(rel_error(second[k], all[k]), 1e-13);
  ASSERT_EQ(st->states().size(), all.size() - 1);

  // A different batch size is an error; reset_states starts again from zeros.
  EXPECT_LOOM_ERROR(st->run(rand_x(B - 1, T, F, 1)), "stateful");
  st->reset_states();
  LayerOutput again = st->run(x);
  expect_same(again.tensors, all.tensors, 1e-13, "after reset_states");
  EXPECT_LOOM_ERROR(whole->reset_states(whole->states()), "stateful");
}

TEST_P(RnnSemantics, TimeMajorMatchesBatchMajor) {
  auto tm = layer({.return_sequences = true, .return_state = true, .time_major = true});
  auto bm = layer({.return_sequences = true, .return_state = true}, tm->get_weights());
  const Tensor x = rand_x(B, T, F, 12), mask = make_mask(MaskKind::left, B, T);
  LayerOutput a = tm->run(transpose(x, 0, 1), {.mask = transpose(mask, 0, 1)});
  LayerOutput b = bm->run(x, {.mask = mask});
  EXPECT_LE(rel_error(transpose(a[0], 0, 1), b[0]), 1e-14);
  for (size_t k = 1; k < a.size(); ++k) EXPECT_LE(rel_error(a[k], b[k]), 1e-14);
  EXPECT_EQ(tm->compute_output_shape({{T, B, F}})[0], (Shape{T, B, H}));
}

TEST_P(RnnSemantics, UnrollAndImplementationDoNotChangeResults) {
  auto a = layer({.return_sequences = true});
  auto b = layer({.return_sequences = true, .unroll = true, .implementation = 1}, a->get_weights());
  const Tensor x = rand_x(B, T, F, 13);
  EXPECT_EQ(rel_error(a->run(x)[0], b->run(x)[0]), 0.0);
}

TEST_P(RnnSemantics, ReturnSequencesPassesTheMaskOn) {
  const Tensor mask = make_mask(MaskKind::right, B, T);
  LayerOutput seq = layer({.return_sequences = true, .return_state = true})->run(rand_x(B, T, F, 1), {.mask = mask});
  ASSERT_TRUE(seq.masks[0].defined());
  EXPECT_TRUE(seq.masks[0].same(mask));
  for (size_t k = 1; k < seq.size(); ++k) EXPECT_FALSE(seq.masks[k].defined());
  LayerOutput last = layer({})->run(rand_x(B, T, F, 1), {.mask = mask});
  EXPECT_FALSE(last.masks[0].defined());
}

TEST_P(RnnSemantics, MaskFromEmbeddingMaskZeroOrMasking) {
  // Ids with 0 as padding: the embedding's mask equals the explicit one.
  auto emb = Embedding::make({.input_dim = 10, .output_dim = F, .mask_zero = true, .seed = 1});
  std::vector<int32_t> ids(B * T);
  const Tensor mask = make_mask(MaskKind::mixed, B, T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) ids[b * T + t] = mask.at({b, t}) != 0 ? 1 + (b + 2 * t) % 9 : 0;
  const Tensor tokens = Tensor::from_vector(ids, {B, T});
  emb->set_dtype(DType::f64);
  LayerOutput e = emb->forward(tokens, Tensor(), false);
  ASSERT_TRUE(e.masks[0].defined());
  auto l = layer({.return_sequences = true});
  LayerOutput via_embedding = (*l)({e[0]}, {e.masks[0]});
  LayerOutput explicit_mask = l->run(e[0], {.mask = mask});
  EXPECT_EQ(rel_error(via_embedding[0], explicit_mask[0]), 0.0);

  // Masking(0): a step whose features are all zero is masked.
  Tensor x = rand_x(B, T, F, 14);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      if (mask.at({b, t}) == 0)
        for (int64_t f = 0; f < F; ++f) x.set({b, t, f}, 0.0);
  auto masking = Masking::make({.mask_value = 0.0});
  LayerOutput mk = masking->forward(x, Tensor(), false);
  LayerOutput via_masking = (*l)({mk[0]}, {mk.masks[0]});
  EXPECT_EQ(rel_error(via_masking[0], l->run(x, {.mask = mask})[0]), 0.0);
}

TEST_P(RnnSemantics, InitialStateMatters) {
  auto l = layer({.return_state = true});
  const Tensor x = rand_x(B, T, F, 15);
  LayerOutput zero = l->run(x);
  LayerOutput given = l->run(x, {.initial_state = rand_states(GetParam(), B, H, 2)});
  EXPECT_GT(rel_error(zero[0], given[0]), 1e-6);
  std::vector<Tensor> zeros;
  for (int i = 0; i < num_states(GetParam()); ++i) zeros.push_back(Tensor::zeros({B, H}, DType::f64));
  expect_same(l->run(x, {.initial_state = zeros}).tensors, zero.tensors, 0.0, "explicit zeros");
}

// Variational dropout: one (B,F) mask for every timestep, so an input
// feature of a sample gets a zero gradient at all steps or at none.
TEST_P(RnnSemantics, DropoutIsVariationalSeededAndOffAtInference) {
  auto l = layer({.dropout = 0.5, .recurrent_dropout = 0.3, .return_sequences = true});
  auto none = layer({.return_sequences = true}, l->get_weights());
  const Tensor x = rand_x(B, T, F, 16);
  EXPECT_EQ(rel_error(l->run(x)[0], none->run(x)[0]), 0.0);  // inference: no dropout
  CallResult r = run_with_grads(*l, x, {.training = true});
  int dropped = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t f = 0; f < F; ++f) {
      int zeros = 0;
      for (int64_t t = 0; t < T; ++t) zeros += r.grads[0].at({b, t, f}) == 0.0;
      EXPECT_TRUE(zeros == 0 || zeros == T) << "b " << b << " f " << f << ": " << zeros;
      dropped += zeros == T;
    }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, B * F);
  // Same seed, same masks; the training output differs from inference.
  auto twin = layer({.dropout = 0.5, .recurrent_dropout = 0.3, .return_sequences = true},
                    l->get_weights());
  auto again = layer({.dropout = 0.5, .recurrent_dropout = 0.3, .return_sequences = true},
                     l->get_weights());
  const Tensor t1 = twin->run(x, {.training = true})[0];
  EXPECT_EQ(rel_error(t1, again->run(x, {.training = true})[0]), 0.0);
  EXPECT_GT(rel_error(t1, none->run(x)[0]), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(AllCells, RnnSemantics, ::testing::ValuesIn(all_kinds()),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// ---- Bidirectional -----------------------------------------------------------------------------

TEST(RnnBidirectional, MergesForwardAndReversedBackward) {
  const int64_t B = 3, T = 5, F = 4, H = 3;
  const Tensor x = rand_x(B, T, F, 1), mask = make_mask(MaskKind::right, B, T);
  for (const char* mode : {"concat", "sum", "mul", "ave", "none"}) {
    SCOPED_TRACE(mode);
    auto bi = Bidirectional::make(LSTM::make({.units = H, .return_sequences = true,
                                              .return_state = true, .seed = 2}),
                                  {.merge_mode = mode});
    bi->ensure_built({{B, T, F}}, {DType::f64});
    EXPECT_EQ(bi->backward_layer()->name(), "backward_" + bi->forward_layer()->name());
    EXPECT_TRUE(bi->backward_layer()->layer_options().go_backwards);
    // Keras forces zero_output_for_mask = return_sequences on both.
    EXPECT_TRUE(bi->forward_layer()->layer_options().zero_output_for_mask);
    EXPECT_TRUE(bi->backward_layer()->layer_options().zero_output_for_mask);
    LayerOutput o = bi->run(x, {.mask = mask});
    LayerOutput f = bi->forward_layer()->run(x, {.mask = mask});
    LayerOutput b = bi->backward_layer()->run(x, {.mask = mask});
    const Tensor br = flip(b[0], 1);
    const std::string m = mode;
    std::vector<Tensor> want;
    if (m == "concat") want = {concat({f[0], br}, 2)};
    if (m == "sum") want = {f[0] + br};
    if (m == "mul") want = {f[0] * br};
    if (m == "ave") want = {(f[0] + br) * 0.5};
    if (m == "none") want = {f[0], br};
    want.insert(want.end(), {f[1], f[2], b[1], b[2]});
    expect_same(o.tensors, want, 0.0, "outputs");
    ASSERT_TRUE(o.masks[0].defined());
    EXPECT_EQ(bi->compute_output_shape({{B, T, F}})[0],
              (Shape{B, T, m == "concat" ? 2 * H : H}));
  }
}

TEST(RnnBidirectional, InitialStateSplitsForwardThenBackward) {
  const int64_t B = 2, T = 4, F = 3, H = 2;
  auto bi = Bidirectional::make(GRU::make({.units = H, .return_state = true, .seed = 3}));
  bi->ensure_built({{B, T, F}}, {DType::f64});
  const Tensor x = rand_x(B, T, F, 2), hf = rand64({B, H}, 3, -1, 1, false),
               hb = rand64({B, H}, 4, -1, 1, false);
  LayerOutput o = bi->run(x, {.initial_state = {hf, hb}});
  ASSERT_EQ(o.size(), 3u);
  LayerOutput f = bi->forward_layer()->run(x, {.initial_state = {hf}});
  LayerOutput b = bi->backward_layer()->run(x, {.initial_state = {hb}});
  expect_same({o[1], o[2]}, {f[1], b[1]}, 0.0, "states");
  EXPECT_LOOM_ERROR(bi->run(x, {.initial_state = {hf}}), "initial state");
}

TEST(RnnBidirectional, ChecksItsLayers) {
  EXPECT_LOOM_ERROR(Bidirectional::make(LSTM::make({.units = 2}), {.merge_mode = "max"}),
                    "merge_mode");
  auto fw = LSTM::make({.units = 2});
  EXPECT_LOOM_ERROR(Bidirectional::make(fw, {.backward_layer = LSTM::make({.units = 2})}),
                    "go_backwards");
  EXPECT_LOOM_ERROR(
      Bidirectional::make(fw, {.backward_layer = LSTM::make({.units = 2, .return_sequences = true,
                                                              .go_backwards = true})}),
      "must agree");
}

// ---- weights, configs, regularizers, errors ---------------------------------------------------

TEST(RnnLayers, WeightsAreNamedAndLaidOutAsKeras) {
  const int64_t F = 5, H = 4;
  auto lstm = LSTM::make({.units = H, .seed = 1}, "enc");
  lstm->ensure_built({{2, 3, F}}, {DType::f64});
  std::vector<ParameterPtr> p = lstm->parameters();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0]->name, "enc/kernel");
  EXPECT_EQ(p[1]->name, "enc/recurrent_kernel");
  EXPECT_EQ(p[2]->name, "enc/bias");
  expect_shape(p[0]->value, {F, 4 * H});
  expect_shape(p[1]->value, {H, 4 * H});
  expect_shape(p[2]->value, {4 * H});
  EXPECT_TRUE(lstm->kernel() == p[0]);
  // unit_forget_bias: [0.., 1.., 0.., 0..]
  for (int64_t j = 0; j < 4 * H; ++j) EXPECT_EQ(p[2]->value.at({j}), j >= H && j < 2 * H ? 1.0 : 0.0);
  // orthogonal recurrent kernel: its H rows are orthonormal.
  Tensor uut = matmul(p[1]->value, transpose(p[1]->value, 0, 1));
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < H; ++j) EXPECT_NEAR(uut.at({i, j}), i == j ? 1.0 : 0.0, 1e-12);

  auto gru = GRU::make({.units = H});
  gru->ensure_built({{2, 3, F}}, {DType::f32});
  expect_shape(gru->bias()->value, {2, 3 * H});
  EXPECT_EQ(gru->name(), gru->kernel()->name.substr(0, gru->name().size()));
  auto gru_b = GRU::make({.units = H, .reset_after = false});
  gru_b->ensure_built({{2, 3, F}}, {DType::f32});
  expect_shape(gru_b->bias()->value, {3 * H});
  auto simple = SimpleRNN::make({.units = H, .use_bias = false});
  simple->ensure_built({{2, 3, F}}, {DType::f32});
  EXPECT_EQ(simple->parameters().size(), 2u);
  EXPECT_EQ(simple->bias(), nullptr);
  EXPECT_EQ(simple->type_name(), "SimpleRNN");
}

TEST(RnnLayers, RegularizersAddPenaltiesToLosses) {
  auto l = LSTM::make({.units = 3, .kernel_regularizer = regularizers::l2(0.1),
                       .recurrent_regularizer = regularizers::l1(0.2),
                       .bias_regularizer = regularizers::l1_l2(0.3, 0.4), .seed = 1});
  l->run(rand_x(2, 3, 4, 1));
  std::vector<Tensor> losses = l->losses();
  ASSERT_EQ(losses.size(), 3u);
  auto sum_of = [](const Tensor& t, bool squares) {
    double s = 0;
    for (double v : t.to_vector<double>()) s += squares ? v * v : std::abs(v);
    return s;
  };
  EXPECT_NEAR(losses[0].item(), 0.1 * sum_of(l->kernel()->value, true), 1e-12);
  EXPECT_NEAR(losses[1].item(), 0.2 * sum_of(l->recurrent_kernel()->value, false), 1e-12);
  EXPECT_NEAR(losses[2].item(), 0.3 * sum_of(l->bias()->value, false) +
                                    0.4 * sum_of(l->bias()->value, true), 1e-12);
}

TEST(RnnLayers, ConfigRoundTripsThroughTheFactory) {
  auto l = GRU::make({.units = 6, .activation = "relu", .recurrent_activation = "hard_sigmoid",
                      .dropout = 0.25, .reset_after = false, .return_sequences = true,
                      .go_backwards = true, .seed = 5},
                     "g");
  LayerPtr copy = make_layer("GRU", l->config(), "g2");
  auto* g = dynamic_cast<GRU*>(copy.get());
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->name(), "g2");
  EXPECT_EQ(g->options().units, 6);
  EXPECT_EQ(g->options().activation, "relu");
  EXPECT_EQ(g->options().recurrent_activation, "hard_sigmoid");
  EXPECT_EQ(g->options().dropout, 0.25);
  EXPECT_FALSE(g->options().reset_after);
  EXPECT_TRUE(g->options().return_sequences);
  EXPECT_TRUE(g->options().go_backwards);
  EXPECT_EQ(g->config(), l->config());

  auto bi = Bidirectional::make(LSTM::make({.units = 2, .return_sequences = true}, "enc"),
                                {.merge_mode = "ave"}, "bi");
  LayerPtr bcopy = make_layer("Bidirectional", bi->config(), "bi");
  auto* b = dynamic_cast<Bidirectional*>(bcopy.get());
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->merge_mode(), Bidirectional::Merge::ave);
  EXPECT_EQ(b->forward_layer()->name(), "enc");
  EXPECT_EQ(b->backward_layer()->name(), "backward_enc");
  EXPECT_EQ(b->config(), bi->config());
}

TEST(RnnLayers, ErrorsNameTheLayerAndShapes) {
  EXPECT_LOOM_ERROR(LSTM::make({.units = 0}), "units");
  EXPECT_LOOM_ERROR(LSTM::make({.units = 2, .activation = "softmax"}, "bad"),
                    "LSTMCell 'bad': unknown activation 'softmax'");
  EXPECT_LOOM_ERROR(GRU::make({.units = 2, .recurrent_dropout = 1.0}), "recurrent_dropout");
  EXPECT_LOOM_ERROR(SimpleRNN::make({.units = 2, .implementation = 3}), "implementation");
  auto l = LSTM::make({.units = 3}, "enc");
  l->run(rand_x(2, 4, 5, 1));
  EXPECT_LOOM_ERROR(l->run(rand_x(2, 4, 6, 1)), "LSTM 'enc'");
  EXPECT_LOOM_ERROR(l->run(rand_x(2, 4, 5, 1), {.initial_state = {Tensor::zeros({2, 3}, DType::f64)}}),
                    "expected 2 initial state");
  EXPECT_LOOM_ERROR(l->run(rand_x(2, 4, 5, 1), {.initial_state = {Tensor::zeros({2, 4}, DType::f64),
                                                                   Tensor::zeros({2, 3}, DType::f64)}}),
                    "initial state 0 has shape (2, 4)");
  EXPECT_LOOM_ERROR(l->run(rand_x(2, 4, 5, 1), {.mask = Tensor::ones({2, 3}, DType::f64)}),
                    "mask of shape (2, 3)");
  EXPECT_LOOM_ERROR(l->run(rand64({2, 5}, 1, -1, 1, false)), "(B,T,F), got f64 of shape (2, 5)");
  EXPECT_LOOM_ERROR(l->run(rand_x(2, 0, 5, 1)), "no timesteps");
}

TEST(RnnLayers, GenericRnnOverACellWithoutCloneNeedsABackwardLayer) {
  class Minimal : public Cell {
   public:
    Minimal() : Cell("Minimal") {}
    std::vector<int64_t> state_size() const override { return {2}; }
    int64_t output_size() const override { return 2; }
    CellOutput call(const Tensor& x, const std::vector<Tensor>& s, bool) override {
      return {s[0], s};
    }
    using Cell::call;
  };
  auto l = RNN::make(std::make_shared<Minimal>());
  EXPECT_LOOM_ERROR(Bidirectional::make(l), "backward_layer");
  // An identity cell carries its initial state through unchanged.
  const Tensor h0 = rand64({3, 2}, 1, -1, 1, false);
  LayerOutput o = RNN::make(std::make_shared<Minimal>(), {.return_state = true})
                      ->run(rand_x(3, 4, 2, 2), {.initial_state = {h0}});
  EXPECT_EQ(rel_error(o[1], h0), 0.0);
}

// ---- the whole-sequence backend interface --------------------------------------------------


// A backend that claims whole RNNs and runs them with the explicit BPTT
// through the rnn_forward/rnn_backward interface, counting the calls: the
// path a oneDNN or cuDNN backend takes, checked against the default one.
// With `decline` its rnn_forward declines every call after seeing it (as
// oneDNN does for a mask with holes), and layers/rnn must fall back.
class WholeSequenceBackend : public ReferenceBackend {
 public:
  explicit WholeSequenceBackend(bool decline) : decline_(decline) {}
  bool supports_rnn(const RnnDesc& d) const override { return d.cell != RnnCellKind::simple_rnn; }
  RnnForwardResult rnn_forward(const RnnDesc& d, const RnnForwardArgs& a) override {
    ++forward_calls;
    if (decline_) return RnnForwardResult::declined_call();
    return RnnForwardResult::ran(explicit_rnn_forward(*this, d, a));
  }
  void rnn_backward(const RnnDesc& d, const RnnBackwardArgs& a, RnnWorkspace& ws) override {
    ++backward_calls;
    explicit_rnn_backward(*this, d, a, ws);
  }
  int forward_calls = 0, backward_calls = 0;

 private:
  bool decline_;
};

TEST(RnnBackendInterface, WholeSequencePathMatchesTheExplicitBptt) {
  const int64_t B = 3, T = 5, F = 4, H = 3;
  for (bool decline : {false, true})
  for (Kind k : all_kinds()) {
    SCOPED_TRACE(fmt::format("{} decline={}", kind_name(k), decline));
    auto layer = make_rnn(k, {.units = H, .seed = 2});
    layer->ensure_built({{B, T, F}}, {DType::f64});
    RnnDesc d = layer->builtin_cell().rnn_desc();
    d.return_sequences = true;
    d.go_backwards = true;
    Generator g(3);
    RnnSequenceArgs a;
    a.x = rand64({B, T, F}, 1);
    a.mask = make_mask(MaskKind::all_masked, B, T);
    for (int i = 0; i < num_states(k); ++i) a.initial_state.push_back(rand64({B, H}, 5 + i));
    a.kernel = layer->kernel()->value;
    a.recurrent_kernel = layer->recurrent_kernel()->value;
    a.bias = layer->bias()->value;
    a.input_dropout_mask = dropout_mask({B, F}, 0.5, DType::f64, g);
    a.recurrent_dropout_mask = dropout_mask({B, H}, 0.5, DType::f64, g);
    std::vector<Tensor> wrt{a.x, a.kernel, a.recurrent_kernel, a.bias};
    wrt.insert(wrt.end(), a.initial_state.begin(), a.initial_state.end());

    WholeSequenceBackend be(decline);
    const bool claimed = be.supports_rnn(d);
    RnnSequenceResult own = rnn_sequence(be, d, a, "whole");
    RnnSequenceResult ref = rnn_sequence(d, a, "explicit");
    std::vector<Tensor> outs{own.output}, refs{ref.output}, cots;
    outs.insert(outs.end(), own.states.begin(), own.states.end());
    refs.insert(refs.end(), ref.states.begin(), ref.states.end());
    for (const Tensor& o : outs) cots.push_back(Tensor::uniform(o.shape(), -1, 1, g, DType::f64));
    expect_same(outs, refs, 0.0, "outputs");
    expect_same(grad(outs, cots, wrt), grad(refs, cots, wrt), 0.0, "gradients");
    EXPECT_EQ(be.forward_calls, claimed ? 1 : 0);
    // A declined call's backward is the explicit BPTT's, not the backend's.
    EXPECT_EQ(be.backward_calls, claimed && !decline ? 1 : 0);
  }
}

}  // namespace
}  // namespace loom::test
