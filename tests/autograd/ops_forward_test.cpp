// Forward values of every op in autograd/ops.h against hand-computed results,
// plus the backward values that are easiest to state exactly (scatter-add of
// repeated ids, the dropout mask as gradient, loss gradients at extremes).
#include <cmath>

#include "test_util.h"

namespace loom {
using test::expect_shape;
using test::expect_values;

namespace {
double sigmoid_of(double x) { return 1.0 / (1.0 + std::exp(-x)); }
const DType f64 = DType::f64;
}  // namespace

// ---- arithmetic ------------------------------------------------------------------

TEST(OpsForward, BinaryArithmeticBroadcasts) {
  Tensor a = Tensor::of2d({{1, 2, 3}, {4, 5, 6}}, f64);
  Tensor row = Tensor::of({10, 20, 30}, f64);
  Tensor col = Tensor::of2d({{1}, {2}}, f64);
  Tensor two = Tensor::scalar(2, f64);
  expect_values(add(a, row), {11, 22, 33, 14, 25, 36});
  expect_shape(add(a, row), {2, 3});
  expect_values(sub(a, col), {0, 1, 2, 2, 3, 4});
  expect_values(mul(a, two), {2, 4, 6, 8, 10, 12});
  expect_values(div(row, Tensor::of({4, 8, 60}, f64)), {2.5, 2.5, 0.5});
  // (2, 1) with (3,) broadcasts both ways to (2, 3).
  Tensor outer = mul(col, row);
  expect_shape(outer, {2, 3});
  expect_values(outer, {10, 20, 30, 20, 40, 60});
  expect_values(a + row, {11, 22, 33, 14, 25, 36});
  expect_values(a - col, {0, 1, 2, 2, 3, 4});
  expect_values(a * col, {1, 2, 3, 8, 10, 12});
  expect_values(row / two, {5, 10, 15});
  expect_values(-row, {-10, -20, -30});
}

TEST(OpsForward, ScalarArithmeticAndPow) {
  Tensor a = Tensor::of({1, 2, 4}, f64);
  expect_values(add(a, 1.5), {2.5, 3.5, 5.5});
  expect_values(sub(a, 1.0), {0, 1, 3});
  expect_values(mul(a, -2.0), {-2, -4, -8});
  expect_values(div(a, 4.0), {0.25, 0.5, 1});
  expect_values(rsub(10.0, a), {9, 8, 6});
  expect_values(rdiv(8.0, a), {8, 4, 2});
  expect_values(a + 1.0, {2, 3, 5});
  expect_values(1.0 + a, {2, 3, 5});
  expect_values(a - 1.0, {0, 1, 3});
  expect_values(1.0 - a, {0, -1, -3});
  expect_values(a * 3.0, {3, 6, 12});
  expect_values(3.0 * a, {3, 6, 12});
  expect_values(a / 2.0, {0.5, 1, 2});
  expect_values(4.0 / a, {4, 2, 1});
  expect_values(pow(a, 2.0), {1, 4, 16});
  expect_values(pow(a, 0.5), {1, std::sqrt(2.0), 2}, 1e-12);
  expect_values(pow(a, -1.0), {1, 0.5, 0.25});
  // The scalar takes the tensor's dtype.
  EXPECT_EQ(add(Tensor::of({1.0}), 2.0).dtype(), DType::f32);
  EXPECT_EQ(pow(Tensor::of({3.0}), 2.0).dtype(), DType::f32);
}

TEST(OpsForward, MaximumMinimum) {
  Tensor a = Tensor::of({1, 5, 3, -2}, f64), b = Tensor::of({2, 4, 3, -7}, f64);
  expect_values(maximum(a, b), {2, 5, 3, -2});
  expect_values(minimum(a, b), {1, 4, 3, -7});
  // Broadcast against a scalar.
  expect_values(maximum(a, Tensor::scalar(0, f64)), {1, 5, 3, 0});
  expect_values(minimum(a, Tensor::scalar(2, f64)), {1, 2, 2, -2});
}

TEST(OpsForward, MaximumTiesSendGradientToTheFirstInput) {
  Tensor a = Tensor::of({1, 3, 2}, f64).set_requires_grad();
  Tensor b = Tensor::of({1, 2, 3}, f64).set_requires_grad();
  sum(maximum(a, b)).backward();
  expect_values(a.grad(), {1, 1, 0});
  expect_values(b.grad(), {0, 0, 1});
  a.zero_grad();
  b.zero_grad();
  sum(minimum(a, b)).backward();
  expect_values(a.grad(), {1, 0, 1});
  expect_values(b.grad(), {0, 1, 0});
}

TEST(OpsForward, CompareGivesOnesAndZerosInTheFirstDtype) {
  Tensor a = Tensor::of({1, 2, 3}, f64), b = Tensor::of({2, 2, 2}, f64);
  expect_values(compare(a, b, Compare::eq), {0, 1, 0});
  expect_values(compare(a, b, Compare::ne), {1, 0, 1});
  expect_values(compare(a, b, Compare::lt), {1, 0, 0});
  expect_values(compare(a, b, Compare::le), {1, 1, 0});
  expect_values(compare(a, b, Compare::gt), {0, 0, 1});
  expect_values(compare(a, b, Compare::ge), {0, 1, 1});
  expect_values(compare(a, 2.0, Compare::ge), {0, 1, 1});
  Tensor grid = compare(Tensor::of2d({{1}, {3}}, f64), a, Compare::gt);  // broadcasts to (2, 3)
  expect_shape(grid, {2, 3});
  expect_values(grid, {0, 0, 0, 1, 1, 0});
  EXPECT_EQ(compare(a, b, Compare::eq).dtype(), f64);
  EXPECT_EQ(compare(Tensor::of({1, 2}, DType::i32), 1.0, Compare::eq).dtype(), DType::i32);
  // Not differentiable: no tape entry even for inputs that require grad.
  Tensor x = Tensor::of({1.0}, f64).set_requires_grad();
  EXPECT_FALSE(compare(x, 0.0, Compare::gt).requires_grad());
}

TEST(OpsForward, BroadcastHelpers) {
  EXPECT_EQ(broadcast_shapes({4, 1, 3}, {2, 1}, "t"), (Shape{4, 2, 3}));
  EXPECT_EQ(broadcast_shapes({}, {2, 2}, "t"), (Shape{2, 2}));
  Tensor e = expand(Tensor::of2d({{1}, {2}}, f64), {3, 2, 2});
  expect_shape(e, {3, 2, 2});
  EXPECT_EQ(e.strides()[0], 0);
  expect_values(e, {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2});
  Tensor s = sum_to(Tensor::arange(0, 12, 1, f64).reshape({3, 2, 2}), {2, 1});
  expect_shape(s, {2, 1});
  expect_values(s, {0 + 1 + 4 + 5 + 8 + 9, 2 + 3 + 6 + 7 + 10 + 11});
}

// ---- element-wise math ----------------------------------------------------------------

TEST(OpsForward, UnaryMath) {
  Tensor x = Tensor::of({-2, -0.5, 0, 0.5, 2}, f64);
  const std::vector<double> v = {-2, -0.5, 0, 0.5, 2};
  std::vector<double> e_exp, e_tanh, e_sig, e_sp;
  for (double t : v) {
    e_exp.push_back(std::exp(t));
    e_tanh.push_back(std::tanh(t));
    e_sig.push_back(sigmoid_of(t));
    e_sp.push_back(std::log(1 + std::exp(t)));
  }
  expect_values(neg(x), {2, 0.5, 0, -0.5, -2});
  expect_values(exp(x), e_exp, 1e-12);
  expect_values(tanh(x), e_tanh, 1e-12);
  expect_values(sigmoid(x), e_sig, 1e-12);
  expect_values(softplus(x), e_sp, 1e-12);
  expect_values(relu(x), {0, 0, 0, 0.5, 2});
  expect_values(square(x), {4, 0.25, 0, 0.25, 4});
  expect_values(abs(x), {2, 0.5, 0, 0.5, 2});
  expect_values(sign(x), {-1, -1, 0, 1, 1});
  expect_values(log(Tensor::of({1, std::exp(2.0), 0.5}, f64)), {0, 2, std::log(0.5)}, 1e-12);
  expect_values(sqrt(Tensor::of({0, 4, 2.25}, f64)), {0, 2, 1.5});
  // hard_sigmoid = clip(0.2 x + 0.5, 0, 1)
  expect_values(hard_sigmoid(Tensor::of({-3, -2.5, -1, 0, 1, 2.5, 3}, f64)),
                {0, 0, 0.3, 0.5, 0.7, 1, 1}, 1e-12);
  expect_values(clip(x, -1, 1), {-1, -0.5, 0, 0.5, 1});
}

TEST(OpsForward, UnaryMathIsStableAtExtremes) {
  Tensor x = Tensor::of({-1000, -100, 100, 1000}, f64);
  expect_values(sigmoid(x), {0, sigmoid_of(-100), 1, 1}, 1e-50);
  expect_values(softplus(x), {0, std::exp(-100.0), 100, 1000}, 1e-12);
  expect_values(tanh(x), {-1, -1, 1, 1});
  Tensor xf = Tensor::of({-1000, 1000});  // f32
  for (double y : sigmoid(xf).to_vector<double>()) EXPECT_TRUE(std::isfinite(y));
  for (double y : softplus(xf).to_vector<double>()) EXPECT_TRUE(std::isfinite(y));
}

TEST(OpsForward, UnaryDerivativesAtKnownPoints) {
  // relu' = [x > 0], hard_sigmoid' = 0.2 inside (-2.5, 2.5), sign' = 0, clip' = 1 inside.
  Tensor x = Tensor::of({-3, -1, 0.5, 3}, f64).set_requires_grad();
  sum(relu(x)).backward();
  expect_values(x.grad(), {0, 0, 1, 1});
  x.zero_grad();
  sum(hard_sigmoid(x)).backward();
  expect_values(x.grad(), {0, 0.2, 0.2, 0}, 1e-12);
  x.zero_grad();
  Tensor s = sign(x);
  EXPECT_EQ(s.grad_fn(), nullptr);
  x.zero_grad();
  sum(clip(x, -2, 2)).backward();
  expect_values(x.grad(), {0, 1, 1, 0});
}

TEST(OpsForward, ActivationByKerasName) {
  Tensor x = Tensor::of({-1, 0, 2}, f64);
  EXPECT_TRUE(activation(x, "linear").same(x));
  expect_values(activation(x, "tanh"), tanh(x).to_vector<double>());
  expect_values(activation(x, "sigmoid"), {sigmoid_of(-1), 0.5, sigmoid_of(2)}, 1e-12);
  expect_values(activation(x, "hard_sigmoid"), {0.3, 0.5, 0.9}, 1e-12);
  expect_values(activation(x, "relu"), {0, 0, 2});
  expect_values(activation(x, "softplus"), {std::log1p(std::exp(-1.0)), std::log(2.0),
                                            std::log1p(std::exp(2.0))}, 1e-12);
  expect_values(activation(x, "exponential"), {std::exp(-1.0), 1, std::exp(2.0)}, 1e-12);
  const double z = std::exp(-1.0) + 1 + std::exp(2.0);
  expect_values(activation(x, "softmax"), {std::exp(-1.0) / z, 1 / z, std::exp(2.0) / z}, 1e-12);
}

// ---- softmax ------------------------------------------------------------------------------

TEST(OpsForward, SoftmaxAndLogSoftmaxLastAxis) {
  Tensor x = Tensor::of2d({{1, 2, 3}, {0, 0, 0}}, f64);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double third = 1.0 / 3.0;
  expect_values(softmax(x), {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z, third,
                             third, third}, 1e-12);
  expect_values(log_softmax(x), {1 - std::log(z), 2 - std::log(z), 3 - std::log(z),
                                 std::log(third), std::log(third), std::log(third)}, 1e-12);
  // Large logits do not overflow.
  expect_values(softmax(Tensor::of({1000, 0}, f64)), {1, 0});
  expect_values(log_softmax(Tensor::of({1000, 0}, f64)), {0, -1000});
}

TEST(OpsForward, SoftmaxOverAnotherAxis) {
  // Columns of (2, 2): softmax over axis 0.
  Tensor x = Tensor::of2d({{0, 1}, {std::log(3.0), 1}}, f64);
  Tensor y = softmax(x, 0);
  expect_shape(y, {2, 2});
  expect_values(y, {0.25, 0.5, 0.75, 0.5}, 1e-12);
  expect_values(log_softmax(x, 0), {std::log(0.25), std::log(0.5), std::log(0.75), std::log(0.5)},
                1e-12);
  // Axis 1 of a 3-D tensor equals the last-axis softmax of the transposed tensor.
  Tensor t = Tensor::arange(0, 12, 1, f64).reshape({2, 3, 2});
  expect_values(softmax(t, 1), transpose(softmax(transpose(t, 1, 2), -1), 1, 2).to_vector<double>(),
                1e-12);
}

// ---- reductions --------------------------------------------------------------------------

TEST(OpsForward, Reductions) {
  Tensor x = Tensor::of2d({{1, 5, 3}, {4, 2, 6}}, f64);
  Tensor all = sum(x);
  expect_shape(all, {});
  expect_values(all, {21});
  expect_values(sum(x, {0}), {5, 7, 9});
  Tensor k = sum(x, {1}, true);
  expect_shape(k, {2, 1});
  expect_values(k, {9, 12});
  expect_values(sum(x, {-1}), {9, 12});
  expect_values(mean(x), {3.5});
  expect_values(mean(x, {0}), {2.5, 3.5, 4.5});
  expect_shape(mean(x, {0, 1}, true), {1, 1});
  expect_values(max(x, {1}), {5, 6});
  expect_values(min(x, {0}), {1, 2, 3});
  expect_values(max(x), {6});
  expect_values(min(x), {1});
  Tensor mk = max(x, {0}, true);
  expect_shape(mk, {1, 3});
  expect_values(mk, {4, 5, 6});
  // Several axes of a 3-D tensor: (2, 3, 2) over {0, 2} -> (3,).
  Tensor t = Tensor::arange(0, 12, 1, f64).reshape({2, 3, 2});
  expect_values(sum(t, {0, 2}), {0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11});
  expect_values(max(t, {2, 0}), {7, 9, 11});
  expect_values(min(t, {-1}, true), {0, 2, 4, 6, 8, 10});
}

TEST(OpsForward, MaxGradientIsSharedAmongTies) {
  Tensor x = Tensor::of2d({{3, 1, 3}, {0, 2, 1}}, f64).set_requires_grad();
  sum(max(x, {1})).backward();
  expect_values(x.grad(), {0.5, 0, 0.5, 0, 1, 0});
  x.zero_grad();
  sum(min(x)).backward();
  expect_values(x.grad(), {0, 0, 0, 1, 0, 0});
}

// ---- matmul --------------------------------------------------------------------------------

TEST(OpsForward, Matmul) {
  Tensor a = Tensor::of2d({{1, 2}, {3, 4}}, f64), b = Tensor::of2d({{5, 6}, {7, 8}}, f64);
  expect_values(matmul(a, b), {19, 22, 43, 50});
  // Transposed views: a^T b = [[1, 3], [2, 4]] b.
  expect_values(matmul(transpose(a, 0, 1), b), {26, 30, 38, 44});
  expect_values(matmul(a, transpose(b, 0, 1)), {17, 23, 39, 53});
  // Batched (2, 2, 2) x (2, 2, 2): the second item multiplies by the identity.
  Tensor ab = stack({a, a}, 0);
  Tensor bb = stack({b, Tensor::of2d({{1, 0}, {0, 1}}, f64)}, 0);
  Tensor c = matmul(ab, bb);
  expect_shape(c, {2, 2, 2});
  expect_values(c, {19, 22, 43, 50, 1, 2, 3, 4});
  // Shared (2, 1, 2) x (2, 3).
  Tensor s = matmul(Tensor::of3d({{{1, 0}}, {{0, 2}}}, f64), Tensor::of2d({{1, 2, 3}, {4, 5, 6}}, f64));
  expect_shape(s, {2, 1, 3});
  expect_values(s, {1, 2, 3, 8, 10, 12});
  // Non-square shapes: (1, 3) x (3, 2).
  expect_values(matmul(Tensor::of2d({{1, 2, 3}}, f64), Tensor::of2d({{1, 0}, {0, 1}, {1, 1}}, f64)),
                {4, 5});
}

TEST(OpsForward, MatmulOfBroadcastViews) {
  // A row broadcast to (3, 2) by expand has row stride 0; the GEMM must read it as such.
  Tensor row = Tensor::of2d({{1, 2}}, f64);
  Tensor w = Tensor::of2d({{1, 10}, {100, 1000}}, f64);
  expect_values(matmul(expand(row, {3, 2}), w), {201, 2010, 201, 2010, 201, 2010});
  // A column broadcast to (2, 3) has column stride 0.
  Tensor col = Tensor::of2d({{1}, {2}}, f64);
  expect_values(matmul(expand(col, {2, 3}), Tensor::ones({3, 1}, f64)), {3, 6});
  // And on the right: w^T expanded over columns.
  expect_values(matmul(w, expand(Tensor::of2d({{1}, {2}}, f64), {2, 2})), {21, 21, 2100, 2100});
}

// ---- shape ops -------------------------------------------------------------------------------

TEST(OpsForward, ReshapeTransposePermute) {
  Tensor t = Tensor::arange(0, 24, 1, f64).reshape({2, 3, 4});
  Tensor r = reshape(t, {4, -1});
  expect_shape(r, {4, 6});
  EXPECT_EQ(r.at({1, 0}), 6);
  Tensor tr = transpose(t, 0, 2);  // (4, 3, 2)
  expect_shape(tr, {4, 3, 2});
  EXPECT_EQ(tr.at({3, 1, 1}), t.at({1, 1, 3}));
  Tensor p = permute(t, {2, 0, 1});  // (4, 2, 3): p[i, j, k] = t[j, k, i]
  expect_shape(p, {4, 2, 3});
  EXPECT_EQ(p.at({3, 1, 2}), t.at({1, 2, 3}));
  EXPECT_EQ(p.at({1, 0, 2}), t.at({0, 2, 1}));
  expect_values(permute(Tensor::of2d({{1, 2}, {3, 4}}, f64), {-1, 0}), {1, 3, 2, 4});
  // Reshaping a non-contiguous view copies in logical order.
  expect_values(reshape(transpose(Tensor::of2d({{1, 2, 3}, {4, 5, 6}}, f64), 0, 1), {6}),
                {1, 4, 2, 5, 3, 6});
}

TEST(OpsForward, SliceSelectSqueezeFlip) {
  Tensor v = Tensor::arange(0, 10, 1, f64);
  expect_values(slice(v, 0, 1, 8, 3), {1, 4, 7});
  expect_values(slice(v, 0, -3, 10), {7, 8, 9});
  expect_values(slice(v, 0, 8, 100), {8, 9});  // stop is clamped
  expect_shape(slice(v, 0, 5, 2), {0});        // empty when stop <= start
  Tensor m = v.reshape({2, 5});
  expect_values(slice(m, 1, 0, 5, 2), {0, 2, 4, 5, 7, 9});
  expect_values(select(m, 1, -1), {4, 9});
  expect_values(select(m, 0, 1), {5, 6, 7, 8, 9});
  Tensor u = unsqueeze(m, 1);
  expect_shape(u, {2, 1, 5});
  expect_shape(unsqueeze(m, -1), {2, 5, 1});
  expect_shape(unsqueeze(m, 0), {1, 2, 5});
  expect_shape(squeeze(u, 1), {2, 5});
  expect_values(squeeze(unsqueeze(m, -1), -1), m.to_vector<double>());
  expect_values(flip(m, 1), {4, 3, 2, 1, 0, 9, 8, 7, 6, 5});
  expect_values(flip(m, 0), {5, 6, 7, 8, 9, 0, 1, 2, 3, 4});
  EXPECT_NE(flip(m, 0).storage(), m.storage());  // flip copies
}

TEST(OpsForward, ContiguousAndCast) {
  Tensor m = Tensor::of2d({{1, 2, 3}, {4, 5, 6}}, f64);
  EXPECT_TRUE(contiguous(m).same(m));
  Tensor c = contiguous(transpose(m, 0, 1));
  EXPECT_TRUE(c.is_contiguous());
  expect_values(c, {1, 4, 2, 5, 3, 6});
  Tensor f = cast(Tensor::of({1.25, -2.75}, f64), DType::f32);
  EXPECT_EQ(f.dtype(), DType::f32);
  expect_values(f, {1.25, -2.75});
  Tensor i = cast(Tensor::of({1.75, -2.75}, f64), DType::i64);
  EXPECT_EQ(i.dtype(), DType::i64);
  expect_values(i, {1, -2});  // truncates toward zero like static_cast
  expect_values(cast(Tensor::of({3, -4}, DType::i32), f64), {3, -4});
  EXPECT_TRUE(cast(m, f64).same(m));
}

TEST(OpsForward, ConcatStackSplit) {
  Tensor a = Tensor::of2d({{1, 2}, {3, 4}}, f64), b = Tensor::of2d({{5, 6}}, f64);
  Tensor c0 = concat({a, b}, 0);
  expect_shape(c0, {3, 2});
  expect_values(c0, {1, 2, 3, 4, 5, 6});
  Tensor c1 = concat({a, Tensor::of2d({{7}, {8}}, f64), a}, -1);
  expect_shape(c1, {2, 5});
  expect_values(c1, {1, 2, 7, 1, 2, 3, 4, 8, 3, 4});
  // Inputs may be views and may be empty along the axis.
  expect_values(concat({transpose(a, 0, 1), Tensor::zeros({0, 2}, f64)}, 0), {1, 3, 2, 4});
  expect_values(concat({a}, 1), {1, 2, 3, 4});

  Tensor s0 = stack({a, a * 10.0}, 0);
  expect_shape(s0, {2, 2, 2});
  expect_values(s0, {1, 2, 3, 4, 10, 20, 30, 40});
  Tensor s2 = stack({a, a * 10.0}, -1);
  expect_shape(s2, {2, 2, 2});
  expect_values(s2, {1, 10, 2, 20, 3, 30, 4, 40});
  Tensor s1 = stack({Tensor::of({1, 2}, f64), Tensor::of({3, 4}, f64), Tensor::of({5, 6}, f64)}, 1);
  expect_shape(s1, {2, 3});
  expect_values(s1, {1, 3, 5, 2, 4, 6});

  Tensor x = Tensor::arange(0, 12, 1, f64).reshape({2, 6});
  std::vector<Tensor> parts = split(x, {1, 3, 0, 2}, 1);
  ASSERT_EQ(parts.size(), 4u);
  expect_shape(parts[0], {2, 1});
  expect_shape(parts[1], {2, 3});
  expect_shape(parts[2], {2, 0});
  expect_shape(parts[3], {2, 2});
  expect_values(parts[0], {0, 6});
  expect_values(parts[1], {1, 2, 3, 7, 8, 9});
  expect_values(parts[3], {4, 5, 10, 11});
  std::vector<Tensor> rows = split(x, {1, 1}, 0);
  expect_values(rows[1], {6, 7, 8, 9, 10, 11});
  // split then concat is the identity.
  expect_values(concat(parts, 1), x.to_vector<double>());
}

TEST(OpsForward, SplitIsOneTapeEntryWithSeveralOutputs) {
  Tensor x = Tensor::arange(0, 6, 1, f64).set_requires_grad();
  std::vector<Tensor> parts = split(x, {2, 4}, 0);
  ASSERT_NE(parts[0].grad_fn(), nullptr);
  EXPECT_EQ(parts[0].grad_fn(), parts[1].grad_fn());
  EXPECT_EQ(parts[0].grad_fn()->op, "split");
  EXPECT_EQ(parts[1].impl()->output_index, 1);
  // Only the second output used: the first one's cotangent is zero.
  sum(mul(parts[1], 3.0)).backward(/*retain_graph=*/true);
  expect_values(x.grad(), {0, 0, 3, 3, 3, 3});
  x.zero_grad();
  backward({parts[0], parts[1]}, {Tensor::of({1, 2}, f64), Tensor::of({3, 4, 5, 6}, f64)});
  expect_values(x.grad(), {1, 2, 3, 4, 5, 6});
}

TEST(OpsForward, Where) {
  Tensor cond = Tensor::of({1, 0, 1}, f64);
  Tensor a = Tensor::of2d({{1, 2, 3}, {4, 5, 6}}, f64);
  Tensor b = Tensor::scalar(-1, f64);
  Tensor w = where(cond, a, b);
  expect_shape(w, {2, 3});
  expect_values(w, {1, -1, 3, 4, -1, 6});
  // An integer condition, broadcast along the other axis.
  expect_values(where(Tensor::of2d({{0}, {7}}, DType::i32), a, b), {-1, -1, -1, 4, 5, 6});
}

// ---- embedding ------------------------------------------------------------------------------

TEST(OpsForward, GatherRows) {
  Tensor table = Tensor::of2d({{0, 1}, {10, 11}, {20, 21}, {30, 31}}, f64);
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{3, 0, 3, 1, 1, 2}, {2, 3});
  Tensor out = gather_rows(table, ids);
  expect_shape(out, {2, 3, 2});
  expect_values(out, {30, 31, 0, 1, 30, 31, 10, 11, 10, 11, 20, 21});
  Tensor ids32 = Tensor::from_vector(std::vector<int32_t>{2, 2});
  expect_values(gather_rows(table, ids32), {20, 21, 20, 21});
  // A scalar id gives a single row (E,).
  Tensor one = gather_rows(table, Tensor::from_vector(std::vector<int64_t>{1}, {}));
  expect_shape(one, {2});
  expect_values(one, {10, 11});
  // A transposed (non-contiguous) table.
  expect_values(gather_rows(transpose(Tensor::of2d({{1, 2, 3}, {4, 5, 6}}, f64), 0, 1), ids32),
                {3, 6, 3, 6});
}

