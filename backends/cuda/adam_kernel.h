// Adam's element-wise update on the device (adam_kernel.cu).
#pragma once

#include <cuda_runtime_api.h>

#include "loom/backends/backend.h"

namespace loom::cuda {

// Enqueues one Adam step (backends/backend.h, AdamUpdate) on `stream`.
void adam_update(cudaStream_t stream, const AdamUpdate& update);

}  // namespace loom::cuda
