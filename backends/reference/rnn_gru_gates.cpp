// GRU: the fused element-wise work of one timestep (reference backend).
//
// Dimension letters: B batch rows, H units, G = 3 gates in Keras order
// z, r, h (a gates row is (3H): [z | r | hh]).
//   reset_after (Keras default; cuDNN, PyTorch), bias rows bi (input), br (recurrent):
//     ax = x W + bi,  ah = h_d U + br                      (the caller's GEMMs)
//     z = ra(ax_z + ah_z)   r = ra(ax_r + ah_r)   hh = act(ax_h + r * ah_h)
//   reset_before (reset_after = false), one bias b:
//     ax = x W + b
//     z = ra(ax_z + h_d U_z)   r = ra(ax_r + h_d U_r)   hh = act(ax_h + (r * h_d) U_h)
//     the last product needs r, so each step runs in two phases around it.
//   both:  h' = z * h + (1 - z) * hh       (h un-dropped: docs/SEMANTICS.md)
// Saved for backward: the activated gates (in place of ax), and ah_h
// (reset_after) or r * h_d (reset_before).
#include <vector>

#include "loom/backends/reference/rnn_gates.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {
namespace {

// h' = z * h + (1 - z) * hh into h_next, then output and dropped state.
template <typename T>
void gru_emit(const RnnStepForward& s, int64_t b, const T* __restrict g, int64_t H) {
  const T* __restrict hp = s.h_prev.row<T>(b);
  T* __restrict hn = s.h_next.row<T>(b);
  for (int64_t j = 0; j < H; ++j) hn[j] = g[j] * hp[j] + (T(1) - g[j]) * g[2 * H + j];
  ref::forward_emit_row<T>(s, b, hn, H);
}

}  // namespace

// gates (B,3H) in: ax, out: [z r hh] (saved); hu (B,3H) h_d U (reset_before:
// phase 0 (B,2H) h_d U_zr, phase 1 (B,H) rh U_h); recurrent_bias (3H) br;
// h_prev, hd_prev (B,H); out_prev/out, h_next, hd_next (B,H);
// hu_h (B,H) ah_h (reset_after), rh (B,H) r * h_d (reset_before phase 0).
template <typename T>
void gru_step_forward(const RnnDesc& d, const RnnStepForward& s) {
  const int64_t H = d.H;
  const T* br = static_cast<const T*>(s.recurrent_bias);
  ref::parallel_for(d.B, ref::rows_grain(3 * H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* __restrict g = s.gates.row<T>(b);
      const T* __restrict u = s.hu.row<T>(b);
      if (!d.reset_after && s.phase == 0) {
        // Every row, masked or not: rh feeds a GEMM and must be finite.
        for (int64_t k = 0; k < 2 * H; ++k) g[k] += u[k];
        ref::activate(d.recurrent_activation, g, 2 * H);
        const T* __restrict hd = s.hd_prev.row<T>(b);
        T* __restrict rh = s.rh.row<T>(b);
        for (int64_t j = 0; j < H; ++j) rh[j] = g[H + j] * hd[j];
        continue;
      }
      if (!ref::row_active<T>(s.mask, s.mask_stride, b)) {
        ref::forward_masked_row<T>(s, b, H, d.zero_output_for_mask);
        continue;
      }
      if (d.reset_after) {
        T* __restrict ah = s.hu_h.row<T>(b);
        if (br) {
          for (int64_t k = 0; k < 2 * H; ++k) g[k] += u[k] + br[k];
          for (int64_t j = 0; j < H; ++j) ah[j] = u[2 * H + j] + br[2 * H + j];
        } else {
          for (int64_t k = 0; k < 2 * H; ++k) g[k] += u[k];
          for (int64_t j = 0; j < H; ++j) ah[j] = u[2 * H + j];
        }
        ref::activate(d.recurrent_activation, g, 2 * H);
        for (int64_t j = 0; j < H; ++j) g[2 * H + j] += g[H + j] * ah[j];
      } else {  // phase 1: u = (r * h_d) U_h
        for (int64_t j = 0; j < H; ++j) g[2 * H + j] += u[j];
      }
      ref::activate(d.activation, g + 2 * H, H);
      gru_emit<T>(s, b, g, H);
    }
  });
}

