// Data-parallel training (distributed/, layers/training/data_parallel.*),
// run as `mpirun -np 2 loom_distributed_tests` (ctest: distributed_np2):
// the collectives, the gradient reducer's overlap with backward, the
// sampler (every example once per epoch, in contiguous shares), and fit()
// on two ranks against fit() in one process with the same global batch, on
// every CPU backend. Each rank runs every test; a failure on either fails
// the mpirun.
//
// Dimension letters: N samples, T timesteps.
#include <gmock/gmock.h>

#include <random>
#include <set>

#include "loom/distributed/distributed.h"
#include "loom/distributed/gradient_reducer.h"
#include "distributed/small_bilstm.h"
#include "test_util.h"

namespace loom::test {
namespace {

using distributed::rank;
using distributed::world_size;

TEST(Collectives, AllReduceSumsAndAveragesEveryDtype) {
  const int P = world_size(), r = rank();
  std::vector<Tensor> t{Tensor::from_vector(std::vector<float>{1.0f * r, 2.0f}),
                        Tensor::from_vector(std::vector<double>{0.5 * r}),
                        Tensor::from_vector(std::vector<int64_t>{r + 1, 7})};
  distributed::all_reduce(t);
  const double ranks = P * (P - 1) / 2.0;
  EXPECT_EQ(t[0].to_vector<float>(), (std::vector<float>{static_cast<float>(ranks), 2.0f * P}));
  EXPECT_DOUBLE_EQ(t[1].item(), 0.5 * ranks);
  EXPECT_EQ(t[2].to_vector<int64_t>(), (std::vector<int64_t>{P * (P + 1) / 2, 7 * P}));
  std::vector<Tensor> avg{Tensor::from_vector(std::vector<double>{1.0 + r})};
  distributed::all_reduce(avg, true);
  EXPECT_DOUBLE_EQ(avg[0].item(), (P + 1) / 2.0);
}

TEST(Collectives, BroadcastGivesEveryRankTheRootsValues) {
  const int root = world_size() - 1;
  std::vector<Tensor> t{Tensor::from_vector(std::vector<float>{1.0f * rank(), -1.0f}, {2, 1})};
  distributed::broadcast(t, root);
  EXPECT_EQ(t[0].to_vector<float>(), (std::vector<float>{1.0f * root, -1.0f}));
  EXPECT_THROW(distributed::broadcast(t, world_size()), Error);
}

TEST(Collectives, AllGatherKeepsRankOrderAndLengths) {
  std::vector<int64_t> mine(static_cast<size_t>(rank() + 1), rank());
  auto all = distributed::all_gather(mine);
  ASSERT_EQ(all.size(), static_cast<size_t>(world_size()));
  for (int r = 0; r < world_size(); ++r)
    EXPECT_EQ(all[static_cast<size_t>(r)], std::vector<int64_t>(static_cast<size_t>(r + 1), r));
  distributed::barrier();
}

std::shared_ptr<Model> bilstm(int64_t T, bool sparse_embedding) {
  return small_bilstm(T, {.sparse_embedding = sparse_embedding});
}

struct Trained {
  std::vector<Tensor> weights;
  History history;
};

// 3 epochs of 47 samples in batches of 8: the last batch has 7 (uneven
// shares) and, with validation on 5 samples, some validation shares differ.
Trained train(DataParallelMode mode, bool sparse_embedding) {
  const int64_t T = 9;
  auto [x, y] = token_data(47, T, 8);
  auto [xv, yv] = token_data(5, T, 9);
  auto model = bilstm(T, sparse_embedding);
  FitOptions o;
  o.batch_size = 8;
  o.epochs = 3;
  o.seed = 42;
  o.verbose = 0;
  o.validation_x = {xv};
  o.validation_y = yv;
  o.data_parallel = mode;
  Trained t;
  t.history = model->fit(x, y, o);
  t.weights = model->get_weights();
  return t;
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

void expect_same_training(const Trained& parallel, const Trained& alone) {
  ASSERT_EQ(parallel.weights.size(), alone.weights.size());
  for (size_t i = 0; i < alone.weights.size(); ++i)
    EXPECT_LE(max_abs_difference(parallel.weights[i], alone.weights[i]), 1e-5)
        << "weight " << i << " on rank " << rank();
  ASSERT_EQ(parallel.history.history.size(), alone.history.history.size());
  for (const auto& [key, values] : alone.history.history) {
    const auto& got = parallel.history.history.at(key);
    ASSERT_EQ(got.size(), values.size()) << key;
    for (size_t e = 0; e < values.size(); ++e)
      EXPECT_NEAR(got[e], values[e], 1e-5) << key << " epoch " << e + 1 << " on rank " << rank();
  }
}

class DataParallelFit : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { set_cpu_backend(GetParam()); }
  void TearDown() override { set_cpu_backend(available_backends().back()); }
};

// Two ranks with global batch B train the weights (and log the losses and
// metrics) one process with batch B does: masks, dropout drawn per example,
// an uneven last batch, validation shares.
TEST_P(DataParallelFit, SameWeightsAndLogsAsOneProcess) {
  ASSERT_GT(world_size(), 1) << "run under mpirun -np 2";
  expect_same_training(train(DataParallelMode::on, false), train(DataParallelMode::off, false));
}

// Embedding(sparse=true): the ranks' touched rows are united before the
// optimizer's sparse update.
TEST_P(DataParallelFit, SparseEmbeddingGradientsAreSummedOverTheRanksRows) {
  expect_same_training(train(DataParallelMode::on, true), train(DataParallelMode::off, true));
}

INSTANTIATE_TEST_SUITE_P(Backends, DataParallelFit, ::testing::ValuesIn(available_backends()),
                         [](const auto& info) { return info.param; });

// Records, during training calls, the first feature of every row it sees:
// the sample's index in the data set.
class SampleRecorder : public Layer {
 public:
  SampleRecorder() : Layer("SampleRecorder", "recorder") {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>&,
                           const CallContext& ctx) override {
    if (ctx.training) {
      std::vector<float> v = inputs[0].to_vector<float>();
      std::vector<int64_t> step;
      for (size_t i = 0; i < v.size(); i += 2) step.push_back(static_cast<int64_t>(v[i]));
      steps.push_back(step);
    }
    return {inputs[0]};
  }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& s) const override { return {s[0]}; }
  std::vector<std::vector<int64_t>> steps;  // per batch, the sample indices this rank computed
};

// Every example is used exactly once per epoch; each rank takes a
// contiguous share of each batch; shares are within one example of each
// other; the order is the single-process shuffle.
TEST(DistributedSampler, EverySampleOncePerEpochInContiguousShares) {
  const int64_t N = 21, B = 4;  // 6 batches, the last of 1: one rank has none
  std::vector<float> xv;
  for (int64_t i = 0; i < N; ++i) xv.insert(xv.end(), {static_cast<float>(i), 0.5f});
  Tensor x = Tensor::from_vector(xv, {N, 2});
  Tensor y = Tensor::zeros({N, 1});
  auto in = Input({2}, DType::f32, "in");
  auto recorder = std::make_shared<SampleRecorder>();
  auto out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 1}, "out")((*recorder)(in));
  Model model({in}, {out}, "sampler");
  model.compile({.optimizer = "sgd", .loss = "binary_crossentropy"});
  model.fit(x, y, {.batch_size = B, .epochs = 2, .seed = 5, .verbose = 0,
                   .data_parallel = DataParallelMode::on});
  // What one process sees: the same shuffle, whole batches.
  auto alone_recorder = std::make_shared<SampleRecorder>();
  auto in1 = Input({2}, DType::f32, "in");
  auto out1 = Dense::make({.units = 1, .activation = "sigmoid", .seed = 1}, "out")((*alone_recorder)(in1));
  Model alone({in1}, {out1}, "sampler_alone");
  alone.compile({.optimizer = "sgd", .loss = "binary_crossentropy"});
  alone.fit(x, y, {.batch_size = B, .epochs = 2, .seed = 5, .verbose = 0,
                   .data_parallel = DataParallelMode::off});
  ASSERT_EQ(alone_recorder->steps.size(), 12u);

  // This rank's share of each batch is the contiguous slice
  // [count * r / P, count * (r + 1) / P) of one process's batch; a rank
  // with an empty share computes nothing (the recorder sees no call).
  std::vector<int64_t> mine;
  const size_t batches = alone_recorder->steps.size();
  size_t k = 0;
  const int P = world_size(), r = rank();
  for (size_t b = 0; b < batches; ++b) {
    const int64_t count = static_cast<int64_t>(alone_recorder->steps[b].size());
    const int64_t begin = count * r / P, end = count * (r + 1) / P;
    std::vector<int64_t> expected(alone_recorder->steps[b].begin() + begin,
                                  alone_recorder->steps[b].begin() + end);
    if (expected.empty()) {
      mine.push_back(-1);  // marks "nothing" for the coverage check below
      continue;
    }
    ASSERT_LT(k, recorder->steps.size());
    EXPECT_EQ(recorder->steps[k], expected) << "batch " << b << " on rank " << r;
    mine.insert(mine.end(), recorder->steps[k].begin(), recorder->steps[k].end());
    ++k;
  }
  EXPECT_EQ(k, recorder->steps.size());
  // Over all ranks: each epoch uses every sample exactly once.
  std::multiset<int64_t> seen;
  for (const auto& part : distributed::all_gather(mine))
    for (int64_t i : part)
      if (i >= 0) seen.insert(i);
  for (int64_t i = 0; i < N; ++i) EXPECT_EQ(seen.count(i), 2u) << "sample " << i;
  EXPECT_EQ(seen.size(), static_cast<size_t>(2 * N));
}

