// Element-wise, reduction, softmax, embedding and random kernels of the
// reference backend (compiled once per instruction-set variant, kernels.h).
// The GEMM is in gemm.cpp, the RNN step kernels in rnn_gates.cpp.

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "loom/backends/half.h"
#include "loom/backends/philox.h"
#include "loom/backends/reference/kernels.h"
#include "loom/backends/reference/parallel.h"
#include "loom/backends/reference/simd.h"
#include "loom/backends/reference/strided_loop.h"
#include "loom/backends/reference/vmath.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {

using ref::for_each_row;

namespace {

using ref::vmath::exp_f32;
using ref::vmath::sigmoid_f32;
using ref::vmath::tanh_f32;

// The element-wise loops call these with a compile-time op; inlining them
// (LOOM_ALWAYS_INLINE, vmath.h) folds the switch away so the loop can vectorize.
template <typename T>
LOOM_ALWAYS_INLINE T unary_value(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::copy: return x;
    case UnaryOp::neg: return -x;
    case UnaryOp::exp:
      if constexpr (std::is_same_v<T, float>) return exp_f32(x);
      else return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::tanh:
      if constexpr (std::is_same_v<T, float>) return tanh_f32(x);
      else return std::tanh(x);
    case UnaryOp::sigmoid:
      if constexpr (std::is_same_v<T, float>) {
        return sigmoid_f32(x);
      } else if (x >= T(0)) {  // split by sign so exp never overflows
        return T(1) / (T(1) + std::exp(-x));
      } else {
        T e = std::exp(x);
        return e / (T(1) + e);
      }
    case UnaryOp::hard_sigmoid: return std::min(T(1), std::max(T(0), T(0.2) * x + T(0.5)));
    case UnaryOp::relu: return x < T(0) ? T(0) : x;  // NaN stays NaN
    case UnaryOp::softplus:  // log(1 + e^x) without overflow
      return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::abs: return std::abs(x);
    case UnaryOp::sign: return T((x > T(0)) - (x < T(0)));
  }
  return x;
}

// d op / d x expressed with `s` = y for grad_uses_output ops, x otherwise.
template <typename T>
LOOM_ALWAYS_INLINE T unary_derivative(UnaryOp op, T s) {
  switch (op) {
    case UnaryOp::copy: return T(1);
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return s;                       // y
    case UnaryOp::log: return T(1) / s;                // 1/x
    case UnaryOp::tanh: return T(1) - s * s;           // 1 - y^2
    case UnaryOp::sigmoid: return s * (T(1) - s);      // y (1 - y)
    case UnaryOp::hard_sigmoid: {                      // 0.2 inside (-2.5, 2.5)
      T z = T(0.2) * s + T(0.5);
      return (z > T(0) && z < T(1)) ? T(0.2) : T(0);
    }
    case UnaryOp::relu: return s > T(0) ? T(1) : T(0);
    case UnaryOp::softplus: return unary_value(UnaryOp::sigmoid, s);
    case UnaryOp::sqrt: return T(0.5) / s;             // 1 / (2 y)
    case UnaryOp::square: return T(2) * s;
    case UnaryOp::abs: return T((s > T(0)) - (s < T(0)));
    case UnaryOp::sign: return T(0);
  }
  return T(0);
}

template <typename T>
LOOM_ALWAYS_INLINE T binary_value(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::maximum: return a > b ? a : b;
    case BinaryOp::minimum: return a < b ? a : b;
    case BinaryOp::eq: return T(a == b);
    case BinaryOp::ne: return T(a != b);
    case BinaryOp::lt: return T(a < b);
    case BinaryOp::le: return T(a <= b);
    case BinaryOp::gt: return T(a > b);
    case BinaryOp::ge: return T(a >= b);
  }
  return T(0);
}

