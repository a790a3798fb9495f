// N-dimensional iteration over several same-shaped strided views, used by the
// reference backend's element-wise kernels. Dimensions that can be merged are
// merged first, so contiguous (and broadcast-contiguous) inputs become one
// flat inner loop that the compiler vectorizes.
#pragma once

#include "loom/backends/reference/isa_namespace.h"

#include <array>
#include <cstdint>

#include "loom/backends/reference/parallel.h"
#include "loom/backends/types.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {

template <size_t N>
struct LoopShape {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

// Drops size-1 dims and merges adjacent dims whose strides line up in every view.
template <size_t N>
LoopShape<N> coalesce(const std::array<const StridedView*, N>& views) {
  LoopShape<N> ls;
  const StridedView& v0 = *views[0];
  for (int d = 0; d < v0.ndim; ++d) {
    if (v0.shape[d] == 1) continue;
    bool merge = ls.ndim > 0;
    for (size_t k = 0; k < N && merge; ++k)
      merge = ls.strides[k][ls.ndim - 1] == views[k]->strides[d] * v0.shape[d];
    if (merge) {
      ls.shape[ls.ndim - 1] *= v0.shape[d];
      for (size_t k = 0; k < N; ++k) ls.strides[k][ls.ndim - 1] = views[k]->strides[d];
    } else {
      ls.shape[ls.ndim] = v0.shape[d];
      for (size_t k = 0; k < N; ++k) ls.strides[k][ls.ndim] = views[k]->strides[d];
      ++ls.ndim;
    }
  }
  if (ls.ndim == 0) {  // a scalar: one element
    ls.ndim = 1;
    ls.shape[0] = 1;
    for (size_t k = 0; k < N; ++k) ls.strides[k][0] = 0;
  }
  return ls;
}

// Calls inner(ptrs, strides, n) for each innermost row: ptrs[k] points at the
// row's first element of view k (as char*), strides[k] is in elements and n is
// the row length. Rows are distributed over threads when there is enough work.
template <size_t N, typename Inner>
void for_each_row(const std::array<const StridedView*, N>& views,
                  const std::array<size_t, N>& elem_size, Inner&& inner) {
  LoopShape<N> ls = coalesce<N>(views);
  const int nd = ls.ndim;
  const int64_t row_len = ls.shape[nd - 1];
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= ls.shape[d];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = ls.strides[k][nd - 1];

  auto run_rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      std::array<char*, N> ptrs;
      for (size_t k = 0; k < N; ++k) ptrs[k] = static_cast<char*>(views[k]->data);
      int64_t rem = r;
      for (int d = nd - 2; d >= 0; --d) {
        int64_t idx = rem % ls.shape[d];
        rem /= ls.shape[d];
        for (size_t k = 0; k < N; ++k)
          ptrs[k] += idx * ls.strides[k][d] * static_cast<int64_t>(elem_size[k]);
      }
      inner(ptrs, inner_stride, row_len);
    }
  };
  if (rows == 1) {
    // One long row: split it into chunks instead.
    parallel_for(row_len, 32768, [&](int64_t begin, int64_t end) {
      std::array<char*, N> ptrs;
      for (size_t k = 0; k < N; ++k)
        ptrs[k] = static_cast<char*>(views[k]->data) +
                  begin * inner_stride[k] * static_cast<int64_t>(elem_size[k]);
      inner(ptrs, inner_stride, end - begin);
    });
    return;
  }
  // Threads only pay off past roughly 32k elements of element-wise work.
  parallel_for(rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, row_len)), run_rows);
}

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
