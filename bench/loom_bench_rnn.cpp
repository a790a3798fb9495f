// loom_bench_rnn: times one full training step of
//   Embedding(vocab, F) -> RNN (last step; Bidirectional concat) -> Dense(1)
//   -> binary cross-entropy from logits -> Adam (dense, every parameter)
// on random (seeded) token ids, the model bench/pytorch_peer.py runs in
// PyTorch. Prints the median ms/step after warm-up and tokens/s
// (tokens = batch * timesteps) in one line:
//   loom cell=lstm threads=2 median_ms=X tokens_per_s=Y bidirectional=0 ...
// With --json that line goes to stderr and stdout gets one JSON object.
//
//   loom_bench_rnn --config imdb-lstm --threads 2
//   loom_bench_rnn --cell gru --batch 32 --timesteps 80 --features 128 --units 128
//
// --config presets (the table of issue 4; later flags override them):
//   imdb-lstm    LSTM                B32 T80  F128 H128 vocab 20000
//   imdb-bilstm  Bidirectional LSTM  B32 T100 F128 H64  vocab 20000
//   gru          GRU (reset_after)   B32 T80  F128 H128 vocab 20000
//   large-lstm   LSTM                B64 T200 F256 H256 vocab 20000
// --print-config prints the resolved model flags (in the syntax both this
// program and the PyTorch peer accept) and exits; bench/compare.sh uses it
// so that both sides run exactly the same model.
// --breakdown adds the median time of each phase (forward pieces, backward,
// optimizer) measured with timers around them.
//
// Same math as the peer: dropout is variational (one (B,F) input mask and,
// with --recurrent-dropout, one (B,H) mask on h entering h U, per batch and
// direction); Adam with PyTorch's defaults (lr 1e-3, betas 0.9/0.999,
// epsilon 1e-8; Loom's Keras form puts epsilon outside the bias correction,
// which costs the same); the embedding gradient is a dense (vocab, F) tensor
// and every parameter gets a dense update, as torch.optim.Adam does.
// --sparse-embedding instead makes the Embedding sparse (its optimizer update
// touches only the rows of the batch's ids, lazily: Loom's opt-in, the
// peer's nn.Embedding(sparse=True) with SparseAdam).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <loom/loom.h>

using namespace loom;

namespace {

struct Args {
  std::string cell = "lstm";
  bool bidirectional = false;
  int64_t batch = 32, timesteps = 80, features = 128, units = 128, vocab = 20000;
  double dropout = 0.0, recurrent_dropout = 0.0;
  std::string backend;  // empty: the default CPU backend
  int threads = 1;
  int warmup = 5, steps = 30;
  uint64_t seed = 1234;
  std::string config;
  bool json = false, print_config = false, breakdown = false;
  bool sparse_embedding = false;
  std::string precision = "float32";  // a dtype policy: float32, mixed_bfloat16, mixed_float16
};

struct Preset {
  const char* cell;
  bool bidirectional;
  int64_t batch, timesteps, features, units, vocab;
};

const std::map<std::string, Preset>& presets() {
  static const std::map<std::string, Preset> p{
      {"imdb-lstm", {"lstm", false, 32, 80, 128, 128, 20000}},
      {"imdb-bilstm", {"lstm", true, 32, 100, 128, 64, 20000}},
      {"gru", {"gru", false, 32, 80, 128, 128, 20000}},
      {"large-lstm", {"lstm", false, 64, 200, 256, 256, 20000}},
  };
  return p;
}

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: loom_bench_rnn [--config imdb-lstm|imdb-bilstm|gru|large-lstm]\n"
      "         [--cell lstm|gru|simplernn] [--bidirectional] [--batch B] [--timesteps T]\n"
      "         [--features F] [--units H] [--vocab V] [--dropout R] [--recurrent-dropout R]\n"
      "         [--backend NAME] [--threads N] [--warmup N] [--steps N] [--seed S]\n"
      "         [--sparse-embedding] [--precision float32|mixed_bfloat16|mixed_float16]\n"
      "         [--json] [--breakdown] [--print-config]\n");
}

