// Fused RNN-step kernels of the CUDA backend: the element-wise work of one
// timestep of SimpleRNN, LSTM and GRU, forward and backward, around the
// caller's GEMMs (backends/backend.h: Backend::rnn_gates_forward/backward).
// The math of each cell is written out in
// backends/reference/rnn_{simple,lstm,gru}_gates.cpp (shared row helpers in
// rnn_gates.h); every step here is the same computation, element by element.
//
// Layout of this file (the reference's split, in one file):
//   1. shared pieces: row views, activations and their derivatives, the
//      kernel arguments, masked-row and state-emitting helpers
//   2. per cell, forward above backward: SimpleRNN, LSTM, GRU
//   3. the two kernels (one thread per unit, all G gates) and the bias sums
//   4. launch shapes and the host launchers
//
// Dimension letters: B batch rows of a step, H units, G gates (SimpleRNN 1,
// LSTM 4 in order i f c o, GRU 3 in order z r h); a gates row is (GH) and
// gate k of unit j sits at column k*H + j; mask (B) with mask_stride.
//
// One thread handles unit j of row b across all G gates, so nothing a
// thread reads is written by another thread (a state may be updated in
// place). Blocks are (cols x rows) threads, cols consecutive units by
// 256/cols row lanes; the grid covers H along x and splits B along y.
// When the call must add the column sums of dA (and dA_rec) into db (and
// db_rec), the grid has one block row (grid.y = 1): each block owns its
// units' columns, each lane sums its rows in registers, and a shared-memory
// tree over the lanes gives one sum per column, added by one thread, so the
// result does not depend on timing.

#include "loom/backends/cuda/rnn_gates_kernels.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "loom/backends/cuda/cuda_launch.h"
#include "loom/backends/cuda/device_math.cuh"

