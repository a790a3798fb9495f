// The optimizers' Adam and AMSGrad update over one contiguous span
// (optim/adam.cpp splits a parameter into spans and computes the scalars;
// the formula is written out in optim/optimizers.h). Here so that it is
// compiled once per instruction-set variant like the other CPU kernels.
#include <algorithm>
#include <cmath>

#include "loom/backends/reference/kernels.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {

namespace {

template <typename T>
T clip(T g, T c) {
  return std::min(std::max(g, -c), c);
}

}  // namespace

template <typename T>
void adam_span(const AdamSpan<T>& a, int64_t begin, int64_t end) {
  // Local restrict copies: with the fields read through the struct GCC
  // assumed the stores could change them and kept a scalar loop.
  T* __restrict w = a.w;
  T* __restrict m = a.m;
  T* __restrict v = a.v;
  const T* __restrict graw = a.g;
  const T scale = a.scale, c = a.clip, wd = a.weight_decay, lr = a.lr, alpha = a.alpha,
          k1 = a.one_minus_b1, k2 = a.one_minus_b2, eps = a.epsilon;
  if (a.vhat == nullptr) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const T g = scale * clip(graw[i], c);
      const T wi = w[i] - w[i] * wd * lr;  // decoupled weight decay
      const T mi = m[i] + (g - m[i]) * k1;
      const T vi = v[i] + (g * g - v[i]) * k2;
      m[i] = mi;
      v[i] = vi;
      w[i] = wi - (mi * alpha) / (std::sqrt(vi) + eps);
    }
    return;
  }
  T* __restrict vhat = a.vhat;
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const T g = scale * clip(graw[i], c);
    const T wi = w[i] - w[i] * wd * lr;
    const T mi = m[i] + (g - m[i]) * k1;
    const T vi = v[i] + (g * g - v[i]) * k2;
    // AMSGrad: the denominator uses the running maximum of v.
    const T vh = std::max(vhat[i], vi);
    m[i] = mi;
    v[i] = vi;
    vhat[i] = vh;
    w[i] = wi - (mi * alpha) / (std::sqrt(vh) + eps);
  }
}

template void adam_span<float>(const AdamSpan<float>&, int64_t, int64_t);
template void adam_span<double>(const AdamSpan<double>&, int64_t, int64_t);

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
