// SimpleRNN: the fused element-wise work of one timestep (reference backend).
//
// Dimension letters: B batch rows, H units (G = 1, so the gates row is (H)).
//   forward:   a = x W + b + h_d U        (the caller's GEMMs; arrives in gates + hu)
//              h' = act(a)
// The activated row is saved in place of the pre-activation: act' is a
// function of act's output (rnn_gates.h), so backward needs nothing else.
#include "loom/backends/reference/rnn_gates.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {

// gates (B,H) in: x W + b, out: h' = act(a) (saved); hu (B,H) h_d U;
// h_prev (B,H); out_prev/out, h_next, hd_next (B,H).
template <typename T>
void simple_rnn_step_forward(const RnnDesc& d, const RnnStepForward& s) {
  const int64_t H = d.H;
  ref::parallel_for(d.B, ref::rows_grain(H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      if (!ref::row_active<T>(s.mask, s.mask_stride, b)) {
        ref::forward_masked_row<T>(s, b, H, d.zero_output_for_mask);
        continue;
      }
      T* g = s.gates.row<T>(b);
      const T* u = s.hu.row<T>(b);
      for (int64_t j = 0; j < H; ++j) g[j] += u[j];
      ref::activate(d.activation, g, H);
      ref::forward_emit_row<T>(s, b, g, H);
    }
  });
}

// dnew = d(state) + d(output) of h' (rnn_gates.h: backward_begin_row)
// da = dnew * act'(a) = dnew * act'(y)   -> dA; dh_prev gets only da U^T (the caller's GEMM)
template <typename T>
void simple_rnn_step_backward(const RnnDesc& d, const RnnStepBackward& s) {
  const int64_t H = d.H;
  ref::parallel_for(d.B, ref::rows_grain(H), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* da = s.dA.row<T>(b);
      if (!ref::backward_begin_row<T>(s, b, H, da, s.mask)) {
        std::fill_n(da, H, T(0));
        continue;
      }
      ref::scale_by_derivative(d.activation, s.gates.row<T>(b), da, H);
      // The state reaches the step before only through h U: no direct part.
      std::fill_n(s.dh.row<T>(b), H, T(0));
    }
  });
}

template void simple_rnn_step_forward<float>(const RnnDesc&, const RnnStepForward&);
template void simple_rnn_step_forward<double>(const RnnDesc&, const RnnStepForward&);
template void simple_rnn_step_backward<float>(const RnnDesc&, const RnnStepBackward&);
template void simple_rnn_step_backward<double>(const RnnDesc&, const RnnStepBackward&);

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