namespace loom::cuda {
namespace {

// ==== 1. shared pieces ====================================================================

// A (B, n) row-major matrix: row b at p + b * ld. Null p = absent.
template <typename T>
struct Rows {
  T* p = nullptr;
  int64_t ld = 0;
  __device__ __forceinline__ T* row(int64_t b) const { return p + b * ld; }
  __device__ __forceinline__ T& at(int64_t b, int64_t j) const { return p[b * ld + j]; }
  __device__ __forceinline__ explicit operator bool() const { return p != nullptr; }
};

template <typename T>
Rows<T> rows_of(const RnnRows& r) {
  return {static_cast<T*>(r.data), r.ld};
}

// 1 / (1 + e^-x), split by sign so exp never overflows.
template <typename T>
__device__ __forceinline__ T sigmoid_value(T x) {
  if (x >= T(0)) return T(1) / (T(1) + m_exp(-x));
  const T e = m_exp(x);
  return e / (T(1) + e);
}

// act(x) for the built-in activations (Keras definitions).
template <typename T>
__device__ __forceinline__ T activate(RnnActivation act, T x) {
  switch (act) {
    case RnnActivation::tanh: return m_tanh(x);
    case RnnActivation::sigmoid: return sigmoid_value(x);
    case RnnActivation::hard_sigmoid:  // clip(0.2 x + 0.5, 0, 1)
      return std_min(T(1), std_max(T(0), mul_add_rn(T(0.2), x, T(0.5))));
    case RnnActivation::relu: return x > T(0) ? x : T(0);
    case RnnActivation::linear: return x;
  }
  return x;
}

// d * act'(.) with act' written in terms of the activation's output y:
//   tanh' = 1 - y^2, sigmoid' = y (1 - y), hard_sigmoid' = 0.2 where 0 < y < 1,
//   relu' = [y > 0], linear' = 1.
template <typename T>
__device__ __forceinline__ T scale_by_derivative(RnnActivation act, T y, T d) {
  switch (act) {
    case RnnActivation::tanh: return d * (T(1) - y * y);
    case RnnActivation::sigmoid: return d * (y * (T(1) - y));
    case RnnActivation::hard_sigmoid: return (y > T(0) && y < T(1)) ? T(0.2) * d : T(0);
    case RnnActivation::relu: return y > T(0) ? d : T(0);
    case RnnActivation::linear: return d;
  }
  return d;
}

template <typename T>
__device__ __forceinline__ bool row_active(const T* mask, int64_t stride, int64_t b) {
  return mask == nullptr || mask[b * stride] != T(0);
}

// The forward kernel's arguments: RnnStepForward's rows as typed views.
// gates (B,GH); hu (B,GH) (GRU reset_before: phase 0 (B,2H), phase 1 (B,H));
// rbias (GH); every other row (B,H).
template <typename T>
struct FwdArgs {
  int64_t B, H;
  int phase;
  bool reset_after, zero_output;
  RnnActivation act, rec_act;
  const T* mask;
  int64_t mask_stride;
  const T* rbias;  // (GH) GRU reset_after's recurrent bias; null = none
  Rows<T> gates, hu, h_prev, hd_prev, c_prev, rec_mask, out_prev;
  Rows<T> h_next, c_next, hd_next, out, act_c, hu_h, rh;
};

// A masked row: states carried over, output = previous output (zeros
// before the first unmasked step, or with zero_output_for_mask).
template <typename T>
__device__ __forceinline__ void forward_masked(const FwdArgs<T>& a, int64_t b, int64_t j) {
  a.h_next.at(b, j) = a.h_prev.at(b, j);
  if (a.c_next) a.c_next.at(b, j) = a.c_prev.at(b, j);
  if (a.hd_next) a.hd_next.at(b, j) = a.hd_prev ? a.hd_prev.at(b, j) : a.h_prev.at(b, j);
  a.out.at(b, j) = (a.zero_output || !a.out_prev) ? T(0) : a.out_prev.at(b, j);
}

// An unmasked row's new state h': state, output and (with recurrent
// dropout) h' * rec_mask for the next step's recurrent product.
template <typename T>
__device__ __forceinline__ void forward_emit(const FwdArgs<T>& a, int64_t b, int64_t j, T h) {
  a.h_next.at(b, j) = h;
  a.out.at(b, j) = h;
  if (a.hd_next) a.hd_next.at(b, j) = a.rec_mask ? h * a.rec_mask.at(b, j) : h;
}

// The backward kernel's arguments: RnnStepBackward's rows as typed views.
// gates, dA, dA_rec (B,GH); db, db_rec (GH); every other row (B,H).
template <typename T>
struct BwdArgs {
  int64_t B, H;
  int phase;
  bool reset_after, zero_output;
  RnnActivation act, rec_act;
  const T* mask;
  int64_t mask_stride;
  Rows<T> gates, h_prev, hd_prev, c_prev, act_c, hu_h;
  Rows<T> dy, dout, dh, dh_rec, rec_mask, dc, dA, dA_rec, drh;
  T* db;      // (GH) += column sums of dA; null = not wanted or not this call
  T* db_rec;  // (GH) += column sums of dA_rec
};

// The start of every backward step for (b, j). The state gradient first
// takes in the next step's recurrent part: dh += rec_mask * dh_rec. A masked
// row then passes dh through unchanged (its states were carried over) and
// hands dy to the previous output via dout unless outputs were zeroed, and
// returns false (the caller zeroes dA). An unmasked row gets
//   dnew = d(state) + d(output) = dh + dy + dout   (and dout is consumed).
template <typename T>
__device__ __forceinline__ bool backward_begin(const BwdArgs<T>& a, int64_t b, int64_t j,
                                               T& dnew) {
  T& dh = a.dh.at(b, j);
  if (a.dh_rec) {
    const T dr = a.dh_rec.at(b, j);
    dh += a.rec_mask ? a.rec_mask.at(b, j) * dr : dr;
  }
  if (!row_active(a.mask, a.mask_stride, b)) {
    if (a.dout) {
      if (a.zero_output) a.dout.at(b, j) = T(0);
      else if (a.dy) a.dout.at(b, j) += a.dy.at(b, j);
    }
    return false;
  }
  dnew = dh;
  if (a.dy) dnew += a.dy.at(b, j);
  if (a.dout) {
    T& dout = a.dout.at(b, j);
    dnew += dout;
    dout = T(0);
  }
  return true;
}

// ==== 2. cells: forward, then backward ====================================================
//
// Each backward_* writes its outputs for (b, j) and returns the final dA
// (and dA_rec) values of unit j's G gate columns, for the bias sums.

// ---- SimpleRNN -----------------------------------------------------------------------------

// SimpleRNN:  h' = act(x W + b + h_d U); the gates row keeps h' (saved).
// gates (B,H) in: x W + b, out: h'; hu (B,H) h_d U.
template <typename T>
__device__ __forceinline__ void simple_forward(const FwdArgs<T>& a, int64_t b, int64_t j) {
  if (!row_active(a.mask, a.mask_stride, b)) return forward_masked(a, b, j);
  T& g = a.gates.at(b, j);
  const T h = activate(a.act, g + a.hu.at(b, j));
  g = h;
  forward_emit(a, b, j, h);
}

// SimpleRNN:  dA = dnew * act'(h'); h reaches the step before only through
// h U (the caller's GEMM), so dh = 0. dA (B,H).
template <typename T>
__device__ __forceinline__ void simple_backward(const BwdArgs<T>& a, int64_t b, int64_t j,
                                                T (&da)[4], T (&)[3]) {
  T dnew;
  if (!backward_begin(a, b, j, dnew)) {
    da[0] = T(0);
    a.dA.at(b, j) = T(0);
    return;
  }
  da[0] = scale_by_derivative(a.act, a.gates.at(b, j), dnew);
  a.dA.at(b, j) = da[0];
  a.dh.at(b, j) = T(0);
}

// ---- LSTM ----------------------------------------------------------------------------------

// LSTM:  i = ra(a_i)  f = ra(a_f)  g = act(a_c)  o = ra(a_o)
//        c' = f * c + i * g        h' = o * act(c')
// Saved: the activated gates (in place of a) and act(c').
// gates (B,4H) in: x W + b, out: [i f g o] (Keras order i, f, c, o);
// hu (B,4H) h_d U; c_prev, c_next, act_c (B,H).
template <typename T>
__device__ __forceinline__ void lstm_forward(const FwdArgs<T>& a, int64_t b, int64_t j) {
  if (!row_active(a.mask, a.mask_stride, b)) return forward_masked(a, b, j);
  const int64_t H = a.H;
  T* g = a.gates.row(b);
  const T* u = a.hu.row(b);
  const T i = activate(a.rec_act, g[j] + u[j]);
  const T f = activate(a.rec_act, g[H + j] + u[H + j]);
  const T gg = activate(a.act, g[2 * H + j] + u[2 * H + j]);
  const T o = activate(a.rec_act, g[3 * H + j] + u[3 * H + j]);
  g[j] = i;
  g[H + j] = f;
  g[2 * H + j] = gg;
  g[3 * H + j] = o;
  const T c = f * a.c_prev.at(b, j) + i * gg;
  a.c_next.at(b, j) = c;
  const T ac = activate(a.act, c);
  a.act_c.at(b, j) = ac;
  forward_emit(a, b, j, o * ac);
}

// LSTM:  do  = dnew * act(c')
//        dc' = dc + dnew * o * act'(c')        (dc: from the next step's f * c)
//        di = dc' g   df = dc' c   dg = dc' i   dc_prev = dc' f
//        dA = [di ra'(i), df ra'(f), dg act'(g), do ra'(o)];  dh = 0.
// A masked row passes dc through unchanged. dA (B,4H); dc (B,H) in: from
// the next step, out: dc_prev.
template <typename T>
__device__ __forceinline__ void lstm_backward(const BwdArgs<T>& a, int64_t b, int64_t j,
                                              T (&da)[4], T (&)[3]) {
  const int64_t H = a.H;
  T* dA = a.dA.row(b);
  T dnew;
  if (!backward_begin(a, b, j, dnew)) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      da[k] = T(0);
      dA[k * H + j] = T(0);
    }
    return;
  }
  const T* g = a.gates.row(b);
  const T i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
  const T ac = a.act_c.at(b, j);
  const T dac = scale_by_derivative(a.act, ac, dnew * o);
  const T d_o = dnew * ac;
  T& dc = a.dc.at(b, j);
  const T dct = dc + dac;
  const T di = dct * gg, df = dct * a.c_prev.at(b, j), dg = dct * i;
  dc = dct * f;
  da[0] = scale_by_derivative(a.rec_act, i, di);
  da[1] = scale_by_derivative(a.rec_act, f, df);
  da[2] = scale_by_derivative(a.act, gg, dg);
  da[3] = scale_by_derivative(a.rec_act, o, d_o);
#pragma unroll
  for (int k = 0; k < 4; ++k) dA[k * H + j] = da[k];
  a.dh.at(b, j) = T(0);
}

