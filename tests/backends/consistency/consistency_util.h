// Helpers for comparing a CPU backend against the reference backend.
#pragma once

#include <string>
#include <vector>

#include "test_util.h"

namespace loom::test {

// The built backend called `name`, or null when this binary lacks it. The
// current CPU backend is left as it was.
inline Backend* backend_named(const std::string& name) {
  for (const std::string& n : available_backends())
    if (n == name) {
      const std::string before = cpu_backend_name();
      set_cpu_backend(name);
      Backend* be = &backend_for(Device::cpu());
      set_cpu_backend(before);
      return be;
    }
  return nullptr;
}

// Makes `name` the CPU backend for its lifetime.
class BackendScope {
 public:
  explicit BackendScope(const std::string& name) : before_(cpu_backend_name()) {
    set_cpu_backend(name);
  }
  ~BackendScope() { set_cpu_backend(before_); }
  BackendScope(const BackendScope&) = delete;
  BackendScope& operator=(const BackendScope&) = delete;

 private:
  std::string before_;
};

// max |a - b| / (1 + |b|) over two tensors of the same shape (b: the oracle).
inline double scaled_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  if (x.size() != y.size()) return 1e300;
  double e = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = std::abs(x[i] - y[i]) / (1.0 + std::abs(y[i]));
    if (!(d <= e)) e = d;  // NaN wins
  }
  return e;
}

}  // namespace loom::test

// Skips the test when this build has no oneDNN backend (LOOM_WITH_ONEDNN=OFF).
#define LOOM_REQUIRE_BACKEND(var, name)                                                  \
  ::loom::Backend* var = ::loom::test::backend_named(name);                            \
  if (var == nullptr) GTEST_SKIP() << "backend '" << (name) << "' is not built";
