// Launchers for the CUDA backend's fused RNN-step kernels
// (rnn_gates_kernels.cu): the element-wise work of one timestep of
// SimpleRNN, LSTM and GRU around the caller's GEMMs, with the semantics of
// the reference backend (backends/reference/rnn_*_gates.cpp). Every pointer
// in the step is device memory; both enqueue on `stream` and return without
// synchronizing. Launch errors are thrown as loom::Error naming the kernel.
#pragma once

#include <cuda_runtime_api.h>

#include "loom/backends/backend.h"

namespace loom::cuda {

// One launch per call (per phase for GRU reset_before).
void rnn_gates_forward(cudaStream_t stream, const RnnDesc& desc, const RnnStepForward& step);
void rnn_gates_backward(cudaStream_t stream, const RnnDesc& desc, const RnnStepBackward& step);

}  // namespace loom::cuda
