// Every CUDA runtime, cuBLAS and cuDNN call is wrapped so that a failure
// becomes a loom::Error naming the call, the library's message and the
// source line:
//   LOOM_CUDA(cudaMemcpyAsync(...));   LOOM_CUBLAS(...);   LOOM_CUDNN(...);
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "backends/types.h"

namespace loom::cuda {

[[noreturn]] void throw_cuda_error(const char* library, const char* call, const char* message,
                                   const char* file, int line);

inline void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) throw_cuda_error("CUDA", call, cudaGetErrorString(e), file, line);
}
inline void check(cublasStatus_t e, const char* call, const char* file, int line) {
  if (e != CUBLAS_STATUS_SUCCESS) throw_cuda_error("cuBLAS", call, cublasGetStatusString(e), file, line);
}
inline void check(cudnnStatus_t e, const char* call, const char* file, int line) {
  if (e != CUDNN_STATUS_SUCCESS) throw_cuda_error("cuDNN", call, cudnnGetErrorString(e), file, line);
}

}  // namespace loom::cuda

#define LOOM_CUDA(call) ::loom::cuda::check((call), #call, __FILE__, __LINE__)
#define LOOM_CUBLAS(call) ::loom::cuda::check((call), #call, __FILE__, __LINE__)
#define LOOM_CUDNN(call) ::loom::cuda::check((call), #call, __FILE__, __LINE__)
