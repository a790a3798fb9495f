// onednn_floor: the bare oneDNN RNN primitive, forward training + backward,
// for each benchmark configuration, and dnnl_sgemm's FLOP rate: the floor
// and the ceiling Loom's full training step (loom_bench_rnn) is measured
// against in bench/RESULTS.md.
//
//   onednn_floor [--config imdb-lstm|imdb-bilstm|gru|large-lstm|all] [--threads N]
//                [--reps N] [--warmup N] [--sgemm N] [--keep-denormals]
//                [--precision f32|bf16]
//
// One line per configuration:
//   floor config=imdb-lstm precision=f32 threads=2 median_ms=13.9 min_ms=13.1 gflops=147.2
//         traffic_mb=82.3 copy_gbs=21.0 step_floor_ms=17.8 ...
//
// step_floor_ms is the honest floor of a whole training step (what
// loom_bench_rnn times): the primitive pair plus the memory traffic the
// rest of the step cannot avoid, at this machine's measured copy bandwidth
// (a multi-threaded memcpy over the step's working set: the parameters,
// their gradients and Adam's slots; bytes read plus bytes written per
// second). That traffic is the dense update of every parameter: Adam reads
// w, g, m, v and writes w, m, v (28 bytes per f32 parameter), and the dense
// embedding gradient is written once more when it is zeroed (4 bytes per
// row element): 20000 x 128 embedding rows alone are ~82 MB a step. The
// embedding gather, the head and the loss are small and left out, so the
// floor stays a lower bound.
//
// --precision bf16 times oneDNN's bf16 primitive pair (x, h, y and the
// weights bf16; cell state, bias and gradients f32), Loom's
// mixed_bfloat16 configuration; the traffic is the same (f32 master
// weights and optimizer state).
// and with --sgemm N (default 1024; 0 skips) one line for an N^3 sgemm and
// one for the same product in bf16 (oneDNN's matmul primitive, bf16
// operands, f32 result: the "bf16 matmul rate"):
//   sgemm n=1024 threads=2 median_ms=.. gflops=..
//   bf16_matmul n=1024 threads=2 median_ms=.. gflops=..
//
// Denormals are flushed, as in Loom (backends/registry.h): the constant test
// data makes large-lstm's backward subnormal, 4-5x slower when kept
// (--keep-denormals).
// Only the primitives are timed: inputs, weights (already in the layouts
// the primitives chose), gradients and the workspace are allocated once.
// FLOPs per step (bench/README.md): LSTM 24*B*T*H*(F+H), GRU 18*...,
// SimpleRNN 6*..., twice that for a bidirectional layer. imdb-bilstm runs as
// one bidirectional_concat primitive (oneDNN's best case; Loom runs the two
// directions as two unidirectional calls, also reported, as "two_calls").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include <omp.h>

#include "loom/backends/half.h"
#include "loom/backends/onednn/dnnl_compat.h"
#include "loom/backends/registry.h"
#include "loom/version.h"

using namespace loom::onednn;
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct Config {
  const char* name;
  DnnlCell cell;
  bool bidirectional;
  memory::dim B, T, F, H;
  memory::dim V = 20000;  // embedding rows (loom_bench_rnn's vocab)
};

const Config kConfigs[] = {
    {"imdb-lstm", DnnlCell::lstm, false, 32, 80, 128, 128},
    {"imdb-bilstm", DnnlCell::lstm, true, 32, 100, 128, 64},
    {"gru", DnnlCell::lbr_gru, false, 32, 80, 128, 128},
    {"large-lstm", DnnlCell::lstm, false, 64, 200, 256, 256},
};

