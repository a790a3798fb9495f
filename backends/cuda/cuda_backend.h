// The CUDA/cuDNN backend (built with LOOM_WITH_CUDA=ON). This header has no
// CUDA includes: the registry and user programs include it freely.
#pragma once

#include <cstddef>
#include <memory>

#include "loom/backends/backend.h"

namespace loom {

// Devices the CUDA runtime reports (0 when there is no GPU or driver).
int cuda_visible_devices();

// The backend of device `index` (registry.cpp makes one per device).
std::unique_ptr<Backend> make_cuda_backend(int index);

// TF32 tensor-core math for f32 GEMMs and cuDNN RNNs: faster, with a 10-bit
// mantissa in the products. Off by default (results match f32 CPU runs);
// LOOM_CUDA_TF32=1 or set_cuda_tf32(true) turns it on.
void set_cuda_tf32(bool on);
bool cuda_tf32();

// The caching allocator's counters for device `index` (bytes).
struct CudaMemoryStats {
  size_t in_use = 0;     // held by live tensors
  size_t cached = 0;     // freed blocks kept for reuse
  size_t peak = 0;       // highest in_use so far
  size_t device_allocations = 0;  // cudaMalloc calls so far
};
CudaMemoryStats cuda_memory_stats(int index = 0);
// The one stream every kernel of device `index` runs on (a cudaStream_t):
// NCCL's collectives go on it too (distributed/nccl_comm.cpp), in order
// with the kernels that produce and consume the gradients.
void* cuda_stream(int index = 0);
// Returns every cached block to the driver.
void cuda_empty_cache(int index = 0);

}  // namespace loom
