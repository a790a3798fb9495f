// The one place that knows which oneDNN major version Loom is built against.
//
// oneDNN 2.x (Debian's libdnnl-dev 2.6) builds a primitive descriptor from an
// operation descriptor (`lstm_forward::desc`, then `primitive_desc(desc,
// engine)`); oneDNN 3.x dropped the operation descriptors and takes the same
// arguments, engine first, in the primitive descriptor's constructor. The
// rest of the API Loom uses (memory descriptors, memories, reorders,
// execute, dnnl_sgemm) is the same in both, so everything else in
// backends/onednn/ is version-independent and goes through the functions
// below.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace loom::onednn {

// oneDNN's cell kinds, as Loom maps them (rnn_layout.h says how the weights map).
enum class DnnlCell { vanilla_rnn, lstm, gru, lbr_gru };

// The memory descriptors of one RNN primitive, forward and backward. Absent
// (zero) descriptors mean "not used" (src_iter_c for a non-LSTM cell, ...).
struct RnnMemoryDescs {
  dnnl::memory::desc src_layer, src_iter, src_iter_c;
  dnnl::memory::desc weights_layer, weights_iter, bias;
  dnnl::memory::desc dst_layer, dst_iter, dst_iter_c;
  // backward only
  dnnl::memory::desc diff_src_layer, diff_src_iter, diff_src_iter_c;
  dnnl::memory::desc diff_weights_layer, diff_weights_iter, diff_bias;
  dnnl::memory::desc diff_dst_layer, diff_dst_iter, diff_dst_iter_c;
};

// The forward primitive descriptor (training or inference) and, for
// training, the backward one hinted by it. `activation` matters for
// vanilla_rnn only (eltwise_tanh, eltwise_relu or eltwise_logistic).
struct RnnPrimitiveDescs {
  dnnl::primitive_desc fwd, bwd;
};

