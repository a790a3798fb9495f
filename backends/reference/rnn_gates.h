// Shared pieces of the reference backend's fused RNN step kernels
// (rnn_simple_gates.cpp, rnn_lstm_gates.cpp, rnn_gru_gates.cpp).
//
// Dimension letters: B batch rows of a step, H units, G gates (GH = G*H).
// Every kernel works row by row: a row's mask value decides, once, whether
// the row runs the cell or carries its states over, so the inner loops over
// H are branch-free and vectorizable.
#pragma once

#include "loom/backends/reference/isa_namespace.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "loom/backends/backend.h"
#include "loom/backends/reference/parallel.h"
#include "loom/backends/reference/vmath.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {

// ---- activations over a contiguous run of n values --------------------------------
//
// f32 uses the branch-free exp, tanh and sigmoid of vmath.h, which the
// compiler vectorizes: libm calls cannot be vectorized without -ffast-math,
// and the gates' transcendentals would otherwise cost as much as the
// recurrent GEMM. f64 (the gradient checks) uses libm.

using vmath::exp_f32;
using vmath::sigmoid_f32;
using vmath::tanh_f32;

template <typename T>
inline T sigmoid_value(T x) {
  // Split by sign so exp never overflows.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
inline T tanh_value(T x) {
  if constexpr (std::is_same_v<T, float>) return tanh_f32(x);
  else return std::tanh(x);
}

template <typename T>
inline T sigmoid_fast(T x) {
  if constexpr (std::is_same_v<T, float>) return sigmoid_f32(x);
  else return sigmoid_value(x);
}

// p[0:n] = act(p[0:n]) in place. The switch sits outside the loop so each
// loop body is a single expression.
template <typename T>
void activate(RnnActivation act, T* __restrict p, int64_t n) {
  switch (act) {
    case RnnActivation::tanh:
      for (int64_t i = 0; i < n; ++i) p[i] = tanh_value(p[i]);
      return;
    case RnnActivation::sigmoid:
      for (int64_t i = 0; i < n; ++i) p[i] = sigmoid_fast(p[i]);
      return;
    case RnnActivation::hard_sigmoid:
      for (int64_t i = 0; i < n; ++i) p[i] = std::min(T(1), std::max(T(0), T(0.2) * p[i] + T(0.5)));
      return;
    case RnnActivation::relu:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] > T(0) ? p[i] : T(0);
      return;
    case RnnActivation::linear:
      return;
  }
}

// d[0:n] *= act'(.) expressed with the activation's output y[0:n]:
//   tanh' = 1 - y^2, sigmoid' = y (1 - y), hard_sigmoid' = 0.2 where 0 < y < 1,
//   relu' = [y > 0], linear' = 1.
template <typename T>
void scale_by_derivative(RnnActivation act, const T* __restrict y, T* __restrict d, int64_t n) {
  switch (act) {
    case RnnActivation::tanh:
      for (int64_t i = 0; i < n; ++i) d[i] *= T(1) - y[i] * y[i];
      return;
    case RnnActivation::sigmoid:
      for (int64_t i = 0; i < n; ++i) d[i] *= y[i] * (T(1) - y[i]);
      return;
    case RnnActivation::hard_sigmoid:
      for (int64_t i = 0; i < n; ++i) d[i] = (y[i] > T(0) && y[i] < T(1)) ? T(0.2) * d[i] : T(0);
      return;
    case RnnActivation::relu:
      for (int64_t i = 0; i < n; ++i) d[i] = y[i] > T(0) ? d[i] : T(0);
      return;
    case RnnActivation::linear:
      return;
  }
}

// ---- per-row helpers -----------------------------------------------------------------

// Whether row b of the step is unmasked (no mask: every row is).
template <typename T>
inline bool row_active(const void* mask, int64_t stride, int64_t b) {
  return mask == nullptr || static_cast<const T*>(mask)[b * stride] != T(0);
}

