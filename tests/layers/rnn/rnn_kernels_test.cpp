// The reference backend's fused RNN kernels: the vectorizable f32 exp,
// tanh and sigmoid they use (against libm in double), and the kernels'
// contract details that the layer tests do not reach directly.
#include <cfloat>
#include <limits>

#include "loom/backends/reference/rnn_gates.h"
#include "layers/rnn/rnn_test_util.h"

namespace loom::test {
namespace {

// Within 2 ulp of the correctly rounded value on a dense grid, and no
// overflow, NaN or sign error at the extremes.
TEST(RnnKernels, FastF32TranscendentalsAreWithinTwoUlp) {
  double exp_err = 0, tanh_err = 0, sigmoid_err = 0;
  for (double v = -40; v <= 40; v += 1.0 / 4096) {
    const float x = static_cast<float>(v);
    const double xd = x;
    const double e = std::exp(xd), t = std::tanh(xd), s = 1 / (1 + std::exp(-xd));
    exp_err = std::max(exp_err, std::abs(ref::exp_f32(x) - e) / e);
    if (t != 0) tanh_err = std::max(tanh_err, std::abs(ref::tanh_f32(x) - t) / std::abs(t));
    sigmoid_err = std::max(sigmoid_err, std::abs(ref::sigmoid_f32(x) - s) / s);
  }
  EXPECT_LE(exp_err, 2 * FLT_EPSILON);
  EXPECT_LE(tanh_err, 2 * FLT_EPSILON);
  EXPECT_LE(sigmoid_err, 2 * FLT_EPSILON);
  for (float tiny : {1e-30f, -1e-20f, 3e-8f}) EXPECT_FLOAT_EQ(ref::tanh_f32(tiny), tiny);
  EXPECT_EQ(ref::tanh_f32(200.f), 1.0f);
  EXPECT_EQ(ref::tanh_f32(-200.f), -1.0f);
  EXPECT_EQ(ref::sigmoid_f32(200.f), 1.0f);
  EXPECT_GE(ref::sigmoid_f32(-200.f), 0.0f);
  EXPECT_LT(ref::sigmoid_f32(-200.f), 1e-37f);
  // exp overflows to +inf and underflows to 0, as std::exp does.
  EXPECT_EQ(ref::exp_f32(1000.f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(ref::exp_f32(-1000.f), 0.0f);
}

// Each activation's derivative from its output, as the backward kernels use it.
TEST(RnnKernels, DerivativesFromTheActivationOutput) {
  const double xs[] = {-3.0, -1.2, -0.3, 0.4, 1.7, 2.9};
  for (RnnActivation a : {RnnActivation::tanh, RnnActivation::sigmoid, RnnActivation::hard_sigmoid,
                          RnnActivation::relu, RnnActivation::linear})
    for (double x : xs) {
      double y = x, d = 1.0;
      ref::activate<double>(a, &y, 1);
      ref::scale_by_derivative<double>(a, &y, &d, 1);
      double yp = x + 1e-6, ym = x - 1e-6;
      ref::activate<double>(a, &yp, 1);
      ref::activate<double>(a, &ym, 1);
      EXPECT_NEAR(d, (yp - ym) / 2e-6, 1e-8) << rnn_activation_name(a) << " at " << x;
    }
}

}  // namespace
}  // namespace loom::test
