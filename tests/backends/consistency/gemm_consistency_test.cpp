// The oneDNN backend's GEMM (dnnl_sgemm for f32, the reference for f64)
// against the reference GEMM in f64, over transposes, leading dimensions,
// batches, alpha and beta.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backends/consistency/consistency_util.h"

namespace loom::test {
namespace {

struct Case {
  GemmDesc g;
  std::vector<double> a, b, c;
};

Case random_case(std::mt19937& rng, bool nan_c) {
  auto dim = [&](int lo, int hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::uniform_real_distribution<double> val(-1, 1);
  Case k;
  GemmDesc& g = k.g;
  g.trans_a = dim(0, 1);
  g.trans_b = dim(0, 1);
  g.M = dim(1, 40);
  g.N = dim(1, 40);
  g.K = dim(1, 40);
  g.lda = (g.trans_a ? g.M : g.K) + dim(0, 3);
  g.ldb = (g.trans_b ? g.K : g.N) + dim(0, 3);
  g.ldc = g.N + dim(0, 3);
  g.batch = dim(1, 3);
  const int64_t rows_a = g.trans_a ? g.K : g.M, rows_b = g.trans_b ? g.N : g.K;
  g.stride_a = rows_a * g.lda;
  g.stride_b = g.batch > 1 && dim(0, 3) == 0 ? 0 : rows_b * g.ldb;  // a shared B sometimes
  g.stride_c = g.M * g.ldc;
  g.alpha = dim(0, 2) == 0 ? 1.0 : val(rng) * 2;
  g.beta = nan_c ? 0.0 : (dim(0, 2) == 0 ? 0.0 : val(rng));
  k.a.resize(static_cast<size_t>(g.batch * g.stride_a));
  k.b.resize(static_cast<size_t>(std::max<int64_t>(1, g.batch * g.stride_b + rows_b * g.ldb)));
  k.c.resize(static_cast<size_t>(g.batch * g.stride_c));
  for (double& v : k.a) v = val(rng);
  for (double& v : k.b) v = val(rng);
  for (double& v : k.c) v = nan_c ? std::numeric_limits<double>::quiet_NaN() : val(rng);
  return k;
}

template <typename T>
std::vector<double> run(Backend& be, GemmDesc g, const Case& k) {
  g.dtype = dtype_of<T>::value;
  std::vector<T> a(k.a.begin(), k.a.end()), b(k.b.begin(), k.b.end()), c(k.c.begin(), k.c.end());
  be.gemm(g, a.data(), b.data(), c.data());
  return std::vector<double>(c.begin(), c.end());
}

TEST(OneDnnGemmConsistency, RandomShapesMatchTheReference) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    const Case k = random_case(rng, i % 10 == 0);
    const GemmDesc& g = k.g;
    SCOPED_TRACE(fmt::format("case {}: ta={} tb={} M={} N={} K={} lda={} ldb={} ldc={} batch={} "
                             "alpha={} beta={}",
                             i, g.trans_a, g.trans_b, g.M, g.N, g.K, g.lda, g.ldb, g.ldc, g.batch,
                             g.alpha, g.beta));
    const std::vector<double> want = run<double>(reference_backend(), g, k);
    const std::vector<double> got32 = run<float>(*onednn, g, k);
    const std::vector<double> got64 = run<double>(*onednn, g, k);
    for (int64_t p = 0; p < g.batch; ++p)
      for (int64_t r = 0; r < g.M; ++r)
        for (int64_t col = 0; col < g.N; ++col) {
          const size_t at = static_cast<size_t>(p * g.stride_c + r * g.ldc + col);
          ASSERT_NEAR(got32[at], want[at], 1e-5 * (1 + g.K)) << "f32 at " << at;
          ASSERT_NEAR(got64[at], want[at], 1e-12 * (1 + g.K)) << "f64 at " << at;
        }
    // Padding between rows of C is never written.
    for (size_t at = 0; at < want.size(); ++at)
      if (static_cast<int64_t>(at % static_cast<size_t>(g.ldc)) >= g.N && !std::isnan(k.c[at]))
        ASSERT_EQ(got32[at], static_cast<float>(k.c[at])) << "padding at " << at;
  }
}

// K = 0 scales C by beta (nothing to multiply), and beta = 0 ignores NaN in
// C, as the GemmDesc contract says; a leading dimension BLAS would reject
// (one row with lda 0) still works.
TEST(OneDnnGemmConsistency, EdgeCases) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  GemmDesc g;
  g.M = 2;
  g.N = 2;
  g.K = 0;
  g.lda = 1;
  g.ldb = 2;
  g.ldc = 2;
  g.beta = 0.5;
  float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {2, 4, 6, 8};
  onednn->gemm(g, a, b, c);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{1, 2, 3, 4}));
  g.K = 0;
  g.beta = 0.0;
  float cn[4] = {NAN, NAN, NAN, NAN};
  onednn->gemm(g, a, b, cn);
  EXPECT_EQ(std::vector<float>(cn, cn + 4), (std::vector<float>{0, 0, 0, 0}));
  // One row of A with lda 0: C (1,2) = [1 2] * I.
  g.M = 1;
  g.K = 2;
  g.lda = 0;
  float c1[2] = {NAN, NAN};
  onednn->gemm(g, a, b, c1);
  EXPECT_EQ(c1[0], 1.0f);
  EXPECT_EQ(c1[1], 2.0f);
}

}  // namespace
}  // namespace loom::test