// ---- GRU -----------------------------------------------------------------------------------

// GRU, reset_after:  z = ra(ax_z + ah_z)  r = ra(ax_r + ah_r)  hh = act(ax_h + r * ah_h)
//                    with ah = h_d U + br; ah_h saved in hu_h.
// GRU, reset_before: phase 0 (every row, masked or not: rh feeds a GEMM)
//                    z = ra(ax_z + h_d U_z)  r = ra(ax_r + h_d U_r)  rh = r * h_d;
//                    phase 1: hh = act(ax_h + rh U_h).
// Both:              h' = z * h + (1 - z) * hh.
// gates (B,3H) in: ax, out: [z r hh] (Keras order z, r, h); hu (B,3H) h_d U
// (reset_before: phase 0 (B,2H) h_d U_zr, phase 1 (B,H) rh U_h); rbias (3H)
// br; hu_h (B,H) ah_h (reset_after); rh (B,H) r * h_d (reset_before).
template <typename T>
__device__ __forceinline__ void gru_forward(const FwdArgs<T>& a, int64_t b, int64_t j) {
  const int64_t H = a.H;
  T* g = a.gates.row(b);
  const T* u = a.hu.row(b);
  if (!a.reset_after && a.phase == 0) {
    const T z = activate(a.rec_act, g[j] + u[j]);
    const T r = activate(a.rec_act, g[H + j] + u[H + j]);
    g[j] = z;
    g[H + j] = r;
    a.rh.at(b, j) = r * a.hd_prev.at(b, j);
    return;
  }
  if (!row_active(a.mask, a.mask_stride, b)) return forward_masked(a, b, j);
  T z, ah_pre;
  if (a.reset_after) {
    const T* br = a.rbias;
    T r, ah;
    if (br) {
      z = activate(a.rec_act, g[j] + (u[j] + br[j]));
      r = activate(a.rec_act, g[H + j] + (u[H + j] + br[H + j]));
      ah = u[2 * H + j] + br[2 * H + j];
    } else {
      z = activate(a.rec_act, g[j] + u[j]);
      r = activate(a.rec_act, g[H + j] + u[H + j]);
      ah = u[2 * H + j];
    }
    a.hu_h.at(b, j) = ah;
    g[j] = z;
    g[H + j] = r;
    ah_pre = g[2 * H + j] + r * ah;
  } else {  // phase 1: u = (r * h_d) U_h, (B,H)
    z = g[j];
    ah_pre = g[2 * H + j] + u[j];
  }
  const T hh = activate(a.act, ah_pre);
  g[2 * H + j] = hh;
  const T h = z * a.h_prev.at(b, j) + (T(1) - z) * hh;
  forward_emit(a, b, j, h);
}

