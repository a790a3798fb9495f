// Keras <-> oneDNN recurrent weight layouts (see rnn_layout.h).
#include "loom/backends/onednn/rnn_layout.h"

#include <algorithm>

namespace loom::onednn {

const int* gate_order(RnnCellKind cell) {
  switch (cell) {
    case RnnCellKind::lstm: return kLstmGateOrder;
    case RnnCellKind::gru: return kGruGateOrder;
    case RnnCellKind::simple_rnn: return kSimpleRnnGateOrder;
  }
  return kSimpleRnnGateOrder;
}

namespace {
int gates_of(RnnCellKind cell) {
  return cell == RnnCellKind::lstm ? 4 : cell == RnnCellKind::gru ? 3 : 1;
}
}  // namespace

bool gates_in_keras_order(RnnCellKind cell) {
  const int* order = gate_order(cell);
  for (int g = 0; g < gates_of(cell); ++g)
    if (order[g] != g) return false;
  return true;
}

int dnnl_bias_gates(RnnCellKind cell, bool reset_after) {
  return cell == RnnCellKind::gru && reset_after ? 4 : gates_of(cell);
}

// Row r of the oneDNN kernel holds, in oneDNN gate g, Keras gate order[g].
void kernel_keras_to_dnnl(RnnCellKind cell, const float* src, int64_t rows, int64_t H,
                          float* dst) {
  const int G = gates_of(cell);
  const int* order = gate_order(cell);
  for (int64_t r = 0; r < rows; ++r)
    for (int g = 0; g < G; ++g)
      std::copy_n(src + r * G * H + order[g] * H, H, dst + r * G * H + g * H);
}

void kernel_dnnl_to_keras(RnnCellKind cell, const float* src, int64_t rows, int64_t H,
                          float* dst) {
  const int G = gates_of(cell);
  const int* order = gate_order(cell);
  for (int64_t r = 0; r < rows; ++r)
    for (int g = 0; g < G; ++g)
      std::copy_n(src + r * G * H + g * H, H, dst + r * G * H + order[g] * H);
}

void bias_keras_to_dnnl(RnnCellKind cell, bool reset_after, const float* keras, int64_t H,
                        float* dnnl) {
  const bool lbr = cell == RnnCellKind::gru && reset_after;
  if (!keras) {
    std::fill_n(dnnl, dnnl_bias_gates(cell, reset_after) * H, 0.0f);
    return;
  }
  if (lbr) {  // GRU reset_after: keras rows bi = keras[0:3H], br = keras[3H:6H]
    const float* bi = keras;
    const float* br = keras + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      dnnl[j] = bi[j] + br[j];                  // b_u = bi_z + br_z
      dnnl[H + j] = bi[H + j] + br[H + j];      // b_r = bi_r + br_r
      dnnl[2 * H + j] = bi[2 * H + j];          // b_o = bi_h
      dnnl[3 * H + j] = br[2 * H + j];          // b_o' = br_h
    }
    return;
  }
  kernel_keras_to_dnnl(cell, keras, 1, H, dnnl);
}

void diff_bias_dnnl_to_keras(RnnCellKind cell, bool reset_after, const float* d_dnnl, int64_t H,
                             float* d_keras) {
  if (cell == RnnCellKind::gru && reset_after) {
    float* dbi = d_keras;
    float* dbr = d_keras + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      dbi[j] = dbr[j] = d_dnnl[j];                  // z: both rows feed b_u
      dbi[H + j] = dbr[H + j] = d_dnnl[H + j];      // r: both rows feed b_r
      dbi[2 * H + j] = d_dnnl[2 * H + j];           // h, input side
      dbr[2 * H + j] = d_dnnl[3 * H + j];           // h, recurrent side
    }
    return;
  }
  kernel_dnnl_to_keras(cell, d_dnnl, 1, H, d_keras);
}

}  // namespace loom::onednn