namespace detail {

// One builder per cell kind, each with its oneDNN 3.x and 2.x spelling: the
// forward primitive descriptor for `fk` and, when training, the backward one
// hinted by it.

inline RnnPrimitiveDescs vanilla_rnn_descs(const dnnl::engine& eng, dnnl::prop_kind fk,
                                           dnnl::algorithm activation, dnnl::rnn_direction dir,
                                           bool training, const RnnMemoryDescs& m,
                                           const dnnl::primitive_attr& attr) {
  using dnnl::prop_kind;
  RnnPrimitiveDescs out;
#if DNNL_VERSION_MAJOR >= 3
  dnnl::vanilla_rnn_forward::primitive_desc f(eng, fk, activation, dir, m.src_layer, m.src_iter,
                                              m.weights_layer, m.weights_iter, m.bias,
                                              m.dst_layer, m.dst_iter, attr);
  out.fwd = f;
  if (training)
    out.bwd = dnnl::vanilla_rnn_backward::primitive_desc(
        eng, prop_kind::backward, activation, dir, m.src_layer, m.src_iter, m.weights_layer,
        m.weights_iter, m.bias, m.dst_layer, m.dst_iter, m.diff_src_layer, m.diff_src_iter,
        m.diff_weights_layer, m.diff_weights_iter, m.diff_bias, m.diff_dst_layer,
        m.diff_dst_iter, f, attr);
#else
  dnnl::vanilla_rnn_forward::primitive_desc f(
      dnnl::vanilla_rnn_forward::desc(fk, activation, dir, m.src_layer, m.src_iter,
                                      m.weights_layer, m.weights_iter, m.bias, m.dst_layer,
                                      m.dst_iter),
      attr, eng);
  out.fwd = f;
  if (training)
    out.bwd = dnnl::vanilla_rnn_backward::primitive_desc(
        dnnl::vanilla_rnn_backward::desc(
            prop_kind::backward, activation, dir, m.src_layer, m.src_iter, m.weights_layer,
            m.weights_iter, m.bias, m.dst_layer, m.dst_iter, m.diff_src_layer,
            m.diff_src_iter, m.diff_weights_layer, m.diff_weights_iter, m.diff_bias,
            m.diff_dst_layer, m.diff_dst_iter),
        attr, eng, f);
#endif
  return out;
}

inline RnnPrimitiveDescs lstm_descs(const dnnl::engine& eng, dnnl::prop_kind fk,
                                    dnnl::rnn_direction dir, bool training,
                                    const RnnMemoryDescs& m, const dnnl::primitive_attr& attr) {
  using dnnl::prop_kind;
  RnnPrimitiveDescs out;
#if DNNL_VERSION_MAJOR >= 3
  dnnl::lstm_forward::primitive_desc f(eng, fk, dir, m.src_layer, m.src_iter, m.src_iter_c,
                                       m.weights_layer, m.weights_iter, m.bias, m.dst_layer,
                                       m.dst_iter, m.dst_iter_c, attr);
  out.fwd = f;
  if (training)
    out.bwd = dnnl::lstm_backward::primitive_desc(
        eng, prop_kind::backward, dir, m.src_layer, m.src_iter, m.src_iter_c, m.weights_layer,
        m.weights_iter, m.bias, m.dst_layer, m.dst_iter, m.dst_iter_c, m.diff_src_layer,
        m.diff_src_iter, m.diff_src_iter_c, m.diff_weights_layer, m.diff_weights_iter,
        m.diff_bias, m.diff_dst_layer, m.diff_dst_iter, m.diff_dst_iter_c, f, attr);
#else
  dnnl::lstm_forward::primitive_desc f(
      dnnl::lstm_forward::desc(fk, dir, m.src_layer, m.src_iter, m.src_iter_c, m.weights_layer,
                               m.weights_iter, m.bias, m.dst_layer, m.dst_iter, m.dst_iter_c),
      attr, eng);
  out.fwd = f;
  if (training)
    out.bwd = dnnl::lstm_backward::primitive_desc(
        dnnl::lstm_backward::desc(
            prop_kind::backward, dir, m.src_layer, m.src_iter, m.src_iter_c, m.weights_layer,
            m.weights_iter, m.bias, m.dst_layer, m.dst_iter, m.dst_iter_c, m.diff_src_layer,
            m.diff_src_iter, m.diff_src_iter_c, m.diff_weights_layer, m.diff_weights_iter,
            m.diff_bias, m.diff_dst_layer, m.diff_dst_iter, m.diff_dst_iter_c),
        attr, eng, f);
#endif
  return out;
}

// GRU and linear-before-reset GRU take the same arguments:
// Fwd/Bwd = gru_forward/gru_backward or lbr_gru_forward/lbr_gru_backward.
template <typename Fwd, typename Bwd>
RnnPrimitiveDescs gru_descs(const dnnl::engine& eng, dnnl::prop_kind fk, dnnl::rnn_direction dir,
                            bool training, const RnnMemoryDescs& m,
                            const dnnl::primitive_attr& attr) {
  using dnnl::prop_kind;
  RnnPrimitiveDescs out;
#if DNNL_VERSION_MAJOR >= 3
  typename Fwd::primitive_desc f(eng, fk, dir, m.src_layer, m.src_iter, m.weights_layer,
                                 m.weights_iter, m.bias, m.dst_layer, m.dst_iter, attr);
  out.fwd = f;
  if (training)
    out.bwd = typename Bwd::primitive_desc(
        eng, prop_kind::backward, dir, m.src_layer, m.src_iter, m.weights_layer,
        m.weights_iter, m.bias, m.dst_layer, m.dst_iter, m.diff_src_layer, m.diff_src_iter,
        m.diff_weights_layer, m.diff_weights_iter, m.diff_bias, m.diff_dst_layer,
        m.diff_dst_iter, f, attr);
#else
  typename Fwd::primitive_desc f(
      typename Fwd::desc(fk, dir, m.src_layer, m.src_iter, m.weights_layer, m.weights_iter,
                         m.bias, m.dst_layer, m.dst_iter),
      attr, eng);
  out.fwd = f;
  if (training)
    out.bwd = typename Bwd::primitive_desc(
        typename Bwd::desc(prop_kind::backward, dir, m.src_layer, m.src_iter, m.weights_layer,
                           m.weights_iter, m.bias, m.dst_layer, m.dst_iter, m.diff_src_layer,
                           m.diff_src_iter, m.diff_weights_layer, m.diff_weights_iter,
                           m.diff_bias, m.diff_dst_layer, m.diff_dst_iter),
        attr, eng, f);
#endif
  return out;
}

}  // namespace detail

inline RnnPrimitiveDescs make_rnn_primitive_descs(const dnnl::engine& eng, DnnlCell cell,
                                                  dnnl::algorithm activation,
                                                  dnnl::rnn_direction dir, bool training,
                                                  const RnnMemoryDescs& m) {
  // Scratch memory is the caller's (DNNL_ARG_SCRATCHPAD at every execute):
  // a primitive then holds no memory of its own and can run from any
  // thread, and from several at once.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  using dnnl::prop_kind;
  const prop_kind fk = training ? prop_kind::forward_training : prop_kind::forward_inference;
  switch (cell) {
    case DnnlCell::vanilla_rnn:
      return detail::vanilla_rnn_descs(eng, fk, activation, dir, training, m, attr);
    case DnnlCell::lstm: return detail::lstm_descs(eng, fk, dir, training, m, attr);
    case DnnlCell::gru:
      return detail::gru_descs<dnnl::gru_forward, dnnl::gru_backward>(eng, fk, dir, training, m,
                                                                      attr);
    case DnnlCell::lbr_gru:
      return detail::gru_descs<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward>(eng, fk, dir,
                                                                              training, m, attr);
  }
  return {};
}

}  // namespace loom::onednn