// Call fn with the op as a compile-time constant, so each element-wise loop
// is compiled per op with no switch inside it and can vectorize.
template <typename Fn>
void with_unary_op(UnaryOp op, Fn&& fn) {
  using U = UnaryOp;
  switch (op) {
#define LOOM_CASE(o) \
  case U::o: return fn(std::integral_constant<U, U::o>{});
    LOOM_CASE(copy) LOOM_CASE(neg) LOOM_CASE(exp) LOOM_CASE(log) LOOM_CASE(tanh)
    LOOM_CASE(sigmoid) LOOM_CASE(hard_sigmoid) LOOM_CASE(relu) LOOM_CASE(softplus)
    LOOM_CASE(sqrt) LOOM_CASE(square) LOOM_CASE(abs) LOOM_CASE(sign)
#undef LOOM_CASE
  }
  fail("reference backend: unknown unary op {}", static_cast<int>(op));
}

template <typename Fn>
void with_binary_op(BinaryOp op, Fn&& fn) {
  using B = BinaryOp;
  switch (op) {
#define LOOM_CASE(o) \
  case B::o: return fn(std::integral_constant<B, B::o>{});
    LOOM_CASE(add) LOOM_CASE(sub) LOOM_CASE(mul) LOOM_CASE(div) LOOM_CASE(maximum)
    LOOM_CASE(minimum) LOOM_CASE(eq) LOOM_CASE(ne) LOOM_CASE(lt) LOOM_CASE(le) LOOM_CASE(gt)
    LOOM_CASE(ge)
#undef LOOM_CASE
  }
  fail("reference backend: unknown binary op {}", static_cast<int>(op));
}

void check_same_dtype(const char* kernel, const StridedView& a, const StridedView& b) {
  LOOM_CHECK(a.dtype == b.dtype, "reference backend {}: dtype mismatch {} vs {}", kernel,
             dtype_name(a.dtype), dtype_name(b.dtype));
}

template <typename T>
int64_t read_id(const StridedView& ids, int64_t n) {
  return ids.dtype == DType::i32 ? static_cast<int64_t>(ids.ptr<int32_t>()[n * ids.strides[0]])
                                 : ids.ptr<int64_t>()[n * ids.strides[0]];
}

}  // namespace

void fill(const StridedView& dst, double value) {
  dispatch_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(value);
    for_each_row<1>({&dst}, {sizeof(T)}, [&](auto p, auto s, int64_t n) {
      T* d = reinterpret_cast<T*>(p[0]);
      for (int64_t i = 0; i < n; ++i) d[i * s[0]] = v;
    });
  });
}

namespace {
// One 16-bit format's conversions, as a type the strided loops can use.
struct Bf16Format {
  static float load(uint16_t h) { return bf16_bits_to_float(h); }
  static uint16_t store(float f) { return float_to_bf16_bits(f); }
};
struct F16Format {
  static float load(uint16_t h) { return f16_bits_to_float(h); }
  static uint16_t store(float f) { return float_to_f16_bits(f); }
};

// src -> dst where one side (or both) is bf16/f16: through f32, rounding
// once to the 16-bit format (f64 is narrowed to f32 first, as oneDNN and
// PyTorch do).
template <typename Fmt>
void copy_with_half(const StridedView& src, const StridedView& dst, bool half_src, bool half_dst) {
  auto to_float = [&](const char* p, int64_t i) -> float {
    if (half_src) return Fmt::load(reinterpret_cast<const uint16_t*>(p)[i]);
    return dispatch_dtype(src.dtype, [&](auto t) {
      return static_cast<float>(reinterpret_cast<const decltype(t)*>(p)[i]);
    });
  };
  auto from_float = [&](char* p, int64_t i, float v) {
    if (half_dst) {
      reinterpret_cast<uint16_t*>(p)[i] = Fmt::store(v);
      return;
    }
    dispatch_dtype(dst.dtype, [&](auto t) {
      using D = decltype(t);
      reinterpret_cast<D*>(p)[i] = static_cast<D>(v);
    });
  };
  for_each_row<2>({&src, &dst}, {dtype_size(src.dtype), dtype_size(dst.dtype)},
                  [&](auto p, auto s, int64_t n) {
                    for (int64_t i = 0; i < n; ++i)
                      from_float(reinterpret_cast<char*>(p[1]), i * s[1],
                                 to_float(reinterpret_cast<const char*>(p[0]), i * s[0]));
                  });
}
}  // namespace

