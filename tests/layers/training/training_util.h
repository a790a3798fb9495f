// Small problems and models shared by the training tests.
#pragma once

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "test_util.h"

namespace loom::test {

// x (n, 2) uniform in [-1, 1); y (n) = 1 when x0 + 0.5 x1 > 0.1, else 0 (f32).
struct Problem {
  Tensor x, y;
};
inline Problem linear_problem(int64_t n, uint64_t seed) {
  Generator g(seed);
  Tensor x = Tensor::uniform({n, 2}, -1.0, 1.0, g);
  std::vector<float> xv = x.to_vector<float>(), yv(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) yv[i] = xv[2 * i] + 0.5f * xv[2 * i + 1] > 0.1f ? 1.0f : 0.0f;
  return {x, Tensor::from_vector(yv)};
}

// Input(2) -> Dense(8, relu) -> [Dropout] -> Dense(1, sigmoid), weights from
// fixed seeds so two calls give identical models; layer names from `prefix`.
inline std::shared_ptr<Model> small_mlp(const std::string& prefix, double dropout = 0.0,
                                        uint64_t seed = 11, const std::string& activation = "sigmoid") {
  auto in = Input({2}, DType::f32, prefix + "_in");
  SymbolicTensor h = Dense::make({.units = 8, .activation = "relu", .seed = seed}, prefix + "_hidden")(in);
  if (dropout > 0) h = Dropout::make(dropout, prefix + "_dropout")(h);
  auto out = Dense::make({.units = 1, .activation = activation, .seed = seed + 1}, prefix + "_out")(h);
  return std::make_shared<Model>(std::vector<SymbolicTensor>{in}, std::vector<SymbolicTensor>{out},
                                 prefix);
}

// Bitwise equality of two tensors' values.
inline bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<size_t>(ca.numel()) * dtype_size(ca.dtype())) == 0;
}

inline void expect_same_weights(const Model& a, const Model& b) {
  auto wa = a.get_weights(), wb = b.get_weights();
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(bit_equal(wa[i], wb[i])) << "weight " << i;
}

// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("loom_{}_{}_{}", info->test_suite_name(), info->name(), ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

}  // namespace loom::test
