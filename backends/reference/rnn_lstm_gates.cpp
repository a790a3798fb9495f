// LSTM: the fused element-wise work of one timestep (reference backend).
//
// Dimension letters: B batch rows, H units, G = 4 gates in Keras order
// i, f, c, o (a gates row is (4H): [i | f | g | o], g the candidate).
//   forward:   a = x W + b + h_d U                      (the caller's GEMMs)
//              i = ra(a_i)  f = ra(a_f)  g = act(a_c)  o = ra(a_o)
//              c' = f * c + i * g        h' = o * act(c')
// Saved for backward: the activated gates (in place of a) and act(c').
#include <vector>

#include "loom/backends/reference/rnn_gates.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {

// gates (B,4H) in: x W + b, out: [i f g o] (saved); hu (B,4H) h_d U;
// h_prev, c_prev (B,H); out_prev/out, h_next, c_next, hd_next, act_c (B,H).
template <typename T>
void lstm_step_forward(const RnnDesc& d, const RnnStepForward& s) {
  const int64_t H = d.H;
  ref::parallel_for(d.B, ref::rows_grain(4 * H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      if (!ref::row_active<T>(s.mask, s.mask_stride, b)) {
        ref::forward_masked_row<T>(s, b, H, d.zero_output_for_mask);
        continue;
      }
      T* __restrict g = s.gates.row<T>(b);
      const T* __restrict u = s.hu.row<T>(b);
      for (int64_t k = 0; k < 4 * H; ++k) g[k] += u[k];
      ref::activate(d.recurrent_activation, g, 2 * H);      // i, f
      ref::activate(d.activation, g + 2 * H, H);            // g
      ref::activate(d.recurrent_activation, g + 3 * H, H);  // o
      const T* __restrict cp = s.c_prev.row<T>(b);
      T* __restrict cn = s.c_next.row<T>(b);
      T* __restrict ac = s.act_c.row<T>(b);
      for (int64_t j = 0; j < H; ++j) {
        const T c = g[H + j] * cp[j] + g[j] * g[2 * H + j];
        cn[j] = c;
        ac[j] = c;
      }
      ref::activate(d.activation, ac, H);
      T* __restrict hn = s.h_next.row<T>(b);
      for (int64_t j = 0; j < H; ++j) hn[j] = g[3 * H + j] * ac[j];
      ref::forward_emit_row<T>(s, b, hn, H);
    }
  });
}

// dnew = d(state) + d(output) of h'            (rnn_gates.h: backward_begin_row)
// do  = dnew * act(c')
// dc' = dc + dnew * o * act'(c')               (dc: from the next step's f * c)
// di = dc' * g   df = dc' * c   dg = dc' * i   dc_prev = dc' * f
// dA = [di ra'(i), df ra'(f), dg act'(g), do ra'(o)]; h_prev gets only dA U^T.
template <typename T>
void lstm_step_backward(const RnnDesc& d, const RnnStepBackward& s) {
  const int64_t H = d.H;
  ref::parallel_for(d.B, ref::rows_grain(4 * H), [&](int64_t b0, int64_t b1) {
    thread_local std::vector<T> scratch;
    scratch.resize(static_cast<size_t>(H));
    T* __restrict dnew = scratch.data();
    for (int64_t b = b0; b < b1; ++b) {
      T* __restrict da = s.dA.row<T>(b);
      if (!ref::backward_begin_row<T>(s, b, H, dnew, s.mask)) {
        std::fill_n(da, 4 * H, T(0));  // dc passes through unchanged
        continue;
      }
      const T* __restrict g = s.gates.row<T>(b);
      const T* __restrict ac = s.act_c.row<T>(b);
      const T* __restrict cp = s.c_prev.row<T>(b);
      T* __restrict dc = s.dc.row<T>(b);
      for (int64_t j = 0; j < H; ++j) {
        da[2 * H + j] = dnew[j] * g[3 * H + j];  // d act(c'), scaled below
        da[3 * H + j] = dnew[j] * ac[j];         // do
      }
      ref::scale_by_derivative(d.activation, ac, da + 2 * H, H);
      for (int64_t j = 0; j < H; ++j) {
        const T dct = dc[j] + da[2 * H + j];
        da[j] = dct * g[2 * H + j];
        da[H + j] = dct * cp[j];
        da[2 * H + j] = dct * g[j];
        dc[j] = dct * g[H + j];
      }
      ref::scale_by_derivative(d.recurrent_activation, g, da, 2 * H);
      ref::scale_by_derivative(d.activation, g + 2 * H, da + 2 * H, H);
      ref::scale_by_derivative(d.recurrent_activation, g + 3 * H, da + 3 * H, H);
      std::fill_n(s.dh.row<T>(b), H, T(0));  // no direct path from h to h'
    }
  });
}

template void lstm_step_forward<float>(const RnnDesc&, const RnnStepForward&);
template void lstm_step_forward<double>(const RnnDesc&, const RnnStepForward&);
template void lstm_step_backward<float>(const RnnDesc&, const RnnStepBackward&);
template void lstm_step_backward<double>(const RnnDesc&, const RnnStepBackward&);

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
