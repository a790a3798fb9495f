// Adam on the device: one element-wise kernel over a parameter, its gradient
// and its two slots (Backend::adam_update, backends/backend.h). The same
// arithmetic as optim/adam.cpp, in the parameter's dtype, so a GPU step and
// a host step agree to rounding.
#include "loom/backends/cuda/adam_kernel.h"

#include "loom/backends/cuda/cuda_launch.h"

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
  adam_kernel<T><<<grid_for(u.n), kThreads, 0, stream>>>(
      u.n, static_cast<T*>(u.w), static_cast<const T*>(u.g), static_cast<T*>(u.m),
      static_cast<T*>(u.v), s);
}

}  // namespace

void adam_update(cudaStream_t stream, const AdamUpdate& u) {
  if (u.n == 0) return;
  dispatch_floating(u.dtype, "cuda adam_update", [&](auto tag) { launch<decltype(tag)>(stream, u); });
  check_launch("adam_kernel");
}

}  // namespace loom::cuda
