// The small kernels around a cuDNN RNN call (cudnn_rnn_kernels.cu): Keras
// weights into cuDNN's weight space and back, masked rows packed into runs
// and Keras's masked outputs restored, and the fix-ups for rows with no
// unmasked step. The index rules are cudnn_plan.h's, shared with its tests.
//
// Dimension letters: B batch, T timesteps, F features, H units. `start`
// and `length` are (B) int32 device arrays (cudnn_plan::SequenceRuns).
// Every pointer is device memory; launches go on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include "loom/backends/cuda/cudnn_plan.h"

namespace loom::cuda {

struct RunArrays {
  const int32_t* start = nullptr;   // (B)
  const int32_t* length = nullptr;  // (B)
};

// Keras -> weight space (to_space) or weight space -> Keras (gradients).
// plan: n device BlockCopy entries; keras[3]: kernel, recurrent_kernel,
// bias (null entries are skipped when writing Keras tensors).
void run_weight_plan(cudaStream_t stream, DType dtype, const cudnn_plan::BlockCopy* plan, int n,
                     int64_t max_block_elems, void* const keras[3], void* space, bool to_space);

// x_packed (B,T,F): packed step q of row b = x[b, t] * mx[b] (mx (B,F) or
// null), zeros past the run.
void pack_inputs(cudaStream_t stream, DType dtype, const void* x, const void* mx, RunArrays runs,
                 void* x_packed, int64_t B, int64_t T, int64_t F, bool go_backwards);

// y (B,T,H) with return_sequences (processing order), else (B,H) for the
// last processing step, from y_packed (B,T,H) (cudnn_plan::output_source).
void unpack_outputs(cudaStream_t stream, DType dtype, const void* y_packed, RunArrays runs,
                    void* y, int64_t B, int64_t T, int64_t H, bool return_sequences,
                    bool zero_output_for_mask);

// dst[b] = length[b] == 0 ? (fallback ? fallback[b] : 0) : src[b] for
// (B,H) rows; src null reads as zeros. Final states of empty rows (fallback
// = initial state), cotangents fed to cuDNN (fallback null), and
// d(initial state) (src = cuDNN's, fallback = d(final state)).
void select_empty_rows(cudaStream_t stream, DType dtype, const void* src, const void* fallback,
                       RunArrays runs, void* dst, int64_t B, int64_t H);

// dy_packed (B,T,H) from the layer's dy (the inverse of unpack_outputs).
void pack_output_grads(cudaStream_t stream, DType dtype, const void* dy, RunArrays runs,
                       void* dy_packed, int64_t B, int64_t T, int64_t H, bool return_sequences,
                       bool zero_output_for_mask);

// dx (B,T,F) from dx_packed: dx[b,t] = dx_packed[b,q] * mx[b] inside the
// run, zeros at masked steps.
void unpack_input_grads(cudaStream_t stream, DType dtype, const void* dx_packed, const void* mx,
                        RunArrays runs, void* dx, int64_t B, int64_t T, int64_t F,
                        bool go_backwards);

}  // namespace loom::cuda