void copy(const StridedView& src, const StridedView& dst) {
  const bool half_src = is_half_float(src.dtype), half_dst = is_half_float(dst.dtype);
  if (half_src || half_dst) {
    LOOM_CHECK(!(half_src && half_dst) || src.dtype == dst.dtype,
               "copy: {} to {} is not a conversion Loom makes (go through f32)",
               dtype_name(src.dtype), dtype_name(dst.dtype));
    const DType fmt = half_src ? src.dtype : dst.dtype;
    if (fmt == DType::bf16)
      copy_with_half<Bf16Format>(src, dst, half_src, half_dst);
    else
      copy_with_half<F16Format>(src, dst, half_src, half_dst);
    return;
  }
  dispatch_dtype(src.dtype, [&](auto stag) {
    using S = decltype(stag);
    dispatch_dtype(dst.dtype, [&](auto dtag) {
      using D = decltype(dtag);
      for_each_row<2>({&src, &dst}, {sizeof(S), sizeof(D)}, [&](auto p, auto s, int64_t n) {
        const S* a = reinterpret_cast<const S*>(p[0]);
        D* d = reinterpret_cast<D*>(p[1]);
        if (s[0] == 1 && s[1] == 1) {
          for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(a[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) d[i * s[1]] = static_cast<D>(a[i * s[0]]);
        }
      });
    });
  });
}

void unary(UnaryOp op, const StridedView& src, const StridedView& dst) {
  check_same_dtype(unary_op_name(op), src, dst);
  dispatch_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_unary_op(op, [&](auto opc) {
      for_each_row<2>({&src, &dst}, {sizeof(T), sizeof(T)}, [&](auto p, auto s, int64_t n) {
        const T* a = reinterpret_cast<const T*>(p[0]);
        T* d = reinterpret_cast<T*>(p[1]);
        if (s[0] == 1 && s[1] == 1) {
          for (int64_t i = 0; i < n; ++i) d[i] = unary_value<T>(opc.value, a[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) d[i * s[1]] = unary_value<T>(opc.value, a[i * s[0]]);
        }
      });
    });
  });
}

void unary_grad(UnaryOp op, const StridedView& saved, const StridedView& dy,
                                  const StridedView& dx) {
  check_same_dtype(unary_op_name(op), saved, dy);
  check_same_dtype(unary_op_name(op), dy, dx);
  dispatch_floating(dx.dtype, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    with_unary_op(op, [&](auto opc) {
      for_each_row<3>({&saved, &dy, &dx}, {sizeof(T), sizeof(T), sizeof(T)},
                      [&](auto p, auto s, int64_t n) {
        const T* sv = reinterpret_cast<const T*>(p[0]);
        const T* g = reinterpret_cast<const T*>(p[1]);
        T* d = reinterpret_cast<T*>(p[2]);
        if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
          for (int64_t i = 0; i < n; ++i) d[i] = g[i] * unary_derivative<T>(opc.value, sv[i]);
        } else {
          for (int64_t i = 0; i < n; ++i)
            d[i * s[2]] = g[i * s[1]] * unary_derivative<T>(opc.value, sv[i * s[0]]);
        }
      });
    });
  });
}

void binary(BinaryOp op, const StridedView& a, const StridedView& b,
                              const StridedView& dst) {
  check_same_dtype(binary_op_name(op), a, b);
  check_same_dtype(binary_op_name(op), a, dst);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_binary_op(op, [&](auto opc) {
      for_each_row<3>({&a, &b, &dst}, {sizeof(T), sizeof(T), sizeof(T)},
                      [&](auto p, auto s, int64_t n) {
        const T* x = reinterpret_cast<const T*>(p[0]);
        const T* y = reinterpret_cast<const T*>(p[1]);
        T* d = reinterpret_cast<T*>(p[2]);
        if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
          for (int64_t i = 0; i < n; ++i) d[i] = binary_value<T>(opc.value, x[i], y[i]);
        } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {  // scalar (or broadcast) b
          const T yv = *y;
          for (int64_t i = 0; i < n; ++i) d[i] = binary_value<T>(opc.value, x[i], yv);
        } else if (s[0] == 0 && s[1] == 1 && s[2] == 1) {
          const T xv = *x;
          for (int64_t i = 0; i < n; ++i) d[i] = binary_value<T>(opc.value, xv, y[i]);
        } else {
          for (int64_t i = 0; i < n; ++i)
            d[i * s[2]] = binary_value<T>(opc.value, x[i * s[0]], y[i * s[1]]);
        }
      });
    });
  });
}

