// The Layer base: names, lazy building, dtype, masking rule, parameters,
// trainable flag, losses, reset_states.
#include "layer_test_util.h"

namespace loom {
using test::NoMaskLayer;

TEST(LayerNames, KerasSnakeCase) {
  EXPECT_EQ(to_snake_case("Dense"), "dense");
  EXPECT_EQ(to_snake_case("GlobalAveragePooling1D"), "global_average_pooling1d");
  EXPECT_EQ(to_snake_case("GlobalMaxPooling1D"), "global_max_pooling1d");
  EXPECT_EQ(to_snake_case("SpatialDropout1D"), "spatial_dropout1d");
  EXPECT_EQ(to_snake_case("SimpleRNN"), "simple_rnn");
  EXPECT_EQ(to_snake_case("LSTM"), "lstm");
  EXPECT_EQ(to_snake_case("GRU"), "gru");
  EXPECT_EQ(to_snake_case("Bidirectional"), "bidirectional");
  EXPECT_EQ(to_snake_case("TextVectorization"), "text_vectorization");
}

TEST(LayerNames, UniqueDefaultsPerType) {
  reset_default_names();
  auto d0 = Dense::make({.units = 2});
  auto d1 = Dense::make({.units = 2});
  auto named = Dense::make({.units = 2}, "head");
  auto d2 = Dense::make({.units = 2});
  auto e0 = Embedding::make({.input_dim = 3, .output_dim = 2});
  auto p0 = GlobalAveragePooling1D::make();
  auto p1 = GlobalAveragePooling1D::make();
  EXPECT_EQ(d0->name(), "dense");
  EXPECT_EQ(d1->name(), "dense_1");
  EXPECT_EQ(named->name(), "head");  // explicit names take no number
  EXPECT_EQ(d2->name(), "dense_2");
  EXPECT_EQ(e0->name(), "embedding");
  EXPECT_EQ(p0->name(), "global_average_pooling1d");
  EXPECT_EQ(p1->name(), "global_average_pooling1d_1");
  EXPECT_EQ(d0->type_name(), "Dense");
  reset_default_names();
  EXPECT_EQ(Dense::make({.units = 2})->name(), "dense");
  EXPECT_LOOM_ERROR(Dense::make({.units = 2}, "a/b"), "may not contain '/'");
}

TEST(LayerBuild, LazyFromFirstInputShapes) {
  auto d = Dense::make({.units = 3}, "lazy");
  EXPECT_FALSE(d->built());
  EXPECT_TRUE(d->parameters().empty());
  EXPECT_EQ(d->count_params(), 0);
  Tensor y = (*d)(Tensor::ones({4, 5}));
  EXPECT_TRUE(d->built());
  test::expect_shape(y, {4, 3});
  auto ps = d->parameters();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0]->name, "lazy/kernel");
  EXPECT_EQ(ps[1]->name, "lazy/bias");
  test::expect_shape(ps[0]->value, {5, 3});
  test::expect_shape(ps[1]->value, {3});
  EXPECT_EQ(d->count_params(), 18);
  ASSERT_EQ(d->build_input_shapes().size(), 1u);
  EXPECT_EQ(d->build_input_shapes()[0], (Shape{4, 5}));
}

TEST(LayerBuild, DtypeFollowsFirstFloatingInput) {
  auto d = Dense::make({.units = 2});
  (void)(*d)(Tensor::ones({1, 3}, DType::f64));
  EXPECT_EQ(d->dtype(), DType::f64);
  EXPECT_EQ(d->kernel()->value.dtype(), DType::f64);
  // Later f32 inputs are cast to the layer's dtype (Keras autocast).
  Tensor y = (*d)(Tensor::ones({1, 3}, DType::f32));
  EXPECT_EQ(y.dtype(), DType::f64);
  EXPECT_LOOM_ERROR(d->set_dtype(DType::f32), "after the layer was built");

  auto e = Embedding::make({.input_dim = 4, .output_dim = 2});
  e->set_dtype(DType::f64);  // integer ids cannot tell the layer its dtype
  Tensor z = (*e)(Tensor::from_vector<int32_t>({1, 2}, {1, 2}));
  EXPECT_EQ(z.dtype(), DType::f64);
  EXPECT_LOOM_ERROR(e->set_dtype(DType::i32), "must be f32 or f64");
}

