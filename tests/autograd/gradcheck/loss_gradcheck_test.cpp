// gradcheck of the losses, for every reduction, with respect to predictions
// and (where differentiable) targets.
#include "test_util.h"

namespace loom {
using test::rand64;

namespace {
const Reduction kReductions[] = {Reduction::mean, Reduction::sum, Reduction::none};
}  // namespace

TEST(GradcheckLoss, BinaryCrossEntropy) {
  for (Shape s : {Shape{3, 4}, Shape{2, 3, 2}, Shape{5}}) {
    Tensor probs = rand64(s, 200, 0.05, 0.95), targets = rand64(s, 201, 0.0, 1.0);
    for (Reduction r : kReductions) {
      SCOPED_TRACE(static_cast<int>(r));
      EXPECT_GRADCHECK(SingleFn([r](auto& v) { return binary_cross_entropy(v[0], v[1], r); }),
                       {probs, targets});
    }
  }
  // Probabilities from a sigmoid, as after a Dense(sigmoid) layer.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return binary_cross_entropy(sigmoid(v[0]), v[1]); }),
                   {rand64({4, 2}, 202, -3, 3), rand64({4, 2}, 203, 0, 1, false)});
}

TEST(GradcheckLoss, BinaryCrossEntropyWithLogits) {
  for (Shape s : {Shape{3, 4}, Shape{2, 3, 2}, Shape{5}}) {
    Tensor logits = rand64(s, 210, -4, 4), targets = rand64(s, 211, 0.0, 1.0);
    for (Reduction r : kReductions) {
      SCOPED_TRACE(static_cast<int>(r));
      EXPECT_GRADCHECK(
          SingleFn([r](auto& v) { return binary_cross_entropy_with_logits(v[0], v[1], r); }),
          {logits, targets});
    }
  }
  // Large logits keep exact gradients (sigmoid(z) - y).
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return binary_cross_entropy_with_logits(v[0], v[1]); }),
                   {rand64({2, 3}, 212, 20, 40), rand64({2, 3}, 213, 0, 1)});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return binary_cross_entropy_with_logits(neg(v[0]), v[1]); }),
                   {rand64({2, 3}, 214, 20, 40), rand64({2, 3}, 215, 0, 1)});
}

TEST(GradcheckLoss, SparseCategoricalCrossEntropyFromLogits) {
  Tensor labels64 = Tensor::from_vector(std::vector<int64_t>{2, 0, 3, 3});
  Tensor labels32 = Tensor::from_vector(std::vector<int32_t>{1, 1, 0, 2});
  Tensor logits = rand64({4, 4}, 220, -3, 3);
  for (Reduction r : kReductions) {
    SCOPED_TRACE(static_cast<int>(r));
    EXPECT_GRADCHECK(SingleFn([r](auto& v) {
                       return sparse_categorical_cross_entropy(v[0], v[1], true, r);
                     }),
                     {logits, labels64});
    EXPECT_GRADCHECK(SingleFn([r](auto& v) {
                       return sparse_categorical_cross_entropy(v[0], v[1], true, r);
                     }),
                     {logits, labels32});
  }
  // Sequence logits (B, T, C) with labels (B, T), from a matmul.
  Tensor seq_labels = Tensor::from_vector(std::vector<int64_t>{0, 2, 1, 1, 2, 0}, {2, 3});
  for (Reduction r : kReductions)
    EXPECT_GRADCHECK(SingleFn([&, r](auto& v) {
                       return sparse_categorical_cross_entropy(matmul(v[0], v[1]), seq_labels, true, r);
                     }),
                     {rand64({2, 3, 4}, 221), rand64({4, 3}, 222)});
  // Extreme logits: the gradient softmax - onehot is still exact.
  EXPECT_GRADCHECK(SingleFn([&](auto& v) {
                     return sparse_categorical_cross_entropy(mul(v[0], 50.0), labels64);
                   }),
                   {logits});
}

TEST(GradcheckLoss, SparseCategoricalCrossEntropyFromProbabilities) {
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{2, 0, 1});
  // Normalized probabilities from a softmax, as after Dense(softmax).
  for (Reduction r : kReductions) {
    SCOPED_TRACE(static_cast<int>(r));
    EXPECT_GRADCHECK(SingleFn([&, r](auto& v) {
                       return sparse_categorical_cross_entropy(softmax(v[0]), labels, false, r);
                     }),
                     {rand64({3, 3}, 230, -2, 2)});
  }
  // Unnormalized probabilities: Keras renormalizes, and so must the gradient.
  EXPECT_GRADCHECK(SingleFn([&](auto& v) {
                     return sparse_categorical_cross_entropy(v[0], labels, false, Reduction::none);
                   }),
                   {rand64({3, 3}, 231, 0.05, 0.9)});
}

TEST(GradcheckLoss, MeanSquaredError) {
  for (Shape s : {Shape{3, 4}, Shape{2, 3, 2}, Shape{5}}) {
    Tensor pred = rand64(s, 240), target = rand64(s, 241);
    for (Reduction r : kReductions) {
      SCOPED_TRACE(static_cast<int>(r));
      EXPECT_GRADCHECK(SingleFn([r](auto& v) { return mean_squared_error(v[0], v[1], r); }),
                       {pred, target});
    }
  }
  // The same tensor as prediction and (shifted) target.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mean_squared_error(v[0], square(v[0])); }),
                   {rand64({2, 3}, 242)});
}

TEST(GradcheckLoss, DenseRegressionGraph) {
  // mse(relu(x W + b) V, y) with W, b, V trainable: a small training graph.
  Tensor x = rand64({4, 3}, 250, -1, 1, false), y = rand64({4, 2}, 251, -1, 1, false);
  EXPECT_GRADCHECK(SingleFn([&](auto& v) {
                     Tensor h = relu(add(matmul(x, v[0]), v[1]));
                     return mean_squared_error(matmul(h, v[2]), y);
                   }),
                   {rand64({3, 5}, 252), rand64({5}, 253), rand64({5, 2}, 254)});
}

}  // namespace loom
