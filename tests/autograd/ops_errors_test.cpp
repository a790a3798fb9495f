// Every op rejects bad arguments with a loom::Error naming the op and the
// offending shapes, dtypes, axes or values.
#include "test_util.h"

namespace loom {

namespace {
const DType f64 = DType::f64;
}  // namespace

TEST(OpsErrors, BroadcastMismatchNamesBothShapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
  for (BinaryFn fn : std::vector<BinaryFn>{add, sub, mul, div, maximum, minimum}) {
    EXPECT_LOOM_ERROR(fn(a, b), "(2, 3)");
    EXPECT_LOOM_ERROR(fn(a, b), "(4,)");
  }
  EXPECT_LOOM_ERROR(add(a, b), "add: shapes (2, 3) and (4,) cannot be broadcast");
  EXPECT_LOOM_ERROR(compare(a, b, Compare::lt), "cannot be broadcast");
  EXPECT_LOOM_ERROR(where(Tensor::zeros({3}), a, b), "where");
  EXPECT_LOOM_ERROR(expand(a, {3, 3}), "expand: cannot expand shape (2, 3) to (3, 3)");
}

TEST(OpsErrors, DtypeMismatch) {
  Tensor a = Tensor::zeros({2}), b = Tensor::zeros({2}, f64);
  EXPECT_LOOM_ERROR(add(a, b), "add: dtype mismatch: f32 (2,) vs f64 (2,)");
  EXPECT_LOOM_ERROR(mul(b, a), "dtype mismatch");
  EXPECT_LOOM_ERROR(where(a, a, b), "where: dtype mismatch");
  EXPECT_LOOM_ERROR(matmul(Tensor::zeros({2, 2}), Tensor::zeros({2, 2}, f64)),
                    "matmul: dtype mismatch");
  EXPECT_LOOM_ERROR(concat({a, b}, 0), "concat: dtype mismatch");
  EXPECT_LOOM_ERROR(mean_squared_error(a.reshape({1, 2}), b.reshape({1, 2})),
                    "mean_squared_error: dtype mismatch");
  EXPECT_LOOM_ERROR(binary_cross_entropy(a.reshape({1, 2}), b.reshape({1, 2})), "dtype mismatch");
}

TEST(OpsErrors, NonFloatingInputs) {
  Tensor i = Tensor::zeros({2}, DType::i32);
  EXPECT_LOOM_ERROR(exp(i), "exp: expected a floating tensor, got i32");
  EXPECT_LOOM_ERROR(softmax(i), "softmax: expected a floating dtype");
  EXPECT_LOOM_ERROR(pow(i, 2.0), "pow");
  EXPECT_LOOM_ERROR(matmul(Tensor::zeros({1, 1}, DType::i64), Tensor::zeros({1, 1}, DType::i64)),
                    "matmul: expected f32 or f64");
  EXPECT_LOOM_ERROR(dropout(i, 0.5, true, default_generator()), "dropout: expected a floating");
  EXPECT_LOOM_ERROR(dropout_mask({2}, 0.5, DType::i32, default_generator()), "dropout_mask");
  Tensor x = Tensor::zeros({2}, f64).set_requires_grad();
  EXPECT_LOOM_ERROR(cast(x, DType::i32), "cast: a tensor that requires grad cannot be cast to i32");
}

TEST(OpsErrors, BadAxes) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_LOOM_ERROR(sum(x, {2}), "sum: axis 2 is out of range for a tensor with 2 dims");
  EXPECT_LOOM_ERROR(mean(x, {-3}), "mean: axis -3 is out of range");
  EXPECT_LOOM_ERROR(max(x, {0, 0}), "max: repeated axis");
  EXPECT_LOOM_ERROR(min(x, {5}), "min: axis 5");
  EXPECT_LOOM_ERROR(softmax(x, 2), "softmax: axis 2 is out of range");
  EXPECT_LOOM_ERROR(log_softmax(x, -3), "log_softmax: axis -3");
  EXPECT_LOOM_ERROR(transpose(x, 0, 2), "transpose: axis 2");
  EXPECT_LOOM_ERROR(permute(x, {0}), "permute: 1 axes given for a tensor of shape (2, 3)");
  EXPECT_LOOM_ERROR(permute(x, {1, 1}), "permute: axis 1 appears twice");
  EXPECT_LOOM_ERROR(slice(x, 3, 0, 1), "slice: axis 3");
  EXPECT_LOOM_ERROR(slice(x, 0, 0, 1, 0), "slice: step must be positive, got 0");
  EXPECT_LOOM_ERROR(select(x, 1, 3), "select: index 3 is out of range for axis 1 of shape (2, 3)");
  EXPECT_LOOM_ERROR(unsqueeze(x, 3), "unsqueeze: axis 3");
  EXPECT_LOOM_ERROR(squeeze(x, 0), "squeeze: axis 0 of shape (2, 3) has extent 2, not 1");
  EXPECT_LOOM_ERROR(flip(x, -3), "flip: axis -3");
  EXPECT_LOOM_ERROR(concat({x, x}, 2), "concat: axis 2");
  EXPECT_LOOM_ERROR(stack({x, x}, 3), "stack: axis 3");
  EXPECT_LOOM_ERROR(split(x, {1, 2}, 2), "split: axis 2");
}

