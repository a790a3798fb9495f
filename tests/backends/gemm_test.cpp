// The reference backend's blocked GEMM against a naive double-precision
// triple loop: every transpose combination, odd and block-crossing sizes,
// padded leading dimensions, alpha/beta variants and batched products.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "loom/backends/reference/reference_backend.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

struct GemmCase {
  bool ta = false, tb = false;
  int64_t M = 1, N = 1, K = 1;
  int64_t pad_a = 0, pad_b = 0, pad_c = 0;  // extra elements per stored row
  double alpha = 1.0, beta = 0.0;
  int64_t batch = 1;
  bool shared_a = false, shared_b = false;  // batch stride 0
  std::string str() const {
    return fmt::format("{}{} M={} N={} K={} pads=({},{},{}) alpha={} beta={} batch={}{}{}",
                       ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, pad_a, pad_b, pad_c, alpha, beta,
                       batch, shared_a ? " shared A" : "", shared_b ? " shared B" : "");
  }
};

// Restores the thread count a test changed.
class ThreadGuard {
 public:
  ThreadGuard() : saved_(num_threads()) {}
  ~ThreadGuard() { set_num_threads(saved_); }

 private:
  int saved_;
};

// Runs one case through reference_gemm and checks every element against the
// double-precision product, within the classic forward-error bound
//   |err| <= (K + 2) * eps * (|alpha| * sum_k |a_ik b_kj| + |beta c_ij|).
// Padding between rows is NaN: reading it would poison a result, and
// writing it is caught by checking it is still NaN afterwards.
template <typename T>
void check_gemm(const GemmCase& c, uint64_t seed = 1) {
  SCOPED_TRACE(c.str() + " threads=" + std::to_string(num_threads()));
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);

  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad_a, ldb = b_cols + c.pad_b, ldc = c.N + c.pad_c;
  // A gap of 3 elements between batch items, so strides are not just rows*ld.
  const int64_t stride_a = c.shared_a ? 0 : a_rows * lda + 3;
  const int64_t stride_b = c.shared_b ? 0 : b_rows * ldb + 3;
  const int64_t stride_c = c.M * ldc + 3;
  const int64_t items_a = c.shared_a ? 1 : c.batch, items_b = c.shared_b ? 1 : c.batch;

  auto fill = [&](std::vector<T>& v, int64_t items, int64_t stride, int64_t rows, int64_t cols,
                  int64_t ld) {
    v.assign(static_cast<size_t>(std::max<int64_t>(1, (items - 1) * stride + rows * ld)), nan);
    for (int64_t p = 0; p < items; ++p)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t col = 0; col < cols; ++col)
          v[static_cast<size_t>(p * stride + r * ld + col)] = static_cast<T>(uni(gen));
  };
  std::vector<T> a, b, cbuf;
  fill(a, items_a, stride_a, a_rows, a_cols, lda);
  fill(b, items_b, stride_b, b_rows, b_cols, ldb);
  fill(cbuf, c.batch, stride_c, c.M, c.N, ldc);
  if (c.beta == 0.0) {  // beta == 0 must not read C, not even NaN
    for (int64_t p = 0; p < c.batch; ++p)
      for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = 0; j < c.N; ++j) cbuf[static_cast<size_t>(p * stride_c + i * ldc + j)] = nan;
  }
  const std::vector<T> c_old = cbuf;

  GemmDesc d;
  d.dtype = dtype_of<T>::value;
  d.trans_a = c.ta;
  d.trans_b = c.tb;
  d.M = c.M;
  d.N = c.N;
  d.K = c.K;
  d.lda = lda;
  d.ldb = ldb;
  d.ldc = ldc;
  d.batch = c.batch;
  d.stride_a = stride_a;
  d.stride_b = stride_b;
  d.stride_c = stride_c;
  d.alpha = c.alpha;
  d.beta = c.beta;
  reference_gemm(d, a.data(), b.data(), cbuf.data());

  const double eps = std::numeric_limits<T>::epsilon();
  int reported = 0;
  for (int64_t p = 0; p < c.batch; ++p) {
    const T* ap = a.data() + p * stride_a;
    const T* bp = b.data() + p * stride_b;
    for (int64_t i = 0; i < c.M; ++i) {
      for (int64_t j = 0; j < c.N; ++j) {
        double sum = 0, mag = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          const double av = c.ta ? ap[k * lda + i] : ap[i * lda + k];
          const double bv = c.tb ? bp[j * ldb + k] : bp[k * ldb + j];
          sum += av * bv;
          mag += std::abs(av * bv);
        }
        const size_t at = static_cast<size_t>(p * stride_c + i * ldc + j);
        double want = c.alpha * sum;
        mag = std::abs(c.alpha) * mag;
        if (c.beta != 0.0) {
          want += c.beta * static_cast<double>(c_old[at]);
          mag += std::abs(c.beta * static_cast<double>(c_old[at]));
        }
        const double got = static_cast<double>(cbuf[at]);
        const double tol = static_cast<double>(c.K + 2) * eps * mag;
        if (!(std::abs(got - want) <= tol) && reported++ < 5)
          ADD_FAILURE() << "C[" << p << "](" << i << "," << j << ") = " << got << ", want "
                        << want << " (tol " << tol << ")";
      }
      // Padding after each row of C is untouched.
      for (int64_t j = c.N; j < ldc; ++j) {
        const size_t at = static_cast<size_t>(p * stride_c + i * ldc + j);
        if (!std::isnan(cbuf[at]) && reported++ < 5)
          ADD_FAILURE() << "padding C[" << p << "](" << i << "," << j << ") was overwritten";
      }
    }
  }
}

