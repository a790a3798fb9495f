// Loops the optimizers' update rules run in (internal to optim/).
//
// An update rule is a lambda over a contiguous element range [begin, end) of
// a parameter and its gradient and slots; for_each_span calls it over the
// whole parameter (split into blocks over OpenMP threads) or over each
// touched row (rows over threads). The lambda's loop body is plain
// arithmetic on T* so the compiler vectorizes it; nothing per element is
// virtual or allocates.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace loom::optim_detail {

// Elements below which a parameter is updated on one thread: thread start-up
// costs more than the work.
constexpr int64_t kParallelGrain = 32768;
// Fixed block size for sums, so the summation order (and thus the norm)
// does not depend on the thread count.
constexpr int64_t kSumBlock = 8192;

inline bool may_spawn_threads(int64_t work) {
#ifdef _OPENMP
  return work >= kParallelGrain && !omp_in_parallel() && omp_get_max_threads() > 1;
#else
  (void)work;
  return false;
#endif
}

// Calls fn(begin, end) over the dense range [0, numel) or, when rows is not
// null, over [r * row_len, (r + 1) * row_len) for each of the nrows rows.
template <typename Fn>
void for_each_span(int64_t numel, int64_t row_len, const int64_t* rows, int64_t nrows, Fn&& fn) {
  if (rows == nullptr) {
    if (!may_spawn_threads(numel)) {
      if (numel > 0) fn(int64_t{0}, numel);
      return;
    }
#ifdef _OPENMP
    const int64_t chunks =
        std::min<int64_t>(omp_get_max_threads(), (numel + kParallelGrain - 1) / kParallelGrain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) fn(numel * c / chunks, numel * (c + 1) / chunks);
#endif
    return;
  }
  if (!may_spawn_threads(nrows * row_len)) {
    for (int64_t i = 0; i < nrows; ++i) fn(rows[i] * row_len, (rows[i] + 1) * row_len);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < nrows; ++i) fn(rows[i] * row_len, (rows[i] + 1) * row_len);
}

// The gradient after clipvalue: min(max(g, -clip), clip). NaN stays NaN, so
// a diverging run still shows it.
template <typename T>
inline T clip_value(T g, T clip) {
  return std::min(std::max(g, -clip), clip);
}

// sum of clip_value(g[i], clip)^2 over the span(s), accumulated in double in
// fixed blocks (deterministic for any thread count).
template <typename T>
double sum_squares(const T* g, T clip, int64_t numel, int64_t row_len, const int64_t* rows,
                   int64_t nrows) {
  auto block_sum = [&](int64_t begin, int64_t end) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = begin; i < end; ++i) {
      double x = static_cast<double>(clip_value(g[i], clip));
      s += x * x;
    }
    return s;
  };
  // Work items: fixed blocks of the dense range, or rows.
  const int64_t items = rows ? nrows : (numel + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(static_cast<size_t>(items), 0.0);
  auto run = [&](int64_t k) {
    if (rows) {
      partial[k] = block_sum(rows[k] * row_len, (rows[k] + 1) * row_len);
    } else {
      partial[k] = block_sum(k * kSumBlock, std::min(numel, (k + 1) * kSumBlock));
    }
  };
  const int64_t work = rows ? nrows * row_len : numel;
  if (may_spawn_threads(work)) {
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < items; ++k) run(k);
  } else {
    for (int64_t k = 0; k < items; ++k) run(k);
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace loom::optim_detail