Args parse_args(int argc, char** argv) {
  Args a;
  // The preset first, so that explicit flags override it wherever they appear.
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--config") a.config = argv[i + 1];
  if (!a.config.empty()) {
    auto it = presets().find(a.config);
    LOOM_CHECK(it != presets().end(),
               "loom_bench_rnn: unknown --config '{}' (expected imdb-lstm, imdb-bilstm, gru or "
               "large-lstm)",
               a.config);
    const Preset& p = it->second;
    a.cell = p.cell;
    a.bidirectional = p.bidirectional;
    a.batch = p.batch, a.timesteps = p.timesteps, a.features = p.features, a.units = p.units;
    a.vocab = p.vocab;
  }

  int i = 1;
  std::string flag;
  auto value = [&]() -> std::string {
    LOOM_CHECK(i + 1 < argc, "loom_bench_rnn: {} needs a value", flag);
    return argv[++i];
  };
  // A positive integer, or with allow_zero a non-negative one.
  auto integer = [&](bool allow_zero = false) -> int64_t {
    const std::string v = value();
    size_t end = 0;
    int64_t n = 0;
    try {
      n = std::stoll(v, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    LOOM_CHECK(end == v.size() && (n > 0 || (allow_zero && n == 0)),
               "loom_bench_rnn: {} expects a {} integer, got '{}'", flag,
               allow_zero ? "non-negative" : "positive", v);
    return n;
  };
  auto rate = [&]() -> double {
    const std::string v = value();
    size_t end = 0;
    double r = -1;
    try {
      r = std::stod(v, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    LOOM_CHECK(end == v.size() && r >= 0.0 && r < 1.0,
               "loom_bench_rnn: {} expects a rate in [0, 1), got '{}'", flag, v);
    return r;
  };
  const std::map<std::string, std::function<void()>> flags{
      {"--config", [&] { value(); }},  // applied above
      {"--cell", [&] { a.cell = value(); }},
      {"--bidirectional", [&] { a.bidirectional = true; }},
      {"--batch", [&] { a.batch = integer(); }},
      {"--timesteps", [&] { a.timesteps = integer(); }},
      {"--features", [&] { a.features = integer(); }},
      {"--units", [&] { a.units = integer(); }},
      {"--vocab", [&] { a.vocab = integer(); }},
      {"--dropout", [&] { a.dropout = rate(); }},
      {"--recurrent-dropout", [&] { a.recurrent_dropout = rate(); }},
      {"--backend", [&] { a.backend = value(); }},
      {"--threads", [&] { a.threads = static_cast<int>(integer()); }},
      {"--warmup", [&] { a.warmup = static_cast<int>(integer(true)); }},
      {"--steps", [&] { a.steps = static_cast<int>(integer()); }},
      {"--seed", [&] { a.seed = static_cast<uint64_t>(integer(true)); }},
      {"--json", [&] { a.json = true; }},
      {"--breakdown", [&] { a.breakdown = true; }},
      {"--print-config", [&] { a.print_config = true; }},
      {"--sparse-embedding", [&] { a.sparse_embedding = true; }},
      {"--precision", [&] { a.precision = DTypePolicy::parse(value()).name; }},
  };
  for (; i < argc; ++i) {
    flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      usage(stdout);
      std::exit(0);
    }
    auto it = flags.find(flag);
    LOOM_CHECK(it != flags.end(), "loom_bench_rnn: unknown argument '{}'", flag);
    it->second();
  }
  LOOM_CHECK(a.cell == "lstm" || a.cell == "gru" || a.cell == "simplernn",
             "loom_bench_rnn: --cell must be lstm, gru or simplernn, got '{}'", a.cell);
  LOOM_CHECK(a.vocab >= 2, "loom_bench_rnn: --vocab must be at least 2 (id 0 is never drawn)");
  return a;
}

std::shared_ptr<RNN> make_rnn(const Args& a) {
  RecurrentOptions o;
  o.units = a.units;
  o.dropout = a.dropout;
  o.recurrent_dropout = a.recurrent_dropout;
  o.reset_after = true;  // the GRU PyTorch and cuDNN implement
  o.seed = a.seed + 10;
  if (a.cell == "lstm") return LSTM::make(o);
  if (a.cell == "gru") return GRU::make(o);
  return SimpleRNN::make(o);
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU time of the whole process (all threads), ms: on a loaded machine it
// shows what a step costs apart from waiting for a core.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Per-phase times of one step (ms), for --breakdown.
struct Phases {
  double embedding = 0, rnn = 0, head = 0, backward = 0, optimizer = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "loom_bench_rnn")) return 0;
  Args a;
  try {
    a = parse_args(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    usage(stderr);
    return 2;
  }
  if (a.print_config) {
    std::printf(
        "--cell %s%s --batch %lld --timesteps %lld --features %lld --units %lld --vocab %lld"
        " --dropout %g --recurrent-dropout %g\n",
        a.cell.c_str(), a.bidirectional ? " --bidirectional" : "", (long long)a.batch,
        (long long)a.timesteps, (long long)a.features, (long long)a.units, (long long)a.vocab,
        a.dropout, a.recurrent_dropout);
    return 0;
  }

  try {
    set_global_policy(a.precision);  // before the layers are made
    // --backend cuda runs the model on cuda:0; any other name picks the CPU backend.
    const bool gpu = a.backend == "cuda";
    LOOM_CHECK(!gpu || cuda_device_count() > 0,
               "loom_bench_rnn: --backend cuda, but {}", cuda_built() ? "no CUDA device is visible"
                                                                       : "this build has no CUDA backend");
    if (!a.backend.empty() && !gpu) set_cpu_backend(a.backend);
    set_num_threads(a.threads);
    manual_seed(a.seed);

    // ---- the model ------------------------------------------------------------------------
    auto embedding =
        Embedding::make({.input_dim = a.vocab, .output_dim = a.features,
                         .sparse = a.sparse_embedding, .seed = a.seed + 1});
    std::shared_ptr<RNN> rnn = make_rnn(a);
    std::shared_ptr<Layer> recurrent = rnn;
    std::shared_ptr<Bidirectional> bi;
    if (a.bidirectional) {
      bi = Bidirectional::make(rnn);  // concat
      recurrent = bi;
    }
    auto dense = Dense::make({.units = 1, .seed = a.seed + 2});
    if (gpu) {
      // Build the layers on the host (their initializers run there), then move them.
      const int64_t out = a.units * (a.bidirectional ? 2 : 1);
      embedding->ensure_built({{a.batch, a.timesteps}}, {DType::i32});
      recurrent->ensure_built({{a.batch, a.timesteps, a.features}}, {DType::f32});
      dense->ensure_built({{a.batch, out}}, {DType::f32});
      for (const LayerPtr& l : std::vector<LayerPtr>{embedding, recurrent, dense})
        l->to(Device::cuda(0));
    }
    Adam adam({.learning_rate = 1e-3, .beta_1 = 0.9, .beta_2 = 0.999, .epsilon = 1e-8});

    // A few fixed batches, cycled, so that data generation is not timed:
    // ids (B,T) in [1, vocab), labels (B) in {0, 1}.
    const int nbatch = 4;
    Generator gen(a.seed + 3);
    std::vector<Tensor> ids, labels;
    for (int k = 0; k < nbatch; ++k) {
      std::vector<int32_t> v(static_cast<size_t>(a.batch * a.timesteps));
      std::uniform_int_distribution<int32_t> id(1, static_cast<int32_t>(a.vocab - 1));
      for (auto& x : v) x = id(gen.engine());
      ids.push_back(Tensor::from_vector(v, {a.batch, a.timesteps}));
      std::vector<float> y(static_cast<size_t>(a.batch));
      std::bernoulli_distribution coin(0.5);
      for (auto& x : y) x = coin(gen.engine()) ? 1.f : 0.f;
      labels.push_back(Tensor::from_vector(y, {a.batch}));
    }

    std::vector<ParameterPtr> params;
    Phases last;
    std::vector<double> losses;  // per step: shows the model does train
    auto step = [&](int i) {
      const Tensor& x_ids = ids[static_cast<size_t>(i % nbatch)];
      const Tensor& y = labels[static_cast<size_t>(i % nbatch)];
      Optimizer::zero_grad(params);
      auto t0 = Clock::now();
      Tensor x = (*embedding)(x_ids, true);  // (B,T,F)
      last.embedding = ms_since(t0);
      t0 = Clock::now();
      RnnCallArgs call;
      call.training = true;
      // (B,H), bidirectional (B,2H): the last step's output
      Tensor h = bi ? bi->run(x, call)[0] : rnn->run(x, call)[0];
      last.rnn = ms_since(t0);
      t0 = Clock::now();
      Tensor logits = reshape((*dense)(h, true), {a.batch});
      Tensor loss = binary_cross_entropy_with_logits(logits, y);
      last.head = ms_since(t0);
      losses.push_back(loss.item());
      t0 = Clock::now();
      loss.backward();
      last.backward = ms_since(t0);
      t0 = Clock::now();
      if (params.empty()) {  // built by the first call
        for (const LayerPtr& l : std::vector<LayerPtr>{embedding, recurrent, dense})
          for (const ParameterPtr& p : l->trainable_parameters()) params.push_back(p);
      }
      adam.step(params);
      last.optimizer = ms_since(t0);
    };

    for (int i = 0; i < a.warmup; ++i) step(i);
    std::vector<double> times, cpu_times;
    std::vector<Phases> phases;
    for (int i = 0; i < a.steps; ++i) {
      const auto t0 = Clock::now();
      const double c0 = process_cpu_ms();
      step(i);
      times.push_back(ms_since(t0));
      cpu_times.push_back(process_cpu_ms() - c0);
      phases.push_back(last);
    }

    int64_t nparams = 0;
    for (const ParameterPtr& p : params) nparams += p->value.numel();
    const double med = median(times);
    const double tps = static_cast<double>(a.batch * a.timesteps) / (med / 1e3);
    const std::string backend = gpu ? "cuda" : cpu_backend_name();
    std::string line = fmt::format(
        "loom cell={} threads={} median_ms={:.2f} tokens_per_s={:.0f} bidirectional={} batch={} "
        "timesteps={} features={} units={} vocab={} dropout={} recurrent_dropout={} backend={} "
        "embedding={} precision={}",
        a.cell, a.threads, med, tps, a.bidirectional ? 1 : 0, a.batch, a.timesteps, a.features,
        a.units, a.vocab, a.dropout, a.recurrent_dropout, backend,
        a.sparse_embedding ? "sparse" : "dense", a.precision);
    auto phase_median = [&](double Phases::*f) {
      std::vector<double> v;
      for (const Phases& p : phases) v.push_back(p.*f);
      return median(v);
    };
    if (a.breakdown)
      line += fmt::format(
          " cpu_ms={:.2f} embedding_ms={:.2f} rnn_fwd_ms={:.2f} head_fwd_ms={:.2f} "
          "backward_ms={:.2f} adam_ms={:.2f}",
          median(cpu_times), phase_median(&Phases::embedding), phase_median(&Phases::rnn),
          phase_median(&Phases::head), phase_median(&Phases::backward),
          phase_median(&Phases::optimizer));
    if (a.json) {
      std::fprintf(stderr, "%s\n", line.c_str());
      Json j = Json::object({{"framework", "loom"},
                             {"backend", backend},
                             {"cell", a.cell},
                             {"precision", a.precision},
                             {"bidirectional", a.bidirectional},
                             {"batch", a.batch},
                             {"timesteps", a.timesteps},
                             {"features", a.features},
                             {"units", a.units},
                             {"vocab", a.vocab},
                             {"dropout", a.dropout},
                             {"recurrent_dropout", a.recurrent_dropout},
                             {"threads", a.threads},
                             {"parameters", nparams},
                             {"warmup", a.warmup},
                             {"steps", a.steps},
                             {"median_ms", med},
                             {"min_ms", *std::min_element(times.begin(), times.end())},
                             {"tokens_per_s", tps},
                             {"step_ms", Json(times)},
                             {"first_loss", losses.front()},
                             {"last_loss", losses.back()}});
      if (a.breakdown)
        j.set("breakdown_ms", Json::object({{"cpu", median(cpu_times)},
                                            {"embedding", phase_median(&Phases::embedding)},
                                            {"rnn_forward", phase_median(&Phases::rnn)},
                                            {"head_forward", phase_median(&Phases::head)},
                                            {"backward", phase_median(&Phases::backward)},
                                            {"adam", phase_median(&Phases::optimizer)}}));
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s\n", line.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom_bench_rnn: %s\n", e.what());
    return 1;
  }
  return 0;
}
