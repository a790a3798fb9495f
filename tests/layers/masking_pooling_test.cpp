// Masking, GlobalAveragePooling1D, GlobalMaxPooling1D, Concatenate, and
// masks travelling from Embedding(mask_zero) / Masking into pooling.
#include "layer_test_util.h"

namespace loom {
using test::NoMaskLayer;

TEST(Masking, MasksStepsWhoseFeaturesAllEqualTheValue) {
  auto m = Masking::make();
  // (B=2, T=3, F=2); step (0,1) and (1,0) are all zero.
  Tensor x = Tensor::of3d({{{1, 2}, {0, 0}, {0, 3}}, {{0, 0}, {4, 0}, {5, 6}}});
  LayerOutput out = m->forward(x, Tensor(), false);
  test::expect_values(out.mask(), {1, 0, 1, 0, 1, 1});
  test::expect_values(out.tensor(), {1, 2, 0, 0, 0, 3, 0, 0, 4, 0, 5, 6});

  auto neg = Masking::make({.mask_value = -1});
  Tensor z = Tensor::of3d({{{-1, -1}, {-1, 2}}});
  LayerOutput o2 = neg->forward(z, Tensor(), false);
  test::expect_values(o2.mask(), {0, 1});
  // Masked steps' inputs are zeroed (not left at mask_value).
  test::expect_values(o2.tensor(), {0, 0, -1, 2});
  // An incoming mask is replaced.
  LayerOutput o3 = neg->forward(z, Tensor::of2d({{1, 0}}), false);
  test::expect_values(o3.mask(), {0, 1});
}

TEST(GlobalAveragePooling1D, MeanWithoutMask) {
  auto p = GlobalAveragePooling1D::make();
  Tensor x = Tensor::of3d({{{1, 2}, {3, 4}, {5, 9}}});
  test::expect_values((*p)(x), {3, 5});
  auto k = GlobalAveragePooling1D::make({.keepdims = true});
  test::expect_shape((*k)(x), {1, 1, 2});
  EXPECT_LOOM_ERROR((*GlobalAveragePooling1D::make({}, "gap"))(Tensor::ones({2, 3})),
                    "GlobalAveragePooling1D 'gap': expected an input of shape (B, T, F), got (2, 3)");
}

TEST(GlobalAveragePooling1D, MaskedMeanOverUnmaskedStepsOnly) {
  auto p = GlobalAveragePooling1D::make();
  Tensor x = Tensor::of3d({{{1, 2}, {3, 4}, {100, 100}}, {{7, 8}, {-50, 50}, {9, 10}},
                           {{5, 5}, {6, 6}, {7, 7}}});
  Tensor m = Tensor::of2d({{1, 1, 0}, {1, 0, 1}, {0, 0, 0}});
  LayerOutput out = p->forward(x, m, false);
  // Row 0: mean of steps 0, 1; row 1: steps 0, 2; row 2: nothing counts -> 0.
  test::expect_values(out.tensor(), {2, 3, 8, 9, 0, 0});
  EXPECT_FALSE(out.mask().defined());  // pooling consumes the mask
  // Integer masks work as well.
  Tensor mi = Tensor::from_vector<int32_t>({1, 1, 0, 1, 0, 1, 0, 0, 0}, {3, 3});
  test::expect_values(p->forward(x, mi, false).tensor(), {2, 3, 8, 9, 0, 0});
  EXPECT_LOOM_ERROR(p->forward(x, Tensor::ones({3, 2}), false),
                    "the mask has shape (3, 2) but the input (3, 3, 2) needs a (B, T) mask (3, 3)");
}

TEST(GlobalMaxPooling1D, MaxIgnoringMaskedSteps) {
  auto p = GlobalMaxPooling1D::make();
  Tensor x = Tensor::of3d({{{1, -2}, {3, -4}, {100, 100}}, {{-7, 8}, {50, 50}, {9, -10}},
                           {{5, 5}, {6, 6}, {7, 7}}});
  test::expect_values((*p)(x), {100, 100, 50, 50, 7, 7});
  Tensor m = Tensor::of2d({{1, 1, 0}, {1, 0, 1}, {0, 0, 0}});
  LayerOutput out = p->forward(x, m, false);
  test::expect_values(out.tensor(), {3, -2, 9, 8, 0, 0});
  EXPECT_FALSE(out.mask().defined());
}

TEST(MaskPropagation, EmbeddingMaskZeroIntoAveragePooling) {
  // Functional graph: ids -> Embedding(mask_zero) -> GAP; the masked mean
  // equals the mean of the unmasked steps' embeddings.
  auto ids = Input({4}, DType::i32);
  auto emb = Embedding::make({.input_dim = 6, .output_dim = 2, .mask_zero = true});
  SymbolicTensor e = emb(ids);
  EXPECT_TRUE(e.has_mask);
  SymbolicTensor pooled = GlobalAveragePooling1D::make()(e);
  EXPECT_FALSE(pooled.has_mask);
  Model model({ids}, {pooled});
  emb->set_weights({Tensor::of2d({{100, 100}, {1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}})});
  Tensor batch = Tensor::from_vector<int32_t>({1, 2, 0, 0, 0, 0, 5, 3, 4, 4, 4, 4}, {3, 4});
  Tensor y = model(batch);
  // Row 0: ids 1, 2 -> mean (2, 3); row 1: ids 5, 3 (left padded) -> (7, 8);
  // row 2: four 4s -> (7, 8).
  test::expect_values(y, {2, 3, 7, 8, 7, 8});
}

TEST(MaskPropagation, EmbeddingMaskZeroIntoMaxPoolingThroughDense) {
  auto ids = Input({3}, DType::i32);
  auto emb = Embedding::make({.input_dim = 4, .output_dim = 1, .mask_zero = true});
  auto dense = Dense::make({.units = 1, .use_bias = false, .kernel_initializer = "ones"});
  SymbolicTensor h = dense(emb(ids));  // Dense passes the mask on
  EXPECT_TRUE(h.has_mask);
  SymbolicTensor out = GlobalMaxPooling1D::make()(h);
  Model model({ids}, {out});
  // Padding's row is the largest, so ignoring the mask would change the answer.
  emb->set_weights({Tensor::of2d({{50}, {-3}, {-1}, {-2}})});
  Tensor batch = Tensor::from_vector<int32_t>({1, 2, 0, 0, 3, 1}, {2, 3});
  test::expect_values(model(batch), {-1, -2});
}

TEST(MaskPropagation, MaskingIntoAveragePooling) {
  Sequential seq({Masking::make({.mask_value = 0}), GlobalAveragePooling1D::make()});
  Tensor x = Tensor::of3d({{{2, 4}, {0, 0}, {4, 8}}});
  test::expect_values(seq(x), {3, 6});
}

TEST(MaskPropagation, NonMaskingLayerAfterEmbeddingThrows) {
  reset_default_names();
  auto ids = Input({3}, DType::i32);
  SymbolicTensor e = Embedding::make({.input_dim = 4, .output_dim = 2, .mask_zero = true})(ids);
  auto bad = std::make_shared<NoMaskLayer>();
  EXPECT_LOOM_ERROR((*bad)(e), "NoMaskLayer 'no_mask_layer' does not support masking");
  // Eagerly, through a Sequential, the same rule holds.
  Sequential seq({Embedding::make({.input_dim = 4, .output_dim = 2, .mask_zero = true}),
                  std::make_shared<NoMaskLayer>("after_embedding")});
  EXPECT_LOOM_ERROR(seq(Tensor::from_vector<int32_t>({1, 0}, {1, 2})),
                    "NoMaskLayer 'after_embedding' does not support masking");
}

TEST(Concatenate, JoinsAlongAnAxis) {
  auto c = Concatenate::make();
  Tensor a = Tensor::of2d({{1, 2}, {3, 4}});
  Tensor b = Tensor::of2d({{5}, {6}});
  test::expect_values(c({a, b}).tensor(), {1, 2, 5, 3, 4, 6});
  auto c1 = Concatenate::make({.axis = 1});
  Tensor s1 = Tensor::of3d({{{1, 2}}});            // (1, 1, 2)
  Tensor s2 = Tensor::of3d({{{3, 4}, {5, 6}}});    // (1, 2, 2)
  Tensor y = c1({s1, s2}).tensor();
  test::expect_shape(y, {1, 3, 2});
  test::expect_values(y, {1, 2, 3, 4, 5, 6});
  EXPECT_LOOM_ERROR(Concatenate::make({}, "cat")({a, Tensor::ones({3, 1})}),
                    "Concatenate 'cat': inputs must match on every axis but the concatenation "
                    "axis -1; got shapes (2, 2), (3, 1)");
  EXPECT_EQ(c->compute_output_shape({{-1, 5, 3}, {-1, 5, 4}})[0], (Shape{-1, 5, 7}));
}

TEST(Concatenate, CombinesMasksLikeKeras) {
  auto c = Concatenate::make();
  Tensor a = Tensor::ones({2, 3, 2}), b = Tensor::ones({2, 3, 1});
  Tensor ma = Tensor::of2d({{1, 1, 0}, {1, 0, 0}});
  Tensor mb = Tensor::of2d({{1, 0, 1}, {1, 1, 1}});
  // No masks: none follows.
  EXPECT_FALSE(c({a, b}).mask().defined());
  // One mask: a missing mask counts as all ones, so the other one survives.
  test::expect_values(c({a, b}, {ma, Tensor()}).mask(), {1, 1, 0, 1, 0, 0});
  // Both: a step counts when it counts in each input (features axis).
  test::expect_values(c({a, b}, {ma, mb}).mask(), {1, 0, 0, 1, 0, 0});
  // Along time the masks are joined in time.
  auto t = Concatenate::make({.axis = 1});
  LayerOutput o = t({a, Tensor::ones({2, 2, 2})}, {ma, Tensor()});
  test::expect_shape(o.mask(), {2, 5});
  test::expect_values(o.mask(), {1, 1, 0, 1, 1, 1, 0, 0, 1, 1});
}

}  // namespace loom