template <typename T>
class GemmTest : public ::testing::Test {};
using GemmTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GemmTest, GemmTypes);

constexpr bool kBools[] = {false, true};

TYPED_TEST(GemmTest, AllTransposesSmallOddSizes) {
  const int64_t sizes[] = {1, 3, 7, 17, 65};
  for (bool ta : kBools)
    for (bool tb : kBools)
      for (int64_t M : sizes)
        for (int64_t N : sizes)
          for (int64_t K : sizes) {
            GemmCase c;
            c.ta = ta;
            c.tb = tb;
            c.M = M;
            c.N = N;
            c.K = K;
            check_gemm<TypeParam>(c);
          }
}

// Sizes that cross every blocking boundary: rows past one packed A block,
// depth past one packed K block, columns past one packed B block, and row
// counts on both sides of the small-M path that reads B in place.
TYPED_TEST(GemmTest, AllTransposesLargeAndBlockCrossingSizes) {
  struct Dims {
    int64_t M, N, K;
  };
  const Dims dims[] = {{300, 7, 65},  {7, 300, 300},  {65, 300, 17}, {300, 300, 300},
                       {150, 70, 600}, {64, 129, 33}, {65, 129, 33}, {33, 97, 1100},
                       {3, 4500, 5},   {1, 300, 300}, {300, 1, 300}, {2, 2, 1000}};
  for (bool ta : kBools)
    for (bool tb : kBools)
      for (const Dims& x : dims) {
        GemmCase c;
        c.ta = ta;
        c.tb = tb;
        c.M = x.M;
        c.N = x.N;
        c.K = x.K;
        check_gemm<TypeParam>(c);
      }
}

// The recurrent and projection shapes of an RNN step (B=32, H=128, 4 gates).
TYPED_TEST(GemmTest, RnnShapes) {
  for (bool ta : kBools)
    for (bool tb : kBools) {
      check_gemm<TypeParam>({ta, tb, 32, 512, 128});
      check_gemm<TypeParam>({ta, tb, 32, 128, 512});
      check_gemm<TypeParam>({ta, tb, 128, 512, 320});
    }
}

TYPED_TEST(GemmTest, VectorShapes) {  // M or N = 1, including K = 1
  for (bool ta : kBools)
    for (bool tb : kBools)
      for (int64_t other : {1, 2, 17, 300}) {
        check_gemm<TypeParam>({ta, tb, 1, other, 65});
        check_gemm<TypeParam>({ta, tb, other, 1, 65});
        check_gemm<TypeParam>({ta, tb, other, 1, 1});
        check_gemm<TypeParam>({ta, tb, 1, other, 1});
      }
}

TYPED_TEST(GemmTest, LeadingDimensionsLargerThanRows) {
  for (bool ta : kBools)
    for (bool tb : kBools)
      for (int64_t M : {1, 7, 70})
        for (int64_t N : {1, 17, 80}) {
          GemmCase c;
          c.ta = ta;
          c.tb = tb;
          c.M = M;
          c.N = N;
          c.K = 19;
          c.pad_a = 5;
          c.pad_b = 3;
          c.pad_c = 7;
          c.beta = 0.5;
          check_gemm<TypeParam>(c);
          c.K = 300;
          c.pad_a = 64;
          c.pad_b = 1;
          c.pad_c = 1;
          check_gemm<TypeParam>(c);
        }
}