TEST(OpsErrors, ShapeOps) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_LOOM_ERROR(reshape(x, {4, -1}), "reshape: cannot reshape (2, 3) into (4, -1)");
  EXPECT_LOOM_ERROR(reshape(x, {-1, -1}), "more than one -1");
  EXPECT_LOOM_ERROR(reshape(x, {7}), "(2, 3) (6 elements) into (7,)");
  EXPECT_LOOM_ERROR(matmul(x, Tensor::zeros({2, 3})), "matmul: inner dimensions differ: (2, 3) x (2, 3)");
  EXPECT_LOOM_ERROR(matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 1})),
                    "matmul: batch sizes differ: (2, 2, 3) x (3, 3, 1)");
  EXPECT_LOOM_ERROR(matmul(Tensor::zeros({3}), Tensor::zeros({3, 1})), "(3,) x (3, 1)");
  EXPECT_LOOM_ERROR(clip(x, 1, -1), "clip: low 1 is above high -1");
  EXPECT_LOOM_ERROR(activation(x, "swishy"), "unknown activation 'swishy'");
}

TEST(OpsErrors, ConcatStackSplit) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4}), c = Tensor::zeros({3, 3});
  EXPECT_LOOM_ERROR(concat({a, b}, 0), "concat: input 0 has shape (2, 3) but input 1 has shape (2, 4)");
  EXPECT_NO_THROW(concat({a, b}, 1));
  EXPECT_LOOM_ERROR(concat({a, Tensor::zeros({2, 3, 1})}, 0), "(2, 3, 1)");
  EXPECT_LOOM_ERROR(concat({}, 0), "concat: no tensors");
  EXPECT_LOOM_ERROR(concat({Tensor::scalar(1), Tensor::scalar(2)}, 0), "cannot concatenate scalars");
  EXPECT_LOOM_ERROR(concat({a, Tensor()}, 0), "concat: input 1 is undefined");
  EXPECT_LOOM_ERROR(stack({a, c}, 0), "stack: input 0 has shape (2, 3) but input 1 has shape (3, 3)");
  EXPECT_LOOM_ERROR(stack({}, 0), "stack: no tensors");
  EXPECT_LOOM_ERROR(split(a, {1, 1}, 1), "split: sizes (1, 1) add up to 2 but axis 1 of shape (2, 3) has extent 3");
  EXPECT_LOOM_ERROR(split(a, {4, -1}, 1), "split: negative size -1");
  EXPECT_LOOM_ERROR(split(a, {}, 1), "split: no sizes");
}

