// Reference backend kernels not covered through the ops: thread-count
// control and determinism, reductions over every axis combination,
// scatter_add_rows with repeated ids, and bernoulli_mask's counter-based
// stream.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <omp.h>

#include "loom/autograd/tensor.h"
#include "loom/backends/buffer.h"
#include "loom/backends/cpu_allocator.h"
#include "loom/backends/reference/reference_backend.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

class ThreadGuard {
 public:
  ThreadGuard() : saved_(num_threads()) {}
  ~ThreadGuard() { set_num_threads(saved_); }

 private:
  int saved_;
};

template <typename T>
StridedView view_of(T* data, const Shape& shape, Shape strides = {}) {
  StridedView v;
  v.data = data;
  v.dtype = dtype_of<T>::value;
  v.ndim = static_cast<int>(shape.size());
  if (strides.empty()) {  // row-major contiguous
    strides.assign(shape.size(), 1);
    for (int i = v.ndim - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  }
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = shape[i];
    v.strides[i] = strides[i];
  }
  return v;
}

template <typename T>
std::vector<T> random_values(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(g));
  return v;
}

// ---- threads ---------------------------------------------------------------------------

TEST(Threads, SetAndGet) {
  ThreadGuard guard;
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
}

// A product whose exact value is subnormal: flushed to 0 when denormals are
// flushed (FTZ), else the subnormal itself. `volatile` keeps it at run time.
float subnormal_product() {
  volatile float tiny = 1e-30f, scale = 1e-10f;
  return tiny * scale;
}

TEST(Threads, DenormalsAreFlushedInEveryKernelThread) {
  ThreadGuard guard;
  if (!flush_denormals()) {
#if defined(__x86_64__)
    FAIL() << "denormal flushing is on by default on x86 (unless LOOM_FLUSH_DENORMALS=0)";
#else
    GTEST_SKIP() << "denormal flushing is implemented for x86 only";
#endif
  }
  set_num_threads(2);
  EXPECT_EQ(subnormal_product(), 0.0f);
  std::vector<float> per_thread(2, -1.0f);
#pragma omp parallel num_threads(2)
  per_thread[omp_get_thread_num()] = subnormal_product();
  EXPECT_EQ(per_thread[0], 0.0f);
  EXPECT_EQ(per_thread[1], 0.0f);

  set_flush_denormals(false);
  EXPECT_FALSE(flush_denormals());
  EXPECT_GT(subnormal_product(), 0.0f);
#pragma omp parallel num_threads(2)
  per_thread[omp_get_thread_num()] = subnormal_product();
  EXPECT_GT(per_thread[0], 0.0f);
  EXPECT_GT(per_thread[1], 0.0f);
  set_flush_denormals(true);
  EXPECT_EQ(subnormal_product(), 0.0f);
}

TEST(Threads, NonPositiveCountThrows) {
  ThreadGuard guard;
  set_num_threads(2);
  EXPECT_THROW(set_num_threads(0), Error);
  EXPECT_THROW(set_num_threads(-4), Error);
  EXPECT_EQ(num_threads(), 2);  // a rejected call changes nothing
}

// C = A B for an RNN-sized product, under a given thread count.
template <typename T>
std::vector<T> gemm_with_threads(int threads, bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
  set_num_threads(threads);
  const auto a = random_values<T>(static_cast<size_t>(M * K), 11);
  const auto b = random_values<T>(static_cast<size_t>(K * N), 12);
  std::vector<T> c(static_cast<size_t>(M * N));
  GemmDesc d;
  d.dtype = dtype_of<T>::value;
  d.trans_a = ta;
  d.trans_b = tb;
  d.M = M;
  d.N = N;
  d.K = K;
  d.lda = ta ? M : K;
  d.ldb = tb ? K : N;
  d.ldc = N;
  reference_backend().gemm(d, a.data(), b.data(), c.data());
  return c;
}

template <typename T>
void check_gemm_thread_determinism() {
  ThreadGuard guard;
  struct Dims {
    int64_t M, N, K;
  };
  for (const Dims& x : {Dims{32, 512, 128}, Dims{2560, 64, 128}, Dims{128, 512, 700},
                        Dims{77, 301, 259}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(fmt::format("{}{} M={} N={} K={}", ta ? 'T' : 'N', tb ? 'T' : 'N', x.M, x.N,
                                 x.K));
        const auto one = gemm_with_threads<T>(1, ta, tb, x.M, x.N, x.K);
        const auto two = gemm_with_threads<T>(2, ta, tb, x.M, x.N, x.K);
        const auto two_again = gemm_with_threads<T>(2, ta, tb, x.M, x.N, x.K);
        ASSERT_EQ(one.size(), two.size());
        // Same thread count: bitwise identical.
        EXPECT_EQ(std::memcmp(two.data(), two_again.data(), two.size() * sizeof(T)), 0);
        // 1 vs 2 threads: equal within rounding of a K-term sum of |a b| <= 1.
        const double tol = static_cast<double>(x.K) * std::numeric_limits<T>::epsilon();
        for (size_t i = 0; i < one.size(); ++i)
          ASSERT_NEAR(one[i], two[i], tol) << "element " << i;
      }
}

TEST(Threads, GemmDeterministicF32) { check_gemm_thread_determinism<float>(); }
TEST(Threads, GemmDeterministicF64) { check_gemm_thread_determinism<double>(); }

TEST(Threads, ElementwiseAndReduceAgreeAcrossThreadCounts) {
  ThreadGuard guard;
  Backend& be = reference_backend();
  const int64_t R = 700, C = 300;
  const auto x = random_values<float>(static_cast<size_t>(R * C), 21);
  const auto y = random_values<float>(static_cast<size_t>(R * C), 22);
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> sum(static_cast<size_t>(R * C)), th(sum.size()), cols(C), rows(R);
    auto X = view_of(const_cast<float*>(x.data()), {R, C});
    auto Y = view_of(const_cast<float*>(y.data()), {R, C});
    be.binary(BinaryOp::add, X, Y, view_of(sum.data(), {R, C}));
    be.unary(UnaryOp::tanh, X, view_of(th.data(), {R, C}));
    be.reduce(ReduceOp::sum, X, view_of(cols.data(), {1, C}));
    be.reduce(ReduceOp::sum, X, view_of(rows.data(), {R, 1}));
    return std::vector<std::vector<float>>{sum, th, cols, rows};
  };
  const auto one = run(1), two = run(2);
  for (size_t k = 0; k < one.size(); ++k) {
    ASSERT_EQ(one[k].size(), two[k].size());
    for (size_t i = 0; i < one[k].size(); ++i)
      ASSERT_NEAR(one[k][i], two[k][i], 1e-4) << "output " << k << " element " << i;
  }
}