// Bytes a dense training step must move outside the primitive (see the top).
double step_traffic_bytes(const Config& c) {
  const double G = c.cell == DnnlCell::lstm ? 4 : c.cell == DnnlCell::vanilla_rnn ? 1 : 3;
  const double Gb = c.cell == DnnlCell::lbr_gru ? 4 : G;
  const double D = c.bidirectional ? 2 : 1;
  const double embedding = static_cast<double>(c.V) * c.F;
  const double rnn = D * (G * c.H * (c.F + c.H) + Gb * c.H);
  const double head = D * c.H + 1;
  return 28.0 * (embedding + rnn + head) + 4.0 * embedding;
}

// Bytes read plus written per second by a multi-threaded memcpy of
// `bytes` (best of a few, after one warm-up that faults the pages in). The
// step's working set (parameters, gradients and Adam's two slots, ~41 MB
// for the IMDB configs) may sit partly in a large L3, so it is measured at
// that size, not at DRAM's.
double copy_bandwidth(size_t bytes) {
  const size_t n = std::max<size_t>(bytes / 2, size_t{1} << 20);
  std::vector<char> a(n, 1), b(n, 0);
  double best = 1e300;
  for (int r = 0; r < 6; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
    {
      const size_t k = static_cast<size_t>(omp_get_num_threads());
      const size_t i = static_cast<size_t>(omp_get_thread_num());
      const size_t chunk = (n + k - 1) / k, begin = std::min(n, i * chunk);
      std::memcpy(b.data() + begin, a.data() + begin, std::min(n, begin + chunk) - begin);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
  }
  return 2.0 * static_cast<double>(n) / best;
}

double flops_per_step(const Config& c) {
  const double per = c.cell == DnnlCell::lstm ? 24 : c.cell == DnnlCell::vanilla_rnn ? 6 : 18;
  return per * c.B * c.T * c.H * (c.F + c.H) * (c.bidirectional ? 2 : 1);
}

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Every tensor of one primitive pair, allocated once and filled with small values.
struct Bound {
  dnnl::primitive fwd, bwd;
  std::unordered_map<int, memory> fwd_args, bwd_args;
};

memory filled(const memory::desc& md, const dnnl::engine& eng, float scale) {
  memory m(md, eng);
  auto value = [&](size_t i) { return scale * (static_cast<float>((i * 7919) % 13) - 6.0f); };
  if (md.data_type() == dt::bf16) {
    uint16_t* p = static_cast<uint16_t*>(m.get_data_handle());
    const size_t n = md.get_size() / sizeof(uint16_t);
    for (size_t i = 0; i < n; ++i) p[i] = loom::float_to_bf16_bits(value(i));
  } else {
    float* p = static_cast<float*>(m.get_data_handle());
    const size_t n = md.get_size() / sizeof(float);
    for (size_t i = 0; i < n; ++i) p[i] = value(i);
  }
  return m;
}

Bound bind(const dnnl::engine& eng, const Config& c, int D, dnnl::rnn_direction dir, bool bf16) {
  const memory::dim G = c.cell == DnnlCell::lstm ? 4 : c.cell == DnnlCell::vanilla_rnn ? 1 : 3;
  const memory::dim Gb = c.cell == DnnlCell::lbr_gru ? 4 : G;
  const bool lstm = c.cell == DnnlCell::lstm;
  RnnMemoryDescs m;
  // Loom's layouts: x (B,T,F) as ntc, every step's h (B,T,D*H) as ntc;
  // with bf16 the data in bf16 and the gradients and cell state in f32 (as
  // backends/onednn/onednn_rnn.cpp).
  const dt data = bf16 ? dt::bf16 : dt::f32;
  const memory::desc x({c.T, c.B, c.F}, data, memory::dims{c.F, c.T * c.F, 1});
  const memory::desc y({c.T, c.B, D * c.H}, data, memory::dims{D * c.H, c.T * D * c.H, 1});
  const memory::desc it({1, D, c.B, c.H}, data, tag::ldnc);
  const memory::desc dx({c.T, c.B, c.F}, dt::f32, memory::dims{c.F, c.T * c.F, 1});
  const memory::desc dy({c.T, c.B, D * c.H}, dt::f32, memory::dims{D * c.H, c.T * D * c.H, 1});
  const memory::desc dit({1, D, c.B, c.H}, dt::f32, tag::ldnc);
  m.src_layer = x;
  m.diff_src_layer = dx;
  m.dst_layer = y;
  m.diff_dst_layer = dy;
  m.src_iter = m.dst_iter = it;
  m.diff_src_iter = m.diff_dst_iter = dit;
  if (lstm) m.src_iter_c = m.dst_iter_c = m.diff_src_iter_c = m.diff_dst_iter_c = dit;
  m.weights_layer = memory::desc({1, D, c.F, G, c.H}, data, tag::any);
  m.weights_iter = memory::desc({1, D, c.H, G, c.H}, data, tag::any);
  m.diff_weights_layer = memory::desc({1, D, c.F, G, c.H}, dt::f32, tag::ldigo);
  m.diff_weights_iter = memory::desc({1, D, c.H, G, c.H}, dt::f32, tag::ldigo);
  m.bias = m.diff_bias = memory::desc({1, D, Gb, c.H}, dt::f32, tag::ldgo);
  const RnnPrimitiveDescs pds =
      make_rnn_primitive_descs(eng, c.cell, dnnl::algorithm::eltwise_tanh, dir, true, m);
  auto q = [](const dnnl::primitive_desc& pd, int arg) {
    return pd.query_md(dnnl::query::exec_arg_md, arg);
  };
  Bound b;
  b.fwd = dnnl::primitive(pds.fwd);
  b.bwd = dnnl::primitive(pds.bwd);
  const memory src = filled(x, eng, 0.05f), h0 = filled(it, eng, 0.02f);
  const memory bias = filled(m.bias, eng, 0.01f);
  const memory dst = filled(y, eng, 0), hT = filled(it, eng, 0);
  const memory ws = filled(pds.fwd.workspace_desc(), eng, 0);
  b.fwd_args = {{DNNL_ARG_SRC_LAYER, src},
                {DNNL_ARG_SRC_ITER, h0},
                {DNNL_ARG_WEIGHTS_LAYER, filled(q(pds.fwd, DNNL_ARG_WEIGHTS_LAYER), eng, 0.01f)},
                {DNNL_ARG_WEIGHTS_ITER, filled(q(pds.fwd, DNNL_ARG_WEIGHTS_ITER), eng, 0.01f)},
                {DNNL_ARG_BIAS, bias},
                {DNNL_ARG_DST_LAYER, dst},
                {DNNL_ARG_DST_ITER, hT},
                {DNNL_ARG_WORKSPACE, ws}};
  b.bwd_args = b.fwd_args;
  b.bwd_args[DNNL_ARG_WEIGHTS_LAYER] = filled(q(pds.bwd, DNNL_ARG_WEIGHTS_LAYER), eng, 0.01f);
  b.bwd_args[DNNL_ARG_WEIGHTS_ITER] = filled(q(pds.bwd, DNNL_ARG_WEIGHTS_ITER), eng, 0.01f);
  b.bwd_args[DNNL_ARG_DIFF_SRC_LAYER] = filled(dx, eng, 0);
  b.bwd_args[DNNL_ARG_DIFF_SRC_ITER] = filled(dit, eng, 0);
  b.bwd_args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = filled(m.diff_weights_layer, eng, 0);
  b.bwd_args[DNNL_ARG_DIFF_WEIGHTS_ITER] = filled(m.diff_weights_iter, eng, 0);
  b.bwd_args[DNNL_ARG_DIFF_BIAS] = filled(m.bias, eng, 0);
  b.bwd_args[DNNL_ARG_DIFF_DST_LAYER] = filled(dy, eng, 0.01f);
  b.bwd_args[DNNL_ARG_DIFF_DST_ITER] = filled(dit, eng, 0.01f);
  if (lstm) {
    const memory c0 = filled(dit, eng, 0.02f), cT = filled(dit, eng, 0);
    b.fwd_args[DNNL_ARG_SRC_ITER_C] = b.bwd_args[DNNL_ARG_SRC_ITER_C] = c0;
    b.fwd_args[DNNL_ARG_DST_ITER_C] = b.bwd_args[DNNL_ARG_DST_ITER_C] = cT;
    b.bwd_args[DNNL_ARG_DIFF_SRC_ITER_C] = filled(dit, eng, 0);
    b.bwd_args[DNNL_ARG_DIFF_DST_ITER_C] = filled(dit, eng, 0.01f);
  }
  // The primitives take their scratch memory from the caller (as Loom's do).
  b.fwd_args[DNNL_ARG_SCRATCHPAD] = filled(pds.fwd.scratchpad_desc(), eng, 0);
  b.bwd_args[DNNL_ARG_SCRATCHPAD] = filled(pds.bwd.scratchpad_desc(), eng, 0);
  return b;
}

// Median and best ms of fwd + bwd over `reps` runs of every bound pair.
std::pair<double, double> time_pairs(std::vector<Bound>& pairs, dnnl::stream& s, int warmup,
                                     int reps) {
  std::vector<double> t;
  for (int r = -warmup; r < reps; ++r) {
    const auto t0 = Clock::now();
    for (Bound& b : pairs) {
      b.fwd.execute(s, b.fwd_args);
      b.bwd.execute(s, b.bwd_args);
    }
    s.wait();
    if (r >= 0) t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return {median(t), *std::min_element(t.begin(), t.end())};
}

void sgemm_line(memory::dim n, int threads, int reps) {
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  std::vector<double> t;
  for (int r = -1; r < reps; ++r) {
    const auto t0 = Clock::now();
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (r >= 0) t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double med = median(t), best = *std::min_element(t.begin(), t.end());
  std::printf("sgemm n=%lld threads=%d median_ms=%.2f gflops=%.1f best_gflops=%.1f\n",
              static_cast<long long>(n), threads, med, 2.0 * n * n * n / med / 1e6,
              2.0 * n * n * n / best / 1e6);
}

void bf16_matmul_line(const dnnl::engine& eng, dnnl::stream& s, memory::dim n, int threads,
                      int reps) {
  const memory::desc a({n, n}, dt::bf16, tag::ab), b({n, n}, dt::bf16, tag::any),
      c({n, n}, dt::f32, tag::ab);
#if DNNL_VERSION_MAJOR >= 3
  const dnnl::matmul::primitive_desc pd(eng, a, b, c);
#else
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), eng);
#endif
  const dnnl::matmul mm(pd);
  const std::unordered_map<int, memory> args{{DNNL_ARG_SRC, filled(a, eng, 0.01f)},
                                             {DNNL_ARG_WEIGHTS, filled(pd.weights_desc(), eng, 0.01f)},
                                             {DNNL_ARG_DST, filled(c, eng, 0)},
                                             {DNNL_ARG_SCRATCHPAD, filled(pd.scratchpad_desc(), eng, 0)}};
  std::vector<double> t;
  for (int r = -1; r < reps; ++r) {
    const auto t0 = Clock::now();
    mm.execute(s, args);
    s.wait();
    if (r >= 0) t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double med = median(t), best = *std::min_element(t.begin(), t.end());
  std::printf("bf16_matmul n=%lld threads=%d median_ms=%.2f gflops=%.1f best_gflops=%.1f impl=%s\n",
              static_cast<long long>(n), threads, med, 2.0 * n * n * n / med / 1e6,
              2.0 * n * n * n / best / 1e6, pd.impl_info_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "onednn_floor")) return 0;
  std::string which = "all";
  int threads = omp_get_max_threads(), reps = 20, warmup = 3;
  long long sgemm_n = 1024;
  bool keep_denormals = false, bf16 = false;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "onednn_floor: %s needs a value\n", f.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (f == "--config") which = next();
    else if (f == "--threads") threads = std::atoi(next());
    else if (f == "--reps") reps = std::atoi(next());
    else if (f == "--warmup") warmup = std::atoi(next());
    else if (f == "--sgemm") sgemm_n = std::atoll(next());
    else if (f == "--keep-denormals") keep_denormals = true;
    else if (f == "--precision") {
      const std::string p = next();
      if (p != "f32" && p != "bf16") {
        std::fprintf(stderr, "onednn_floor: --precision must be f32 or bf16, got '%s'\n", p.c_str());
        return 2;
      }
      bf16 = p == "bf16";
    } else {
      std::fprintf(stderr,
                   "usage: onednn_floor [--config NAME|all] [--threads N] [--reps N] "
                   "[--warmup N] [--sgemm N] [--keep-denormals] [--precision f32|bf16]\n");
      return 2;
    }
  }
  if (threads < 1 || reps < 1 || warmup < 0) {
    std::fprintf(stderr, "onednn_floor: --threads and --reps must be positive\n");
    return 2;
  }
  // Loom's thread setting: OpenMP's count, and denormals flushed in every
  // thread as in Loom's own runs (--keep-denormals: not flushed).
  loom::set_num_threads(threads);
  loom::set_flush_denormals(!keep_denormals);
  const dnnl_version_t* v = dnnl_version();
  std::printf("# oneDNN %d.%d.%d, %d thread(s), %d reps after %d warm-up, denormals %s\n",
              v->major, v->minor, v->patch, threads, reps, warmup,
              loom::flush_denormals() ? "flushed" : "kept");
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  bool any = false;
  for (const Config& c : kConfigs) {
    if (which != "all" && which != c.name) continue;
    any = true;
    std::vector<Bound> one;
    one.push_back(bind(eng, c, c.bidirectional ? 2 : 1,
                       c.bidirectional ? dnnl::rnn_direction::bidirectional_concat
                                       : dnnl::rnn_direction::unidirectional_left2right,
                       bf16));
    const auto [med, best] = time_pairs(one, s, warmup, reps);
    const double traffic = step_traffic_bytes(c);
    const double bandwidth = copy_bandwidth(static_cast<size_t>(traffic / 28.0 * 16.0));  // w, g, m, v
    const double traffic_ms = traffic / bandwidth * 1e3;
    double primitive_ms = med;
    std::printf("floor config=%s precision=%s threads=%d median_ms=%.2f min_ms=%.2f gflops=%.1f",
                c.name, bf16 ? "bf16" : "f32", threads, med, best, flops_per_step(c) / med / 1e6);
    if (c.bidirectional) {
      std::vector<Bound> two;
      two.push_back(bind(eng, c, 1, dnnl::rnn_direction::unidirectional_left2right, bf16));
      two.push_back(bind(eng, c, 1, dnnl::rnn_direction::unidirectional_right2left, bf16));
      const auto [med2, best2] = time_pairs(two, s, warmup, reps);
      std::printf(" two_calls_median_ms=%.2f two_calls_min_ms=%.2f", med2, best2);
      primitive_ms = std::min(med, med2);  // the better of the two ways to run it
    }
    std::printf(" traffic_mb=%.1f copy_gbs=%.1f traffic_ms=%.2f step_floor_ms=%.2f", traffic / 1e6,
                bandwidth / 1e9, traffic_ms, primitive_ms + traffic_ms);
    std::printf("\n");
    std::fflush(stdout);
  }
  if (!any) {
    std::fprintf(stderr, "onednn_floor: unknown --config '%s'\n", which.c_str());
    return 2;
  }
  if (sgemm_n > 0) {
    sgemm_line(sgemm_n, threads, std::max(3, reps / 4));
    try {
      bf16_matmul_line(eng, s, sgemm_n, threads, std::max(3, reps / 4));
    } catch (const dnnl::error& e) {
      std::printf("bf16_matmul n=%lld: not available here (%s)\n", sgemm_n, e.what());
    }
  }
  return 0;
}