TEST(LayerMasking, NonMaskingLayerRejectsAMask) {
  auto l = std::make_shared<NoMaskLayer>("plain");
  Tensor x = Tensor::ones({2, 3, 4});
  Tensor m = Tensor::ones({2, 3});
  EXPECT_LOOM_ERROR(l->forward(x, m, false), "NoMaskLayer 'plain' does not support masking");
  // Without a mask it runs.
  test::expect_values((*l)(Tensor::ones({1, 2})), {2, 2});
  // A masking layer receives the mask and passes it on.
  auto act = Activation::make("tanh");
  LayerOutput out = act->forward(x, m, false);
  ASSERT_TRUE(out.mask().defined());
  test::expect_values(out.mask(), std::vector<double>(6, 1.0));
}

TEST(LayerMasking, SymbolicCallChecksMasksToo) {
  auto ids = Input({5}, DType::i32);
  auto emb = Embedding::make({.input_dim = 10, .output_dim = 3, .mask_zero = true});
  SymbolicTensor x = emb(ids);
  EXPECT_TRUE(x.has_mask);
  auto plain = std::make_shared<NoMaskLayer>("no_mask_here");
  EXPECT_LOOM_ERROR((*plain)(x), "NoMaskLayer 'no_mask_here' does not support masking");
  // The mask is consumed by pooling, after which the layer is fine.
  SymbolicTensor pooled = GlobalAveragePooling1D::make()(x);
  EXPECT_FALSE(pooled.has_mask);
  SymbolicTensor y = (*plain)(pooled);
  EXPECT_EQ(y.shape, (Shape{-1, 3}));
}

TEST(LayerParams, TrainableFlag) {
  auto d = Dense::make({.units = 2});
  (void)(*d)(Tensor::ones({1, 3}));
  EXPECT_EQ(d->trainable_parameters().size(), 2u);
  d->set_trainable(false);
  EXPECT_FALSE(d->trainable());
  EXPECT_TRUE(d->trainable_parameters().empty());
  EXPECT_EQ(d->non_trainable_parameters().size(), 2u);
  EXPECT_FALSE(d->kernel()->trainable);
  EXPECT_FALSE(d->kernel()->value.requires_grad());
  // A frozen layer's output does not need gradients.
  EXPECT_FALSE((*d)(Tensor::ones({1, 3})).requires_grad());
  d->set_trainable(true);
  EXPECT_TRUE(d->kernel()->trainable);
  EXPECT_TRUE(d->kernel()->value.requires_grad());

  // Frozen before it is built: its weights are created frozen.
  auto e = Embedding::make({.input_dim = 5, .output_dim = 2});
  e->set_trainable(false);
  (void)(*e)(Tensor::from_vector<int32_t>({1}, {1, 1}));
  EXPECT_FALSE(e->embeddings()->trainable);

  // Freezing a model freezes every layer in it.
  auto seq = std::make_shared<Sequential>(
      Shape{4}, DType::f32, std::vector<LayerPtr>{Dense::make({.units = 3}), Dense::make({.units = 1})});
  EXPECT_EQ(seq->trainable_parameters().size(), 4u);
  seq->set_trainable(false);
  EXPECT_TRUE(seq->trainable_parameters().empty());
  for (const LayerPtr& l : seq->layers()) EXPECT_FALSE(l->trainable());
  seq->set_trainable(true);
  seq->layers()[0]->set_trainable(false);
  EXPECT_EQ(seq->trainable_parameters().size(), 2u);
  EXPECT_EQ(seq->count_params(), 4 * 3 + 3 + 3 + 1);
}