// ---- f32 transcendental unary ops ---------------------------------------------------------

// Distance from got to the double-precision truth, in units of the float
// spacing at the truth (subnormal spacing below FLT_MIN).
double ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0 : INFINITY;
  // Past FLT_MAX the correctly rounded float is infinite.
  if (std::isinf(static_cast<float>(want))) return got == static_cast<float>(want) ? 0.0 : INFINITY;
  const double a = std::max(std::abs(want), static_cast<double>(std::numeric_limits<float>::min()));
  const double ulp = std::ldexp(1.0, std::ilogb(a) - 23);
  return std::abs(static_cast<double>(got) - want) / ulp;
}

// The f32 exp, tanh and sigmoid kernels against libm in double over a dense
// grid and the special values; both contiguous and strided loops. The grid
// reaches subnormal inputs and outputs (exp(-104)), so it runs with denormal
// flushing off; with it on (the default) those become 0, as in TensorFlow.
TEST(UnaryF32, TranscendentalsWithinFourUlp) {
  struct KeepDenormals {
    KeepDenormals() { set_flush_denormals(false); }
    ~KeepDenormals() { set_flush_denormals(true); }
  } keep_denormals;
  std::vector<float> x;
  for (double v = -110.0; v <= 110.0; v += 0.00731) x.push_back(static_cast<float>(v));
  for (double v = -1.0; v <= 1.0; v += 1.0 / 4096) x.push_back(static_cast<float>(v));
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f, 0.55f, -0.55f, 0.5499999f, 88.72f, 88.73f,
                  -87.3f, -103.9f, -104.5f, 20.0f, -20.0f, inf, -inf})
    x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  struct Op {
    UnaryOp op;
    double (*ref)(double);
  };
  const Op ops[] = {{UnaryOp::exp, [](double v) { return std::exp(v); }},
                    {UnaryOp::tanh, [](double v) { return std::tanh(v); }},
                    {UnaryOp::sigmoid, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }}};
  for (const Op& o : ops) {
    std::vector<float> y(x.size()), ys(2 * x.size());
    reference_backend().unary(o.op, view_of(x.data(), {n}), view_of(y.data(), {n}));
    reference_backend().unary(o.op, view_of(x.data(), {n}), view_of(ys.data(), {n}, {2}));
    double worst = 0;
    float worst_x = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = ulp_error(y[i], o.ref(static_cast<double>(x[i])));
      if (e > worst) worst = e, worst_x = x[i];
      ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(ys[2 * i]))
          << "strided and contiguous differ at x = " << x[i];
    }
    EXPECT_LE(worst, 4.0) << unary_op_name(o.op) << " worst at x = " << worst_x;
  }
  // NaN stays NaN; odd symmetry and exact limits.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> special = {nan, -0.0f, 0.0f, 50.0f, -50.0f}, out(5);
  for (UnaryOp op : {UnaryOp::exp, UnaryOp::tanh, UnaryOp::sigmoid}) {
    reference_backend().unary(op, view_of(special.data(), {5}), view_of(out.data(), {5}));
    EXPECT_TRUE(std::isnan(out[0])) << unary_op_name(op);
  }
  reference_backend().unary(UnaryOp::tanh, view_of(special.data(), {5}), view_of(out.data(), {5}));
  EXPECT_TRUE(std::signbit(out[1]));
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 1.0f);
  EXPECT_EQ(out[4], -1.0f);
}

// ---- reduce --------------------------------------------------------------------------------

// Reduces src (shape, strides) over the axes in `mask` with the backend and
// compares against a naive double loop.
template <typename T>
void check_reduce(ReduceOp op, const Shape& shape, const Shape& src_strides, unsigned mask,
                  const std::vector<T>& storage) {
  const int nd = static_cast<int>(shape.size());
  Shape dshape = shape;
  for (int d = 0; d < nd; ++d)
    if (mask >> d & 1) dshape[d] = 1;
  const int64_t n_out = numel_of(dshape);
  std::vector<T> out(static_cast<size_t>(n_out), T(-7));
  reference_backend().reduce(op, view_of(const_cast<T*>(storage.data()), shape, src_strides),
                             view_of(out.data(), dshape));

  std::vector<double> want(static_cast<size_t>(n_out),
                           op == ReduceOp::sum   ? 0.0
                           : op == ReduceOp::max ? -INFINITY
                                                 : INFINITY);
  std::vector<double> mag(static_cast<size_t>(n_out), 0.0);
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  const int64_t n_in = numel_of(shape);
  int64_t count = 1;
  for (int d = 0; d < nd; ++d)
    if (mask >> d & 1) count *= shape[d];
  for (int64_t flat = 0; flat < n_in; ++flat) {
    int64_t rem = flat, src_off = 0, dst_off = 0, dst_stride = 1;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      src_off += idx[d] * src_strides[d];
    }
    for (int d = nd - 1; d >= 0; --d) {
      if (!(mask >> d & 1)) dst_off += idx[d] * dst_stride;
      dst_stride *= dshape[d];
    }
    const double v = storage[static_cast<size_t>(src_off)];
    double& w = want[static_cast<size_t>(dst_off)];
    if (op == ReduceOp::sum) w += v;
    else if (op == ReduceOp::max) w = std::max(w, v);
    else w = std::min(w, v);
    mag[static_cast<size_t>(dst_off)] += std::abs(v);
  }
  for (int64_t i = 0; i < n_out; ++i) {
    // Sums may associate differently: allow count-term rounding in T.
    const double tol = op == ReduceOp::sum
                           ? static_cast<double>(count + 1) * std::numeric_limits<T>::epsilon() *
                                 mag[static_cast<size_t>(i)]
                           : 0.0;
    ASSERT_NEAR(out[static_cast<size_t>(i)], want[static_cast<size_t>(i)], tol)
        << "output " << i << " of " << shape_str(dshape) << " from " << shape_str(shape)
        << " axes mask " << mask << " op " << static_cast<int>(op);
  }
}

