// Inference on one loaded model from other threads and from many threads at
// once, as a service calls it: the model is built and trained in one thread,
// then Model::predict and SentimentClassifier::predict_proba run from request
// threads. Results must be bit-identical to serial calls in the thread that
// trained, on every CPU backend built, and the calling thread's settings
// (thread count, denormal flushing) must be the ones Loom was given.
//
// Dimension letters: N samples, T timesteps.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <unistd.h>

#include "loom/loom.h"
#include "examples/sentiment/sentiment_classifier.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace loom {
namespace {

constexpr int kThreads = 8;
constexpr int kRounds = 12;

// Token ids (N,T) i32 with left padding of every length 0..T-2 (so the
// oneDNN backend runs its packed path) and labels (N,1): whether token 1
// occurs more often than token 2.
std::pair<Tensor, Tensor> padded_ids(int64_t N, int64_t T, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(N * T, 0);
  std::vector<float> y(N);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t pad = n % (T - 1);
    int balance = 0;
    for (int64_t t = pad; t < T; ++t) {
      const int32_t id = 1 + static_cast<int32_t>(rng() % 9);
      ids[n * T + t] = id;
      balance += id == 1 ? 1 : id == 2 ? -1 : 0;
    }
    y[n] = balance > 0 ? 1.0f : 0.0f;
  }
  return {Tensor::from_vector(ids, {N, T}), Tensor::from_vector(y, {N, 1})};
}

// Embedding(mask_zero) -> Bidirectional(LSTM with dropout and recurrent
// dropout) -> Dense(1, sigmoid): training uses every per-call state a
// service must not see (dropout masks, output masks), inference none.
std::shared_ptr<Model> bilstm_model(int64_t T) {
  auto ids = Input({T}, DType::i32, "tokens");
  SymbolicTensor e =
      Embedding::make({.input_dim = 10, .output_dim = 8, .mask_zero = true, .seed = 1})(ids);
  SymbolicTensor h = Bidirectional::make(LSTM::make({.units = 6, .dropout = 0.2,
                                                     .recurrent_dropout = 0.2, .seed = 2}))(e);
  SymbolicTensor out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 3})(h);
  auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{ids},
                                       std::vector<SymbolicTensor>{out}, "bilstm");
  model->compile({.optimizer = "adam", .loss = "binary_crossentropy"});
  return model;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.numel() * dtype_size(a.dtype())) == 0;
}

// Runs fn(thread index) in `n` threads at once; rethrows the first failure.
template <typename Fn>
void in_threads(int n, Fn fn) {
  std::vector<std::thread> pool;
  std::vector<std::string> errors(n);
  for (int i = 0; i < n; ++i)
    pool.emplace_back([&, i] {
      try {
        fn(i);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : pool) t.join();
  for (int i = 0; i < n; ++i) EXPECT_EQ(errors[i], "") << "thread " << i;
}

class ConcurrentInference : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto names = available_backends();
    if (std::find(names.begin(), names.end(), GetParam()) == names.end())
      GTEST_SKIP() << "backend " << GetParam() << " is not built";
    before_ = cpu_backend_name();
    set_cpu_backend(GetParam());
  }
  void TearDown() override {
    if (!before_.empty()) set_cpu_backend(before_);
  }
  std::string before_;
};

TEST_P(ConcurrentInference, ModelTrainedInOneThreadPredictsInAnother) {
  const int64_t T = 9;
  auto [x, y] = padded_ids(96, T, 1);
  std::shared_ptr<Model> model;
  Tensor expected;
  std::thread trainer([&] {
    manual_seed(5);
    model = bilstm_model(T);
    model->fit(x, y, {.batch_size = 16, .epochs = 2, .seed = 3, .verbose = 0});
    expected = model->predict(x, 32);
  });
  trainer.join();
  ASSERT_TRUE(model);
  // The main thread, then a fresh thread, then the main thread again.
  EXPECT_TRUE(same_bits(model->predict(x, 32), expected));
  Tensor other;
  std::thread([&] { other = model->predict(x, 32); }).join();
  EXPECT_TRUE(same_bits(other, expected));
  EXPECT_TRUE(same_bits(model->predict(x, 32), expected));
}