TYPED_TEST(GemmTest, AlphaBetaVariants) {
  const double ab[][2] = {{1, 0}, {2.5, 0}, {1, 1}, {-0.5, 0.75}, {1, -1}, {0.25, 3}};
  for (const auto& v : ab)
    for (bool ta : kBools)
      for (bool tb : kBools)
        for (int64_t M : {5, 40}) {
          GemmCase c;
          c.ta = ta;
          c.tb = tb;
          c.M = M;
          c.N = 37;
          c.K = 300;
          c.pad_c = 2;
          c.alpha = v[0];
          c.beta = v[1];
          check_gemm<TypeParam>(c);
        }
}

// alpha == 0 and K == 0 both reduce to C = beta * C; beta == 0 then writes
// zeros over NaN.
TYPED_TEST(GemmTest, NothingToAddScalesC) {
  for (double beta : {0.0, 1.0, -2.0})
    for (double alpha : {0.0, 1.5}) {
      GemmCase c;
      c.M = 9;
      c.N = 70;
      c.K = alpha == 0.0 ? 13 : 0;
      c.pad_c = 3;
      c.alpha = alpha;
      c.beta = beta;
      check_gemm<TypeParam>(c);
    }
  // Directly: K == 0 with beta == 0 gives exact zeros where C held NaN.
  std::vector<TypeParam> cbuf(6, std::numeric_limits<TypeParam>::quiet_NaN());
  GemmDesc d;
  d.dtype = dtype_of<TypeParam>::value;
  d.M = 2;
  d.N = 3;
  d.K = 0;
  d.lda = 1;
  d.ldb = 3;
  d.ldc = 3;
  TypeParam dummy = 0;
  reference_gemm(d, &dummy, &dummy, cbuf.data());
  for (TypeParam v : cbuf) EXPECT_EQ(v, TypeParam(0));
}

TYPED_TEST(GemmTest, BetaZeroIgnoresNaNInC) {
  for (bool ta : kBools)
    for (bool tb : kBools)
      for (int64_t M : {3, 32, 200})
        check_gemm<TypeParam>({ta, tb, M, 67, 130, 0, 0, 4, 1.0, 0.0});
}

TYPED_TEST(GemmTest, BatchedWithStrides) {
  for (int64_t batch : {1, 2, 3, 5, 8})
    for (bool ta : kBools)
      for (bool tb : kBools)
        for (int shared = 0; shared < 3; ++shared) {
          GemmCase c;
          c.ta = ta;
          c.tb = tb;
          c.M = 19;
          c.N = 45;
          c.K = 70;
          c.pad_a = 2;
          c.pad_b = 1;
          c.pad_c = 3;
          c.beta = batch % 2 ? 0.0 : 0.5;
          c.batch = batch;
          c.shared_a = shared == 1;
          c.shared_b = shared == 2;
          check_gemm<TypeParam>(c);
          // Large enough that each item is threaded, not one item per thread.
          c.M = 96;
          c.N = 130;
          c.K = 300;
          check_gemm<TypeParam>(c);
        }
}

TYPED_TEST(GemmTest, EveryThreadCount) {
  ThreadGuard guard;
  for (int threads : {1, 2, 3, 4}) {
    set_num_threads(threads);
    for (bool ta : kBools)
      for (bool tb : kBools) {
        check_gemm<TypeParam>({ta, tb, 32, 512, 128});
        check_gemm<TypeParam>({ta, tb, 301, 77, 257, 1, 2, 3, 0.5, 0.25});
        check_gemm<TypeParam>({ta, tb, 7, 600, 50});
        check_gemm<TypeParam>({ta, tb, 20, 30, 40, 0, 0, 0, 1.0, 0.0, 6});
      }
  }
}

TEST(Gemm, RejectsIntegerDtypes) {
  GemmDesc d;
  d.dtype = DType::i32;
  d.M = d.N = d.K = 1;
  d.lda = d.ldb = d.ldc = 1;
  int32_t x = 1, y = 1, z = 0;
  EXPECT_THROW(reference_gemm(d, &x, &y, &z), Error);
}

}  // namespace
}  // namespace loom