template <typename T>
void check_reduce_all_axes(const Shape& shape) {
  const int nd = static_cast<int>(shape.size());
  const auto data = random_values<T>(static_cast<size_t>(numel_of(shape)), 31);
  Shape contiguous(static_cast<size_t>(nd), 1);
  for (int i = nd - 2; i >= 0; --i) contiguous[i] = contiguous[i + 1] * shape[i + 1];
  // The same data read through reversed (column-major) strides.
  Shape reversed(static_cast<size_t>(nd), 1);
  for (int i = 1; i < nd; ++i) reversed[i] = reversed[i - 1] * shape[i - 1];
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min})
    for (unsigned mask = 0; mask < (1u << nd); ++mask) {
      check_reduce<T>(op, shape, contiguous, mask, data);
      check_reduce<T>(op, shape, reversed, mask, data);
    }
}

TEST(Reduce, EveryAxisSubsetF32) {
  check_reduce_all_axes<float>({2, 3, 4, 5});
  check_reduce_all_axes<float>({7, 1, 33});
  check_reduce_all_axes<float>({1, 17});
}

TEST(Reduce, EveryAxisSubsetF64) {
  check_reduce_all_axes<double>({3, 5, 2, 4});
  check_reduce_all_axes<double>({65, 3});
}

// The shapes training uses, big enough to take the threaded paths: bias
// gradients (sum over rows) and per-row sums (sum over the last axis).
TEST(Reduce, LargeRowAndColumnSums) {
  ThreadGuard guard;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Shape& s : {Shape{2560, 512}, Shape{3, 100000}, Shape{100000, 3}, Shape{333, 777},
                           Shape{40, 64, 129}}) {
      const auto f = random_values<float>(static_cast<size_t>(numel_of(s)), 41);
      const auto d = random_values<double>(static_cast<size_t>(numel_of(s)), 42);
      const int nd = static_cast<int>(s.size());
      Shape st(static_cast<size_t>(nd), 1);
      for (int i = nd - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
      const unsigned first = 1u, last = 1u << (nd - 1), all_but_last = last - 1;
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::max})
        for (unsigned mask : {first, last, all_but_last}) {
          check_reduce<float>(op, s, st, mask, f);
          check_reduce<double>(op, s, st, mask, d);
        }
    }
  }
}

TEST(Reduce, IntegerSumAndNaNPropagation) {
  std::vector<int32_t> xi = {1, 2, 3, 4, 5, 6};
  std::vector<int32_t> oi(3);
  reference_backend().reduce(ReduceOp::sum, view_of(xi.data(), {2, 3}), view_of(oi.data(), {1, 3}));
  EXPECT_EQ(oi, (std::vector<int32_t>{5, 7, 9}));
  std::vector<int64_t> xl = {-1, 8, 3, 4};
  std::vector<int64_t> ol(2);
  reference_backend().reduce(ReduceOp::max, view_of(xl.data(), {2, 2}), view_of(ol.data(), {2, 1}));
  EXPECT_EQ(ol, (std::vector<int64_t>{8, 4}));

  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {1, nan, 3, 4, 5, 6};
  std::vector<float> rows(2), cols(3);
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min}) {
    reference_backend().reduce(op, view_of(x.data(), {2, 3}), view_of(rows.data(), {2, 1}));
    EXPECT_TRUE(std::isnan(rows[0]));
    EXPECT_FALSE(std::isnan(rows[1]));
    reference_backend().reduce(op, view_of(x.data(), {2, 3}), view_of(cols.data(), {1, 3}));
    EXPECT_FALSE(std::isnan(cols[0]));
    EXPECT_TRUE(std::isnan(cols[1]));
  }
}

// NaN anywhere in a long run (inside the vectorized part or the tail) wins
// for sum, max and min, along rows and down columns.
TEST(Reduce, NaNWinsInLongRuns) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t R = 37, C = 1000;
  for (int64_t pos : {int64_t{0}, int64_t{5}, int64_t{500}, C - 1}) {
    auto x = random_values<float>(static_cast<size_t>(R * C), 61);
    const int64_t row = pos % R;
    x[static_cast<size_t>(row * C + pos)] = nan;
    std::vector<float> rows(R), cols(C);
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::min}) {
      reference_backend().reduce(op, view_of(x.data(), {R, C}), view_of(rows.data(), {R, 1}));
      reference_backend().reduce(op, view_of(x.data(), {R, C}), view_of(cols.data(), {1, C}));
      for (int64_t r = 0; r < R; ++r)
        EXPECT_EQ(std::isnan(rows[r]), r == row) << "row " << r << " op " << static_cast<int>(op);
      for (int64_t c = 0; c < C; ++c)
        EXPECT_EQ(std::isnan(cols[c]), c == pos) << "col " << c << " op " << static_cast<int>(op);
    }
  }
}

