// Splits a range over the CPU threads (OpenMP, sharing its thread count with
// oneDNN when that backend is built). Runs inline when the work is small.
#pragma once

#include "loom/backends/reference/isa_namespace.h"

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace loom::ref {
inline namespace LOOM_ISA_NS {

// fn(begin, end) over [0, n) in chunks of at least `grain` items.
template <typename Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
#ifdef _OPENMP
  int threads = omp_get_max_threads();
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / std::max<int64_t>(grain, 1));
  if (chunks > 1 && !omp_in_parallel()) {
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      fn(begin, end);
    }
    return;
  }
#endif
  fn(int64_t{0}, n);
}

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