// The masked-row half of every forward kernel: states carried over, output
// = previous output (zeros before the first unmasked step) or zeros.
template <typename T>
void forward_masked_row(const RnnStepForward& s, int64_t b, int64_t H, bool zero_output) {
  std::copy_n(s.h_prev.row<T>(b), H, s.h_next.row<T>(b));
  if (s.c_next) std::copy_n(s.c_prev.row<T>(b), H, s.c_next.row<T>(b));
  if (s.hd_next) std::copy_n(s.hd_prev.row<T>(b), H, s.hd_next.row<T>(b));
  T* out = s.out.row<T>(b);
  if (zero_output || !s.out_prev) std::fill_n(out, H, T(0));
  else if (s.out_prev.row<T>(b) != out) std::copy_n(s.out_prev.row<T>(b), H, out);
}

// The unmasked-row tail of every forward kernel: h' into the state, the
// output and (with recurrent dropout) the dropped state for the next matmul.
template <typename T>
void forward_emit_row(const RnnStepForward& s, int64_t b, const T* __restrict h, int64_t H) {
  T* hn = s.h_next.row<T>(b);
  T* out = s.out.row<T>(b);
  if (hn != h) std::copy_n(h, H, hn);
  std::copy_n(h, H, out);
  if (s.hd_next) {
    const T* m = s.rec_mask.row<T>(b);
    T* hd = s.hd_next.row<T>(b);
    for (int64_t j = 0; j < H; ++j) hd[j] = h[j] * m[j];
  }
}

// The start of every backward kernel for row b. A masked row passes the
// state gradient through unchanged (states were carried over) and hands its
// output gradient to the previous output unless outputs were zeroed; it
// returns false and the caller zeroes the row's dA. An unmasked row gets
// dnew = d(state) + d(output) for the h' it produced, in `dnew`.
//   d(state) = dh + rec_mask * dh_rec      d(output) = dy + dout
template <typename T>
bool backward_begin_row(const RnnStepBackward& s, int64_t b, int64_t H, T* __restrict dnew,
                        const void* mask) {
  T* dh = s.dh.row<T>(b);
  if (s.dh_rec) {
    const T* dr = s.dh_rec.row<T>(b);
    if (s.rec_mask) {
      const T* m = s.rec_mask.row<T>(b);
      for (int64_t j = 0; j < H; ++j) dh[j] += m[j] * dr[j];
    } else {
      for (int64_t j = 0; j < H; ++j) dh[j] += dr[j];
    }
  }
  const bool active = row_active<T>(mask, s.mask_stride, b);
  T* dout = s.dout ? s.dout.row<T>(b) : nullptr;
  const T* dy = s.dy ? s.dy.row<T>(b) : nullptr;
  if (!active) {
    // dh stays: the state before the step is the state after it.
    if (dout) {
      if (s.zero_output_for_mask) std::fill_n(dout, H, T(0));
      else if (dy) for (int64_t j = 0; j < H; ++j) dout[j] += dy[j];
    }
    return false;
  }
  for (int64_t j = 0; j < H; ++j) dnew[j] = dh[j];
  if (dy) for (int64_t j = 0; j < H; ++j) dnew[j] += dy[j];
  if (dout) {
    for (int64_t j = 0; j < H; ++j) dnew[j] += dout[j];
    std::fill_n(dout, H, T(0));
  }
  return true;
}

// Rows per parallel chunk: enough element-wise work (about 16k values) to be
// worth a thread.
inline int64_t rows_grain(int64_t row_width) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(row_width, 1));
}

// Per-cell kernels (one file each), dispatched by rnn_gates.cpp.
template <typename T> void simple_rnn_step_forward(const RnnDesc& d, const RnnStepForward& s);
template <typename T> void simple_rnn_step_backward(const RnnDesc& d, const RnnStepBackward& s);
template <typename T> void lstm_step_forward(const RnnDesc& d, const RnnStepForward& s);
template <typename T> void lstm_step_backward(const RnnDesc& d, const RnnStepBackward& s);
template <typename T> void gru_step_forward(const RnnDesc& d, const RnnStepForward& s);
template <typename T> void gru_step_backward(const RnnDesc& d, const RnnStepBackward& s);
}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