// With small buckets, reductions start while backward is still running.
TEST(GradientReducer, StartsBucketsDuringBackward) {
  auto model = bilstm(6, false);
  auto [x, y] = token_data(8, 6, 3);
  Optimizer::zero_grad(model->parameters());
  distributed::GradientReducer reducer(model->parameters(), {.bucket_bytes = 64});
  CallContext ctx;
  ctx.training = true;
  Tensor pred = (*model)({x}, {}, ctx).tensors[0];
  Tensor loss = mean(binary_cross_entropy(pred, y, Reduction::none));
  {
    auto hook = reducer.watch_backward();
    loss.backward();
    EXPECT_GE(reducer.last_step().buckets, 2) << "buckets started before backward returned";
  }
  std::vector<Tensor> local;
  for (const auto& p : model->parameters()) local.push_back(p->grad().clone());
  reducer.finish();
  EXPECT_GT(reducer.last_step().bytes, 0);
  // The reduced gradient is the sum of the ranks' (each rank had the same batch here).
  for (size_t i = 0; i < local.size(); ++i)
    EXPECT_LE(max_abs_difference(model->parameters()[i]->grad(), mul(local[i], 1.0 * world_size())),
              1e-6)
        << model->parameters()[i]->name;
}

// NCCL (LOOM_WITH_NCCL): CUDA tensors are summed on the device, and fit()
// on a GPU model matches fit() alone. One GPU per rank: on a machine with
// one GPU, run it as a 1-rank job (scripts/gpu_check.sh does).
TEST(CudaCollectives, NcclSumsDeviceTensorsAndFitMatchesOneProcess) {
  if (cuda_device_count() < world_size()) GTEST_SKIP() << "needs one GPU per rank";
  const int P = world_size();
  std::vector<Tensor> t{Tensor::from_vector(std::vector<float>{1.0f, 2.0f * rank()}).cuda(rank())};
  distributed::all_reduce(t);
  EXPECT_EQ(t[0].cpu().to_vector<float>(),
            (std::vector<float>{1.0f * P, static_cast<float>(P * (P - 1))}));
  auto gpu_train = [](DataParallelMode mode) {
    auto [x, y] = token_data(20, 6, 4);
    auto model = bilstm(6, false);
    model->to(Device::cuda(rank()));
    model->fit(x, y, {.batch_size = 8, .epochs = 2, .seed = 3, .verbose = 0, .data_parallel = mode});
    return model->get_weights();
  };
  std::vector<Tensor> parallel = gpu_train(DataParallelMode::on), alone = gpu_train(DataParallelMode::off);
  for (size_t i = 0; i < alone.size(); ++i)
    EXPECT_LE(max_abs_difference(parallel[i].cpu(), alone[i].cpu()), 1e-5) << "weight " << i;
}

}  // namespace
}  // namespace loom::test

// MPI's own main: join the group before the tests, leave it after.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  loom::distributed::init();
  // Every rank prints its report (a failure on rank 1 shows there); mpirun
  // returns non-zero when any rank does.
  const int rc = RUN_ALL_TESTS();
  loom::distributed::finalize();
  return rc;
}