TEST(OpsForward, GatherRowsScatterAddsRepeatedIds) {
  Tensor table = Tensor::zeros({4, 2}, f64).set_requires_grad();
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{3, 0, 3, 1, 3, 0}, {2, 3});
  Tensor out = gather_rows(table, ids);  // (2, 3, 2)
  // Cotangent: row n of the flattened output gets (n, 100 n).
  Tensor cot = Tensor::of3d({{{0, 0}, {1, 100}, {2, 200}}, {{3, 300}, {4, 400}, {5, 500}}}, f64);
  out.backward(cot);
  // id 0 at n = 1, 5; id 1 at n = 3; id 2 never; id 3 at n = 0, 2, 4.
  expect_values(table.grad(), {6, 600, 3, 300, 0, 0, 6, 600});
}

// ---- dropout ---------------------------------------------------------------------------------

TEST(OpsForward, DropoutIsIdentityInInferenceAndAtRateZero) {
  Generator gen(5);
  Tensor x = Tensor::of({1, 2, 3}, f64).set_requires_grad();
  EXPECT_TRUE(dropout(x, 0.5, /*training=*/false, gen).same(x));
  EXPECT_TRUE(dropout(x, 0.0, /*training=*/true, gen).same(x));
  // Neither drew a seed from the generator.
  Generator fresh(5);
  EXPECT_EQ(gen.next_seed(), fresh.next_seed());
}