// ---- scatter_add_rows -------------------------------------------------------------------------

template <typename Id>
void check_scatter_add() {
  ThreadGuard guard;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t E : {1, 5, 300}) {
      const int64_t V = 6, N = 500;
      std::vector<Id> ids(static_cast<size_t>(N));
      std::mt19937_64 g(51);
      for (auto& id : ids) id = static_cast<Id>(g() % 3 == 0 ? 2 : g() % V);  // id 2 repeats a lot
      const auto src = random_values<double>(static_cast<size_t>(N * E), 52);
      auto table = random_values<double>(static_cast<size_t>(V * E), 53);
      std::vector<double> want = table;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t e = 0; e < E; ++e)
          want[static_cast<size_t>(ids[static_cast<size_t>(n)] * E + e)] +=
              src[static_cast<size_t>(n * E + e)];
      reference_backend().scatter_add_rows(view_of(const_cast<double*>(src.data()), {N, E}),
                                           view_of(ids.data(), {N}), view_of(table.data(), {V, E}));
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(table[i], want[i], 1e-12) << "E=" << E << " element " << i;
    }
  }
}

TEST(ScatterAddRows, RepeatedIdsAccumulateI32) { check_scatter_add<int32_t>(); }
TEST(ScatterAddRows, RepeatedIdsAccumulateI64) { check_scatter_add<int64_t>(); }

TEST(ScatterAddRows, ExactCountsForOneColumn) {
  std::vector<int64_t> ids = {0, 3, 3, 1, 3, 0};
  std::vector<float> ones(ids.size(), 1.0f), table(4, 0.0f);
  reference_backend().scatter_add_rows(view_of(ones.data(), {6, 1}), view_of(ids.data(), {6}),
                                       view_of(table.data(), {4, 1}));
  EXPECT_EQ(table, (std::vector<float>{2, 1, 0, 3}));
}

// ---- bernoulli_mask ---------------------------------------------------------------------------

template <typename T>
std::vector<T> mask_of(int64_t n, double keep, double scale, uint64_t seed, uint64_t offset) {
  std::vector<T> m(static_cast<size_t>(n), T(-1));
  reference_backend().bernoulli_mask(view_of(m.data(), {n}), keep, scale, seed, offset);
  return m;
}

TEST(BernoulliMask, SameSeedAndOffsetGiveSameMask) {
  ThreadGuard guard;
  set_num_threads(1);
  const auto a = mask_of<float>(200001, 0.7, 1 / 0.7, 1234, 99);
  set_num_threads(2);
  const auto b = mask_of<float>(200001, 0.7, 1 / 0.7, 1234, 99);
  EXPECT_EQ(a, b);
  const auto other_seed = mask_of<float>(200001, 0.7, 1 / 0.7, 1235, 99);
  EXPECT_NE(a, other_seed);
}

TEST(BernoulliMask, OffsetShiftsTheStream) {
  const auto whole = mask_of<double>(1000, 0.5, 2.0, 77, 0);
  for (uint64_t off : {1u, 3u, 4u, 517u}) {
    const auto part = mask_of<double>(100, 0.5, 2.0, 77, off);
    for (size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i], whole[off + i]) << "offset " << off;
  }
}

TEST(BernoulliMask, KeepFractionAndValues) {
  const int64_t n = 400000;
  for (double keep : {0.1, 0.5, 0.8}) {
    const float scale = static_cast<float>(1.0 / keep);
    const auto m = mask_of<float>(n, keep, 1.0 / keep, 2024, 0);
    int64_t kept = 0;
    for (float v : m) {
      ASSERT_TRUE(v == 0.0f || v == scale) << v;
      kept += v != 0.0f;
    }
    // Within 5 standard deviations of a Binomial(n, keep) count.
    const double frac = static_cast<double>(kept) / static_cast<double>(n);
    EXPECT_NEAR(frac, keep, 5 * std::sqrt(keep * (1 - keep) / static_cast<double>(n)));
  }
  // keep_prob 1 keeps everything, 0 drops everything.
  for (float v : mask_of<float>(1000, 1.0, 1.0, 5, 0)) ASSERT_EQ(v, 1.0f);
  for (float v : mask_of<float>(1000, 0.0, 1.0, 5, 0)) ASSERT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace loom

namespace loom {

// ---- host allocator ----------------------------------------------------------------------

TEST(CpuAllocator, LargeBlocksAreReusedSmallOnesAreNot) {
  cpu_empty_cache();
  const size_t big = (size_t{3} << 20) + 5;  // 3 MiB and change: cached
  void* a = cpu_allocate(big);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 1, big);
  cpu_deallocate(a, big);
  EXPECT_GE(cpu_cached_bytes(), big);
  void* b = cpu_allocate(big);  // the same size gets the same block back
  EXPECT_EQ(b, a);
  EXPECT_EQ(cpu_cached_bytes(), 0u);
  cpu_deallocate(b, big);
  cpu_empty_cache();
  EXPECT_EQ(cpu_cached_bytes(), 0u);

  void* s = cpu_allocate(100);  // small blocks are plain aligned_alloc
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s) % 64, 0u);
  cpu_deallocate(s, 100);
  EXPECT_EQ(cpu_cached_bytes(), 0u);
}

TEST(CpuAllocator, TensorsOfOneShapeReuseTheirMemory) {
  cpu_empty_cache();
  const void* first = nullptr;
  {
    Tensor t = Tensor::zeros({1000, 1000});  // 4 MB
    first = t.raw_data();
  }
  Tensor again = Tensor::zeros({1000, 1000});
  EXPECT_EQ(again.raw_data(), first);
  EXPECT_EQ(again.at({999, 999}), 0.0);  // zeros is still zeros on a reused block
}

}  // namespace loom