void axpby(double alpha, const StridedView& src, double beta,
                             const StridedView& dst) {
  check_same_dtype("axpby", src, dst);
  dispatch_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    for_each_row<2>({&src, &dst}, {sizeof(T), sizeof(T)}, [&](auto p, auto s, int64_t n) {
      const T* x = reinterpret_cast<const T*>(p[0]);
      T* d = reinterpret_cast<T*>(p[1]);
      if (s[0] == 1 && s[1] == 1) {
        if (beta == 0.0) {
          for (int64_t i = 0; i < n; ++i) d[i] = al * x[i];
        } else {
          for (int64_t i = 0; i < n; ++i) d[i] = al * x[i] + be * d[i];
        }
      } else if (beta == 0.0) {
        for (int64_t i = 0; i < n; ++i) d[i * s[1]] = al * x[i * s[0]];
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * s[1]] = al * x[i * s[0]] + be * d[i * s[1]];
      }
    });
  });
}

void where(const StridedView& cond, const StridedView& a, const StridedView& b,
                             const StridedView& dst) {
  check_same_dtype("where", a, b);
  check_same_dtype("where", a, dst);
  dispatch_dtype(cond.dtype, [&](auto ctag) {
    using C = decltype(ctag);
    dispatch_dtype(a.dtype, [&](auto tag) {
      using T = decltype(tag);
      for_each_row<4>({&cond, &a, &b, &dst}, {sizeof(C), sizeof(T), sizeof(T), sizeof(T)},
                      [&](auto p, auto s, int64_t n) {
                        const C* c = reinterpret_cast<const C*>(p[0]);
                        const T* x = reinterpret_cast<const T*>(p[1]);
                        const T* y = reinterpret_cast<const T*>(p[2]);
                        T* d = reinterpret_cast<T*>(p[3]);
                        for (int64_t i = 0; i < n; ++i)
                          d[i * s[3]] = c[i * s[0]] != C(0) ? x[i * s[1]] : y[i * s[2]];
                      });
    });
  });
}

namespace {

// One axis of a reduction after merging: extent, src stride, dst stride (0
// for a reduced axis) and whether it is reduced.
struct ReduceDim {
  int64_t n, ss, ds;
  bool red;
};

// Start value and step of each reduction. Sums accumulate in double (or
// int64) so long f32 reductions stay accurate; max/min let NaN win.
template <typename T>
using SumAcc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <typename T>
T reduce_start(ReduceOp op) {
  if constexpr (std::is_floating_point_v<T>)
    return op == ReduceOp::max ? -std::numeric_limits<T>::infinity()
                               : std::numeric_limits<T>::infinity();
  else
    return op == ReduceOp::max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

template <typename T>
T max_step(T acc, T v) {
  return (v > acc || v != v) ? v : acc;
}
template <typename T>
T min_step(T acc, T v) {
  return (v < acc || v != v) ? v : acc;
}

// Reduces the contiguous run x[0, n).
template <typename T>
T reduce_run(ReduceOp op, const T* x, int64_t n) {
  if (op == ReduceOp::sum) {
    SumAcc<T> acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += static_cast<SumAcc<T>>(x[i]);
    return static_cast<T>(acc);
  }
  T m = reduce_start<T>(op);
  int64_t i = 0;
  if constexpr (std::is_floating_point_v<T>) {
    // Explicit vector lanes: GCC does not vectorize a NaN-aware max/min
    // reduction written with one scalar accumulator.
    using S = ref::Simd<T>;
    typename S::V lanes = S::splat(m);
    for (; i + S::L <= n; i += S::L)
      lanes = op == ReduceOp::max ? S::max_nan(lanes, S::load(x + i)) : S::min_nan(lanes, S::load(x + i));
    T t[S::L];
    S::store(t, lanes);
    for (int l = 0; l < S::L; ++l) m = op == ReduceOp::max ? max_step(m, t[l]) : min_step(m, t[l]);
  }
  for (; i < n; ++i) m = op == ReduceOp::max ? max_step(m, x[i]) : min_step(m, x[i]);
  return m;
}

// dst[j] = reduce over r of x[r * rs + j], j in [0, n): whole rows at a time,
// so the inner loop runs along contiguous memory.
template <typename T>
void reduce_columns(ReduceOp op, const T* x, int64_t rows, int64_t rs, int64_t n, T* dst) {
  constexpr int64_t kBlock = 512;  // accumulators stay in L1
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t nb = std::min(kBlock, n - j0);
    if (op == ReduceOp::sum) {
      SumAcc<T> acc[kBlock] = {};
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * rs + j0;
        for (int64_t j = 0; j < nb; ++j) acc[j] += static_cast<SumAcc<T>>(row[j]);
      }
      for (int64_t j = 0; j < nb; ++j) dst[j0 + j] = static_cast<T>(acc[j]);
    } else {
      T acc[kBlock];
      std::fill(acc, acc + nb, reduce_start<T>(op));
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * rs + j0;
        int64_t j = 0;
        if constexpr (std::is_floating_point_v<T>) {  // see reduce_run
          using S = ref::Simd<T>;
          for (; j + S::L <= nb; j += S::L) {
            const auto v = S::load(row + j), a = S::load(acc + j);
            S::store(acc + j, op == ReduceOp::max ? S::max_nan(a, v) : S::min_nan(a, v));
          }
        }
        for (; j < nb; ++j) acc[j] = op == ReduceOp::max ? max_step(acc[j], row[j]) : min_step(acc[j], row[j]);
      }
      std::copy(acc, acc + nb, dst + j0);
    }
  }
}

