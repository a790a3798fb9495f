// The oneDNN backend itself: registration, primitive caching, threads.
// (Its numbers against the reference: tests/backends/consistency/.)
#include <cstdlib>
#include <string>
#include <vector>

#include <omp.h>

#include "loom/backends/onednn/onednn_backend.h"
#include "loom/layers/rnn/bptt.h"
#include "test_util.h"

namespace loom::test {
namespace {

OneDnnBackend& onednn() {
  const std::string before = cpu_backend_name();
  set_cpu_backend("onednn");
  auto* be = dynamic_cast<OneDnnBackend*>(&backend_for(Device::cpu()));
  set_cpu_backend(before);
  if (!be) throw Error("the backend named onednn is not a OneDnnBackend");
  return *be;
}

TEST(OneDnnBackend, RegisteredAndTheDefaultCpuBackend) {
  const std::vector<std::string> names = available_backends();
  EXPECT_EQ(names.front(), "reference");
  EXPECT_EQ(names.back(), "onednn");
  const char* env = std::getenv("LOOM_BACKEND");
  if (!env || !*env) EXPECT_EQ(cpu_backend_name(), "onednn");
  EXPECT_NE(std::string(onednn_version_string()), "");
}

// One LSTM sequence call on oneDNN with random weights; returns the loss
// gradient of the kernel so callers can compare runs.
std::vector<double> lstm_step(Backend& be, int64_t B, int64_t T, uint64_t seed) {
  const int64_t F = 3, H = 4;
  Generator g(seed);
  RnnDesc d;
  d.cell = RnnCellKind::lstm;
  d.return_sequences = true;
  RnnSequenceArgs a;
  a.x = Tensor::uniform({B, T, F}, -1, 1, g).set_requires_grad(true);
  a.kernel = Tensor::uniform({F, 4 * H}, -1, 1, g).set_requires_grad(true);
  a.recurrent_kernel = Tensor::uniform({H, 4 * H}, -1, 1, g).set_requires_grad(true);
  a.bias = Tensor::uniform({4 * H}, -1, 1, g).set_requires_grad(true);
  RnnSequenceResult r = rnn_sequence(be, d, a);
  return grad({r.output}, {Tensor::ones(r.output.shape())}, {a.kernel})[0].to_vector<double>();
}

TEST(OneDnnBackend, PrimitivesAreCachedPerShape) {
  OneDnnBackend& be = onednn();
  const size_t before = be.cached_rnn_plans();
  const std::vector<double> first = lstm_step(be, 2, 5, 1);
  EXPECT_EQ(be.cached_rnn_plans(), before + 1);
  // The same shape again (other values): no new plan, and the plan's state
  // (reused scratch and workspace buffers) does not leak between calls.
  lstm_step(be, 2, 5, 2);
  EXPECT_EQ(be.cached_rnn_plans(), before + 1);
  EXPECT_EQ(lstm_step(be, 2, 5, 1), first);
  // Another batch size or length is another plan.
  lstm_step(be, 3, 5, 1);
  lstm_step(be, 2, 6, 1);
  EXPECT_EQ(be.cached_rnn_plans(), before + 3);
}

// LOOM_NUM_THREADS / set_num_threads sets OpenMP's count, which oneDNN
// (built with OpenMP) and Loom's own kernels both use.
TEST(OneDnnBackend, SharesTheThreadCountWithOpenMp) {
  const int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(omp_get_max_threads(), 1);
  OneDnnBackend& be = onednn();
  const std::vector<double> one = lstm_step(be, 4, 6, 3);
  set_num_threads(2);
  EXPECT_EQ(omp_get_max_threads(), 2);
  const std::vector<double> two = lstm_step(be, 4, 6, 3);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], two[i], 1e-5 * (1 + std::abs(one[i])));
  set_num_threads(before);
}

// Which path a masked call takes: a padding mask runs packed on the
// primitive, a mask with holes the explicit BPTT, a mask with nothing
// masked the plain primitive. (The numbers: tests/backend_consistency.)
TEST(OneDnnBackend, MaskPaths) {
  OneDnnBackend& be = onednn();
  const int64_t B = 4, T = 5, F = 3, H = 2;
  auto run = [&](const std::vector<float>& mask, bool backwards) {
    Generator g(5);
    RnnDesc d;
    d.cell = RnnCellKind::lstm;
    d.go_backwards = backwards;
    d.return_sequences = true;
    RnnSequenceArgs a;
    a.x = Tensor::uniform({B, T, F}, -1, 1, g).set_requires_grad(true);
    a.kernel = Tensor::uniform({F, 4 * H}, -1, 1, g);
    a.recurrent_kernel = Tensor::uniform({H, 4 * H}, -1, 1, g);
    a.mask = Tensor::from_vector(mask, {B, T});
    RnnSequenceResult r = rnn_sequence(be, d, a);
    grad({r.output}, {Tensor::ones(r.output.shape())}, {a.x});
  };
  const std::vector<float> right = {1, 1, 1, 1, 1,  1, 1, 1, 0, 0,  1, 0, 0, 0, 0,  0, 0, 0, 0, 0};
  const std::vector<float> left = {1, 1, 1, 1, 1,  0, 0, 1, 1, 1,  0, 0, 0, 0, 1,  0, 0, 0, 0, 0};
  const std::vector<float> holes = {1, 0, 1, 1, 1,  1, 1, 1, 1, 1,  1, 1, 1, 1, 1,  1, 1, 1, 1, 1};
  const std::vector<float> full(B * T, 1.0f);
  for (bool backwards : {false, true}) {
    SCOPED_TRACE(backwards ? "go_backwards" : "forwards");
    for (const auto* m : {&right, &left}) {
      const size_t packed = be.rnn_packed_calls();
      run(*m, backwards);
      EXPECT_EQ(be.rnn_packed_calls(), packed + 1);
    }
    const size_t expl = be.rnn_declined_calls();
    run(holes, backwards);
    EXPECT_EQ(be.rnn_declined_calls(), expl + 1);
    const size_t dense = be.rnn_dense_calls();
    run(full, backwards);
    EXPECT_EQ(be.rnn_dense_calls(), dense + 1);
  }
}

// Inference (no gradients wanted) uses a forward_inference primitive and
// returns no workspace; its outputs equal the training-mode forward's.
TEST(OneDnnBackend, InferenceMatchesTraining) {
  OneDnnBackend& be = onednn();
  const int64_t B = 2, T = 4, F = 3, H = 5;
  Generator g(4);
  RnnDesc d;
  d.cell = RnnCellKind::gru;
  d.reset_after = true;
  d.return_sequences = true;
  RnnSequenceArgs a;
  a.x = Tensor::uniform({B, T, F}, -1, 1, g);
  a.kernel = Tensor::uniform({F, 3 * H}, -1, 1, g);
  a.recurrent_kernel = Tensor::uniform({H, 3 * H}, -1, 1, g);
  a.bias = Tensor::uniform({2, 3 * H}, -1, 1, g);
  const std::vector<double> inference = rnn_sequence(be, d, a).output.to_vector<double>();
  a.kernel.set_requires_grad(true);
  const std::vector<double> training = rnn_sequence(be, d, a).output.to_vector<double>();
  ASSERT_EQ(inference.size(), training.size());
  for (size_t i = 0; i < inference.size(); ++i) EXPECT_NEAR(inference[i], training[i], 1e-6);
}

}  // namespace
}  // namespace loom::test