// GRU:  dz = dnew (h - hh)   dhh = dnew (1 - z)   dh (direct) = dnew z
//       dA_z = dz ra'(z)     dA_h = dhh act'(hh)
// reset_after:  dr = dA_h ah_h;  dA_r = dr ra'(r);
//               dA = [dA_z, dA_r, dA_h],  dA_rec = [dA_z, dA_r, r dA_h]
// reset_before: phase 0 writes dA = [dA_z, 0, dA_h]; phase 1 (every row;
//               masked rows have drh = 0) gets drh = dA_h U_h^T:
//               dA_r = (drh h_d) ra'(r),  dh_rec = r drh  (the caller's GEMM
//               adds dA_zr U_zr^T to it).
// dA (B,3H); dA_rec (B,3H) (reset_after); drh, dh_rec (B,H) (reset_before).
template <typename T>
__device__ __forceinline__ void gru_backward(const BwdArgs<T>& a, int64_t b, int64_t j,
                                             T (&da)[4], T (&dar)[3]) {
  const int64_t H = a.H;
  const T* g = a.gates.row(b);
  T* dA = a.dA.row(b);
  if (!a.reset_after && a.phase == 1) {
    const T drh = a.drh.at(b, j);
    const T r = g[H + j];
    da[1] = scale_by_derivative(a.rec_act, r, drh * a.hd_prev.at(b, j));
    dA[H + j] = da[1];
    a.dh_rec.at(b, j) = drh * r;
    if (a.db) {  // phase 0 wrote the other gates; the sums need the whole row
      da[0] = dA[j];
      da[2] = dA[2 * H + j];
    }
    return;
  }
  T dnew;
  if (!backward_begin(a, b, j, dnew)) {
#pragma unroll
    for (int k = 0; k < 3; ++k) {
      da[k] = dar[k] = T(0);
      dA[k * H + j] = T(0);
      if (a.dA_rec) a.dA_rec.at(b, k * H + j) = T(0);
    }
    return;
  }
  const T z = g[j], r = g[H + j], hh = g[2 * H + j];
  T dz = dnew * (a.h_prev.at(b, j) - hh);
  const T dhh = scale_by_derivative(a.act, hh, dnew * (T(1) - z));
  a.dh.at(b, j) = dnew * z;
  if (a.reset_after) {
    const T dr = dhh * a.hu_h.at(b, j);
    da[0] = scale_by_derivative(a.rec_act, z, dz);
    da[1] = scale_by_derivative(a.rec_act, r, dr);
    da[2] = dhh;
    dar[0] = da[0];
    dar[1] = da[1];
    dar[2] = dhh * r;
    if (a.dA_rec) {
#pragma unroll
      for (int k = 0; k < 3; ++k) a.dA_rec.at(b, k * H + j) = dar[k];
    }
  } else {
    da[0] = scale_by_derivative(a.rec_act, z, dz);
    da[1] = T(0);  // dA_r comes in phase 1
    da[2] = dhh;
  }
#pragma unroll
  for (int k = 0; k < 3; ++k) dA[k * H + j] = da[k];
}