// The axes of one reduction after merging (merge_reduce_axes): all of them
// in order, the kept ones (the outputs) and the reduced ones.
struct ReducePlan {
  ReduceDim dims[kMaxDims], kept[kMaxDims], red[kMaxDims];
  int nd = 0, nk = 0, nr = 0;
  int64_t n_out = 1, n_red = 1;  // outputs, and elements reduced into each

  bool last_reduced() const { return nd > 0 && dims[nd - 1].red; }
  // Offsets (src so, dst dof) of the first element of output o over kept
  // axes [0, upto).
  LOOM_ALWAYS_INLINE void out_offsets(int64_t o, int upto, int64_t& so, int64_t& dof) const {
    so = dof = 0;
    for (int i = upto - 1; i >= 0; --i) {
      const int64_t idx = o % kept[i].n;
      o /= kept[i].n;
      so += idx * kept[i].ss;
      dof += idx * kept[i].ds;
    }
  }
};

// Merges axes: size-1 axes drop out, and neighbouring axes of the same kind
// (both reduced, or both kept) merge when their strides nest, so a
// contiguous tensor becomes at most a few runs of kept and reduced axes.
void merge_reduce_axes(const StridedView& src, const StridedView& dst, ReducePlan& p) {
  for (int d = 0; d < src.ndim; ++d) {
    const bool red = dst.shape[d] == 1 && src.shape[d] != 1;
    if (!red)
      LOOM_CHECK(dst.shape[d] == src.shape[d], "reduce: dst extent {} vs src extent {} at axis {}",
                 dst.shape[d], src.shape[d], d);
    if (src.shape[d] == 1) continue;
    const ReduceDim x{src.shape[d], src.strides[d], red ? 0 : dst.strides[d], red};
    ReduceDim* last = p.nd > 0 ? &p.dims[p.nd - 1] : nullptr;
    if (last && last->red == red && last->ss == x.ss * x.n && (red || last->ds == x.ds * x.n)) {
      last->n *= x.n;
      last->ss = x.ss;
      last->ds = x.ds;
    } else {
      p.dims[p.nd++] = x;
    }
  }
  for (int d = 0; d < p.nd; ++d) (p.dims[d].red ? p.red[p.nr++] : p.kept[p.nk++]) = p.dims[d];
  for (int i = 0; i < p.nk; ++i) p.n_out *= p.kept[i].n;
  for (int i = 0; i < p.nr; ++i) p.n_red *= p.red[i].n;
}