// dnew = d(state) + d(output) of h'           (rnn_gates.h: backward_begin_row)
// dz = dnew (h - hh)   dhh = dnew (1 - z)   dh_prev (direct) = dnew z
// dA_z = dz ra'(z)     dA_h = dhh act'(hh)
// reset_after:  dr = dA_h ah_h;  dA_r = dr ra'(r)
//               input side dA = [dA_z, dA_r, dA_h], recurrent side dA_rec = [dA_z, dA_r, r dA_h]
// reset_before: phase 1 gets drh = dA_h U_h^T:  dr = drh h_d,  dA_r = dr ra'(r),
//               and d h_d = r drh + dA_zr U_zr^T (the caller's GEMM adds the second term)
template <typename T>
void gru_step_backward(const RnnDesc& d, const RnnStepBackward& s) {
  const int64_t H = d.H;
  ref::parallel_for(d.B, ref::rows_grain(3 * H), [&](int64_t b0, int64_t b1) {
    thread_local std::vector<T> scratch;
    scratch.resize(static_cast<size_t>(H));
    T* __restrict dnew = scratch.data();
    for (int64_t b = b0; b < b1; ++b) {
      const T* __restrict g = s.gates.row<T>(b);
      T* __restrict da = s.dA.row<T>(b);
      if (!d.reset_after && s.phase == 1) {
        // Every row: masked rows have drh = 0 and so get zeros.
        const T* __restrict drh = s.drh.row<T>(b);
        const T* __restrict hd = s.hd_prev.row<T>(b);
        T* __restrict dhd = s.dh_rec.row<T>(b);
        for (int64_t j = 0; j < H; ++j) {
          da[H + j] = drh[j] * hd[j];
          dhd[j] = drh[j] * g[H + j];
        }
        ref::scale_by_derivative(d.recurrent_activation, g + H, da + H, H);
        continue;
      }
      if (!ref::backward_begin_row<T>(s, b, H, dnew, s.mask)) {
        std::fill_n(da, 3 * H, T(0));
        if (s.dA_rec) std::fill_n(s.dA_rec.row<T>(b), 3 * H, T(0));
        continue;
      }
      const T* __restrict hp = s.h_prev.row<T>(b);
      T* __restrict dh = s.dh.row<T>(b);
      for (int64_t j = 0; j < H; ++j) {
        da[j] = dnew[j] * (hp[j] - g[2 * H + j]);
        da[2 * H + j] = dnew[j] * (T(1) - g[j]);
        dh[j] = dnew[j] * g[j];
      }
      ref::scale_by_derivative(d.activation, g + 2 * H, da + 2 * H, H);
      if (d.reset_after) {
        const T* __restrict ah = s.hu_h.row<T>(b);
        for (int64_t j = 0; j < H; ++j) da[H + j] = da[2 * H + j] * ah[j];
        ref::scale_by_derivative(d.recurrent_activation, g, da, 2 * H);
        T* __restrict dar = s.dA_rec.row<T>(b);
        for (int64_t k = 0; k < 2 * H; ++k) dar[k] = da[k];
        for (int64_t j = 0; j < H; ++j) dar[2 * H + j] = da[2 * H + j] * g[H + j];
      } else {
        ref::scale_by_derivative(d.recurrent_activation, g, da, H);
        std::fill_n(da + H, H, T(0));  // dA_r comes in phase 1
      }
    }
  });
}

template void gru_step_forward<float>(const RnnDesc&, const RnnStepForward&);
template void gru_step_forward<double>(const RnnDesc&, const RnnStepForward&);
template void gru_step_backward<float>(const RnnDesc&, const RnnStepBackward&);
template void gru_step_backward<double>(const RnnDesc&, const RnnStepBackward&);

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
