// Device math shared by the CUDA kernel files (cuda_kernels.cu,
// rnn_gates_kernels.cu): <cmath>-style overloads, std::min / std::max
// semantics and an unfused multiply-add. CUDA-only (__device__ functions):
// include it from .cu files.
//
// Overloads with <cmath>'s types: float -> float, double -> double, and an
// integer argument computes in double (std::exp(int) is a double), so the
// kernels' generic op code reads like the reference's and converts the same way.
// CUDA's accurate math library (no fast intrinsics) backs all of them.
#pragma once

#include <cuda_runtime.h>

#include <type_traits>

namespace loom::cuda {

#define LOOM_MATH_FN(name, ffn, dfn)                                               \
  __device__ __forceinline__ float name(float x) { return ::ffn(x); }               \
  __device__ __forceinline__ double name(double x) { return ::dfn(x); }             \
  template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>           \
  __device__ __forceinline__ double name(I x) { return ::dfn(static_cast<double>(x)); }
LOOM_MATH_FN(m_exp, expf, exp)
LOOM_MATH_FN(m_log, logf, log)
LOOM_MATH_FN(m_log1p, log1pf, log1p)
LOOM_MATH_FN(m_tanh, tanhf, tanh)
LOOM_MATH_FN(m_sqrt, sqrtf, sqrt)
#undef LOOM_MATH_FN

__device__ __forceinline__ float m_abs(float x) { return ::fabsf(x); }
__device__ __forceinline__ double m_abs(double x) { return ::fabs(x); }
template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
__device__ __forceinline__ I m_abs(I x) {
  return x < I(0) ? static_cast<I>(-x) : x;
}

// std::max / std::min exactly (NaN handling included): max(a, b) = a < b ? b : a,
// min(a, b) = b < a ? b : a.
template <typename T>
__device__ __forceinline__ T std_max(T a, T b) {
  return a < b ? b : a;
}
template <typename T>
__device__ __forceinline__ T std_min(T a, T b) {
  return b < a ? b : a;
}

// a * x + b rounded twice, never contracted to an FMA, so hard_sigmoid's
// clip points fall where the reference's do.
template <typename T>
__device__ __forceinline__ T mul_add_rn(T a, T x, T b) {
  if constexpr (std::is_same_v<T, float>) return __fadd_rn(__fmul_rn(a, x), b);
  else if constexpr (std::is_same_v<T, double>) return __dadd_rn(__dmul_rn(a, x), b);
  else return static_cast<T>(a * x + b);
}

}  // namespace loom::cuda
