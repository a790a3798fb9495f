// Helpers shared by Loom's test suites.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace loom::test {

// Random f64 tensor in [low, high) that requires grad (a gradcheck input).
inline Tensor rand64(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0,
                     bool requires_grad = true) {
  Generator g(seed);
  Tensor t = Tensor::uniform(shape, low, high, g, DType::f64);
  if (requires_grad) t.set_requires_grad();
  return t;
}

// Asserts every element of `t` matches `expected` (row-major) within tol.
inline void expect_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size()) << "shape " << shape_str(t.shape());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol) << "element " << i << " of shape " << shape_str(t.shape());
}

// The project's shared data folder (IMDB, SST-2): LOOM_DATA_DIR when set,
// else the first `shared/data` beside the repository or one of its
// ancestors (a clone may live anywhere), else /work/shared/data. Returns the
// first candidate that exists, or the last one tried.
inline std::filesystem::path shared_data_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("LOOM_DATA_DIR"); env && *env) return env;
  fs::path repo = fs::path(__FILE__).parent_path().parent_path();  // tests/ -> repo
  for (fs::path dir = repo; !dir.empty(); dir = dir.parent_path()) {
    if (fs::is_directory(dir / "shared" / "data")) return dir / "shared" / "data";
    if (dir == dir.parent_path()) break;
  }
  return "/work/shared/data";
}

inline void expect_shape(const Tensor& t, const Shape& s) {
  EXPECT_EQ(shape_str(t.shape()), shape_str(s));
}

}  // namespace loom::test

// Runs gradcheck and fails with the worst element when it does not pass.
#define EXPECT_GRADCHECK(fn, inputs, ...)                                                  \
  do {                                                                                     \
    auto _gc = ::loom::gradcheck(fn, inputs __VA_OPT__(, ) __VA_ARGS__);                   \
    EXPECT_TRUE(_gc.ok) << "gradcheck failed; worst " << _gc.worst;                        \
    EXPECT_GT(_gc.elements_checked, 0) << "gradcheck checked no element";                  \
  } while (0)

// Expects `stmt` to throw loom::Error whose message contains `substr`.
#define EXPECT_LOOM_ERROR(stmt, substr)                                                   \
  do {                                                                                     \
    try {                                                                                  \
      stmt;                                                                                \
      ADD_FAILURE() << "expected loom::Error containing '" << (substr) << "'";            \
    } catch (const ::loom::Error& _e) {                                                    \
      EXPECT_NE(std::string(_e.what()).find(substr), std::string::npos)                   \
          << "message was: " << _e.what();                                                 \
    }                                                                                      \
  } while (0)
