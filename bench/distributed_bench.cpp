// loom_distributed_bench: data-parallel training throughput and the cost of
// its gradient all-reduce, for docs/DISTRIBUTED.md's cost model. Run it
// alone, and under mpirun for more than one process:
//
//   loom_distributed_bench --config imdb-lstm --threads 2                 # 1 process x 2 threads
//   mpirun -np 2 --bind-to none loom_distributed_bench --config imdb-lstm --threads 1
//
// The model is loom_bench_rnn's (bench/loom_bench_rnn.cpp presets):
//   Embedding(20000, 128) -> LSTM(128) | Bidirectional(LSTM(64)) -> Dense(1, sigmoid)
// trained with fit() (binary cross-entropy, Adam, batch 32 over all ranks)
// on seeded token ids of Zipf-like frequencies (as words are), for
// --steps global batches after one warm-up epoch. Rank 0 prints one line:
//   distributed config=imdb-lstm processes=2 threads=1 examples_per_s=...
//     step_ms=... reduce_bytes=... finish_ms=... wait_ms=... allreduce_ms=...
//     algbw_gbps=... busbw_gbps=...
// step_ms: median wall time of a training step; reduce_bytes: gradient bytes
// each rank reduces per step; finish_ms / wait_ms: the reducer's time after
// backward (all of it / waiting only) per step; allreduce_ms: median time of
// one blocking all-reduce of reduce_bytes alone; algbw = bytes / time,
// busbw = algbw * 2(P-1)/P (what a ring moves per link).
// --no-overlap starts every bucket after backward; --sparse-embedding
// reduces only the embedding rows some rank touched.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include <loom/loom.h>

using namespace loom;

namespace {

struct Args {
  std::string config = "imdb-lstm";
  int threads = 1;
  int64_t steps = 60, batch = 32, vocab = 20000;
  bool overlap = true, sparse_embedding = false;
  int64_t bucket_kb = 4096;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      LOOM_CHECK(i + 1 < argc, "loom_distributed_bench: {} needs a value", f);
      return argv[++i];
    };
    if (f == "--config") a.config = value();
    else if (f == "--threads") a.threads = std::stoi(value());
    else if (f == "--steps") a.steps = std::stoll(value());
    else if (f == "--batch") a.batch = std::stoll(value());
    else if (f == "--bucket-kb") a.bucket_kb = std::stoll(value());
    else if (f == "--no-overlap") a.overlap = false;
    else if (f == "--sparse-embedding") a.sparse_embedding = true;
    else fail("loom_distributed_bench: unknown argument '{}' (see the top of bench/distributed_bench.cpp)", f);
  }
  LOOM_CHECK(a.config == "imdb-lstm" || a.config == "imdb-bilstm",
             "loom_distributed_bench: --config must be imdb-lstm or imdb-bilstm, got '{}'", a.config);
  LOOM_CHECK(a.threads > 0 && a.steps > 0 && a.batch > 0 && a.bucket_kb > 0,
             "loom_distributed_bench: --threads, --steps, --batch and --bucket-kb must be positive");
  return a;
}

// Ids (N, T) with P(id = k) ~ 1/k over [1, vocab): word-like frequencies, so
// a batch touches a realistic number of distinct embedding rows.
Tensor zipf_ids(int64_t n, int64_t t, int64_t vocab) {
  std::mt19937_64 rng(1234);
  std::vector<double> cdf(static_cast<size_t>(vocab - 1));
  double total = 0;
  for (int64_t k = 1; k < vocab; ++k) cdf[static_cast<size_t>(k - 1)] = total += 1.0 / static_cast<double>(k);
  std::uniform_real_distribution<double> u(0.0, total);
  std::vector<int32_t> ids(static_cast<size_t>(n * t));
  for (auto& id : ids)
    id = 1 + static_cast<int32_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
  return Tensor::from_vector(ids, {n, t});
}

