// f32 exp, tanh and sigmoid without libm calls, for element-wise loops: the
// one implementation the reference backend uses (the unary kernels in
// reference_backend.cpp and the fused RNN gates through rnn_gates.h).
//
// A libm call keeps a loop from vectorizing (tanhf alone costs ~20 ns per
// element here), so these are branch-free forms GCC vectorizes: both sides
// of every choice are computed and one taken by select_f32() below. They
// cover every input: results down in the subnormal range, overflow to inf,
// saturation to 0, 1 and +-1 for large |x| (and +-inf), NaN in -> NaN out.
//
// Largest error against the double-precision truth over every 7th f32 bit
// pattern in [-100, 100]: exp 0.92 ulp, tanh 0.95, sigmoid 1.97 with FMA
// contraction (-march=native on x86-64); about 1.2, 1.03 and 2.0 without.
// backend_test.cpp (UnaryF32.*, RnnGatesF32.*) checks them; f64 callers use
// libm.
#pragma once

#include "loom/backends/reference/isa_namespace.h"

#include <bit>
#include <cmath>
#include <cstdint>

#if defined(__GNUC__)
#define LOOM_ALWAYS_INLINE [[gnu::always_inline]] inline
#else
#define LOOM_ALWAYS_INLINE inline
#endif

namespace loom::ref {
inline namespace LOOM_ISA_NS {
namespace vmath {

// c ? a : b, as a bit mask blend. With a plain ?: GCC moves each side's
// arithmetic under a branch (or specializes it for a constant side), and
// under the default -ftrapping-math it will not turn that back into
// straight-line code, so the loop does not vectorize ("control flow in
// loop"); integer and/or it leaves alone, and vectorizes to a blend.
LOOM_ALWAYS_INLINE float select_f32(bool c, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & m) | (std::bit_cast<uint32_t>(b) & ~m));
}

// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial
// (truncation error < 1e-8 relative, the last step 1 + r p(r) one rounding
// with FMA), 2^n applied as two normal powers of two so results down in the
// subnormal range and up to FLT_MAX stay right.
//   x <= -104:  0 (e^-104 is below half the smallest subnormal)
//   x > 88.72:  inf (past FLT_MAX; x is clamped to 89, and e^89 overflows)
//   NaN:        the input NaN
LOOM_ALWAYS_INLINE float exp_f32(float x) {
  float xc = select_f32(x > -104.0f, x, -104.0f);  // also maps NaN to a finite value here
  xc = select_f32(xc < 89.0f, xc, 89.0f);
  // Round to nearest by adding and removing 1.5 * 2^23 (floorf would not vectorize).
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  // Cody-Waite: ln2_hi has few bits, so n * ln2_hi is exact.
  const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t ni = static_cast<int32_t>(n), n1 = ni >> 1, n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  const float y = p * s1 * s2;
  return select_f32(x != x, x, y);
}

// tanh, computed on |x| and given x's sign (tanh is odd; keeps tanh(-0) = -0):
//   |x| < 1:  |x| + |x|^3 P(x^2), P the degree-6 minimax fit of
//             (tanh(x) - x) / x^3 on [0, 1] (relative error 4.6e-9)
//   |x| >= 1: 1 - 2 / (e^(2|x|) + 1); e^(2|x|) = inf past |x| = 44.4 gives
//             exactly 1, so +-inf and large |x| saturate to +-1.
// The polynomial reaches to 1 because below that the exp form loses up to
// 1.4 ulp in the subtraction from 1. NaN: |x| < 1 fails, e^NaN is NaN.
LOOM_ALWAYS_INLINE float tanh_f32(float x) {
  const float ax = std::abs(x), z = x * x;
  float p = -3.584520361e-4f;
  p = p * z + 2.301364709e-3f;
  p = p * z + -7.946106581e-3f;
  p = p * z + 2.148665767e-2f;
  p = p * z + -5.387980275e-2f;
  p = p * z + 1.333234457e-1f;
  p = p * z + -3.333329543e-1f;
  const float small = ax + ax * z * p;
  const float big = 1.0f - 2.0f / (exp_f32(2.0f * ax) + 1.0f);
  return std::copysign(select_f32(ax < 1.0f, small, big), x);
}

// 1 / (1 + e^-x) = num / (1 + e) with e = e^-|x| <= 1, so nothing overflows:
// num = 1 for x >= 0, e for x < 0. d = 1 + e rounds; derr, the part of 1 + e
// that d lost (exact: |e| <= 1), corrects the quotient to first order,
//   num / (d + derr) ~ q - q derr / d,   1 / d = q (x >= 0) or 1 - q (x < 0),
// which takes the worst error from 2.8 to 2.0 ulp.
//   x -> +inf: 1;  x -> -inf: e^x (subnormal, then 0);  NaN: NaN.
LOOM_ALWAYS_INLINE float sigmoid_f32(float x) {
  const float e = exp_f32(-std::abs(x));
  const float d = 1.0f + e;
  const float derr = (1.0f - d) + e;
  const bool pos = x >= 0.0f;
  const float q = select_f32(pos, 1.0f, e) / d;
  const float inv_d = select_f32(pos, q, 1.0f - q);
  return q - q * inv_d * derr;
}

}  // namespace vmath
}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