// Over the last axis (per-row sums): one contiguous run per output.
// Needs one reduced axis, the last, of unit stride.
template <typename T>
void reduce_last_axis(ReduceOp op, const ReducePlan& p, const T* s, T* d) {
  ref::parallel_for(p.n_out, std::max<int64_t>(1, 16384 / p.n_red), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t so, dof;
      p.out_offsets(o, p.nk, so, dof);
      d[dof] = reduce_run<T>(op, s + so, p.n_red);
    }
  });
}

// Over leading axes of contiguous rows (bias gradients): the reduced axis
// sits right before a unit-stride kept axis; whole rows are accumulated.
template <typename T>
void reduce_leading_axis(ReduceOp op, const ReducePlan& p, const T* s, T* d) {
  const int64_t inner = p.kept[p.nk - 1].n, outer = p.n_out / inner;
  constexpr int64_t kCols = 512;
  const int64_t col_blocks = (inner + kCols - 1) / kCols;
  ref::parallel_for(outer * col_blocks,
                    std::max<int64_t>(1, 65536 / (p.n_red * std::min(inner, kCols))),
                    [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / col_blocks, j0 = t % col_blocks * kCols;
      int64_t so, dof;
      p.out_offsets(o, p.nk - 1, so, dof);
      reduce_columns<T>(op, s + so + j0, p.n_red, p.red[0].ss, std::min(kCols, inner - j0),
                        d + dof + j0);
    }
  });
}

// Any layout: each output walks its reduced axes with an odometer.
template <typename T>
void reduce_any_axes(ReduceOp op, const ReducePlan& p, const T* s, T* d) {
  ref::parallel_for(p.n_out, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.n_red, 1)),
                    [&](int64_t begin, int64_t end) {
    const int nr = p.nr;
    const int64_t n_red = p.n_red;
    const ReduceDim* red = p.red;
    for (int64_t o = begin; o < end; ++o) {
      int64_t so, dof;
      p.out_offsets(o, p.nk, so, dof);
      int64_t idx[kMaxDims] = {};
      int64_t off = so;
      SumAcc<T> sum = 0;
      T m = reduce_start<T>(op);
      for (int64_t r = 0; r < n_red; ++r) {
        const T v = s[off];
        if (op == ReduceOp::sum) sum += static_cast<SumAcc<T>>(v);
        else m = op == ReduceOp::max ? max_step(m, v) : min_step(m, v);
        for (int i = nr - 1; i >= 0; --i) {  // advance the odometer
          off += red[i].ss;
          if (++idx[i] < red[i].n) break;
          off -= red[i].n * red[i].ss;
          idx[i] = 0;
        }
      }
      d[dof] = op == ReduceOp::sum ? static_cast<T>(sum) : m;
    }
  });
}

}  // namespace

void reduce(ReduceOp op, const StridedView& src, const StridedView& dst) {
  check_same_dtype("reduce", src, dst);
  LOOM_CHECK(src.ndim == dst.ndim, "reduce: ndim mismatch {} vs {}", src.ndim, dst.ndim);
  ReducePlan p;
  merge_reduce_axes(src, dst, p);
  dispatch_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* s = src.ptr<T>();
    T* d = dst.ptr<T>();
    if (p.nr == 1 && p.last_reduced() && p.red[0].ss == 1)
      reduce_last_axis<T>(op, p, s, d);
    else if (p.nr == 1 && p.nd >= 2 && p.dims[p.nd - 2].red && !p.last_reduced() &&
             p.dims[p.nd - 1].ss == 1 && p.dims[p.nd - 1].ds == 1)
      reduce_leading_axis<T>(op, p, s, d);
    else
      reduce_any_axes<T>(op, p, s, d);
  });
}