namespace loom {
namespace {

// ---- f32 exp / tanh / sigmoid over the whole input range ------------------------------------
//
// The reference backend's f32 exp, tanh and sigmoid (backends/reference/vmath.h)
// are branch-free polynomial forms so that their loops vectorize; the fused
// RNN gate kernels use the same functions. Past where e^x over- or
// underflows they must give the exact limit, NaN must stay NaN, and over a
// dense sweep they must stay within about an ulp of libm.

// Sets the denormal mode for a scope and restores the previous one.
class DenormalMode {
 public:
  explicit DenormalMode(bool flush) : saved_(flush_denormals()) { set_flush_denormals(flush); }
  ~DenormalMode() { set_flush_denormals(saved_); }

 private:
  bool saved_;
};

constexpr UnaryOp kTranscendentals[] = {UnaryOp::exp, UnaryOp::tanh, UnaryOp::sigmoid};

// op(x) in double: the truth the f32 kernels are held to.
double truth(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::tanh: return std::tanh(x);
    default: return 1.0 / (1.0 + std::exp(-x));  // sigmoid; exp(-x) = inf gives 0
  }
}

// op(x) on the reference backend, through the contiguous loop and a strided
// one, which must agree bit for bit.
std::vector<float> unary_f32(UnaryOp op, std::vector<float> x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size()), ys(2 * x.size());
  reference_backend().unary(op, view_of(x.data(), {n}), view_of(y.data(), {n}));
  reference_backend().unary(op, view_of(x.data(), {n}), view_of(ys.data(), {n}, {2}));
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(ys[2 * i]))
        << unary_op_name(op) << ": strided and contiguous differ at x = " << x[i];
  return y;
}

// Every value of `special` at each of 16 positions among ordinary inputs, so
// each goes through every SIMD lane (up to 16 wide) and the scalar tail.
// `which[i]` is the index into `special` of x[i], or -1 for a filler.
struct Spread {
  std::vector<float> x;
  std::vector<int> which;
};
Spread spread_over_lanes(const std::vector<float>& special) {
  Spread s;
  for (size_t v = 0; v < special.size(); ++v)
    for (int k = 0; k < 17; ++k)
      for (int i = 0; i < 16; ++i) {
        const bool here = i == k % 16 && (k < 16 || v % 2 == 0);
        s.x.push_back(here ? special[v] : 0.37f * static_cast<float>(i - 7));
        s.which.push_back(here ? static_cast<int>(v) : -1);
      }
  // and once more as the very last element, in the loop's tail
  for (size_t v = 0; v < special.size(); ++v) {
    s.x.push_back(special[v]);
    s.which.push_back(static_cast<int>(v));
  }
  return s;
}

// Runs op over `special` spread over the lanes; check(v, y) for each special
// value v and its result y. Fillers must stay within 2 ulp of the truth.
template <typename Check>
void check_special_values(UnaryOp op, const std::vector<float>& special, Check check) {
  const Spread s = spread_over_lanes(special);
  const std::vector<float> y = unary_f32(op, s.x);
  for (size_t i = 0; i < y.size(); ++i) {
    if (s.which[i] < 0) {
      EXPECT_LE(ulp_error(y[i], truth(op, s.x[i])), 2.0)
          << unary_op_name(op) << " filler " << s.x[i] << " next to special values";
    } else {
      check(s.x[i], y[i]);
    }
  }
}

bool is_plus_zero(float y) { return y == 0.0f && !std::signbit(y); }

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kMax = std::numeric_limits<float>::max();

// Beyond where e^x leaves the float range every op gives its exact limit,
// with denormals flushed (the default) or kept; near the edges the finite
// results stay accurate.
TEST(UnaryF32, LargeMagnitudesSaturate) {
  const std::vector<float> exp_over = {88.73f, 88.75f, 89.0f, 90.0f, 100.0f, 1e4f, 1e30f, kMax};
  const std::vector<float> exp_under = {-104.0f, -104.5f, -110.0f, -1e4f, -1e30f, -kMax};
  std::vector<float> tanh_big;
  for (float v : {10.0f, 20.0f, 44.5f, 88.0f, 89.0f, 100.0f, 1e4f, 1e30f, kMax})
    tanh_big.insert(tanh_big.end(), {v, -v});
  const std::vector<float> sig_one = {17.5f, 20.0f, 88.0f, 89.0f, 100.0f, 1e4f, 1e30f, kMax};
  const std::vector<float> sig_zero = {-104.0f, -104.5f, -110.0f, -1e4f, -1e30f, -kMax};
  for (bool flush : {true, false}) {
    SCOPED_TRACE(flush ? "denormals flushed" : "denormals kept");
    DenormalMode mode(flush);
    check_special_values(UnaryOp::exp, exp_over, [](float x, float y) {
      EXPECT_EQ(y, kInf) << "exp(" << x << ")";
    });
    check_special_values(UnaryOp::exp, exp_under, [](float x, float y) {
      EXPECT_TRUE(is_plus_zero(y)) << "exp(" << x << ") = " << y;
    });
    check_special_values(UnaryOp::tanh, tanh_big, [](float x, float y) {
      EXPECT_EQ(y, x > 0 ? 1.0f : -1.0f) << "tanh(" << x << ")";
    });
    check_special_values(UnaryOp::sigmoid, sig_one, [](float x, float y) {
      EXPECT_EQ(y, 1.0f) << "sigmoid(" << x << ")";
    });
    check_special_values(UnaryOp::sigmoid, sig_zero, [](float x, float y) {
      EXPECT_TRUE(is_plus_zero(y)) << "sigmoid(" << x << ") = " << y;
    });
    // The largest finite and smallest normal results are still accurate.
    for (UnaryOp op : kTranscendentals)
      check_special_values(op, {88.72f, 88.0f, -87.0f, -87.3f, 30.0f, -30.0f, 17.0f, -17.0f},
                           [op](float x, float y) {
                             EXPECT_LE(ulp_error(y, truth(op, x)), 2.0)
                                 << unary_op_name(op) << "(" << x << ") = " << y;
                           });
  }
  // Results below FLT_MIN: subnormal (and accurate) when denormals are kept,
  // 0 when they are flushed.
  const std::vector<float> tiny = {-87.5f, -90.0f, -95.0f, -100.0f, -103.0f};
  {
    DenormalMode keep(false);
    for (UnaryOp op : {UnaryOp::exp, UnaryOp::sigmoid})
      check_special_values(op, tiny, [op](float x, float y) {
        EXPECT_LE(ulp_error(y, truth(op, x)), 1.0) << unary_op_name(op) << "(" << x << ") = " << y;
        EXPECT_GT(y, 0.0f) << unary_op_name(op) << "(" << x << ")";
      });
  }
  DenormalMode flush(true);
  if (!flush_denormals()) return;  // flushing is x86 only
  for (UnaryOp op : {UnaryOp::exp, UnaryOp::sigmoid})
    check_special_values(op, tiny, [op](float x, float y) {
      EXPECT_TRUE(is_plus_zero(y)) << unary_op_name(op) << "(" << x << ") = " << y;
    });
}

