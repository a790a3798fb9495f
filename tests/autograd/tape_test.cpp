// The tape: recording, backward, accumulation, no-grad, detach, freeing.
#include "test_util.h"

namespace loom {
using test::expect_values;

TEST(Tape, BackwardOfScalarAccumulatesIntoLeaves) {
  Tensor x = Tensor::of({1, 2, 3}, DType::f64).set_requires_grad();
  Tensor y = sum(mul(x, x));  // dy/dx = 2x
  y.backward();
  expect_values(x.grad(), {2, 4, 6});
  // A second pass accumulates until gradients are zeroed explicitly.
  sum(mul(x, x)).backward();
  expect_values(x.grad(), {4, 8, 12});
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x).backward();
  expect_values(x.grad(), {1, 1, 1});
}

TEST(Tape, TensorUsedTwiceSumsBothPaths) {
  Tensor x = Tensor::of({0.5, -1.0}, DType::f64).set_requires_grad();
  Tensor y = add(tanh(x), mul(x, 3.0));  // dy/dx = 1 - tanh^2 + 3
  y.backward(Tensor::ones({2}, DType::f64));
  for (int i = 0; i < 2; ++i) {
    double t = std::tanh(x.at({i}));
    EXPECT_NEAR(x.grad().at({i}), 1 - t * t + 3, 1e-12);
  }
}

TEST(Tape, BackwardWithCotangentsOverSeveralOutputs) {
  Tensor x = Tensor::of({1, 2}, DType::f64).set_requires_grad();
  Tensor a = mul(x, 2.0), b = mul(x, x);
  backward({a, b}, {Tensor::of({1, 1}, DType::f64), Tensor::of({10, 100}, DType::f64)});
  expect_values(x.grad(), {2 + 10 * 2, 2 + 100 * 4});
}

TEST(Tape, NoGradGuardAndDetachStopRecording) {
  Tensor x = Tensor::of({1, 2}, DType::f64).set_requires_grad();
  {
    NoGradGuard guard;
    Tensor y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(grad_mode_enabled());
  }
  EXPECT_TRUE(grad_mode_enabled());
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), x.storage());
  Tensor y = mul(d, x);  // gradient flows through x only: dy/dx = d
  sum(y).backward();
  expect_values(x.grad(), {1, 2});
}

TEST(Tape, EntriesRecordOnlyWhenNeeded) {
  Tensor a = Tensor::of({1.0}), b = Tensor::of({2.0});
  EXPECT_EQ(add(a, b).grad_fn(), nullptr);
  a.set_requires_grad();
  Tensor c = add(a, b);
  ASSERT_NE(c.grad_fn(), nullptr);
  EXPECT_EQ(c.grad_fn()->op, "add");
  EXPECT_EQ(c.grad_fn()->needs_input_grad, (std::vector<bool>{true, false}));
}

TEST(Tape, SavedValuesAreFreedAfterBackwardUnlessRetained) {
  Tensor x = Tensor::of({1, 2}, DType::f64).set_requires_grad();
  Tensor y = sum(tanh(x));
  std::weak_ptr<TapeEntry> tanh_entry = y.grad_fn()->inputs[0].grad_fn();
  ASSERT_FALSE(tanh_entry.expired());
  y.backward(/*retain_graph=*/true);
  ASSERT_NE(tanh_entry.lock()->backward, nullptr);
  y.backward();  // second walk allowed because the first retained
  // y's entry dropped its saved values and inputs, so the intermediate tanh
  // entry (held only by it) is gone altogether.
  EXPECT_EQ(y.grad_fn()->backward, nullptr);
  EXPECT_TRUE(y.grad_fn()->inputs.empty());
  EXPECT_TRUE(tanh_entry.expired());
  EXPECT_LOOM_ERROR(y.backward(), "already freed");
}

TEST(Tape, GradFunctionReturnsWithoutTouchingDotGrad) {
  Tensor x = Tensor::of({3.0}, DType::f64).set_requires_grad();
  Tensor y = mul(x, x);
  std::vector<Tensor> g = grad({y}, {Tensor::ones({1}, DType::f64)}, {x});
  expect_values(g[0], {6});
  EXPECT_FALSE(x.grad().defined());
}

TEST(Tape, RetainGradKeepsIntermediateGradient) {
  Tensor x = Tensor::of({2.0}, DType::f64).set_requires_grad();
  Tensor h = mul(x, 3.0);
  h.retain_grad();
  sum(mul(h, h)).backward();
  expect_values(h.grad(), {12});
  expect_values(x.grad(), {36});
}

TEST(Tape, ErrorsNameTheProblem) {
  Tensor x = Tensor::of({1, 2}, DType::f64).set_requires_grad();
  EXPECT_LOOM_ERROR(mul(x, x).backward(), "must be a scalar");
  EXPECT_LOOM_ERROR(mul(x, x).backward(Tensor::ones({3}, DType::f64)), "(3,)");
}

}  // namespace loom
