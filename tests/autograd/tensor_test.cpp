// Tensor: factories, views, element access, errors, printing.
#include "test_util.h"

namespace loom {
using test::expect_shape;
using test::expect_values;

TEST(Tensor, FactoriesFillShapeAndDtype) {
  Tensor z = Tensor::zeros({2, 3});
  expect_shape(z, {2, 3});
  EXPECT_EQ(z.dtype(), DType::f32);
  expect_values(z, {0, 0, 0, 0, 0, 0});
  expect_values(Tensor::ones({2}, DType::f64), {1, 1});
  expect_values(Tensor::full({2, 2}, 7, DType::i32), {7, 7, 7, 7});
  expect_values(Tensor::arange(0, 5), {0, 1, 2, 3, 4});
  expect_values(Tensor::arange(1, 2, 0.25, DType::f64), {1, 1.25, 1.5, 1.75});
  Tensor v = Tensor::from_vector(std::vector<int64_t>{4, 5, 6}, {3, 1});
  EXPECT_EQ(v.dtype(), DType::i64);
  EXPECT_EQ(v.at({2, 0}), 6);
  Tensor m = Tensor::of2d({{1, 2}, {3, 4}}, DType::f64);
  expect_shape(m, {2, 2});
  EXPECT_EQ(m.at({1, 0}), 3);
}

TEST(Tensor, RandomFactoriesAreSeeded) {
  Generator g1(42), g2(42), g3(43);
  Tensor a = Tensor::uniform({100}, -1, 1, g1);
  Tensor b = Tensor::uniform({100}, -1, 1, g2);
  Tensor c = Tensor::uniform({100}, -1, 1, g3);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  for (float x : a.to_vector<float>()) {
    EXPECT_GE(x, -1.0f);
    EXPECT_LT(x, 1.0f);
  }
  Generator g4(7);
  std::vector<double> n = Tensor::normal({20000}, 2.0, 0.5, g4, DType::f64).to_vector<double>();
  double mean = 0, var = 0;
  for (double x : n) mean += x;
  mean /= n.size();
  for (double x : n) var += (x - mean) * (x - mean);
  var /= n.size();
  EXPECT_NEAR(mean, 2.0, 0.02);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.02);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::arange(0, 6, 1, DType::f64).reshape({2, 3});
  Tensor tr = t.transpose(0, 1);
  expect_shape(tr, {3, 2});
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_EQ(tr.storage(), t.storage());
  expect_values(tr, {0, 3, 1, 4, 2, 5});
  Tensor s = t.slice(1, 1, 3);
  EXPECT_EQ(s.storage(), t.storage());
  expect_values(s, {1, 2, 4, 5});
  Tensor sel = t.select(0, 1);
  expect_shape(sel, {3});
  expect_values(sel, {3, 4, 5});
  Tensor stepped = Tensor::arange(0, 10, 1, DType::f64).slice(0, 1, 10, 3);
  expect_values(stepped, {1, 4, 7});
  // Writing through a view is visible in the base.
  sel.set({0}, 30);
  EXPECT_EQ(t.at({1, 0}), 30);
  Tensor c = tr.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), t.storage());
  expect_values(c, {0, 30, 1, 4, 2, 5});
  // reshape of a contiguous tensor is a view; -1 is inferred.
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.storage(), t.storage());
  expect_shape(r, {3, 2});
  // clone always copies.
  EXPECT_NE(t.clone().storage(), t.storage());
}

TEST(Tensor, CastConvertsValues) {
  Tensor t = Tensor::of({1.5, -2.5, 3.0});
  expect_values(t.to(DType::f64), {1.5, -2.5, 3.0});
  expect_values(t.to(DType::i32), {1, -2, 3});
  EXPECT_EQ(t.to(DType::i64).dtype(), DType::i64);
}

TEST(Tensor, ErrorsNameTheProblem) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_LOOM_ERROR(t.at({2, 0}), "out of range");
  EXPECT_LOOM_ERROR(t.at({0}), "(2, 3)");
  EXPECT_LOOM_ERROR(t.reshape({4, 2}), "cannot reshape (2, 3)");
  EXPECT_LOOM_ERROR(t.transpose(0, 2), "axis 2 is out of range");
  EXPECT_LOOM_ERROR(t.data<double>(), "dtype f32");
  EXPECT_LOOM_ERROR(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), "(2, 2)");
  EXPECT_LOOM_ERROR(t.select(0, 5), "index 5");
  EXPECT_LOOM_ERROR(Tensor().shape(), "undefined");
  EXPECT_LOOM_ERROR(Tensor::zeros({2}, DType::f32, Device::cuda(0)), "cuda:0");
  EXPECT_LOOM_ERROR(Device::parse("gpu"), "unknown device 'gpu'");
  EXPECT_LOOM_ERROR(Tensor::zeros({2}, DType::i32).set_requires_grad(), "f32/f64");
}

TEST(Tensor, DeviceParsing) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  EXPECT_EQ(Tensor::zeros({1}).device(), Device::cpu());
}

TEST(Tensor, PrintsValuesShapeAndDtype) {
  Tensor t = Tensor::of2d({{1, 2}, {3, 4.5}});
  std::string s = fmt::format("{}", t);
  EXPECT_NE(s.find("[[1, 2],"), std::string::npos) << s;
  EXPECT_NE(s.find("[3, 4.5]]"), std::string::npos) << s;
  EXPECT_NE(s.find("shape=(2, 2)"), std::string::npos) << s;
  EXPECT_NE(s.find("dtype=f32"), std::string::npos) << s;
  std::string big = Tensor::zeros({100}).str();
  EXPECT_NE(big.find("..."), std::string::npos) << big;
  EXPECT_EQ(Tensor::scalar(2.5).str().find("tensor(2.5"), 0u);
}

}  // namespace loom

namespace loom::test {
namespace {

// Tensor::to(Device): a no-op on the same device; a GPU request is served by
// the CUDA backend or refused with an error that says why (no CUDA in this
// build, or no device visible), never a crash.
TEST(TensorDevices, ToDevice) {
  const Tensor x = Tensor::of({1, 2, 3});
  EXPECT_TRUE(x.to(Device::cpu()).same(x));
  EXPECT_TRUE(x.cpu().same(x));
  if (cuda_built() && cuda_device_count() > 0) {
    const Tensor d = x.cuda();
    EXPECT_EQ(d.device(), Device::cuda(0));
    EXPECT_EQ(d.to_vector<float>(), x.to_vector<float>());
    return;
  }
  try {
    x.cuda();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cuda:0"), std::string::npos) << m;
    EXPECT_NE(m.find(cuda_built() ? "no CUDA device" : "LOOM_WITH_CUDA"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace loom::test