TEST(OpsForward, DropoutWithFixedSeedMultipliesByTheMaskAndBackpropagatesIt) {
  const double rate = 0.4;
  Generator g1(123), g2(123);
  Tensor x = test::rand64({8, 16}, 9);
  Tensor y = dropout(x, rate, /*training=*/true, g1);
  Tensor mask = dropout_mask({8, 16}, rate, f64, g2);  // the same draw
  std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>(),
                      mv = mask.to_vector<double>();
  int kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    EXPECT_TRUE(mv[i] == 0.0 || mv[i] == 1.0 / (1.0 - rate)) << mv[i];
    EXPECT_DOUBLE_EQ(yv[i], xv[i] * mv[i]);
    kept += mv[i] != 0.0;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, static_cast<int>(xv.size()));
  // The gradient of sum(dropout(x)) is the mask itself.
  sum(y).backward();
  expect_values(x.grad(), mv, 0);
}

TEST(OpsForward, DropoutMaskStatistics) {
  for (double rate : {0.1, 0.5, 0.8}) {
    Generator gen(2024);
    const int64_t n = 200000;
    Tensor mask = dropout_mask({n}, rate, DType::f32, gen);
    const float scale = static_cast<float>(1.0 / (1.0 - rate));
    int64_t kept = 0;
    for (float m : mask.to_vector<float>()) {
      ASSERT_TRUE(m == 0.0f || m == scale) << m;
      kept += m != 0.0f;
    }
    // Binomial standard deviation is at most sqrt(0.25 / n) ~ 0.0011.
    EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - rate, 0.006) << "rate " << rate;
  }
  // Inverted dropout keeps the expectation: mean(dropout(1)) ~ 1.
  Generator gen(7);
  Tensor y = dropout(Tensor::ones({100000}, f64), 0.3, true, gen);
  EXPECT_NEAR(mean(y).item(), 1.0, 0.01);
}

