// Throughput of the reference backend's heavy kernels on the shapes an RNN
// training step uses.
//
//   loom_gemm_bench [--section gemm|elementwise|all] [--threads 1,2] [--reps N]
//                   [--filter SUBSTR] [--f64] [--min-ms MS] [--cpu-time]
//
// Each measurement repeats the kernel until one repetition lasts at least
// --min-ms, then reports the median (and best) over --reps repetitions: the
// machine is shared, so single timings are noise. On a machine whose cores
// other processes keep busy, run with OMP_WAIT_POLICY=passive: spinning
// OpenMP workers then hold a core another thread of ours is waiting for, and
// a parallel region can cost milliseconds instead of microseconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include "loom/backends/reference/reference_backend.h"
#include "loom/backends/registry.h"
#include "loom/version.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string section = "all";
  std::vector<int> threads = {1, 2};
  int reps = 15;
  double min_ms = 20.0;
  std::string filter;
  bool f64 = false;
  // Time by this process's CPU time instead of the wall clock: on a busy
  // shared machine it leaves out the time other processes held the cores
  // (meaningful for 1 thread; with more it also counts spin-waiting).
  bool cpu_time = false;
};

double now_s(const Options& opt) {
  if (opt.cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

struct Timing {
  double median_s = 0, best_s = 0;
};

// Seconds per call of fn: calibrates an iteration count so one repetition
// takes about min_ms, then takes the median over reps repetitions.
Timing time_it(const Options& opt, const std::function<void()>& fn) {
  fn();  // warm caches, grow packing buffers, wake the thread pool
  int iters = 1;
  for (;;) {
    const double t0 = now_s(opt);
    for (int i = 0; i < iters; ++i) fn();
    const double ms = (now_s(opt) - t0) * 1e3;
    if (ms >= opt.min_ms || iters >= (1 << 20)) break;
    iters = ms <= 0 ? iters * 16 : std::max(iters + 1, static_cast<int>(iters * opt.min_ms / ms * 1.2));
  }
  std::vector<double> per_call;
  for (int r = 0; r < opt.reps; ++r) {
    const double t0 = now_s(opt);
    for (int i = 0; i < iters; ++i) fn();
    per_call.push_back((now_s(opt) - t0) / iters);
  }
  std::sort(per_call.begin(), per_call.end());
  return {per_call[per_call.size() / 2], per_call.front()};
}

template <typename T>
std::vector<T> random_vec(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(g));
  return v;
}

// ---- GEMM -------------------------------------------------------------------------

struct GemmShape {
  const char* name;
  bool ta, tb;
  int64_t M, N, K;
};

// B = batch 32, H = 128 hidden, 4 gates (LSTM), T*B = 2560 time-major rows.
const GemmShape kGemmShapes[] = {
    {"recurrent h*W_hh (32x128)x(128x512)", false, false, 32, 512, 128},
    {"recurrent dG*W_hh^T (32x512)x(512x128)", false, true, 32, 128, 512},
    {"input proj (2560x128)x(128x512)", false, false, 2560, 512, 128},
    {"weight grad X^T*dG (128x2560)x(2560x512)", true, false, 128, 512, 2560},
    {"square 512^3", false, false, 512, 512, 512},
    {"square 1024^3", false, false, 1024, 1024, 1024},
};

template <typename T>
void bench_gemm(const Options& opt) {
  std::printf("\n## GEMM (%s), GFLOP/s median (best) over %d reps\n\n",
              sizeof(T) == 4 ? "f32" : "f64", opt.reps);
  std::printf("| shape | trans | threads | GFLOP/s median | GFLOP/s best | us/call |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const GemmShape& s : kGemmShapes) {
    if (!opt.filter.empty() && std::string(s.name).find(opt.filter) == std::string::npos) continue;
    // Stored shapes: A is (M,K) or (K,M) when transposed, B (K,N) or (N,K).
    const int64_t a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
    const int64_t b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
    auto a = random_vec<T>(static_cast<size_t>(a_rows * a_cols), 1);
    auto b = random_vec<T>(static_cast<size_t>(b_rows * b_cols), 2);
    std::vector<T> c(static_cast<size_t>(s.M * s.N), T(0));
    loom::GemmDesc d;
    d.dtype = sizeof(T) == 4 ? loom::DType::f32 : loom::DType::f64;
    d.trans_a = s.ta;
    d.trans_b = s.tb;
    d.M = s.M;
    d.N = s.N;
    d.K = s.K;
    d.lda = a_cols;
    d.ldb = b_cols;
    d.ldc = s.N;
    for (int t : opt.threads) {
      loom::set_num_threads(t);
      Timing tm = time_it(opt, [&] { loom::reference_gemm(d, a.data(), b.data(), c.data()); });
      const double flops = 2.0 * s.M * s.N * s.K;
      std::printf("| %s | %c%c | %d | %.1f | %.1f | %.1f |\n", s.name, s.ta ? 'T' : 'N',
                  s.tb ? 'T' : 'N', t, flops / tm.median_s * 1e-9, flops / tm.best_s * 1e-9,
                  tm.median_s * 1e6);
      std::fflush(stdout);
    }
  }
}

// ---- element-wise --------------------------------------------------------------------

loom::StridedView view(void* p, const std::vector<int64_t>& shape,
                       std::vector<int64_t> strides = {}) {
  loom::StridedView v;
  v.data = p;
  v.dtype = loom::DType::f32;
  v.ndim = static_cast<int>(shape.size());
  if (strides.empty()) {  // row-major contiguous
    strides.resize(shape.size());
    int64_t s = 1;
    for (int i = v.ndim - 1; i >= 0; --i) {
      strides[static_cast<size_t>(i)] = s;
      s *= shape[static_cast<size_t>(i)];
    }
  }
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = shape[static_cast<size_t>(i)];
    v.strides[i] = strides[static_cast<size_t>(i)];
  }
  return v;
}

