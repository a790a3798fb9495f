// Host-side planning for the cuDNN RNN path (backends/cuda/cudnn_rnn.cpp):
// which configurations cuDNN runs, how a (B,T) mask becomes cuDNN sequence
// lengths, where each packed step's values come from and go to, and how
// Keras weights map onto cuDNN's weight space. Plain C++ with no CUDA
// headers, so every rule here is unit-tested on machines without a GPU
// (tests/backends/cuda/cudnn_plan_test.cpp); the index functions are also compiled
// into the CUDA kernels (LOOM_HOST_DEVICE), so kernels and tests share them.
//
// Dimension letters: B batch, T timesteps, F input features, H units,
// G gates (GH = G*H). s is a processing step (0 .. T-1), t = s or T-1-s
// (go_backwards) the input time it reads, q a step of the packed sequence
// that cuDNN sees.
//
// Masks: cuDNN runs each row over a prefix of its time axis (sequence
// lengths). Loom hands it, per row, the run of unmasked processing steps
// [start, start + length), packed to the front: packed step q reads input
// time t = time_of(start + q). That covers right-padded masks, and also
// left-padded ones (start > 0: the state stays the initial state until the
// run begins, exactly as masking carries it). Rows whose unmasked steps are
// not one run (holes) go to the explicit BPTT. Rows with no unmasked step
// are given length 1 (cuDNN rejects 0) with zero inputs and zero incoming
// gradients, and their results are replaced afterwards: output zeros, final
// state = initial state, d(initial state) = d(final state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loom/backends/backend.h"
#include "loom/backends/philox.h"  // LOOM_HOST_DEVICE

namespace loom::cudnn_plan {

// Why cuDNN cannot run `desc` ("" when it can). Decided on the descriptor
// alone; the mask's shape (runs or holes) is checked per call.
std::string unsupported_reason(const RnnDesc& desc);

// ---- masks -> runs ---------------------------------------------------------------------

struct SequenceRuns {
  std::vector<int32_t> start;   // (B) first processing step of the run
  std::vector<int32_t> length;  // (B) steps in the run; 0 = every step masked
  bool contiguous = true;       // false: some row's unmasked steps have a hole
  int64_t first_holed_row = -1; // for messages and tests
};

// From a (B,T) row-major 0/1 mask on the host (null = no mask: every row
// runs all T steps), in processing order.
template <typename M>
SequenceRuns sequence_runs(const M* mask, int64_t B, int64_t T, bool go_backwards);

// cuDNN's per-row lengths: the run lengths with 0 raised to 1.
std::vector<int32_t> cudnn_lengths(const SequenceRuns& runs);

// ---- index maps (shared with the kernels) ---------------------------------------------

LOOM_HOST_DEVICE inline int64_t time_of(int64_t s, int64_t T, bool go_backwards) {
  return go_backwards ? T - 1 - s : s;
}

// The input time that packed step q of a row reads (q < length).
LOOM_HOST_DEVICE inline int64_t packed_source_time(int64_t q, int32_t start, int64_t T,
                                                   bool go_backwards) {
  return time_of(start + q, T, go_backwards);
}

// Which packed step's output is the layer's output at processing step s,
// or -1 for zeros: before the run the output is zeros (no step has run
// yet); inside it, the step itself; after it, the run's last output
// repeated (Keras masking), or zeros with zero_output_for_mask.
LOOM_HOST_DEVICE inline int64_t output_source(int64_t s, int32_t start, int32_t length,
                                              bool zero_output_for_mask) {
  if (length == 0 || s < start) return -1;
  if (s < start + length) return s - start;
  return zero_output_for_mask ? -1 : length - 1;
}

// The processing steps whose output cotangents reach packed step q: the
// inverse of output_source. It is the single step start + q, plus, for
// the run's last step without zero_output_for_mask, every step after the
// run: steps [first, last] with first <= last, or first > last for none.
struct StepRange {
  int64_t first, last;
};
LOOM_HOST_DEVICE inline StepRange output_grad_steps(int64_t q, int32_t start, int32_t length,
                                                    int64_t T, bool zero_output_for_mask) {
  if (q >= length) return {0, -1};
  const int64_t s = start + q;
  if (q == length - 1 && !zero_output_for_mask) return {s, T - 1};
  return {s, s};
}

// ---- weights: Keras layout <-> cuDNN weight space ------------------------------------------

// cuDNN's gate order within its linear-layer IDs (LSTM i,f,g,o; GRU r,z,h;
// SimpleRNN one) mapped to Keras's gate index (LSTM i,f,c,o; GRU z,r,h).
int keras_gate_of_cudnn_gate(RnnCellKind cell, int cudnn_gate);

// Where one weight matrix and its bias start in the weight space, in
// elements, for cuDNN linear-layer ID `id` (0 .. 2G-1: the G input-side
// matrices, then the G recurrent-side ones); bias -1 when that ID has no
// bias (single input bias: the recurrent IDs; or no bias at all).
struct LinearLayerOffsets {
  int64_t matrix = 0;
  int64_t bias = -1;
};

// The offsets cuDNN uses when it packs everything in ID order, matrices
// first then biases (what cudnnGetRNNWeightParams reports for a
// one-layer unidirectional RNN); the tests use it as a stand-in, the
// backend asks cuDNN itself.
std::vector<LinearLayerOffsets> packed_offsets(const RnnDesc& desc, bool double_bias);

// Whether the layer's Keras bias needs cuDNN's double bias (GRU reset_after
// keeps separate input and recurrent biases); else a single input bias.
bool double_bias(const RnnDesc& desc);

// One 2-D block copy: dst[dst_offset + r * cols + c] =
// src[src_offset + r * src_row_stride + c * src_col_stride] for r < rows,
// c < cols (the cuDNN side is always a dense row-major block). Sources:
// 0 kernel (F,GH), 1 recurrent_kernel (H,GH), 2 bias (GH) or (2,GH).
struct BlockCopy {
  int src = 0;
  int64_t src_offset = 0, src_row_stride = 0, src_col_stride = 0;
  int64_t dst_offset = 0;
  int64_t rows = 0, cols = 0;
};

// The copies that fill a weight space from Keras's kernel, recurrent_kernel
// and bias: matrix ID g (input side) is the (H,F) transpose of kernel's
// Keras gate columns; recurrent likewise from recurrent_kernel (H,H); the
// input bias from bias row 0, GRU reset_after's recurrent bias from row 1.
// Run with source and destination swapped, the same list takes a weight-
// space gradient back to Keras's layout (every Keras element appears in
// exactly one block, so nothing is summed).
std::vector<BlockCopy> keras_to_cudnn(const RnnDesc& desc,
                                      const std::vector<LinearLayerOffsets>& offsets);

// Host executors of a plan (the tests' round trips; kernels do the same on
// the device). srcs[k] is source k (null when absent).
template <typename T>
void apply_keras_to_cudnn(const std::vector<BlockCopy>& plan, const T* const srcs[3], T* space);
template <typename T>
void apply_cudnn_to_keras(const std::vector<BlockCopy>& plan, const T* space, T* const dsts[3]);

}  // namespace loom::cudnn_plan