TEST(OpsForward, DropoutSeedsAreReproducible) {
  Generator a(77), b(77), c(78);
  Tensor ma = dropout_mask({1000}, 0.5, f64, a);
  Tensor mb = dropout_mask({1000}, 0.5, f64, b);
  Tensor mc = dropout_mask({1000}, 0.5, f64, c);
  EXPECT_EQ(ma.to_vector<double>(), mb.to_vector<double>());
  EXPECT_NE(ma.to_vector<double>(), mc.to_vector<double>());
  // The generator advances: the next mask from `a` differs from the first.
  EXPECT_NE(dropout_mask({1000}, 0.5, f64, a).to_vector<double>(), ma.to_vector<double>());
  // Same seed through dropout() itself.
  Generator d(9), e(9);
  Tensor x = Tensor::ones({64}, f64);
  EXPECT_EQ(dropout(x, 0.5, true, d).to_vector<double>(), dropout(x, 0.5, true, e).to_vector<double>());
}

TEST(OpsForward, DropoutNoiseShapeSharesTheMaskAlongUnitAxes) {
  Generator gen(11);
  Tensor x = add(Tensor::zeros({4, 5, 6}, f64), 2.0);
  Tensor y = dropout(x, 0.5, true, gen, /*noise_shape=*/{4, 1, 6});
  expect_shape(y, {4, 5, 6});
  int dropped = 0;
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t f = 0; f < 6; ++f) {
      const double v = y.at({b, 0, f});
      EXPECT_TRUE(v == 0.0 || v == 4.0) << v;
      dropped += v == 0.0;
      for (int64_t t = 1; t < 5; ++t) EXPECT_EQ(y.at({b, t, f}), v) << b << "," << t << "," << f;
    }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, 24);
  // A noise shape with fewer axes broadcasts from the right.
  Tensor z = dropout(x, 0.5, true, gen, {6});
  for (int64_t f = 0; f < 6; ++f)
    for (int64_t b = 0; b < 4; ++b) EXPECT_EQ(z.at({b, 3, f}), z.at({0, 0, f}));
}