// NaN in gives NaN out, whatever its sign and payload, in every lane, and
// leaves its neighbours alone.
TEST(UnaryF32, NaNPropagates) {
  const std::vector<float> nans = {
      std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
      std::numeric_limits<float>::signaling_NaN(), std::bit_cast<float>(0x7fc12345u),
      std::bit_cast<float>(0xffc00001u), std::bit_cast<float>(0x7fffffffu)};
  for (bool flush : {true, false}) {
    DenormalMode mode(flush);
    for (UnaryOp op : kTranscendentals)
      check_special_values(op, nans, [op](float x, float y) {
        EXPECT_TRUE(std::isnan(y)) << unary_op_name(op) << "(NaN 0x" << std::hex
                                   << std::bit_cast<uint32_t>(x) << ") = " << y;
      });
  }
}

// The limits at +-inf: exp 0 and inf, tanh -1 and 1, sigmoid 0 and 1.
TEST(UnaryF32, Infinities) {
  for (bool flush : {true, false}) {
    DenormalMode mode(flush);
    check_special_values(UnaryOp::exp, {kInf, -kInf}, [](float x, float y) {
      if (x > 0) EXPECT_EQ(y, kInf);
      else EXPECT_TRUE(is_plus_zero(y)) << "exp(-inf) = " << y;
    });
    check_special_values(UnaryOp::tanh, {kInf, -kInf}, [](float x, float y) {
      EXPECT_EQ(y, x > 0 ? 1.0f : -1.0f) << "tanh(" << x << ")";
    });
    check_special_values(UnaryOp::sigmoid, {kInf, -kInf}, [](float x, float y) {
      if (x > 0) EXPECT_EQ(y, 1.0f);
      else EXPECT_TRUE(is_plus_zero(y)) << "sigmoid(-inf) = " << y;
    });
  }
}

// Every 1021st f32 bit pattern in [-100, 100] (about 2.2 million inputs,
// subnormal results included, so denormals are kept) against libm in double.
// The measured worst cases are 0.92 ulp (exp), 0.95 (tanh) and 1.97
// (sigmoid) with FMA, about 1.2, 1.03 and 2.0 without; the bounds leave room.
TEST(UnaryF32, DenseSweepAccuracy) {
  DenormalMode keep(false);
  std::vector<float> x;
  const uint32_t top = std::bit_cast<uint32_t>(100.0f);
  for (uint32_t b = 0; b <= top; b += 1021) {
    x.push_back(std::bit_cast<float>(b));
    x.push_back(-std::bit_cast<float>(b));
  }
  const struct {
    UnaryOp op;
    double bound;
  } cases[] = {{UnaryOp::exp, 1.5}, {UnaryOp::tanh, 1.5}, {UnaryOp::sigmoid, 2.5}};
  for (const auto& c : cases) {
    const std::vector<float> y = unary_f32(c.op, x);
    double worst = 0;
    float worst_x = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = ulp_error(y[i], truth(c.op, x[i]));
      if (e > worst) worst = e, worst_x = x[i];
    }
    EXPECT_LE(worst, c.bound) << unary_op_name(c.op) << " worst at x = " << worst_x;
  }
}

// ---- f32 RNN gate kernels at extreme pre-activations ---------------------------------------
//
// One step of a fused gate kernel (Backend::rnn_gates_forward/backward) on
// the reference backend with hu = 0, so the pre-activations are the gates
// rows as given.

RnnRows rows_of(std::vector<float>& v, int64_t ld) { return {v.data(), ld}; }

struct GateStep {
  RnnDesc d;
  int64_t GH;
  std::vector<float> gates, hu, h_prev, c_prev, h_next, c_next, out, act_c, hu_h;

  GateStep(RnnCellKind cell, int64_t B, int64_t H) {
    d.cell = cell;
    d.reset_after = true;
    d.B = B;
    d.H = H;
    d.dtype = DType::f32;
    GH = d.gates() * H;
    const auto n = static_cast<size_t>(B * H);
    gates.assign(static_cast<size_t>(B * GH), 0.0f);
    hu.assign(gates.size(), 0.0f);
    h_prev = random_values<float>(n, 5);  // in [-1, 1]
    c_prev = random_values<float>(n, 6, -3.0, 3.0);
    h_next.assign(n, -7.0f);
    c_next.assign(n, -7.0f);
    out.assign(n, -7.0f);
    act_c.assign(n, -7.0f);
    hu_h.assign(n, -7.0f);
  }

