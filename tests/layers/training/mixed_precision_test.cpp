// Mixed precision end to end: dtype policies on layers, fit() under
// mixed_bfloat16 and mixed_float16, and the dynamic loss scale.
#include <cmath>

#include "layers/training/training_util.h"
#include "loom/backends/half.h"

namespace loom {
namespace {

using test::linear_problem;
using test::small_mlp;

// Sets the global policy for the test's lifetime (layers made meanwhile take it).
class GlobalPolicy {
 public:
  explicit GlobalPolicy(const std::string& name) { set_global_policy(name); }
  ~GlobalPolicy() { set_global_policy("float32"); }
};

CompileOptions adam(double lr) {
  CompileOptions c;
  c.optimizer_object = std::make_shared<Adam>(AdamOptions{.learning_rate = lr});
  c.loss = "binary_crossentropy";
  c.metrics = {"accuracy"};
  return c;
}

TEST(LossScale, FollowsKerasDynamicRule) {
  DynamicLossScale s({.initial_scale = 8.0, .growth_steps = 3});
  EXPECT_EQ(s.scale(), 8.0);
  EXPECT_FALSE(s.update(false));  // overflow: skip, halve
  EXPECT_EQ(s.scale(), 4.0);
  EXPECT_TRUE(s.update(true));
  EXPECT_TRUE(s.update(true));
  EXPECT_EQ(s.good_steps(), 2);
  EXPECT_FALSE(s.update(false));  // an overflow resets the run of good steps
  EXPECT_EQ(s.scale(), 2.0);
  EXPECT_EQ(s.good_steps(), 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s.update(true));
  EXPECT_EQ(s.scale(), 4.0);  // three good steps in a row: doubled
  EXPECT_EQ(s.good_steps(), 0);
  for (int i = 0; i < 10; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 1.0);  // never below 1
  EXPECT_LOOM_ERROR(DynamicLossScale({.initial_scale = 0.5}), "initial_scale");
  EXPECT_LOOM_ERROR(DynamicLossScale({.growth_steps = 0}), "growth_steps");
  EXPECT_LOOM_ERROR(s.set_state(std::nan(""), 0), "invalid state");
}

TEST(DTypePolicy, ParsesKerasNamesAndLayersTakeTheGlobalOne) {
  EXPECT_EQ(DTypePolicy::parse("mixed_bfloat16").compute, DType::bf16);
  EXPECT_EQ(DTypePolicy::parse("mixed_float16").compute, DType::f16);
  EXPECT_EQ(DTypePolicy::parse("float32").compute, DType::f32);
  EXPECT_LOOM_ERROR(DTypePolicy::parse("bfloat16"), "expected float32, mixed_bfloat16 or mixed_float16");
  LayerPtr before = Dense::make({.units = 2});
  {
    GlobalPolicy p("mixed_bfloat16");
    LayerPtr during = Dense::make({.units = 2});
    EXPECT_EQ(during->dtype_policy().name, "mixed_bfloat16");
    EXPECT_EQ(during->dtype(), DType::f32);  // variables stay f32
    during->set_dtype_policy("float32");
    EXPECT_EQ(during->dtype_policy().compute, DType::f32);
  }
  EXPECT_EQ(before->dtype_policy().name, "float32");
  EXPECT_EQ(global_policy().name, "float32");
}

// A mixed_bfloat16 Dense computes x W + b on bf16-rounded x and W,
// accumulating in f32; its weights and output are f32.
TEST(DTypePolicy, DenseRoundsItsProductOperands) {
  Generator g(3);
  const Tensor x = Tensor::uniform({4, 37}, -1, 1, g);
  LayerPtr dense;
  {
    GlobalPolicy p("mixed_bfloat16");
    dense = Dense::make({.units = 5, .seed = 9});
  }
  const Tensor y = (*dense)(x);
  EXPECT_EQ(y.dtype(), DType::f32);
  const std::vector<Tensor> w = dense->get_weights();  // kernel (37,5), bias (5)
  const Tensor want = add(matmul(x.to(DType::bf16).to(DType::f64), w[0].to(DType::bf16).to(DType::f64)),
                          w[1].to(DType::f64));
  const Tensor exact = add(matmul(x.to(DType::f64), w[0].to(DType::f64)), w[1].to(DType::f64));
  const std::vector<float> got = y.to_vector<float>();
  const std::vector<double> r = want.to_vector<double>(), e = exact.to_vector<double>();
  double err = 0, off = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err = std::max(err, std::abs(got[i] - r[i]));
    off = std::max(off, std::abs(got[i] - e[i]));
  }
  EXPECT_LE(err, 1e-5);
  EXPECT_GT(off, 1e-4);  // it did round
}

TEST(MixedPrecisionFit, Bfloat16TrainsWithoutALossScale) {
  auto [x, y] = linear_problem(512, 1);
  std::shared_ptr<Model> model;
  {
    GlobalPolicy p("mixed_bfloat16");
    model = small_mlp("bf16_fit");
  }
  model->compile(adam(0.02));
  model->fit(x, y, {.batch_size = 32, .epochs = 30, .seed = 3, .verbose = 0});
  EXPECT_EQ(model->loss_scale(), nullptr);
  auto [xt, yt] = linear_problem(512, 2);
  EXPECT_GE(model->evaluate(xt, yt).at("accuracy"), 0.95);
}

TEST(MixedPrecisionFit, Float16TrainsWithADynamicLossScale) {
  auto [x, y] = linear_problem(512, 1);
  std::shared_ptr<Model> model;
  {
    GlobalPolicy p("mixed_float16");
    model = small_mlp("f16_fit");
  }
  model->compile(adam(0.02));
  ASSERT_NE(model->loss_scale(), nullptr);
  EXPECT_EQ(model->loss_scale()->scale(), 32768.0);
  model->fit(x, y, {.batch_size = 32, .epochs = 30, .seed = 3, .verbose = 0});
  auto [xt, yt] = linear_problem(512, 2);
  EXPECT_GE(model->evaluate(xt, yt).at("accuracy"), 0.95);
}

// A scale so large that the scaled gradients overflow f16: the step is
// skipped (weights untouched, no error) and the scale halves, until the
// gradients fit and training goes on.
TEST(MixedPrecisionFit, Float16OverflowSkipsTheStepAndLowersTheScale) {
  auto [x, y] = linear_problem(64, 1);
  std::shared_ptr<Model> model;
  {
    GlobalPolicy p("mixed_float16");
    model = small_mlp("f16_overflow");
  }
  model->compile(adam(0.02));
  model->loss_scale()->set_state(std::ldexp(1.0, 60), 0);
  const std::vector<Tensor> before = model->get_weights();
  model->fit(x, y, {.batch_size = 64, .epochs = 1, .verbose = 0});  // one batch
  EXPECT_EQ(model->loss_scale()->scale(), std::ldexp(1.0, 59));
  const std::vector<Tensor> after = model->get_weights();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(test::bit_equal(before[i], after[i]));
  model->fit(x, y, {.batch_size = 8, .epochs = 10, .verbose = 0});  // 80 steps
  EXPECT_LT(model->loss_scale()->scale(), std::ldexp(1.0, 40));
  bool changed = false;
  for (size_t i = 0; i < before.size(); ++i) changed = changed || !test::bit_equal(before[i], model->get_weights()[i]);
  EXPECT_TRUE(changed);
  for (const Tensor& w : model->get_weights())
    for (float v : w.to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace loom