// ---- losses ------------------------------------------------------------------------------------

TEST(OpsForward, BinaryCrossEntropyMatchesKeras) {
  // The keras.losses.BinaryCrossentropy docstring example.
  Tensor y = Tensor::of2d({{0, 1}, {0, 0}}, f64);
  Tensor p = Tensor::of2d({{0.6, 0.4}, {0.4, 0.6}}, f64);
  const double r0 = -std::log(0.4), r1 = (-std::log(0.6) - std::log(0.4)) / 2;
  expect_values(binary_cross_entropy(p, y), {(r0 + r1) / 2}, 1e-12);
  EXPECT_NEAR(binary_cross_entropy(p, y).item(), 0.815, 1e-3);
  expect_values(binary_cross_entropy(p, y, Reduction::sum), {r0 + r1}, 1e-12);
  Tensor none = binary_cross_entropy(p, y, Reduction::none);
  expect_shape(none, {2});
  expect_values(none, {r0, r1}, 1e-12);
  EXPECT_NEAR(none.at({0}), 0.916, 1e-3);
  EXPECT_NEAR(none.at({1}), 0.714, 1e-3);
  // A 1-D input is one sample.
  expect_shape(binary_cross_entropy(Tensor::of({0.5, 0.5}, f64), Tensor::of({1, 0}, f64),
                                    Reduction::none), {});
}