  void forward() {
    const int64_t H = d.H;
    RnnStepForward s;
    s.gates = rows_of(gates, GH);
    s.hu = rows_of(hu, GH);
    s.h_prev = rows_of(h_prev, H);
    s.h_next = rows_of(h_next, H);
    s.out = rows_of(out, H);
    if (d.cell == RnnCellKind::lstm) {
      s.c_prev = rows_of(c_prev, H);
      s.c_next = rows_of(c_next, H);
      s.act_c = rows_of(act_c, H);
    }
    if (d.cell == RnnCellKind::gru) s.hu_h = rows_of(hu_h, H);
    reference_backend().rnn_gates_forward(d, s);
  }

  // dy = 1 for every output; returns dA (B,GH) and checks that dA, dA_rec,
  // dh and dc are finite.
  std::vector<float> backward() {
    const int64_t H = d.H;
    const auto n = static_cast<size_t>(d.B * H);
    std::vector<float> dy(n, 1.0f), dh(n, 0.0f), dc(n, 0.0f);
    std::vector<float> dA(gates.size(), -7.0f), dA_rec(gates.size(), -7.0f);
    RnnStepBackward s;
    s.gates = rows_of(gates, GH);
    s.h_prev = rows_of(h_prev, H);
    s.dy = rows_of(dy, H);
    s.dh = rows_of(dh, H);
    s.dA = rows_of(dA, GH);
    if (d.cell == RnnCellKind::lstm) {
      s.c_prev = rows_of(c_prev, H);
      s.act_c = rows_of(act_c, H);
      s.dc = rows_of(dc, H);
    }
    if (d.cell == RnnCellKind::gru) {
      s.hu_h = rows_of(hu_h, H);
      s.dA_rec = rows_of(dA_rec, GH);
    }
    reference_backend().rnn_gates_backward(d, s);
    for (float v : dA) EXPECT_TRUE(std::isfinite(v)) << "dA " << v;
    for (float v : dh) EXPECT_TRUE(std::isfinite(v)) << "dh " << v;
    if (d.cell == RnnCellKind::lstm)
      for (float v : dc) EXPECT_TRUE(std::isfinite(v)) << "dc " << v;
    if (d.cell == RnnCellKind::gru)
      for (float v : dA_rec) EXPECT_TRUE(std::isfinite(v)) << "dA_rec " << v;
    return dA;
  }
};

// Whether gate k of a cell uses the (recurrent) sigmoid; the others use tanh.
bool sigmoid_gate(RnnCellKind cell, int64_t k) {
  if (cell == RnnCellKind::simple_rnn) return false;
  if (cell == RnnCellKind::lstm) return k != 2;  // i f o; c is the tanh candidate
  return k != 2;                                 // GRU: z r; h is the tanh candidate
}

// Huge, infinite and merely large pre-activations in every gate of every
// cell: the saved activations are the exact limits (0 or 1, -1 or 1) where
// the truth rounds to them and accurate elsewhere, the new states and
// outputs are finite and match the cell's formula, and the backward step
// gives finite gradients that are exactly 0 through saturated gates.
TEST(RnnGatesF32, HugePreActivationsSaturate) {
  DenormalMode keep(false);  // so that a wrong tiny sigmoid would not be flushed to 0
  const float pre[] = {1e4f,   -1e4f,   200.0f, -200.0f, 105.0f, -105.0f, 89.0f,
                       -89.0f, 1e30f,   -1e30f, kMax,    -kMax,   kInf,    -kInf,
                       100.0f, -100.0f, 50.0f,  -50.0f,  0.5f};
  const int64_t P = std::size(pre), B = 3, H = 19;  // H odd: vector loops and a tail
  for (RnnCellKind cell : {RnnCellKind::simple_rnn, RnnCellKind::lstm, RnnCellKind::gru}) {
    SCOPED_TRACE(rnn_cell_kind_name(cell));
    GateStep st(cell, B, H);
    const int64_t G = st.d.gates();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t k = 0; k < G; ++k)
        for (int64_t j = 0; j < H; ++j)
          st.gates[static_cast<size_t>(b * st.GH + k * H + j)] = pre[(j + 3 * k + 5 * b) % P];
    const std::vector<float> a = st.gates;
    st.forward();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t k = 0; k < G; ++k)
        for (int64_t j = 0; j < H; ++j) {
          const size_t i = static_cast<size_t>(b * st.GH + k * H + j);
          const bool sig = sigmoid_gate(cell, k);
          const double want = truth(sig ? UnaryOp::sigmoid : UnaryOp::tanh, a[i]);
          const float y = st.gates[i];
          if (std::abs(a[i]) >= 105.0f) {
            EXPECT_EQ(y, static_cast<float>(want)) << "gate " << k << " at " << a[i];
            EXPECT_FALSE(std::signbit(y) && y == 0.0f) << "gate " << k << " at " << a[i];
          } else {
            EXPECT_LE(ulp_error(y, want), 2.0) << "gate " << k << " at " << a[i] << ": " << y;
          }
        }
    // The states from the saved (activated) gates, in double.
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        const size_t i = static_cast<size_t>(b * H + j);
        const float* g = st.gates.data() + b * st.GH;
        double h = 0;
        if (cell == RnnCellKind::simple_rnn) {
          h = g[j];
        } else if (cell == RnnCellKind::lstm) {
          const double c = double{g[H + j]} * st.c_prev[i] + double{g[j]} * g[2 * H + j];
          EXPECT_NEAR(st.c_next[i], c, 1e-6 * std::max(1.0, std::abs(c)));
          EXPECT_NEAR(st.act_c[i], std::tanh(c), 1e-6);
          h = g[3 * H + j] * std::tanh(c);
        } else {
          h = double{g[j]} * st.h_prev[i] + (1.0 - g[j]) * g[2 * H + j];
        }
        EXPECT_TRUE(std::isfinite(st.h_next[i]));
        EXPECT_LE(std::abs(st.h_next[i]), 1.0f);
        EXPECT_NEAR(st.h_next[i], h, 1e-6) << "unit " << j << " of row " << b;
        EXPECT_EQ(st.out[i], st.h_next[i]);
      }
    const std::vector<float> dA = st.backward();
    for (size_t i = 0; i < dA.size(); ++i) {
      const float y = st.gates[i];
      const bool sig = sigmoid_gate(cell, static_cast<int64_t>(i % st.GH) / H);
      const bool saturated = sig ? (y == 0.0f || y == 1.0f) : std::abs(y) == 1.0f;
      if (saturated) EXPECT_EQ(dA[i], 0.0f) << "through saturated gate value " << y;
    }
  }
}