TEST(LayerParams, GetAndSetWeights) {
  auto d = Dense::make({.units = 2}, "gw");
  (void)(*d)(Tensor::ones({1, 2}));
  Tensor k = Tensor::of2d({{1, 2}, {3, 4}});
  Tensor b = Tensor::of({0.5, -0.5});
  ParameterPtr before = d->kernel();
  Tensor storage_before = d->kernel()->value;
  d->set_weights({k, b});
  EXPECT_TRUE(d->kernel()->value.same(storage_before));  // copied in place
  test::expect_values(d->get_weights()[0], {1, 2, 3, 4});
  test::expect_values(d->get_weights()[1], {0.5, -0.5});
  EXPECT_LOOM_ERROR(d->set_weights({k}), "set_weights got 1 tensors but the layer has 2");
  EXPECT_LOOM_ERROR(d->set_weights({Tensor::ones({3, 2}), b}),
                    "'gw/kernel' has shape (2, 2) but tensor 0 has shape (3, 2)");
  // Nothing changed by the failed call.
  test::expect_values(d->get_weights()[0], {1, 2, 3, 4});
}

TEST(LayerLosses, RegularizerLossesAreRecomputedEachCall) {
  auto d = Dense::make({.units = 2, .kernel_regularizer = regularizers::l2(0.1),
                        .bias_regularizer = regularizers::l1(0.5)});
  (void)(*d)(Tensor::ones({1, 2}));
  d->set_weights({Tensor::of2d({{1, -2}, {3, 0}}), Tensor::of({-1, 2})});
  Tensor x = Tensor::ones({1, 2});
  (void)(*d)(x);
  ASSERT_EQ(d->losses().size(), 2u);
  EXPECT_NEAR(d->losses()[0].item(), 0.1 * (1 + 4 + 9), 1e-6);
  EXPECT_NEAR(d->losses()[1].item(), 0.5 * 3, 1e-6);
  (void)(*d)(x);
  EXPECT_EQ(d->losses().size(), 2u);  // replaced, not accumulated
  EXPECT_TRUE(d->losses()[0].requires_grad());

  // A model collects its layers' losses.
  auto plain = Dense::make({.units = 1});
  Sequential seq({d, plain});
  (void)seq(x);
  EXPECT_EQ(seq.losses().size(), 2u);
}

namespace {
// Counts reset_states() calls (a stand-in for a stateful RNN).
class CountingLayer : public Layer {
 public:
  CountingLayer() : Layer("CountingLayer") {}
  int resets = 0;
  std::vector<bool> tracing_seen;
  std::vector<Tensor> call(const std::vector<Tensor>& in, const std::vector<Tensor>&,
                           const CallContext& ctx) override {
    tracing_seen.push_back(ctx.tracing);
    return {in[0]};
  }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& s) const override {
    return {s[0]};
  }
  void reset_states() override {
    ++resets;
    Layer::reset_states();
  }
};
}  // namespace

TEST(LayerStates, ResetStatesRecursesIntoModels) {
  auto a = std::make_shared<CountingLayer>();
  auto b = std::make_shared<CountingLayer>();
  auto in = Input({3});
  SymbolicTensor h = (*a)(in);
  SymbolicTensor out = (*b)(h);
  // The symbolic calls ran each layer once on a sample, flagged as tracing
  // (so a stateful layer leaves its state alone), without resetting it.
  EXPECT_EQ(a->tracing_seen, std::vector<bool>{true});
  EXPECT_EQ(a->resets, 0);
  Model inner({in}, {out});
  inner.reset_states();
  EXPECT_EQ(a->resets, 1);
  EXPECT_EQ(b->resets, 1);
  // Real calls are not tracing.
  (void)inner(Tensor::ones({2, 3}));
  EXPECT_EQ(b->tracing_seen, (std::vector<bool>{true, false}));
}

TEST(LayerOutputs, SingleAccessorsThrowForSeveral) {
  LayerOutput two;
  two.tensors = {Tensor::ones({1}), Tensor::ones({1})};
  two.masks = {Tensor(), Tensor()};
  EXPECT_LOOM_ERROR(two.tensor(), "returned 2 outputs");
  SymbolicOutputs none;
  EXPECT_LOOM_ERROR((void)static_cast<SymbolicTensor>(none), "has 0 outputs");
}

TEST(LayerSymbolic, MustBeOwnedBySharedPtr) {
  Dense d({.units = 2});
  auto x = Input({3});
  EXPECT_LOOM_ERROR(d(x), "must be owned by a std::shared_ptr");
}

}  // namespace loom
