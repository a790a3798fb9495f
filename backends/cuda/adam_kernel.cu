// Adam on the device: one element-wise kernel over a parameter, its gradient
// and its two slots (Backend::adam_update, backends/backend.h). The same
// arithmetic as optim/adam.cpp, in the parameter's dtype, so a GPU step and
// a host step agree to rounding.
#include "backends/cuda/adam_kernel.h"

#include "backends/cuda/cuda_check.h"

namespace loom::cuda {
namespace {

template <typename T>
struct AdamScalars {
  T scale, clip, lr, wd, alpha, k1, k2, eps;
};

template <typename T>
__global__ void adam_kernel(int64_t n, T* __restrict__ w, const T* __restrict__ g,
                            T* __restrict__ m, T* __restrict__ v, AdamScalars<T> s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    // std::min(std::max(g, -clip), clip) as on the host: a NaN gradient stays NaN.
    const T lo = g[i] < -s.clip ? -s.clip : g[i];
    const T gi = s.scale * (s.clip < lo ? s.clip : lo);
    const T wi = w[i] - w[i] * s.wd * s.lr;
    const T mi = m[i] + (gi - m[i]) * s.k1;
    const T vi = v[i] + (gi * gi - v[i]) * s.k2;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - (mi * s.alpha) / (sqrt(vi) + s.eps);
  }
}

template <typename T>
void launch(cudaStream_t stream, const AdamUpdate& u) {
  const AdamScalars<T> s{static_cast<T>(u.scale),        static_cast<T>(u.clip),
                         static_cast<T>(u.lr),           static_cast<T>(u.weight_decay),
                         static_cast<T>(u.alpha),        static_cast<T>(u.one_minus_b1),
                         static_cast<T>(u.one_minus_b2), static_cast<T>(u.epsilon)};
  constexpr int kThreads = 256;
  const int64_t blocks = (u.n + kThreads - 1) / kThreads;
  adam_kernel<T><<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), kThreads, 0, stream>>>(
      u.n, static_cast<T*>(u.w), static_cast<const T*>(u.g), static_cast<T*>(u.m),
      static_cast<T*>(u.v), s);
}

}  // namespace

void adam_update(cudaStream_t stream, const AdamUpdate& u) {
  if (u.n == 0) return;
  if (u.dtype == DType::f32) launch<float>(stream, u);
  else if (u.dtype == DType::f64) launch<double>(stream, u);
  else fail("cuda adam_update: expected f32 or f64, got {}", dtype_name(u.dtype));
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw_cuda_error("CUDA", "adam_kernel", cudaGetErrorString(e), __FILE__, __LINE__);
}

}  // namespace loom::cuda