// ==== 3. kernels ==========================================================================

template <typename T, RnnCellKind Cell>
__global__ void __launch_bounds__(kThreads) rnn_forward_kernel(FwdArgs<T> a) {
  const int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (j >= a.H) return;
  for (int64_t b = blockIdx.y * int64_t{blockDim.y} + threadIdx.y; b < a.B;
       b += int64_t{gridDim.y} * blockDim.y) {
    if constexpr (Cell == RnnCellKind::simple_rnn) simple_forward(a, b, j);
    else if constexpr (Cell == RnnCellKind::lstm) lstm_forward(a, b, j);
    else gru_forward(a, b, j);
  }
}

// target += the sum of v over the block's row lanes (threadIdx.y) of column
// threadIdx.x; blockDim.y is a power of two. Every thread of the block calls it.
template <typename T>
__device__ __forceinline__ void add_lane_sum(T* red, T v, T* target, bool col_ok) {
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x;
  red[ty * bx + tx] = v;
  __syncthreads();
  for (int s = blockDim.y / 2; s > 0; s >>= 1) {
    if (ty < s) red[ty * bx + tx] += red[(ty + s) * bx + tx];
    __syncthreads();
  }
  if (ty == 0 && col_ok) *target += red[tx];
  __syncthreads();  // red is reused by the next call
}