TEST(OpsForward, BinaryCrossEntropyClipsProbabilities) {
  // p = 0 and p = 1 are clipped to [1e-7, 1 - 1e-7] and stay finite.
  Tensor p = Tensor::of2d({{0, 1, 0, 1}}, f64).set_requires_grad();
  Tensor y = Tensor::of2d({{1, 0, 0, 1}}, f64);
  Tensor l = binary_cross_entropy(p, y, Reduction::none);
  const double big = -std::log(1e-7), tiny = -std::log1p(-1e-7);
  expect_values(l, {(big + big + tiny + tiny) / 4}, 1e-9);
  // Outside the clip range the gradient is zero (as through Keras' clip_by_value).
  sum(l).backward();
  expect_values(p.grad(), {0, 0, 0, 0});
  // In f32 the loss stays finite too.
  Tensor l32 = binary_cross_entropy(Tensor::of({0, 1}), Tensor::of({1, 0}));
  EXPECT_TRUE(std::isfinite(l32.item()));
  EXPECT_NEAR(l32.item(), big, 0.2);
}

TEST(OpsForward, BinaryCrossEntropyWithLogits) {
  Tensor z = Tensor::of2d({{-18.6, 0.51}, {2.94, -12.8}}, f64);
  Tensor y = Tensor::of2d({{0, 1}, {0, 0}}, f64);
  std::vector<double> per;
  for (auto [zi, yi] : std::vector<std::pair<double, double>>{{-18.6, 0}, {0.51, 1}, {2.94, 0}, {-12.8, 0}})
    per.push_back(-(yi * std::log(sigmoid_of(zi)) + (1 - yi) * std::log(1 - sigmoid_of(zi))));
  const double r0 = (per[0] + per[1]) / 2, r1 = (per[2] + per[3]) / 2;
  expect_values(binary_cross_entropy_with_logits(z, y, Reduction::none), {r0, r1}, 1e-9);
  expect_values(binary_cross_entropy_with_logits(z, y), {(r0 + r1) / 2}, 1e-9);
  expect_values(binary_cross_entropy_with_logits(z, y, Reduction::sum), {r0 + r1}, 1e-9);
  // The keras.losses.BinaryCrossentropy(from_logits=True) docstring value, flattened to one row.
  EXPECT_NEAR(binary_cross_entropy_with_logits(z.reshape({1, 4}), y.reshape({1, 4})).item(), 0.865,
              1e-3);
}

