// Whole-sequence recurrent layers on cuDNN (v9 API: cudnnRNNForward,
// cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8) for the CUDA
// backend. What cuDNN cannot run is declined (cudnn_plan::unsupported_reason
// by configuration, forward for a mask with holes); layers/rnn then runs the
// explicit BPTT on the same device, built from the backend's cuBLAS GEMM and
// fused step kernels.
//
// Dimension letters: B batch, T timesteps, F input features, H units,
// G gates (GH = G*H).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "loom/backends/cuda/cuda_check.h"
#include "loom/backends/cuda/cudnn_plan.h"

namespace loom::cuda {

class CudnnRnn {
 public:
  // `backend` allocates the buffers (its caching allocator); every call is
  // enqueued on `stream`.
  CudnnRnn(Backend& backend, cudaStream_t stream);
  ~CudnnRnn();
  RnnForwardResult forward(const RnnDesc& desc, const RnnForwardArgs& args);
  void backward(const RnnDesc& desc, const RnnBackwardArgs& args, RnnWorkspace& workspace);

  // One cuDNN RNN descriptor per layer configuration, with its weight-space
  // size and the Keras <-> weight-space plan (on the host and the device).
  struct Layer;

 private:
  cudnnHandle_t handle();
  Layer& layer_for(const RnnDesc& desc);

  Backend& backend_;
  cudaStream_t stream_;
  cudnnHandle_t handle_ = nullptr;
  cudnnDropoutDescriptor_t dropout_ = nullptr;
  std::mutex mu_;
  std::map<std::tuple<int, bool, int, bool, int64_t, int64_t, int, bool>, std::unique_ptr<Layer>>
      layers_;
};

}  // namespace loom::cuda
