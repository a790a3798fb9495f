// Host-side planning for the cuDNN RNN path; see cudnn_plan.h.
#include "loom/backends/cuda/cudnn_plan.h"

#include <algorithm>

namespace loom::cudnn_plan {

std::string unsupported_reason(const RnnDesc& d) {
  if (d.dtype != DType::f32 && d.dtype != DType::f64) return "dtype is not f32 or f64";
  // Loom's cuDNN plan runs f32 data; mixed precision takes the explicit
  // BPTT, whose products run on tensor cores (cublasGemmEx, bf16/f16).
  if (d.compute != DType::f32 && d.compute != d.dtype)
    return "mixed precision (the explicit path's GEMMs run it on tensor cores)";
  if (d.recurrent_dropout) return "recurrent dropout (cuDNN has no per-step mask on h)";
  switch (d.cell) {
    case RnnCellKind::lstm:
    case RnnCellKind::gru:
      if (d.activation != RnnActivation::tanh) return "activation is not tanh";
      if (d.recurrent_activation != RnnActivation::sigmoid)
        return "recurrent_activation is not sigmoid";
      if (d.cell == RnnCellKind::gru && !d.reset_after)
        return "GRU reset_after=false (cuDNN applies the reset gate after the product)";
      return "";
    case RnnCellKind::simple_rnn:
      if (d.activation != RnnActivation::tanh && d.activation != RnnActivation::relu)
        return "SimpleRNN activation is not tanh or relu";
      return "";
  }
  return "unknown cell";
}

template <typename M>
SequenceRuns sequence_runs(const M* mask, int64_t B, int64_t T, bool go_backwards) {
  SequenceRuns r;
  r.start.assign(B, 0);
  r.length.assign(B, static_cast<int32_t>(T));
  if (!mask) return r;
  for (int64_t b = 0; b < B; ++b) {
    const M* row = mask + b * T;
    int64_t first = -1, last = -1, count = 0;
    for (int64_t s = 0; s < T; ++s) {
      if (row[time_of(s, T, go_backwards)] == M(0)) continue;
      if (first < 0) first = s;
      last = s;
      ++count;
    }
    if (count == 0) {
      r.start[b] = 0;
      r.length[b] = 0;
      continue;
    }
    r.start[b] = static_cast<int32_t>(first);
    r.length[b] = static_cast<int32_t>(count);
    if (last - first + 1 != count && r.contiguous) {
      r.contiguous = false;
      r.first_holed_row = b;
    }
  }
  return r;
}
template SequenceRuns sequence_runs(const float*, int64_t, int64_t, bool);
template SequenceRuns sequence_runs(const double*, int64_t, int64_t, bool);

std::vector<int32_t> cudnn_lengths(const SequenceRuns& runs) {
  std::vector<int32_t> out(runs.length);
  for (int32_t& n : out) n = std::max<int32_t>(n, 1);
  return out;
}

int keras_gate_of_cudnn_gate(RnnCellKind cell, int g) {
  // cuDNN GRU: r, z, h; Keras GRU: z, r, h. LSTM and SimpleRNN agree.
  if (cell == RnnCellKind::gru && g < 2) return 1 - g;
  return g;
}

bool double_bias(const RnnDesc& d) {
  return d.use_bias && d.cell == RnnCellKind::gru && d.reset_after;
}

std::vector<LinearLayerOffsets> packed_offsets(const RnnDesc& d, bool dbl) {
  const int G = static_cast<int>(d.gates());
  const int64_t H = d.H, F = d.F;
  std::vector<LinearLayerOffsets> out(2 * G);
  int64_t at = 0;
  for (int id = 0; id < 2 * G; ++id) {
    out[id].matrix = at;
    at += H * (id < G ? F : H);
  }
  if (d.use_bias)
    for (int id = 0; id < 2 * G; ++id) {
      if (id >= G && !dbl) continue;
      out[id].bias = at;
      at += H;
    }
  return out;
}

std::vector<BlockCopy> keras_to_cudnn(const RnnDesc& d,
                                      const std::vector<LinearLayerOffsets>& offsets) {
  const int G = static_cast<int>(d.gates());
  const int64_t H = d.H, F = d.F, GH = G * H;
  LOOM_CHECK(static_cast<int>(offsets.size()) == 2 * G,
             "cuDNN weight plan: {} linear-layer offsets for a {} with {} gates", offsets.size(),
             rnn_cell_kind_name(d.cell), G);
  const bool dbl = double_bias(d);
  std::vector<BlockCopy> plan;
  for (int id = 0; id < 2 * G; ++id) {
    const bool recurrent = id >= G;
    const int64_t kg = keras_gate_of_cudnn_gate(d.cell, recurrent ? id - G : id);
    // (H, F or H) row-major on the cuDNN side: element [h][j] is Keras's [j][kg*H + h].
    BlockCopy m;
    m.src = recurrent ? 1 : 0;
    m.src_offset = kg * H;
    m.src_row_stride = 1;
    m.src_col_stride = GH;
    m.dst_offset = offsets[id].matrix;
    m.rows = H;
    m.cols = recurrent ? H : F;
    plan.push_back(m);
    if (!d.use_bias || (recurrent && !dbl)) continue;
    LOOM_CHECK(offsets[id].bias >= 0, "cuDNN weight plan: linear layer {} has no bias slot", id);
    BlockCopy b;
    b.src = 2;
    b.src_offset = (recurrent ? GH : 0) + kg * H;  // GRU reset_after: row 1 is recurrent
    b.src_row_stride = 1;
    b.src_col_stride = 0;
    b.dst_offset = offsets[id].bias;
    b.rows = H;
    b.cols = 1;
    plan.push_back(b);
  }
  return plan;
}

template <typename T>
void apply_keras_to_cudnn(const std::vector<BlockCopy>& plan, const T* const srcs[3], T* space) {
  for (const BlockCopy& c : plan)
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t k = 0; k < c.cols; ++k)
        space[c.dst_offset + r * c.cols + k] =
            srcs[c.src][c.src_offset + r * c.src_row_stride + k * c.src_col_stride];
}

template <typename T>
void apply_cudnn_to_keras(const std::vector<BlockCopy>& plan, const T* space, T* const dsts[3]) {
  for (const BlockCopy& c : plan) {
    if (!dsts[c.src]) continue;
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t k = 0; k < c.cols; ++k)
        dsts[c.src][c.src_offset + r * c.src_row_stride + k * c.src_col_stride] =
            space[c.dst_offset + r * c.cols + k];
  }
}

template void apply_keras_to_cudnn(const std::vector<BlockCopy>&, const float* const[3], float*);
template void apply_keras_to_cudnn(const std::vector<BlockCopy>&, const double* const[3], double*);
template void apply_cudnn_to_keras(const std::vector<BlockCopy>&, const float*, float* const[3]);
template void apply_cudnn_to_keras(const std::vector<BlockCopy>&, const double*, double* const[3]);

}  // namespace loom::cudnn_plan
