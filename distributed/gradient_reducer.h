// Averaging gradients over ranks during backward, as PyTorch's DDP does.
//
// The trainable parameters are packed, in reverse order (roughly the order
// backward finishes them), into buckets of about `bucket_bytes`. While
// backward runs, the tape tells the reducer when each parameter's gradient
// is final (autograd/tape.h, GradientReadyHook); a bucket whose gradients
// are all final is copied into one buffer and its all-reduce starts at once,
// so communication overlaps the rest of backward. Buckets start in the same
// order on every rank (a bucket waits for the one before it), because MPI
// matches collectives by order. finish() starts what is left (a parameter
// with no gradient on this rank counts as zeros: a rank with an empty share
// of the last batch still takes part), waits, and writes the sums back.
//
// The sum is what one process would have computed when each rank's loss is
// its examples' share of the global batch's mean (layers/training/fit.cpp
// divides by the global batch size), so no division happens here.
//
// Embedding gradients (Parameter::row_sparse_gradient, host tensors): the
// rows each rank used (its sparse update's touched_rows, else the nonzero
// rows of its dense gradient) are gathered and only their union is
// reduced, unless it covers more than `dense_fraction` of the table; then
// the whole table is. A batch of 32 IMDB reviews touches ~5% of a
// 20000-word table, so this moves ~10x fewer bytes than the dense table
// (bench/RESULTS.md, "Data-parallel training").
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loom/autograd/parameter.h"
#include "loom/autograd/tape.h"
#include "loom/distributed/distributed.h"

namespace loom::distributed {

struct ReducerOptions {
  int64_t bucket_bytes = 4 << 20;
  double dense_fraction = 0.5;
  // false: every bucket starts after backward (for measuring what the
  // overlap saves).
  bool overlap = true;
};

// What the reductions of one step cost (for benchmarks and the cost model).
struct ReducerStats {
  int64_t bytes = 0;         // bytes reduced (and row ids gathered) per rank this step: the same on every rank
  int buckets = 0;           // reductions started this step (sparse ones included)
  double wait_seconds = 0;   // time finish() waited for reductions to end
};

// Every reducer's steps added up since the process started (benchmarks
// read it around a fit(); bench/distributed_bench.cpp).
struct ReducerTotals {
  int64_t steps = 0;
  int64_t bytes = 0;
  double wait_seconds = 0;
  double finish_seconds = 0;  // all of finish(): starting, waiting, copying back
};
ReducerTotals reducer_totals();

class GradientReducer {
 public:
  explicit GradientReducer(std::vector<ParameterPtr> params, ReducerOptions options = {});
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Watches one backward pass: keep the returned hook alive around backward().
  std::unique_ptr<GradientReadyHook> watch_backward();
  // Starts the buckets not started yet, waits for all, and gives every
  // trainable parameter the sum over ranks of its gradient.
  void finish();
  const ReducerStats& last_step() const { return stats_; }

 private:
  struct Slot {
    ParameterPtr param;
    int bucket = 0;
    int64_t offset = 0;  // in the bucket's buffer, elements
    bool ready = false;
  };
  struct Bucket {
    std::vector<size_t> slots;
    Tensor buffer;  // 1-D, the bucket's gradients end to end
    int ready_count = 0;
    PendingReduce pending;
  };
  void gradient_ready(const TensorImpl& leaf);
  void start_ready_buckets();
  void start(Bucket& b);
  void reduce_rows(Parameter& p);
  void reset();

  ReducerOptions options_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<ParameterPtr> row_sparse_;
  std::unordered_map<const TensorImpl*, size_t> slot_of_;
  size_t next_bucket_ = 0;  // the first bucket not started
  ReducerStats stats_;
};

}  // namespace loom::distributed
