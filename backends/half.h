// The 16-bit floating formats of mixed precision, as storage and as
// rounding: bfloat16 (8-bit exponent like f32, 8-bit significand) and IEEE
// binary16 (5-bit exponent, 11-bit significand).
//
// Conversions round to nearest, ties to even, as oneDNN, cuDNN and x86's
// VCVTNEPS2BF16 / VCVTPS2PH do, so a value rounded here is the value those
// kernels compute with. NaN stays NaN; f16 overflows to infinity.
#pragma once

#include <cstdint>
#include <cstring>

namespace loom {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// ---- bfloat16: the top 16 bits of an f32 ---------------------------------------------

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // ties to even; a carry into the exponent is the right rounding
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_bits_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }
// f rounded to the nearest bfloat16, as an f32.
inline float round_to_bf16(float f) { return bf16_bits_to_float(float_to_bf16_bits(f)); }

// ---- binary16 ----------------------------------------------------------------------------

inline uint16_t float_to_f16_bits(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504: inf
  if (a < 0x38800000u) {
    // Below the smallest normal 2^-14: a subnormal step of 2^-24. Adding
    // 0.5 makes the FPU's own round-to-nearest-even do the rounding.
    const float r = bits_float(a) + 0.5f;
    return static_cast<uint16_t>(sign | (float_bits(r) - 0x3f000000u));
  }
  uint32_t m = a + ((15u - 127u) << 23);  // rebias the exponent
  m += 0xfffu + ((m >> 13) & 1u);         // ties to even
  return static_cast<uint16_t>(sign | (m >> 13));
}
inline float f16_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return bits_float(sign | 0x7f800000u | (m << 13));  // inf, NaN
  if (e == 0) {  // zero or subnormal: m * 2^-24
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_float(sign | ((e + 112u) << 23) | (m << 13));
}
inline float round_to_f16(float f) { return f16_bits_to_float(float_to_f16_bits(f)); }

}  // namespace loom