void bench_elementwise(const Options& opt) {
  loom::Backend& be = loom::reference_backend();
  std::printf("\n## Element-wise (f32), GB/s median over %d reps (bytes read + written)\n\n",
              opt.reps);
  std::printf("| op | shape | threads | GB/s median | us/call |\n|---|---|---|---|---|\n");
  struct Case {
    std::string name, shape;
    double bytes;
    std::function<void()> fn;
  };
  const int64_t rows = 2560, cols = 512;  // (B*T, 4H)
  const int64_t n = rows * cols;
  auto x = random_vec<float>(static_cast<size_t>(n), 3);
  auto y = random_vec<float>(static_cast<size_t>(n), 4);
  auto z = random_vec<float>(static_cast<size_t>(n), 5);
  auto bias = random_vec<float>(static_cast<size_t>(cols), 6);
  std::vector<float> col_out(static_cast<size_t>(cols)), row_out(static_cast<size_t>(rows));
  const int64_t sb = 32;  // one time step: (B, 4H)
  auto xs = random_vec<float>(static_cast<size_t>(sb * cols), 7);
  auto zs = random_vec<float>(static_cast<size_t>(sb * cols), 8);

  auto X = view(x.data(), {rows, cols}), Y = view(y.data(), {rows, cols}),
       Z = view(z.data(), {rows, cols});
  auto Bias = view(bias.data(), {rows, cols}, {0, 1});  // (4H) broadcast over rows
  auto Xs = view(xs.data(), {sb, cols}), Zs = view(zs.data(), {sb, cols});
  auto Bias_s = view(bias.data(), {sb, cols}, {0, 1});
  auto ColOut = view(col_out.data(), {1, cols}), RowOut = view(row_out.data(), {rows, 1});
  const double f = sizeof(float), big = static_cast<double>(n), small = static_cast<double>(sb * cols);
  const std::string shp = "(2560,512)", shp_s = "(32,512)";

  std::vector<Case> cases = {
      {"binary add", shp, 3 * big * f, [&] { be.binary(loom::BinaryOp::add, X, Y, Z); }},
      {"binary mul", shp, 3 * big * f, [&] { be.binary(loom::BinaryOp::mul, X, Y, Z); }},
      {"add row-broadcast (B,4H)+(4H)", shp, 2 * big * f,
       [&] { be.binary(loom::BinaryOp::add, X, Bias, Z); }},
      {"add row-broadcast (B,4H)+(4H)", shp_s, 2 * small * f,
       [&] { be.binary(loom::BinaryOp::add, Xs, Bias_s, Zs); }},
      {"axpby", shp, 3 * big * f, [&] { be.axpby(0.5, X, 0.9, Z); }},
      {"unary tanh", shp, 2 * big * f, [&] { be.unary(loom::UnaryOp::tanh, X, Z); }},
      {"unary sigmoid", shp, 2 * big * f, [&] { be.unary(loom::UnaryOp::sigmoid, X, Z); }},
      {"unary sigmoid", shp_s, 2 * small * f, [&] { be.unary(loom::UnaryOp::sigmoid, Xs, Zs); }},
      {"tanh grad", shp, 3 * big * f, [&] { be.unary_grad(loom::UnaryOp::tanh, X, Y, Z); }},
      {"reduce sum rows -> (1,4H)", shp, big * f, [&] { be.reduce(loom::ReduceOp::sum, X, ColOut); }},
      {"reduce sum last -> (B,1)", shp, big * f, [&] { be.reduce(loom::ReduceOp::sum, X, RowOut); }},
      {"reduce max last -> (B,1)", shp, big * f, [&] { be.reduce(loom::ReduceOp::max, X, RowOut); }},
  };
  for (auto& c : cases) {
    if (!opt.filter.empty() && c.name.find(opt.filter) == std::string::npos) continue;
    for (int t : opt.threads) {
      loom::set_num_threads(t);
      Timing tm = time_it(opt, c.fn);
      std::printf("| %s | %s | %d | %.1f | %.1f |\n", c.name.c_str(), c.shape.c_str(), t,
                  c.bytes / tm.median_s * 1e-9, tm.median_s * 1e6);
      std::fflush(stdout);
    }
  }
}

std::vector<int> parse_ints(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "loom_gemm_bench")) return 0;
  Options opt;
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--section")) opt.section = argv[++i];
    else if (arg("--threads")) opt.threads = parse_ints(argv[++i]);
    else if (arg("--reps")) opt.reps = std::max(1, std::atoi(argv[++i]));
    else if (arg("--min-ms")) opt.min_ms = std::atof(argv[++i]);
    else if (arg("--filter")) opt.filter = argv[++i];
    else if (std::strcmp(argv[i], "--f64") == 0) opt.f64 = true;
    else if (std::strcmp(argv[i], "--cpu-time") == 0) opt.cpu_time = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--section gemm|elementwise|all] [--threads 1,2] [--reps N] "
                   "[--min-ms MS] [--filter SUBSTR] [--f64] [--cpu-time]\n",
                   argv[0]);
      return 2;
    }
  }
  if (opt.section == "all" || opt.section == "gemm") {
    bench_gemm<float>(opt);
    if (opt.f64) bench_gemm<double>(opt);
  }
  if (opt.section == "all" || opt.section == "elementwise") bench_elementwise(opt);
  return 0;
}