TEST(OpsErrors, GatherRowsNamesTheBadIdItsPositionAndV) {
  Tensor table = Tensor::zeros({5, 2});
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 7, 4}, {2, 3});
  EXPECT_LOOM_ERROR(gather_rows(table, ids),
                    "gather_rows: id 7 at position (1, 1) of ids (2, 3) is out of range for a "
                    "table of 5 rows");
  EXPECT_LOOM_ERROR(gather_rows(table, Tensor::from_vector(std::vector<int32_t>{-1})),
                    "id -1 at position (0)");
  EXPECT_LOOM_ERROR(gather_rows(table, Tensor::from_vector(std::vector<int32_t>{5})), "5 rows");
  EXPECT_LOOM_ERROR(gather_rows(table, Tensor::of({1.0})), "gather_rows: ids must be i32 or i64, got f32");
  EXPECT_LOOM_ERROR(gather_rows(Tensor::zeros({5}), ids), "gather_rows: table must be (V, E), got shape (5,)");
}

TEST(OpsErrors, DropoutRate) {
  Tensor x = Tensor::zeros({4});
  Generator gen(1);
  EXPECT_LOOM_ERROR(dropout(x, 1.0, true, gen), "dropout: rate must be in [0, 1), got 1");
  EXPECT_LOOM_ERROR(dropout(x, -0.1, true, gen), "got -0.1");
  EXPECT_LOOM_ERROR(dropout(x, std::nan(""), true, gen), "rate must be in [0, 1)");
  // Checked even when the call would be the identity.
  EXPECT_LOOM_ERROR(dropout(x, 1.5, false, gen), "got 1.5");
  EXPECT_LOOM_ERROR(dropout_mask({4}, 1.0, DType::f32, gen), "dropout_mask: rate must be in [0, 1)");
  EXPECT_LOOM_ERROR(dropout(Tensor::zeros({2, 3}), 0.5, true, gen, {3, 3}),
                    "dropout: noise_shape (3, 3) does not broadcast to the input shape (2, 3)");
  EXPECT_LOOM_ERROR(dropout(Tensor::zeros({2, 3}), 0.5, true, gen, {1, 2, 3}), "(1, 2, 3)");
}

TEST(OpsErrors, Losses) {
  Tensor p = Tensor::zeros({2, 3}), q = Tensor::zeros({3, 2});
  EXPECT_LOOM_ERROR(mean_squared_error(p, q),
                    "mean_squared_error: predictions of shape (2, 3) and targets of shape (3, 2)");
  EXPECT_LOOM_ERROR(binary_cross_entropy(p, q), "binary_cross_entropy: predictions of shape (2, 3)");
  EXPECT_LOOM_ERROR(binary_cross_entropy_with_logits(p, q), "(3, 2)");
  EXPECT_LOOM_ERROR(mean_squared_error(Tensor::scalar(1), Tensor::scalar(1)), "non-empty last axis");

  Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 3});
  EXPECT_LOOM_ERROR(sparse_categorical_cross_entropy(p, labels),
                    "sparse_categorical_cross_entropy: label 3 in row 1");
  EXPECT_LOOM_ERROR(sparse_categorical_cross_entropy(p, labels), "out of range for 3 classes");
  EXPECT_LOOM_ERROR(sparse_categorical_cross_entropy(
                        p, Tensor::from_vector(std::vector<int32_t>{-2, 0}), false),
                    "label -2 in row 0");
  EXPECT_LOOM_ERROR(sparse_categorical_cross_entropy(p, Tensor::from_vector(std::vector<int64_t>{0, 1, 2})),
                    "labels of shape (3,) do not match logits of shape (2, 3)");
  EXPECT_LOOM_ERROR(sparse_categorical_cross_entropy(p, Tensor::of({0, 1})),
                    "labels must be i32 or i64, got f32");
  EXPECT_LOOM_ERROR(sparse_categorical_cross_entropy(Tensor::zeros({2, 3}, DType::i32), labels),
                    "expected floating logits");
}

}  // namespace loom