TEST_P(ConcurrentInference, EightThreadsPredictAtOnceBitIdenticalToSerial) {
  const int64_t T = 9;
  manual_seed(6);
  auto model = bilstm_model(T);
  auto [x, y] = padded_ids(64, T, 2);
  model->fit(x, y, {.batch_size = 16, .epochs = 1, .seed = 4, .verbose = 0});
  // Each thread predicts its own slice and batch size, so shapes (and the
  // oneDNN plans they need) differ between threads and rounds.
  std::vector<Tensor> inputs, serial;
  for (int i = 0; i < kThreads; ++i) {
    inputs.push_back(slice(x, 0, i * 4, i * 4 + 24 + i));
    serial.push_back(model->predict(inputs.back(), 5 + i));
  }
  in_threads(kThreads, [&](int i) {
    for (int r = 0; r < kRounds; ++r) {
      Tensor p = model->predict(inputs[i], 5 + i);
      if (!same_bits(p, serial[i]))
        throw Error(fmt::format("round {}: predictions differ from the serial call", r));
    }
  });
  // Training afterwards still works and is unaffected by the inference.
  auto [x2, y2] = padded_ids(32, T, 3);
  History h = model->fit(x2, y2, {.batch_size = 16, .epochs = 1, .seed = 5, .verbose = 0});
  EXPECT_TRUE(std::isfinite(h.history.at("loss").back()));
}

TEST_P(ConcurrentInference, SentimentClassifierLoadedOnceServesEightThreads) {
  auto train = text::synthetic_reviews({.num_examples = 256, .seed = 1});
  text::SentimentTrainOptions opt;
  opt.model.kind = "bilstm";
  opt.model.embed_dim = 8;
  opt.model.units = 6;
  opt.model.dropout = 0.2;
  opt.model.recurrent_dropout = 0.2;
  opt.vocab_size = 200;
  opt.maxlen = 24;
  opt.epochs = 1;
  opt.validation_split = 0;
  opt.verbose = 0;
  auto run = text::train_sentiment_classifier(train, {}, {}, opt);
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("loom_concurrent_" + GetParam() + "_" + std::to_string(::getpid()) + ".loom"))
          .string();
  run.classifier.save(path);
  const auto clf = text::SentimentClassifier::load(path);
  std::filesystem::remove(path);

  std::vector<std::string> texts;
  for (size_t i = 0; i < 40; ++i) texts.push_back(train.texts[i]);
  texts.push_back("");  // all padding: the RNN sees no step
  const std::vector<double> serial = clf.predict_proba(texts, 7);
  in_threads(kThreads, [&](int i) {
    for (int r = 0; r < kRounds; ++r)
      if (clf.predict_proba(texts, 7) != serial)
        throw Error(fmt::format("thread {} round {}: probabilities differ from serial", i, r));
  });
}

INSTANTIATE_TEST_SUITE_P(CpuBackends, ConcurrentInference,
                         ::testing::Values("reference", "onednn"),
                         [](const auto& info) { return info.param; });

// set_num_threads and the denormal mode reach every thread that calls Loom,
// not only the one that set them (OpenMP's count and MXCSR are per thread).
TEST(ThreadSettings, ApplyToEveryCallingThread) {
  set_num_threads(3);
  set_flush_denormals(true);
  int seen_threads = -1;
  bool seen_ftz = false;
  std::thread([&] {
    Tensor a = Tensor::ones({4, 4});
    (void)matmul(a, a);  // any Loom call
#ifdef _OPENMP
    seen_threads = omp_get_max_threads();
#else
    seen_threads = 3;
#endif
#if defined(__x86_64__)
    seen_ftz = (_mm_getcsr() & 0x8040) == 0x8040;
#else
    seen_ftz = true;
#endif
  }).join();
  EXPECT_EQ(seen_threads, 3);
  EXPECT_TRUE(seen_ftz);

  // A change made later, in another thread, reaches a thread that already ran.
  std::thread([&] {
    set_num_threads(2);
    set_flush_denormals(false);
  }).join();
  Tensor a = Tensor::ones({4, 4});
  (void)matmul(a, a);
#ifdef _OPENMP
  EXPECT_EQ(omp_get_max_threads(), 2);
#endif
#if defined(__x86_64__)
  EXPECT_EQ(_mm_getcsr() & 0x8040, 0u);
#endif
  set_flush_denormals(true);
  set_num_threads(1);
}

}  // namespace
}  // namespace loom
