// How Keras's recurrent weights map onto oneDNN's RNN primitives.
//
// Dimension letters: F input features, H units, G gates (SimpleRNN 1,
// LSTM 4, GRU 3), GH = G*H.
//
// Weights. oneDNN's plain weight layout for one layer and one direction is
// `ldigo` = (1, 1, I, G, H): for each input row, the gates one after the
// other, H values each. Keras's kernel (F, GH) and recurrent_kernel (H, GH)
// are exactly that, provided the gates come in the same order, and they do:
//   LSTM  Keras i, f, c, o   = oneDNN i, f, c~, o
//   GRU   Keras z, r, h      = oneDNN u, r, o      (both reset_after settings)
// (PyTorch's GRU order r, z, n is the one that would need a permutation.)
// So kernels go to oneDNN as they are, and oneDNN's own reorder turns them
// into the blocked/packed layout its primitive prefers (rnn.cpp). The gate
// tables below make that mapping explicit and are what the tests check.
//
// Bias. oneDNN's bias is `ldgo` = (1, 1, Gb, H). For SimpleRNN, LSTM and
// GRU reset_after=false it is Keras's (GH) bias unchanged (Gb = G). For GRU
// reset_after=true (oneDNN's "linear before reset" GRU, Gb = 4) Keras keeps
// two rows (2, 3H), input bias bi and recurrent bias br, while oneDNN keeps
//   b_u = bi_z + br_z,  b_r = bi_r + br_r,  b_o = bi_h,  b_o' = br_h
// where b_o' is added to h U_h before the reset gate scales it. The map is
// linear but not invertible (only the sums of the z and r rows matter), so
// the gradient goes back through its adjoint:
//   dbi_z = dbr_z = db_u,  dbi_r = dbr_r = db_r,  dbi_h = db_o,  dbr_h = db_o'.
#pragma once

#include <cstdint>

#include "loom/backends/backend.h"

namespace loom::onednn {

// For each oneDNN gate, the Keras gate it takes (both orders listed above).
constexpr int kLstmGateOrder[4] = {0, 1, 2, 3};
constexpr int kGruGateOrder[3] = {0, 1, 2};
constexpr int kSimpleRnnGateOrder[1] = {0};

const int* gate_order(RnnCellKind cell);

// Whether the oneDNN gate order equals Keras's, i.e. a kernel (rows, GH)
// needs no permutation to be oneDNN's ldigo (true for every cell above).
bool gates_in_keras_order(RnnCellKind cell);

// Gates in oneDNN's bias: G, or 4 for GRU reset_after (linear before reset).
int dnnl_bias_gates(RnnCellKind cell, bool reset_after);

// Kernel (rows, GH) in Keras gate order <-> oneDNN gate order. `dst` must
// not alias `src`. With the tables above these are plain copies; they exist
// so that a cell whose order differs needs a table change only.
void kernel_keras_to_dnnl(RnnCellKind cell, const float* src, int64_t rows, int64_t H, float* dst);
void kernel_dnnl_to_keras(RnnCellKind cell, const float* src, int64_t rows, int64_t H, float* dst);

// Keras bias ((GH), or (2, 3H) for GRU reset_after) -> oneDNN bias
// (dnnl_bias_gates * H). `keras` null (use_bias false) writes zeros.
void bias_keras_to_dnnl(RnnCellKind cell, bool reset_after, const float* keras, int64_t H,
                        float* dnnl);
// The adjoint: a gradient with respect to oneDNN's bias -> with respect to
// Keras's bias (the layout bias_keras_to_dnnl reads).
void diff_bias_dnnl_to_keras(RnnCellKind cell, bool reset_after, const float* d_dnnl, int64_t H,
                             float* d_keras);

}  // namespace loom::onednn
