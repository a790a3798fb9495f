// Model::fit across processes (data parallelism, as PyTorch's DDP): every
// rank holds the whole model and takes a contiguous share of each global
// batch; gradients are summed over ranks during backward
// (distributed/gradient_reducer.h) before every optimizer step, so the
// replicas stay equal and P processes with global batch B train the weights
// one process with batch B would (up to summation order). Internal to
// layers/training/ (fit.cpp).
#pragma once

#include <memory>
#include <vector>

#include "loom/distributed/gradient_reducer.h"
#include "loom/layers/training/metrics.h"
#include "loom/layers/training/model.h"

namespace loom {

// This rank's rows of a global batch of `count`: [begin, begin + count).
// Shares differ by at most one row; with fewer rows than ranks some are empty.
struct BatchShare {
  int64_t begin = 0;
  int64_t count = 0;
};

class DataParallel {
 public:
  // Off: a group of one, every call below is the single-process behaviour.
  DataParallel() = default;
  // Joins the process group (distributed::init) when `mode` asks for it
  // (automatic: launched by mpirun with several processes), checks that
  // every rank has the same model and data, builds the model if it is
  // not yet (from the first sample), and gives every rank rank 0's weights.
  static DataParallel start(Model& model, DataParallelMode mode,
                            const distributed::ReducerOptions& reducer,
                            const std::vector<Tensor>& train_x, int64_t n_train,
                            int64_t batch_size, uint64_t seed);

  bool on() const { return on_; }
  int rank() const { return rank_; }
  int world_size() const { return size_; }
  BatchShare share(int64_t count) const;
  // The hook that starts reductions during backward (null when off), and
  // the wait for them after.
  std::unique_ptr<GradientReadyHook> watch_backward();
  void finish_gradients();
  // Sum over ranks of a value, or of metrics' running totals (in place).
  double sum(double value) const;
  void sum_states(const std::vector<Metric*>& metrics) const;

 private:
  bool on_ = false;
  int rank_ = 0, size_ = 1;
  std::shared_ptr<distributed::GradientReducer> reducer_;
};

}  // namespace loom
