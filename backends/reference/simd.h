// Fixed-width vectors of f32/f64 for the reference backend's hand-blocked
// loops (the GEMM micro-kernel, packing transposes, NaN-aware reductions),
// where the auto-vectorizer alone falls short. GCC/Clang vector extensions
// give the widest vectors -march allows; other compilers get a plain-array
// fallback with the same interface.
#pragma once

#include "loom/backends/reference/isa_namespace.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace loom::ref {
inline namespace LOOM_ISA_NS {

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif

#if defined(__GNUC__)
// A native vector of T; a * b + c compiles to an FMA (GCC and Clang contract
// by default outside ISO C).
template <typename T>
struct Simd {
  static constexpr int L = kVecBytes / static_cast<int>(sizeof(T));
  typedef T V __attribute__((vector_size(kVecBytes)));
  // The same vector at T's alignment, for unaligned loads and stores.
  typedef T U __attribute__((vector_size(kVecBytes), aligned(sizeof(T)), may_alias));
  static V zero() { return V{}; }
  static V splat(T x) { return x - V{}; }  // x - 0 == x exactly (V{} + x is not, for -0)
  static V load(const T* p) { return *reinterpret_cast<const U*>(p); }
  static void store(T* p, V v) { *reinterpret_cast<U*>(p) = v; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V scale(V v, T s) { return v * s; }
  // Lane-wise max / min where NaN wins: a NaN in b replaces a, and a NaN
  // already in a stays (every comparison with it is false).
  static V max_nan(V a, V b) {
#if defined(__clang__)
    for (int i = 0; i < L; ++i) a[i] = (b[i] > a[i] || b[i] != b[i]) ? b[i] : a[i];
    return a;
#else
    return ((b > a) | (b != b)) ? b : a;
#endif
  }
  static V min_nan(V a, V b) {
#if defined(__clang__)
    for (int i = 0; i < L; ++i) a[i] = (b[i] < a[i] || b[i] != b[i]) ? b[i] : a[i];
    return a;
#else
    return ((b < a) | (b != b)) ? b : a;
#endif
  }
  // Transposes the L x L block whose rows are x[0..L). Stage b swaps bit b of
  // the row index with bit b of the column index, so log2(L) stages of
  // two-source shuffles do it all in registers.
  static void transpose(V (&x)[L]) {
#if defined(__clang__)
    transpose_via_memory(x);
#else
    transpose_stage<1>(x, std::make_index_sequence<L>{});
#endif
  }
#if !defined(__clang__)
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> IT;
  typedef IT I __attribute__((vector_size(kVecBytes)));
  // Rows r (bit b clear) and r | b of stage b's result, as shuffle indices
  // into the pair (x[r], x[r | b]); compile-time constants so GCC emits one
  // permute per row.
  template <int b, size_t... c>
  static void transpose_stage(V (&x)[L], std::index_sequence<c...> cs) {
    constexpr I lo = {static_cast<IT>((c & b) ? L + c - b : c)...};
    constexpr I hi = {static_cast<IT>((c & b) ? L + c : c + b)...};
#pragma GCC unroll 16
    for (int r = 0; r < L; ++r) {
      if (r & b) continue;
      const V u = x[r], w = x[r | b];
      x[r] = __builtin_shuffle(u, w, lo);
      x[r | b] = __builtin_shuffle(u, w, hi);
    }
    if constexpr (2 * b < L) transpose_stage<2 * b>(x, cs);
  }
#endif
  static void transpose_via_memory(V (&x)[L]) {
    T t[L][L];
    std::memcpy(t, x, sizeof t);
    for (int r = 0; r < L; ++r)
      for (int c = 0; c < L; ++c) x[r][c] = t[c][r];
  }
};
#else
// Portable fallback: fixed-size arrays the auto-vectorizer may pick up.
template <typename T>
struct Simd {
  static constexpr int L = kVecBytes / static_cast<int>(sizeof(T));
  struct V {
    T x[L];
  };
  static V zero() { return V{}; }
  static V splat(T s) {
    V v;
    for (int i = 0; i < L; ++i) v.x[i] = s;
    return v;
  }
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(T* p, V v) { std::memcpy(p, &v, sizeof v); }
  static V fma(V a, V b, V c) {
    for (int i = 0; i < L; ++i) c.x[i] += a.x[i] * b.x[i];
    return c;
  }
  static V scale(V v, T s) {
    for (int i = 0; i < L; ++i) v.x[i] *= s;
    return v;
  }
  static V max_nan(V a, V b) {
    for (int i = 0; i < L; ++i) a.x[i] = (b.x[i] > a.x[i] || b.x[i] != b.x[i]) ? b.x[i] : a.x[i];
    return a;
  }
  static V min_nan(V a, V b) {
    for (int i = 0; i < L; ++i) a.x[i] = (b.x[i] < a.x[i] || b.x[i] != b.x[i]) ? b.x[i] : a.x[i];
    return a;
  }
  static void transpose(V (&x)[L]) {
    T t[L][L];
    std::memcpy(t, x, sizeof t);
    for (int r = 0; r < L; ++r)
      for (int c = 0; c < L; ++c) x[r].x[c] = t[c][r];
  }
};
#endif

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
