// Dense, Activation and Embedding forward passes against hand-computed values.
#include <cmath>

#include "layer_test_util.h"

namespace loom {

TEST(Dense, ForwardMatchesHandComputation2D) {
  auto d = Dense::make({.units = 2, .activation = "relu"}, "d2");
  (void)(*d)(Tensor::ones({1, 3}));
  // W (3, 2), b (2)
  d->set_weights({Tensor::of2d({{1, -1}, {2, 0}, {0, 3}}), Tensor::of({0.5, -4})});
  Tensor x = Tensor::of2d({{1, 2, 3}, {-1, 0, 1}});
  // row 0: [1+4+0+0.5, -1+0+9-4] = [5.5, 4];  row 1: [-1+0+0+0.5, 1+0+3-4] = [-0.5, 0] -> relu
  test::expect_values((*d)(x), {5.5, 4, 0, 0});
}

TEST(Dense, ForwardOnSequencesAndHigherRanks) {
  auto d = Dense::make({.units = 1, .use_bias = false});
  (void)(*d)(Tensor::ones({1, 2}));
  EXPECT_EQ(d->parameters().size(), 1u);
  EXPECT_EQ(d->bias(), nullptr);
  d->set_weights({Tensor::of2d({{2}, {-1}})});
  // (B=1, T=3, F=2) -> (1, 3, 1): 2 x0 - x1 per step.
  Tensor seq = Tensor::of3d({{{1, 1}, {2, 0}, {0, 5}}});
  Tensor y = (*d)(seq);
  test::expect_shape(y, {1, 3, 1});
  test::expect_values(y, {1, 4, -5});
  // Rank 4 flattens to (N, F) and back.
  Tensor x4 = Tensor::arange(0, 8).reshape({2, 1, 2, 2});
  Tensor y4 = (*d)(x4);
  test::expect_shape(y4, {2, 1, 2, 1});
  test::expect_values(y4, {-1, 1, 3, 5});
  EXPECT_EQ(d->compute_output_shape({{-1, 7, 2}})[0], (Shape{-1, 7, 1}));
}

TEST(Dense, ActivationsAndMaskPassThrough) {
  auto d = Dense::make({.units = 1, .activation = "sigmoid", .kernel_initializer = "ones"});
  Tensor x = Tensor::of3d({{{1, -1}, {0.5, 0.5}}});  // (1, 2, 2)
  Tensor m = Tensor::of2d({{1, 0}});
  LayerOutput out = d->forward(x, m, false);
  test::expect_values(out.tensor(), {0.5, 1 / (1 + std::exp(-1.0))}, 1e-6);
  test::expect_values(out.mask(), {1, 0});  // each step mapped independently: mask kept
}

TEST(Dense, Errors) {
  reset_default_names();
  auto d = Dense::make({.units = 4});
  (void)(*d)(Tensor::ones({2, 3}));
  EXPECT_LOOM_ERROR((*d)(Tensor::ones({32, 10, 12})),
                    "Dense 'dense': expected input with last axis 3, got (32, 10, 12)");
  EXPECT_LOOM_ERROR(Dense::make({.units = 0}), "units must be positive, got 0");
  EXPECT_LOOM_ERROR(Dense::make({.units = 2, .activation = "swishy"}, "bad_act"),
                    "Dense 'bad_act': activation: unknown activation 'swishy'");
  EXPECT_LOOM_ERROR(Dense::make({.units = 2, .kernel_initializer = "nope"}), "unknown initializer");
}

TEST(Activation, AppliesByName) {
  auto a = Activation::make("tanh");
  test::expect_values((*a)(Tensor::of({0, 1})), {0, std::tanh(1.0)}, 1e-6);
  auto s = Activation::make({.activation = "softmax"});
  test::expect_values((*s)(Tensor::of2d({{0, 0}})), {0.5, 0.5}, 1e-6);
  EXPECT_LOOM_ERROR(Activation::make("nope", "act"), "Activation 'act': activation: unknown");
}

TEST(Embedding, LooksUpRows) {
  auto e = Embedding::make({.input_dim = 4, .output_dim = 2});
  (void)(*e)(Tensor::from_vector<int32_t>({0}, {1, 1}));
  e->set_weights({Tensor::of2d({{0, 0}, {1, 10}, {2, 20}, {3, 30}})});
  Tensor ids = Tensor::from_vector<int64_t>({3, 1, 1, 0, 2, 0}, {2, 3});  // (B=2, T=3)
  Tensor y = (*e)(ids);
  test::expect_shape(y, {2, 3, 2});
  test::expect_values(y, {3, 30, 1, 10, 1, 10, 0, 0, 2, 20, 0, 0});
  // Integral float ids are accepted (Keras casts), fractional ones are not.
  test::expect_values((*e)(Tensor::of2d({{2, 3}})), {2, 20, 3, 30});
  EXPECT_LOOM_ERROR((*e)(Tensor::of2d({{2.5}})), "id 2.5 at position (0, 0)");
  EXPECT_EQ(e->compute_output_shape({{-1, 80}})[0], (Shape{-1, 80, 2}));
}

TEST(Embedding, OutOfRangeIdsNameTheIdAndInputDim) {
  auto e = Embedding::make({.input_dim = 5, .output_dim = 2}, "emb");
  Tensor bad = Tensor::from_vector<int32_t>({1, 2, 7, 0}, {2, 2});
  EXPECT_LOOM_ERROR((*e)(bad),
                    "Embedding 'emb': id 7 at position (1, 0) of ids (2, 2) is out of range for "
                    "input_dim 5 (valid ids are 0 to 4)");
  EXPECT_LOOM_ERROR((*e)(Tensor::from_vector<int64_t>({-1}, {1, 1})),
                    "id -1 at position (0, 0)");
  EXPECT_LOOM_ERROR((*e)(Tensor::from_vector<int32_t>({5}, {1, 1})), "id 5");
}

TEST(Embedding, MaskZero) {
  auto e = Embedding::make({.input_dim = 10, .output_dim = 3, .mask_zero = true});
  Tensor ids = Tensor::from_vector<int32_t>({4, 2, 0, 0, 0, 9}, {2, 3});
  LayerOutput out = e->forward(ids, Tensor(), false);
  ASSERT_TRUE(out.mask().defined());
  EXPECT_EQ(out.mask().dtype(), DType::f32);
  test::expect_shape(out.mask(), {2, 3});
  test::expect_values(out.mask(), {1, 1, 0, 0, 0, 1});
  auto plain = Embedding::make({.input_dim = 10, .output_dim = 3});
  EXPECT_FALSE(plain->forward(ids, Tensor(), false).mask().defined());
  // Embedding consumes ids, not masked sequences.
  EXPECT_LOOM_ERROR(e->forward(ids, Tensor::ones({2, 3}), false), "does not support masking");
}

TEST(Embedding, ParamCount) {
  auto e = Embedding::make({.input_dim = 1000, .output_dim = 16});
  (void)(*e)(Tensor::from_vector<int32_t>({1}, {1, 1}));
  EXPECT_EQ(e->count_params(), 16000);
  EXPECT_EQ(e->embeddings()->name, e->name() + "/embeddings");
}

TEST(Embedding, SparseRecordsTouchedRows) {
  auto e = Embedding::make({.input_dim = 8, .output_dim = 2, .sparse = true});
  Tensor ids = Tensor::from_vector<int32_t>({5, 1, 5, 3}, {2, 2});
  Tensor y = (*e)(ids);
  ASSERT_NE(e->embeddings()->touched_rows, nullptr);
  EXPECT_EQ(*e->embeddings()->touched_rows, (std::set<int64_t>{1, 3, 5}));
  // The gradient reaches exactly those rows (repeated ids accumulate).
  sum(y).backward();
  std::vector<double> g = e->embeddings()->grad().to_vector<double>();
  for (int64_t row = 0; row < 8; ++row) {
    const double want = row == 5 ? 2 : (row == 1 || row == 3) ? 1 : 0;
    EXPECT_EQ(g[row * 2], want) << "row " << row;
  }
  // Inference does not mark rows.
  e->embeddings()->touched_rows->clear();
  {
    NoGradGuard no_grad;
    (void)(*e)(ids);
  }
  EXPECT_TRUE(e->embeddings()->touched_rows->empty());
  // A dense embedding has no touched-row set.
  auto dense = Embedding::make({.input_dim = 8, .output_dim = 2});
  (void)(*dense)(ids);
  EXPECT_EQ(dense->embeddings()->touched_rows, nullptr);
}

}  // namespace loom