// A NaN pre-activation makes NaN only in its own unit's new state and
// output; every other value is what the step gives without it.
TEST(RnnGatesF32, NaNStaysInItsUnit) {
  const int64_t B = 2, H = 19;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (RnnCellKind cell : {RnnCellKind::simple_rnn, RnnCellKind::lstm, RnnCellKind::gru}) {
    SCOPED_TRACE(rnn_cell_kind_name(cell));
    GateStep clean(cell, B, H), dirty(cell, B, H);
    clean.gates = random_values<float>(clean.gates.size(), 11, -3.0, 3.0);
    dirty.gates = clean.gates;
    const int64_t G = clean.d.gates();
    // Row 0 unit 4 in the last gate, row 1 unit 12 in the first.
    dirty.gates[static_cast<size_t>(0 * clean.GH + (G - 1) * H + 4)] = nan;
    dirty.gates[static_cast<size_t>(1 * clean.GH + 0 * H + 12)] = nan;
    clean.forward();
    dirty.forward();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        const size_t i = static_cast<size_t>(b * H + j);
        const bool hit = (b == 0 && j == 4) || (b == 1 && j == 12);
        if (hit) {
          EXPECT_TRUE(std::isnan(dirty.h_next[i])) << "row " << b << " unit " << j;
          EXPECT_TRUE(std::isnan(dirty.out[i])) << "row " << b << " unit " << j;
        } else {
          EXPECT_EQ(dirty.h_next[i], clean.h_next[i]) << "row " << b << " unit " << j;
          EXPECT_EQ(dirty.out[i], clean.out[i]) << "row " << b << " unit " << j;
          if (cell == RnnCellKind::lstm) EXPECT_EQ(dirty.c_next[i], clean.c_next[i]);
        }
      }
  }
}

// The gate activations over a dense sweep of [-100, 100] with +-inf and NaN:
// a SimpleRNN step with act = tanh or sigmoid saves act(a) for every a,
// within the unary kernels' accuracy and bit for bit what the unary kernel
// gives (one implementation for both).
TEST(RnnGatesF32, ActivationsMatchTheUnaryKernels) {
  DenormalMode keep(false);
  std::vector<float> x;
  const uint32_t top = std::bit_cast<uint32_t>(100.0f);
  for (uint32_t b = 0; b <= top; b += 4099) {
    x.push_back(std::bit_cast<float>(b));
    // Not -0: the kernel adds hu = 0 first, and -0 + 0 is +0.
    if (b != 0) x.push_back(-std::bit_cast<float>(b));
  }
  x.insert(x.end(), {kInf, -kInf, std::numeric_limits<float>::quiet_NaN()});
  const int64_t H = 1009;  // odd: every row ends in a scalar tail
  while (x.size() % H != 0) x.push_back(0.25f);
  const int64_t B = static_cast<int64_t>(x.size()) / H;
  for (UnaryOp op : {UnaryOp::tanh, UnaryOp::sigmoid}) {
    SCOPED_TRACE(unary_op_name(op));
    GateStep st(RnnCellKind::simple_rnn, B, H);
    st.d.activation = op == UnaryOp::tanh ? RnnActivation::tanh : RnnActivation::sigmoid;
    st.gates = x;
    st.forward();
    const std::vector<float> y = unary_f32(op, x);
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(st.gates[i]), std::bit_cast<uint32_t>(y[i]))
          << "gate kernel and unary kernel differ at " << x[i];
      worst = std::max(worst, ulp_error(st.gates[i], truth(op, x[i])));
    }
    EXPECT_LE(worst, op == UnaryOp::tanh ? 1.5 : 2.5);
  }
}

}  // namespace
}  // namespace loom

namespace loom {

// ---- scratch buffers -----------------------------------------------------------------------

// A Buffer's block goes back to the backend's allocator when it dies, and
// the next request of up to that size (down to half of it) gets the same
// block back: the reuse the oneDNN RNN's workspaces rely on at every step.
TEST(Buffer, ReleasedBlocksAreReusedAndAccounted) {
  Backend& be = backend_for(Device::cpu());
  cpu_empty_cache();
  void* first = nullptr;
  {
    Buffer b(be, 300000);
    ASSERT_TRUE(b);
    EXPECT_EQ(b.size(), 300000u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
    std::memset(b.data(), 1, b.size());
    first = b.data();
  }
  EXPECT_GE(cpu_cached_bytes(), 300000u);
  {
    Buffer smaller(be, 200000);  // within twice the request: the kept block
    EXPECT_EQ(smaller.data(), first);
    Buffer moved = std::move(smaller);
    EXPECT_FALSE(smaller);
    EXPECT_EQ(moved.data(), first);
    EXPECT_EQ(moved.as<char>()[0], 1);  // uninitialized: the old contents remain
  }
  {
    Buffer tiny(be, 1000);  // less than half: a new block
    EXPECT_NE(tiny.data(), first);
  }
  Buffer empty;
  EXPECT_FALSE(empty);
  cpu_empty_cache();
  EXPECT_EQ(cpu_cached_bytes(), 0u);
}

}  // namespace loom