void softmax(const StridedView& src, const StridedView& dst, bool log) {
  LOOM_CHECK(src.is_contiguous() && dst.is_contiguous(), "softmax: expects contiguous views");
  check_same_dtype("softmax", src, dst);
  const int64_t cols = src.shape[src.ndim - 1], rows = src.numel() / std::max<int64_t>(cols, 1);
  dispatch_floating(src.dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    ref::parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(cols, 1)),
                      [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* x = src.ptr<T>() + r * cols;
        T* y = dst.ptr<T>() + r * cols;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < cols; ++j) m = std::max(m, x[j]);
        double sum = 0;
        for (int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(x[j] - m));
        if (log) {
          T lse = m + static_cast<T>(std::log(sum));
          for (int64_t j = 0; j < cols; ++j) y[j] = x[j] - lse;
        } else {
          for (int64_t j = 0; j < cols; ++j) y[j] = static_cast<T>(std::exp(static_cast<double>(x[j] - m)) / sum);
        }
      }
    });
  });
}

// softmax:     dx = y * (dy - sum(dy * y))
// log_softmax: dx = dy - exp(y) * sum(dy)
void softmax_grad(const StridedView& y, const StridedView& dy,
                                    const StridedView& dx, bool log) {
  LOOM_CHECK(y.is_contiguous() && dy.is_contiguous() && dx.is_contiguous(),
             "softmax_grad: expects contiguous views");
  const int64_t cols = y.shape[y.ndim - 1], rows = y.numel() / std::max<int64_t>(cols, 1);
  dispatch_floating(y.dtype, "softmax_grad", [&](auto tag) {
    using T = decltype(tag);
    ref::parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(cols, 1)),
                      [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* yr = y.ptr<T>() + r * cols;
        const T* g = dy.ptr<T>() + r * cols;
        T* d = dx.ptr<T>() + r * cols;
        double acc = 0;
        if (log) {
          for (int64_t j = 0; j < cols; ++j) acc += g[j];
          for (int64_t j = 0; j < cols; ++j) d[j] = g[j] - std::exp(yr[j]) * static_cast<T>(acc);
        } else {
          for (int64_t j = 0; j < cols; ++j) acc += g[j] * yr[j];
          for (int64_t j = 0; j < cols; ++j) d[j] = yr[j] * (g[j] - static_cast<T>(acc));
        }
      }
    });
  });
}

void gather_rows(const StridedView& table, const StridedView& ids,
                                   const StridedView& dst) {
  check_same_dtype("gather_rows", table, dst);
  const int64_t n = ids.shape[0], e = table.shape[1];
  dispatch_dtype(table.dtype, [&](auto tag) {
    using T = decltype(tag);
    ref::parallel_for(n, std::max<int64_t>(1, 16384 / std::max<int64_t>(e, 1)),
                      [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T* row = table.ptr<T>() + read_id<T>(ids, i) * table.strides[0];
        T* out = dst.ptr<T>() + i * dst.strides[0];
        for (int64_t j = 0; j < e; ++j) out[j] = row[j];
      }
    });
  });
}

void scatter_add_rows(const StridedView& src, const StridedView& ids,
                                        const StridedView& dtable) {
  check_same_dtype("scatter_add_rows", src, dtable);
  const int64_t n = ids.shape[0], e = dtable.shape[1];
  // Threads split the embedding columns, so repeated ids never race.
  dispatch_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    ref::parallel_for(e, n * e > 65536 ? 16 : e, [&](int64_t c0, int64_t c1) {
      for (int64_t i = 0; i < n; ++i) {
        const T* g = src.ptr<T>() + i * src.strides[0];
        T* row = dtable.ptr<T>() + read_id<T>(ids, i) * dtable.strides[0];
        for (int64_t j = c0; j < c1; ++j) row[j] += g[j];
      }
    });
  });
}

void bernoulli_mask(const StridedView& dst, double keep_prob, double scale,
                                      uint64_t seed, uint64_t offset) {
  LOOM_CHECK(dst.is_contiguous(), "bernoulli_mask: expects a contiguous view");
  dispatch_floating(dst.dtype, "bernoulli_mask", [&](auto tag) {
    using T = decltype(tag);
    T* d = dst.ptr<T>();
    const T s = static_cast<T>(scale);
    ref::parallel_for(dst.numel(), 65536, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        d[i] = Philox4x32::uniform(seed, offset + static_cast<uint64_t>(i)) < keep_prob ? s : T(0);
    });
  });
}

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
