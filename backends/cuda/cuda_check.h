// Every CUDA runtime, cuBLAS and cuDNN call is wrapped so that a failure
// becomes a loom::Error naming the call, the library's message and the
// source line:
//   LOOM_CUDA(cudaMemcpyAsync(...));   LOOM_CUBLAS(...);   LOOM_CUDNN(...);
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "loom/backends/types.h"

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

// Makes device `index` current for its lifetime and restores the previous
// one (the current device is per thread; a call on cuda:1 must not leave
// the thread on it for the next cuda:0 call, nor run on another device).
class DeviceGuard {
 public:
  explicit DeviceGuard(int index) {
    int current = 0;
    check(cudaGetDevice(&current), "cudaGetDevice", __FILE__, __LINE__);
    if (current != index) {
      check(cudaSetDevice(index), "cudaSetDevice", __FILE__, __LINE__);
      previous_ = current;
    }
  }
  ~DeviceGuard() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace loom::cuda

#define LOOM_CUDA(call) ::loom::cuda::check((call), #call, __FILE__, __LINE__)
#define LOOM_CUBLAS(call) ::loom::cuda::check((call), #call, __FILE__, __LINE__)
#define LOOM_CUDNN(call) ::loom::cuda::check((call), #call, __FILE__, __LINE__)