std::shared_ptr<Model> make_model(const Args& a, int64_t timesteps) {
  auto ids = Input({timesteps}, DType::i32, "tokens");
  SymbolicTensor e = Embedding::make({.input_dim = a.vocab, .output_dim = 128,
                                      .sparse = a.sparse_embedding, .seed = 1},
                                     "embed")(ids);
  SymbolicTensor h = a.config == "imdb-lstm"
                         ? LSTM::make({.units = 128, .seed = 2}, "lstm")(e)
                         : Bidirectional::make(LSTM::make({.units = 64, .seed = 2}, "lstm"))(e);
  SymbolicTensor out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 3}, "out")(h);
  auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{ids},
                                       std::vector<SymbolicTensor>{out}, a.config);
  model->compile({.optimizer = "adam", .loss = "binary_crossentropy"});
  return model;
}

// Step times of one fit(): a callback timing batch ends.
class StepTimer : public Callback {
 public:
  std::vector<double> ms;
  void on_batch_begin(int64_t, const Logs&) override { t0_ = std::chrono::steady_clock::now(); }
  void on_batch_end(int64_t, const Logs&) override {
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count());
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "loom_distributed_bench")) return 0;
  try {
    const Args a = parse(argc, argv);
    if (distributed::launched_world_size() > 1) distributed::init();
    set_num_threads(a.threads);
    const int P = distributed::world_size();
    const int64_t T = a.config == "imdb-lstm" ? 80 : 100;  // loom_bench_rnn's presets
    const int64_t n = a.steps * a.batch;
    Tensor x = zipf_ids(n, T, a.vocab);
    std::vector<float> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = static_cast<float>(i % 2);
    Tensor y = Tensor::from_vector(labels, {n, 1});
    auto model = make_model(a, T);

    FitOptions o;
    o.batch_size = a.batch;
    o.verbose = 0;
    o.seed = 5;
    o.reducer.overlap = a.overlap;
    o.reducer.bucket_bytes = a.bucket_kb * 1024;
    model->fit(x.slice(0, 0, std::min<int64_t>(n, 8 * a.batch)),
               y.slice(0, 0, std::min<int64_t>(n, 8 * a.batch)), o);  // warm-up
    auto timer = std::make_shared<StepTimer>();
    o.callbacks = {timer};
    const distributed::ReducerTotals before = distributed::reducer_totals();
    distributed::barrier();
    const auto t0 = std::chrono::steady_clock::now();
    model->fit(x, y, o);
    distributed::barrier();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const distributed::ReducerTotals after = distributed::reducer_totals();
    const double steps = static_cast<double>(std::max<int64_t>(after.steps - before.steps, 1));
    const double bytes = static_cast<double>(after.bytes - before.bytes) / steps;

    // One blocking all-reduce of a step's gradient bytes, alone.
    double allreduce_ms = 0;
    if (P > 1 && bytes > 0) {
      std::vector<Tensor> buf{Tensor::zeros({static_cast<int64_t>(bytes / 4)})};
      std::vector<double> times;
      for (int r = 0; r < 21; ++r) {
        distributed::barrier();
        const auto s = std::chrono::steady_clock::now();
        distributed::all_reduce(buf);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
      }
      allreduce_ms = median(times);
    }
    const double algbw = allreduce_ms > 0 ? bytes / (allreduce_ms * 1e-3) / 1e9 : 0;
    if (distributed::is_primary())
      std::printf(
          "distributed config=%s processes=%d threads=%d overlap=%d sparse_embedding=%d "
          "examples_per_s=%.1f step_ms=%.2f reduce_bytes=%.0f finish_ms=%.3f wait_ms=%.3f "
          "allreduce_ms=%.3f algbw_gbps=%.2f busbw_gbps=%.2f\n",
          a.config.c_str(), P, a.threads, a.overlap ? 1 : 0, a.sparse_embedding ? 1 : 0,
          static_cast<double>(n) / seconds, median(timer->ms), bytes,
          (after.finish_seconds - before.finish_seconds) / steps * 1e3,
          (after.wait_seconds - before.wait_seconds) / steps * 1e3, allreduce_ms, algbw,
          P > 1 ? algbw * 2.0 * (P - 1) / P : 0.0);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom_distributed_bench: %s\n", e.what());
    return 2;
  }
}