TEST(OpsForward, BinaryCrossEntropyWithExtremeLogitsStaysFinite) {
  for (DType dt : {DType::f64, DType::f32}) {
    Tensor z = Tensor::of2d({{100, -100, 100, -100}}, dt).set_requires_grad();
    Tensor y = Tensor::of2d({{1, 1, 0, 0}}, dt);
    Tensor l = binary_cross_entropy_with_logits(z, y, Reduction::sum);
    EXPECT_NEAR(l.item(), (0 + 100 + 100 + 0) / 4.0, 1e-4);
    l.backward();
    // dl/dz = (sigmoid(z) - y) / 4
    expect_values(z.grad(), {0, -0.25, 0.25, 0}, 1e-7);
  }
}

TEST(OpsForward, SparseCategoricalCrossEntropyFromLogits) {
  Tensor z = Tensor::of2d({{1, 2, 3}, {1, 1, 1}}, f64);
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{2, 0});
  const double r0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3, r1 = std::log(3.0);
  expect_values(sparse_categorical_cross_entropy(z, labels), {(r0 + r1) / 2}, 1e-12);
  expect_values(sparse_categorical_cross_entropy(z, labels, true, Reduction::sum), {r0 + r1}, 1e-12);
  Tensor none = sparse_categorical_cross_entropy(z, labels, true, Reduction::none);
  expect_shape(none, {2});
  expect_values(none, {r0, r1}, 1e-12);
  // i32 labels, and labels of shape (N, 1) as Keras accepts.
  expect_values(sparse_categorical_cross_entropy(z, Tensor::from_vector(std::vector<int32_t>{2, 0}),
                                                 true, Reduction::none),
                {r0, r1}, 1e-12);
  expect_values(sparse_categorical_cross_entropy(
                    z, Tensor::from_vector(std::vector<int64_t>{2, 0}, {2, 1}), true, Reduction::none),
                {r0, r1}, 1e-12);
  // Sequence logits (B, T, C) with labels (B, T): one loss per time step.
  Tensor seq = stack({z, z}, 0);
  Tensor seq_labels = Tensor::from_vector(std::vector<int64_t>{2, 0, 2, 0}, {2, 2});
  Tensor seq_none = sparse_categorical_cross_entropy(seq, seq_labels, true, Reduction::none);
  expect_shape(seq_none, {2, 2});
  expect_values(seq_none, {r0, r1, r0, r1}, 1e-12);
}

