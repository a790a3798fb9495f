// Launch helpers shared by the CUDA kernel files (cuda_kernels.cu,
// cudnn_rnn_kernels.cu, adam_kernel.cu): grid sizing for grid-stride loops
// and the check after each launch.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "loom/backends/types.h"

namespace loom::cuda {

inline constexpr int kThreads = 256;         // threads per block for every kernel
inline constexpr int64_t kMaxBlocks = 4096;  // grid-stride loops cap their grids at this

// Blocks for a grid-stride loop over n work items of `per_block` items each.
inline unsigned grid_for(int64_t n, int64_t per_block = kThreads) {
  const int64_t blocks = (n + per_block - 1) / per_block;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxBlocks));
}

// Throws loom::Error naming the kernel when its launch failed.
inline void check_launch(const char* name) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) fail("CUDA kernel {} failed: {}", name, cudaGetErrorString(err));
}

}  // namespace loom::cuda
