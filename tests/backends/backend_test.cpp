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

#include "autograd/tensor.h"
#include "backends/cpu_allocator.h"
#include "backends/reference/reference_backend.h"
#include "backends/registry.h"

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