TEST(OpsForward, SparseCategoricalCrossEntropyWithExtremeLogitsStaysFinite) {
  for (DType dt : {DType::f64, DType::f32}) {
    Tensor z = Tensor::of2d({{100, -100, 0}, {100, -100, 0}}, dt).set_requires_grad();
    Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 0});
    Tensor l = sparse_categorical_cross_entropy(z, labels, true, Reduction::none);
    expect_values(l, {200, 0}, 1e-4);
    sum(l).backward();
    // softmax(z) - onehot(label)
    expect_values(z.grad(), {1, -1, 0, 0, 0, 0}, 1e-6);
  }
}

TEST(OpsForward, SparseCategoricalCrossEntropyFromProbabilities) {
  // The keras.losses.SparseCategoricalCrossentropy docstring example: Keras
  // clips to [1e-7, 1 - 1e-7] and renormalizes, so the 0 adds 1e-7 to the sum.
  Tensor p = Tensor::of2d({{0.05, 0.95, 0}, {0.1, 0.8, 0.1}}, f64);
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 2});
  const double r0 = std::log(1 + 1e-7) - std::log(0.95), r1 = -std::log(0.1);
  Tensor none = sparse_categorical_cross_entropy(p, labels, false, Reduction::none);
  expect_values(none, {r0, r1}, 1e-12);
  EXPECT_NEAR(none.at({0}), 0.05129339, 1e-8);
  EXPECT_NEAR(sparse_categorical_cross_entropy(p, labels, false).item(), 1.177, 1e-3);
  EXPECT_NEAR(sparse_categorical_cross_entropy(p, labels, false, Reduction::sum).item(), 2.354,
              1e-3);
  // A zero probability on the label stays finite: -log(1e-7) (+ the renormalization).
  Tensor z = sparse_categorical_cross_entropy(Tensor::of2d({{1, 0}}, f64),
                                              Tensor::from_vector(std::vector<int64_t>{1}), false);
  EXPECT_NEAR(z.item(), std::log(1.0) - std::log(1e-7), 1e-6);
}

TEST(OpsForward, MeanSquaredError) {
  Tensor p = Tensor::of2d({{1, 2}, {3, 4}}, f64), t = Tensor::of2d({{1, 1}, {1, 1}}, f64);
  expect_values(mean_squared_error(p, t), {3.5});
  expect_values(mean_squared_error(p, t, Reduction::sum), {7});
  Tensor none = mean_squared_error(p, t, Reduction::none);
  expect_shape(none, {2});
  expect_values(none, {0.5, 6.5});
  // The keras.losses.MeanSquaredError docstring example.
  EXPECT_NEAR(mean_squared_error(Tensor::of2d({{1, 1}, {1, 0}}), Tensor::of2d({{0, 1}, {0, 0}}))
                  .item(),
              0.5, 1e-7);
  EXPECT_EQ(mean_squared_error(Tensor::of2d({{1, 1}}), Tensor::of2d({{0, 1}})).dtype(), DType::f32);
}

TEST(OpsForward, LossGradientsOfEachReduction) {
  // MSE: d/dp of mean over all 4 elements is 2 (p - t) / 4; of sum over
  // samples it is 2 (p - t) / 2 (last-axis mean); none takes a cotangent per sample.
  Tensor p = Tensor::of2d({{1, 2}, {3, 4}}, f64).set_requires_grad();
  Tensor t = Tensor::of2d({{1, 1}, {1, 1}}, f64);
  mean_squared_error(p, t).backward();
  expect_values(p.grad(), {0, 0.5, 1, 1.5});
  p.zero_grad();
  mean_squared_error(p, t, Reduction::sum).backward();
  expect_values(p.grad(), {0, 1, 2, 3});
  p.zero_grad();
  mean_squared_error(p, t, Reduction::none).backward(Tensor::of({10, 100}, f64));
  expect_values(p.grad(), {0, 10, 200, 300});
}

}  // namespace loom