template <typename T, RnnCellKind Cell>
__global__ void __launch_bounds__(kThreads) rnn_backward_kernel(BwdArgs<T> a) {
  constexpr int G = Cell == RnnCellKind::lstm ? 4 : Cell == RnnCellKind::gru ? 3 : 1;
  const int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const bool col_ok = j < a.H;
  T sum_da[G], sum_dar[G];
#pragma unroll
  for (int k = 0; k < G; ++k) sum_da[k] = sum_dar[k] = T(0);
  if (col_ok) {
    for (int64_t b = blockIdx.y * int64_t{blockDim.y} + threadIdx.y; b < a.B;
         b += int64_t{gridDim.y} * blockDim.y) {
      T da[4] = {}, dar[3] = {};
      if constexpr (Cell == RnnCellKind::simple_rnn) simple_backward(a, b, j, da, dar);
      else if constexpr (Cell == RnnCellKind::lstm) lstm_backward(a, b, j, da, dar);
      else gru_backward(a, b, j, da, dar);
#pragma unroll
      for (int k = 0; k < G; ++k) {
        sum_da[k] += da[k];
        if constexpr (G == 3) sum_dar[k] += dar[k];
      }
    }
  }
  // Bias sums (the host launches a single block row when they are wanted).
  // a.db / a.db_rec are kernel arguments, so the whole block takes the same
  // branches and reaches the same barriers.
  if (!a.db && !a.db_rec) return;
  __shared__ T red[kThreads];
#pragma unroll
  for (int k = 0; k < G; ++k) {
    if (a.db) add_lane_sum(red, sum_da[k], a.db + k * a.H + j, col_ok);
    if (a.db_rec) add_lane_sum(red, sum_dar[k], a.db_rec + k * a.H + j, col_ok);
  }
}

// ==== 4. launch shapes and launchers ======================================================

// The block shape (cols units x 256/cols row lanes) and grid for B x H.
// With bias sums the grid has one block row, so narrower blocks are used
// for smaller H to keep more blocks busy.
void rnn_launch_shape(int64_t B, int64_t H, bool sums, dim3& grid, dim3& block) {
  int cols;
  if (sums) cols = H >= 2048 ? 32 : H >= 512 ? 16 : 8;
  else cols = H > 16 ? 32 : H > 8 ? 16 : 8;
  block = dim3(static_cast<unsigned>(cols), static_cast<unsigned>(kThreads / cols));
  const int64_t gx = (H + cols - 1) / cols;
  int64_t gy = 1;
  if (!sums) {
    gy = (B + block.y - 1) / block.y;
    gy = std::clamp<int64_t>(gy, 1, std::max<int64_t>(1, 2 * kMaxBlocks / gx));
    gy = std::min<int64_t>(gy, 65535);
  }
  grid = dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
}

void check_step(const RnnDesc& d, const char* kernel) {
  LOOM_CHECK(d.dtype == DType::f32 || d.dtype == DType::f64,
             "cuda backend {} ({}): expected f32 or f64, got {}", kernel,
             rnn_cell_kind_name(d.cell), dtype_name(d.dtype));
  LOOM_CHECK(d.B >= 0 && d.H > 0, "cuda backend {} ({}): bad sizes B={} H={}", kernel,
             rnn_cell_kind_name(d.cell), d.B, d.H);
}

}  // namespace

void rnn_gates_forward(cudaStream_t stream, const RnnDesc& d, const RnnStepForward& s) {
  check_step(d, "rnn_gates_forward");
  dispatch_floating(d.dtype, "rnn_gates_forward", [&](auto tag) {
    using T = decltype(tag);
    if (d.B == 0) return;
    FwdArgs<T> a;
    a.B = d.B;
    a.H = d.H;
    a.phase = s.phase;
    a.reset_after = d.reset_after;
    a.zero_output = d.zero_output_for_mask;
    a.act = d.activation;
    a.rec_act = d.recurrent_activation;
    a.mask = static_cast<const T*>(s.mask);
    a.mask_stride = s.mask_stride;
    a.rbias = static_cast<const T*>(s.recurrent_bias);
    a.gates = rows_of<T>(s.gates);
    a.hu = rows_of<T>(s.hu);
    a.h_prev = rows_of<T>(s.h_prev);
    a.hd_prev = rows_of<T>(s.hd_prev);
    a.c_prev = rows_of<T>(s.c_prev);
    a.rec_mask = rows_of<T>(s.rec_mask);
    a.out_prev = rows_of<T>(s.out_prev);
    a.h_next = rows_of<T>(s.h_next);
    a.c_next = rows_of<T>(s.c_next);
    a.hd_next = rows_of<T>(s.hd_next);
    a.out = rows_of<T>(s.out);
    a.act_c = rows_of<T>(s.act_c);
    a.hu_h = rows_of<T>(s.hu_h);
    a.rh = rows_of<T>(s.rh);
    dim3 grid, block;
    rnn_launch_shape(d.B, d.H, false, grid, block);
    switch (d.cell) {
      case RnnCellKind::simple_rnn:
        rnn_forward_kernel<T, RnnCellKind::simple_rnn><<<grid, block, 0, stream>>>(a);
        break;
      case RnnCellKind::lstm:
        rnn_forward_kernel<T, RnnCellKind::lstm><<<grid, block, 0, stream>>>(a);
        break;
      case RnnCellKind::gru:
        rnn_forward_kernel<T, RnnCellKind::gru><<<grid, block, 0, stream>>>(a);
        break;
    }
    check_launch("rnn_gates_forward");
  });
}

void rnn_gates_backward(cudaStream_t stream, const RnnDesc& d, const RnnStepBackward& s) {
  check_step(d, "rnn_gates_backward");
  dispatch_floating(d.dtype, "rnn_gates_backward", [&](auto tag) {
    using T = decltype(tag);
    if (d.B == 0) return;  // no rows: nothing to write and nothing to add to db
    // The call that completes dA adds the bias sums: phase 1 for GRU
    // reset_before, phase 0 otherwise.
    const bool completes_dA = (d.cell == RnnCellKind::gru && !d.reset_after) == (s.phase == 1);
    BwdArgs<T> a;
    a.B = d.B;
    a.H = d.H;
    a.phase = s.phase;
    a.reset_after = d.reset_after;
    a.zero_output = s.zero_output_for_mask;
    a.act = d.activation;
    a.rec_act = d.recurrent_activation;
    a.mask = static_cast<const T*>(s.mask);
    a.mask_stride = s.mask_stride;
    a.gates = rows_of<T>(s.gates);
    a.h_prev = rows_of<T>(s.h_prev);
    a.hd_prev = rows_of<T>(s.hd_prev);
    a.c_prev = rows_of<T>(s.c_prev);
    a.act_c = rows_of<T>(s.act_c);
    a.hu_h = rows_of<T>(s.hu_h);
    a.dy = rows_of<T>(s.dy);
    a.dout = rows_of<T>(s.dout);
    a.dh = rows_of<T>(s.dh);
    a.dh_rec = rows_of<T>(s.dh_rec);
    a.rec_mask = rows_of<T>(s.rec_mask);
    a.dc = rows_of<T>(s.dc);
    a.dA = rows_of<T>(s.dA);
    a.dA_rec = rows_of<T>(s.dA_rec);
    a.drh = rows_of<T>(s.drh);
    a.db = completes_dA ? static_cast<T*>(s.db) : nullptr;
    a.db_rec = completes_dA ? static_cast<T*>(s.db_rec) : nullptr;
    dim3 grid, block;
    rnn_launch_shape(d.B, d.H, a.db || a.db_rec, grid, block);
    switch (d.cell) {
      case RnnCellKind::simple_rnn:
        rnn_backward_kernel<T, RnnCellKind::simple_rnn><<<grid, block, 0, stream>>>(a);
        break;
      case RnnCellKind::lstm:
        rnn_backward_kernel<T, RnnCellKind::lstm><<<grid, block, 0, stream>>>(a);
        break;
      case RnnCellKind::gru:
        rnn_backward_kernel<T, RnnCellKind::gru><<<grid, block, 0, stream>>>(a);
        break;
    }
    check_launch("rnn_gates_backward");
  });
}

}  // namespace loom::cuda
