// Loom's own CUDA kernels: element-wise, reduction, softmax, embedding and
// dropout-mask work, with the semantics of the reference backend
// (backends/reference/reference_backend.cpp). The fused RNN-step kernels are
// in rnn_gates_kernels.cu.
//
// Layout of this file:
//   1. build glue, launch helpers and error checks
//   2. warp and block reductions (the device math is in device_math.cuh)
//   3. the strided element-wise machinery (Loop<N>, elementwise_kernel)
//   4. fill / copy / unary / unary_grad / binary / axpby / where
//   5. reduce
//   6. softmax and softmax_grad
//   7. gather_rows / scatter_add_rows
//   8. bernoulli_mask
//
// Every launcher enqueues on `stream`, never synchronizes, returns without a
// launch when there is nothing to do, and turns a launch error into
// loom::Error naming the kernel. Sums and reductions are deterministic (no
// floating-point atomics); scatter_add_rows is the one kernel that uses
// atomicAdd, because repeated ids must accumulate.

#include "loom/backends/cuda/cuda_kernels.h"
#include "loom/backends/cuda/cuda_launch.h"
#include "loom/backends/cuda/device_math.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "loom/backends/philox.h"

namespace loom::cuda {
namespace {

// ==== 1. launch helpers and error checks =================================================

void check_same_dtype(const char* kernel, const StridedView& a, const StridedView& b) {
  LOOM_CHECK(a.dtype == b.dtype, "cuda backend {}: dtype mismatch {} vs {}", kernel,
             dtype_name(a.dtype), dtype_name(b.dtype));
}

// Calls fn with the op as a compile-time constant (one kernel per op).
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
  fail("cuda backend: unknown unary op {}", static_cast<int>(op));
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
  fail("cuda backend: unknown binary op {}", static_cast<int>(op));
}

template <typename Fn>
void with_reduce_op(ReduceOp op, Fn&& fn) {
  using R = ReduceOp;
  switch (op) {
    case R::sum: return fn(std::integral_constant<R, R::sum>{});
    case R::max: return fn(std::integral_constant<R, R::max>{});
    case R::min: return fn(std::integral_constant<R, R::min>{});
  }
  fail("cuda backend: unknown reduce op {}", static_cast<int>(op));
}

// ==== 2. warp and block reductions ========================================================
//
// (m_exp, m_log, m_log1p, m_tanh, m_sqrt, m_abs, std_max, std_min and
// mul_add_rn, which the RNN-step kernels use too, are in device_math.cuh.)

template <typename V>
__device__ __forceinline__ V shfl_xor(V v, int lane_mask) {
  if constexpr (std::is_same_v<V, int64_t>)
    return static_cast<int64_t>(
        __shfl_xor_sync(0xffffffffu, static_cast<long long>(v), lane_mask));
  else
    return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}

// Reduces v over a group of Lanes consecutive threads (32: one warp; 256: the
// whole block, which every thread of the block must call) and returns the
// result to every thread of the group. Every thread combines in the same
// order, so all get the same bits and the result does not vary between runs.
template <int Lanes, typename V, typename Op>
__device__ __forceinline__ V group_allreduce(V v, Op op) {
  static_assert(Lanes == 32 || Lanes == kThreads, "a group is a warp or the block");
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = op(v, shfl_xor(v, m));
  if constexpr (Lanes == 32) {
    return v;
  } else {
    __shared__ V warp_vals[kThreads / 32];
    __syncthreads();  // earlier readers of warp_vals are done
    if ((threadIdx.x & 31) == 0) warp_vals[threadIdx.x >> 5] = v;
    __syncthreads();
    V r = warp_vals[0];
#pragma unroll
    for (int w = 1; w < kThreads / 32; ++w) r = op(r, warp_vals[w]);
    return r;
  }
}

struct PlusOp {
  template <typename V>
  __device__ V operator()(V a, V b) const { return a + b; }
};
struct StdMaxOp {
  template <typename V>
  __device__ V operator()(V a, V b) const { return std_max(a, b); }
};

// ==== 3. strided element-wise machinery ====================================================
//
// The N views of a call (inputs first, the output last) share the output's
// shape. On the host, size-1 dims are dropped and neighbouring dims merged
// where every view's strides nest (as the reference's coalesce does), so
// contiguous and broadcast-contiguous views become one flat dimension. The
// kernel maps each linear index to one element offset per view:
//   kContig: one dim, every stride 1     -> offset = i
//   kFlat:   one dim, any strides        -> offset = i * stride
//   kNd:     up to kMaxDims dims         -> multi-index by div/mod, 32-bit
//                                           indices when the count fits.

template <int N>
struct Loop {
  int ndim = 0;
  int64_t numel = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

enum LoopMode : int { kContig, kFlat, kNd };

template <int N>
Loop<N> make_loop(const std::array<const StridedView*, N>& views) {
  const StridedView& out = *views[N - 1];
  Loop<N> lp;
  lp.numel = out.numel();
  for (int d = 0; d < out.ndim; ++d) {
    if (out.shape[d] == 1) continue;
    bool merge = lp.ndim > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = lp.strides[k][lp.ndim - 1] == views[k]->strides[d] * out.shape[d];
    if (merge) {
      lp.shape[lp.ndim - 1] *= out.shape[d];
      for (int k = 0; k < N; ++k) lp.strides[k][lp.ndim - 1] = views[k]->strides[d];
    } else {
      lp.shape[lp.ndim] = out.shape[d];
      for (int k = 0; k < N; ++k) lp.strides[k][lp.ndim] = views[k]->strides[d];
      ++lp.ndim;
    }
  }
  if (lp.ndim == 0) {  // a scalar: one element
    lp.ndim = 1;
    lp.shape[0] = 1;
    for (int k = 0; k < N; ++k) lp.strides[k][0] = 0;
  }
  return lp;
}

// f(off) handles the element at offsets off[0..N) of the N views.
template <int Mode, typename Idx, int N, typename F>
__global__ void __launch_bounds__(kThreads) elementwise_kernel(Loop<N> lp, F f) {
  const Idx n = static_cast<Idx>(lp.numel);
  const Idx step = static_cast<Idx>(gridDim.x) * static_cast<Idx>(blockDim.x);
  for (Idx i = static_cast<Idx>(blockIdx.x) * static_cast<Idx>(blockDim.x) + threadIdx.x; i < n;
       i += step) {
    int64_t off[N];
    if constexpr (Mode == kContig) {
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = static_cast<int64_t>(i);
    } else if constexpr (Mode == kFlat) {
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = static_cast<int64_t>(i) * lp.strides[k][0];
    } else {
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = 0;
      Idx rem = i;
      // Unrolled over every possible dim with a guard, so the shape and
      // stride arrays are only indexed by constants.
#pragma unroll
      for (int d = kMaxDims - 1; d >= 0; --d) {
        if (d < lp.ndim) {
          const Idx extent = static_cast<Idx>(lp.shape[d]);
          const Idx idx = rem % extent;
          rem /= extent;
#pragma unroll
          for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(idx) * lp.strides[k][d];
        }
      }
    }
    f(off);
  }
}

template <int N, typename F>
void launch_elementwise(const char* name, cudaStream_t stream,
                        const std::array<const StridedView*, N>& views, const F& f) {
  const Loop<N> lp = make_loop<N>(views);
  if (lp.numel == 0) return;
  const unsigned blocks = grid_for(lp.numel);
  bool contig = lp.ndim == 1;
  for (int k = 0; k < N && contig; ++k) contig = lp.strides[k][0] == 1;
  if (contig)
    elementwise_kernel<kContig, int64_t, N, F><<<blocks, kThreads, 0, stream>>>(lp, f);
  else if (lp.ndim == 1)
    elementwise_kernel<kFlat, int64_t, N, F><<<blocks, kThreads, 0, stream>>>(lp, f);
  else if (lp.numel <= std::numeric_limits<int32_t>::max())
    elementwise_kernel<kNd, uint32_t, N, F><<<blocks, kThreads, 0, stream>>>(lp, f);
  else
    elementwise_kernel<kNd, int64_t, N, F><<<blocks, kThreads, 0, stream>>>(lp, f);
  check_launch(name);
}

// ==== 4. element-wise ops ==================================================================

// y = op(x), written as the reference writes it so integer dtypes convert
// the same way (e.g. exp of an i32 is computed in double and truncated).
template <UnaryOp Op, typename T>
__device__ __forceinline__ T unary_value(T x) {
  using U = UnaryOp;
  if constexpr (Op == U::copy) {
    return x;
  } else if constexpr (Op == U::neg) {
    return static_cast<T>(-x);
  } else if constexpr (Op == U::exp) {
    return static_cast<T>(m_exp(x));
  } else if constexpr (Op == U::log) {
    return static_cast<T>(m_log(x));
  } else if constexpr (Op == U::tanh) {
    return static_cast<T>(m_tanh(x));
  } else if constexpr (Op == U::sigmoid) {
    if (x >= T(0)) return static_cast<T>(T(1) / (T(1) + m_exp(-x)));
    const T e = static_cast<T>(m_exp(x));
    return static_cast<T>(e / (T(1) + e));
  } else if constexpr (Op == U::hard_sigmoid) {  // Keras 2: clip(0.2 x + 0.5, 0, 1)
    return std_min(T(1), std_max(T(0), mul_add_rn(T(0.2), x, T(0.5))));
  } else if constexpr (Op == U::relu) {
    return x < T(0) ? T(0) : x;  // NaN stays NaN
  } else if constexpr (Op == U::softplus) {  // log(1 + e^x) without overflow
    return static_cast<T>(std_max(x, T(0)) + m_log1p(m_exp(-m_abs(x))));
  } else if constexpr (Op == U::sqrt) {
    return static_cast<T>(m_sqrt(x));
  } else if constexpr (Op == U::square) {
    return static_cast<T>(x * x);
  } else if constexpr (Op == U::abs) {
    return static_cast<T>(m_abs(x));
  } else {  // sign
    return static_cast<T>((x > T(0)) - (x < T(0)));
  }
}

// d op / d x in terms of s = y for grad_uses_output ops, x otherwise (f32/f64).
template <UnaryOp Op, typename T>
__device__ __forceinline__ T unary_derivative(T s) {
  using U = UnaryOp;
  if constexpr (Op == U::copy) return T(1);
  else if constexpr (Op == U::neg) return T(-1);
  else if constexpr (Op == U::exp) return s;                    // y
  else if constexpr (Op == U::log) return T(1) / s;             // 1/x
  else if constexpr (Op == U::tanh) return T(1) - s * s;        // 1 - y^2
  else if constexpr (Op == U::sigmoid) return s * (T(1) - s);   // y (1 - y)
  else if constexpr (Op == U::hard_sigmoid) {                   // 0.2 inside (-2.5, 2.5)
    const T z = mul_add_rn(T(0.2), s, T(0.5));
    return (z > T(0) && z < T(1)) ? T(0.2) : T(0);
  }
  else if constexpr (Op == U::relu) return s > T(0) ? T(1) : T(0);
  else if constexpr (Op == U::softplus) return unary_value<U::sigmoid>(s);  // sigmoid(x)
  else if constexpr (Op == U::sqrt) return T(0.5) / s;          // 1 / (2 y)
  else if constexpr (Op == U::square) return T(2) * s;          // 2 x
  else if constexpr (Op == U::abs) return T((s > T(0)) - (s < T(0)));
  else return T(0);                                             // sign
}

template <BinaryOp Op, typename T>
__device__ __forceinline__ T binary_value(T a, T b) {
  using B = BinaryOp;
  if constexpr (Op == B::add) return static_cast<T>(a + b);
  else if constexpr (Op == B::sub) return static_cast<T>(a - b);
  else if constexpr (Op == B::mul) return static_cast<T>(a * b);
  else if constexpr (Op == B::div) return static_cast<T>(a / b);
  else if constexpr (Op == B::maximum) return a > b ? a : b;
  else if constexpr (Op == B::minimum) return a < b ? a : b;
  else if constexpr (Op == B::eq) return T(a == b);
  else if constexpr (Op == B::ne) return T(a != b);
  else if constexpr (Op == B::lt) return T(a < b);
  else if constexpr (Op == B::le) return T(a <= b);
  else if constexpr (Op == B::gt) return T(a > b);
  else return T(a >= b);  // ge
}

// The per-element functors; views in the order given to launch_elementwise.
template <typename T>
struct FillFn {
  T* d;
  T v;
  __device__ void operator()(const int64_t (&off)[1]) const { d[off[0]] = v; }
};

template <typename S, typename D>
struct CopyFn {
  const S* s;
  D* d;
  __device__ void operator()(const int64_t (&off)[2]) const {
    d[off[1]] = static_cast<D>(s[off[0]]);
  }
};

template <UnaryOp Op, typename T>
struct UnaryFn {
  const T* s;
  T* d;
  __device__ void operator()(const int64_t (&off)[2]) const {
    d[off[1]] = unary_value<Op>(s[off[0]]);
  }
};

template <UnaryOp Op, typename T>
struct UnaryGradFn {
  const T* saved;
  const T* dy;
  T* dx;
  __device__ void operator()(const int64_t (&off)[3]) const {
    dx[off[2]] = dy[off[1]] * unary_derivative<Op>(saved[off[0]]);
  }
};

template <BinaryOp Op, typename T>
struct BinaryFn {
  const T* a;
  const T* b;
  T* d;
  __device__ void operator()(const int64_t (&off)[3]) const {
    d[off[2]] = binary_value<Op>(a[off[0]], b[off[1]]);
  }
};

template <typename T>
struct AxpbyFn {
  const T* x;
  T* d;
  T alpha, beta;
  bool beta_zero;  // dst's contents are ignored (even NaN)
  __device__ void operator()(const int64_t (&off)[2]) const {
    d[off[1]] = beta_zero ? static_cast<T>(alpha * x[off[0]])
                          : static_cast<T>(alpha * x[off[0]] + beta * d[off[1]]);
  }
};

template <typename C, typename T>
struct WhereFn {
  const C* c;
  const T* a;
  const T* b;
  T* d;
  __device__ void operator()(const int64_t (&off)[4]) const {
    d[off[3]] = c[off[0]] != C(0) ? a[off[1]] : b[off[2]];
  }
};

}  // namespace

void fill(cudaStream_t stream, const StridedView& dst, double value) {
  dispatch_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch_elementwise<1>("fill", stream, {&dst}, FillFn<T>{dst.ptr<T>(), static_cast<T>(value)});
  });
}

// The 16-bit formats go through f32 (the reference backend's rounding:
// to nearest, ties to even).
__device__ inline float load_float(const __nv_bfloat16& v) { return __bfloat162float(v); }
__device__ inline float load_float(const __half& v) { return __half2float(v); }
__device__ inline float load_float(float v) { return v; }
__device__ inline float load_float(double v) { return static_cast<float>(v); }
template <typename D> __device__ inline D store_float(float v) { return static_cast<D>(v); }
template <> __device__ inline __nv_bfloat16 store_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ inline __half store_float<__half>(float v) { return __float2half_rn(v); }

template <typename S, typename D>
struct CopyViaFloatFn {
  const S* s;
  D* d;
  __device__ void operator()(const int64_t (&off)[2]) const {
    d[off[1]] = store_float<D>(load_float(s[off[0]]));
  }
};

// Calls fn with a value of the device type of a floating dtype (16-bit ones included).
template <typename Fn>
void dispatch_any_float(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    case DType::bf16: return fn(__nv_bfloat16{});
    case DType::f16: return fn(__half{});
    default: fail("cuda copy: {} converts to and from the floating dtypes only", dtype_name(t));
  }
}

void copy(cudaStream_t stream, const StridedView& src, const StridedView& dst) {
  if (is_half_float(src.dtype) || is_half_float(dst.dtype)) {
    dispatch_any_float(src.dtype, [&](auto stag) {
      using S = decltype(stag);
      dispatch_any_float(dst.dtype, [&](auto dtag) {
        using D = decltype(dtag);
        launch_elementwise<2>("copy", stream, {&src, &dst},
                              CopyViaFloatFn<S, D>{src.ptr<S>(), dst.ptr<D>()});
      });
    });
    return;
  }
  dispatch_dtype(src.dtype, [&](auto stag) {
    using S = decltype(stag);
    dispatch_dtype(dst.dtype, [&](auto dtag) {
      using D = decltype(dtag);
      launch_elementwise<2>("copy", stream, {&src, &dst}, CopyFn<S, D>{src.ptr<S>(), dst.ptr<D>()});
    });
  });
}

void unary(cudaStream_t stream, UnaryOp op, const StridedView& src, const StridedView& dst) {
  check_same_dtype(unary_op_name(op), src, dst);
  dispatch_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_unary_op(op, [&](auto opc) {
      launch_elementwise<2>("unary", stream, {&src, &dst},
                            UnaryFn<decltype(opc)::value, T>{src.ptr<T>(), dst.ptr<T>()});
    });
  });
}

void unary_grad(cudaStream_t stream, UnaryOp op, const StridedView& saved, const StridedView& dy,
                const StridedView& dx) {
  check_same_dtype(unary_op_name(op), saved, dy);
  check_same_dtype(unary_op_name(op), dy, dx);
  dispatch_floating(dx.dtype, unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    with_unary_op(op, [&](auto opc) {
      launch_elementwise<3>(
          "unary_grad", stream, {&saved, &dy, &dx},
          UnaryGradFn<decltype(opc)::value, T>{saved.ptr<T>(), dy.ptr<T>(), dx.ptr<T>()});
    });
  });
}

void binary(cudaStream_t stream, BinaryOp op, const StridedView& a, const StridedView& b,
            const StridedView& dst) {
  check_same_dtype(binary_op_name(op), a, b);
  check_same_dtype(binary_op_name(op), a, dst);
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_binary_op(op, [&](auto opc) {
      launch_elementwise<3>("binary", stream, {&a, &b, &dst},
                            BinaryFn<decltype(opc)::value, T>{a.ptr<T>(), b.ptr<T>(), dst.ptr<T>()});
    });
  });
}

void axpby(cudaStream_t stream, double alpha, const StridedView& src, double beta,
           const StridedView& dst) {
  check_same_dtype("axpby", src, dst);
  dispatch_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    launch_elementwise<2>("axpby", stream, {&src, &dst},
                          AxpbyFn<T>{src.ptr<T>(), dst.ptr<T>(), static_cast<T>(alpha),
                                     static_cast<T>(beta), beta == 0.0});
  });
}

void where(cudaStream_t stream, const StridedView& cond, const StridedView& a,
           const StridedView& b, const StridedView& dst) {
  check_same_dtype("where", a, b);
  check_same_dtype("where", a, dst);
  dispatch_dtype(cond.dtype, [&](auto ctag) {
    using C = decltype(ctag);
    dispatch_dtype(a.dtype, [&](auto tag) {
      using T = decltype(tag);
      launch_elementwise<4>("where", stream, {&cond, &a, &b, &dst},
                            WhereFn<C, T>{cond.ptr<C>(), a.ptr<T>(), b.ptr<T>(), dst.ptr<T>()});
    });
  });
}

// ==== 5. reduce ===========================================================================
//
// The host merges axes as the reference does, into kept axes (one output
// each) and reduced axes; n_out outputs each reduce n_red values. Sums
// accumulate in double (int64 for integers); max/min let NaN win. Three
// kernels, chosen by shape:
//   reduce_thread_kernel: one thread per output walks its reduced axes;
//     for short reductions, and for many outputs along a unit-stride kept
//     axis (column sums), where neighbouring threads read neighbouring memory.
//   reduce_group_kernel<32>: a warp per output, lanes stride over the
//     reduced index space, then a shuffle reduction.
//   reduce_group_kernel<256>: a block per output, for long reductions; with
//     few outputs each output's range is also split into `parts` chunks whose
//     partial results go to a scratch buffer, which reduce_parts_kernel
//     combines in a fixed order (two levels, still deterministic).

namespace {

struct ReducePlan {
  int nk = 0, nr = 0;                                        // kept / reduced axes
  int64_t kn[kMaxDims] = {}, kss[kMaxDims] = {}, kds[kMaxDims] = {};  // extent, src/dst stride
  int64_t rn[kMaxDims] = {}, rss[kMaxDims] = {};             // extent, src stride
  int64_t n_out = 1, n_red = 1;
};

template <typename T>
using SumAcc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <ReduceOp Op, typename T>
struct Reducer {
  using Acc = std::conditional_t<Op == ReduceOp::sum, SumAcc<T>, T>;
  // Adds the value (or partial result) v to acc. For max/min a NaN in
  // either wins, as in the reference's max_step/min_step.
  template <typename V>
  __device__ __forceinline__ Acc operator()(Acc acc, V v) const {
    if constexpr (Op == ReduceOp::sum) return acc + static_cast<Acc>(v);
    else if constexpr (Op == ReduceOp::max) return (v > acc || v != v) ? static_cast<Acc>(v) : acc;
    else return (v < acc || v != v) ? static_cast<Acc>(v) : acc;
  }
};

template <typename T>
T reduce_start(ReduceOp op) {
  if constexpr (std::is_floating_point_v<T>)
    return op == ReduceOp::max ? -std::numeric_limits<T>::infinity()
                               : std::numeric_limits<T>::infinity();
  else
    return op == ReduceOp::max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

// Offsets in src and dst of output o's first element.
__device__ __forceinline__ void reduce_out_offsets(const ReducePlan& p, int64_t o, int64_t& so,
                                                   int64_t& dof) {
  so = dof = 0;
#pragma unroll
  for (int i = kMaxDims - 1; i >= 0; --i) {
    if (i < p.nk) {
      const int64_t idx = o % p.kn[i];
      o /= p.kn[i];
      so += idx * p.kss[i];
      dof += idx * p.kds[i];
    }
  }
}

// Offset in src of reduced element r relative to its output's first element.
__device__ __forceinline__ int64_t reduce_in_offset(const ReducePlan& p, int64_t r) {
  if (p.nr == 1) return r * p.rss[0];
  int64_t off = 0;
#pragma unroll
  for (int i = kMaxDims - 1; i >= 0; --i) {
    if (i < p.nr) {
      off += (r % p.rn[i]) * p.rss[i];
      r /= p.rn[i];
    }
  }
  return off;
}

template <ReduceOp Op, typename T>
__global__ void __launch_bounds__(kThreads)
    reduce_thread_kernel(ReducePlan p, const T* src, T* dst, typename Reducer<Op, T>::Acc init) {
  const Reducer<Op, T> red;
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < p.n_out;
       o += int64_t{gridDim.x} * blockDim.x) {
    int64_t so, dof;
    reduce_out_offsets(p, o, so, dof);
    auto acc = init;
    if (p.nr <= 1) {
      const int64_t rs = p.nr == 1 ? p.rss[0] : 0;
      for (int64_t r = 0; r < p.n_red; ++r) acc = red(acc, src[so + r * rs]);
    } else {
      for (int64_t r = 0; r < p.n_red; ++r) acc = red(acc, src[so + reduce_in_offset(p, r)]);
    }
    dst[dof] = static_cast<T>(acc);
  }
}

// Work item w = (output o, part q) = (w / parts, w % parts) covers reduced
// elements [q * chunk, min(n_red, (q + 1) * chunk)). With parts == 1 the
// result goes to dst, else (as Acc) to partials[w].
template <ReduceOp Op, typename T, int Lanes>
__global__ void __launch_bounds__(kThreads)
    reduce_group_kernel(ReducePlan p, const T* src, T* dst,
                        typename Reducer<Op, T>::Acc* partials, int64_t parts, int64_t chunk,
                        typename Reducer<Op, T>::Acc init) {
  constexpr int kGroups = kThreads / Lanes;
  const Reducer<Op, T> red;
  const int lane = threadIdx.x % Lanes;
  const int64_t items = p.n_out * parts;
  // The loop bound is the same for every thread of a group, as the
  // shuffles (and for Lanes == kThreads the barriers) require.
  for (int64_t w = blockIdx.x * int64_t{kGroups} + threadIdx.x / Lanes; w < items;
       w += int64_t{gridDim.x} * kGroups) {
    const int64_t o = w / parts, q = w % parts;
    int64_t so, dof;
    reduce_out_offsets(p, o, so, dof);
    const int64_t lo = q * chunk, hi = p.n_red < lo + chunk ? p.n_red : lo + chunk;
    auto acc = init;
    for (int64_t r = lo + lane; r < hi; r += Lanes) acc = red(acc, src[so + reduce_in_offset(p, r)]);
    acc = group_allreduce<Lanes>(acc, red);
    if (lane == 0) {
      if (partials) partials[w] = acc;
      else dst[dof] = static_cast<T>(acc);
    }
  }
}

// One warp per output combines its `parts` partial results.
template <ReduceOp Op, typename T>
__global__ void __launch_bounds__(kThreads)
    reduce_parts_kernel(ReducePlan p, const typename Reducer<Op, T>::Acc* partials, int64_t parts,
                        T* dst, typename Reducer<Op, T>::Acc init) {
  const Reducer<Op, T> red;
  const int lane = threadIdx.x & 31;
  for (int64_t o = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; o < p.n_out;
       o += int64_t{gridDim.x} * blockDim.x / 32) {
    auto acc = init;
    for (int64_t q = lane; q < parts; q += 32) acc = red(acc, partials[o * parts + q]);
    acc = group_allreduce<32>(acc, red);
    if (lane == 0) {
      int64_t so, dof;
      reduce_out_offsets(p, o, so, dof);
      dst[dof] = static_cast<T>(acc);
    }
  }
}

template <ReduceOp Op, typename T>
void launch_reduce(cudaStream_t stream, const ReducePlan& p, bool columns, const T* src, T* dst) {
  using Acc = typename Reducer<Op, T>::Acc;
  const Acc init = Op == ReduceOp::sum ? Acc(0) : static_cast<Acc>(reduce_start<T>(Op));
  if (p.n_red <= 16 || (columns && p.n_out >= 8192)) {
    reduce_thread_kernel<Op, T><<<grid_for(p.n_out), kThreads, 0, stream>>>(p, src, dst, init);
    check_launch("reduce");
    return;
  }
  if (p.n_red <= 2048) {
    reduce_group_kernel<Op, T, 32><<<grid_for(p.n_out, kThreads / 32), kThreads, 0, stream>>>(
        p, src, dst, nullptr, 1, p.n_red, init);
    check_launch("reduce");
    return;
  }
  // Long reductions: a block per output; with fewer outputs than it takes
  // to fill the device, split each into parts of at least 16k elements.
  int64_t parts = 1;
  if (p.n_out < 1024)
    parts = std::clamp<int64_t>(std::min((p.n_red + 16383) / 16384, 1024 / p.n_out), 1, 1024);
  Acc* partials = nullptr;
  if (parts > 1) {
    if (cudaMallocAsync(reinterpret_cast<void**>(&partials),
                        static_cast<size_t>(p.n_out * parts) * sizeof(Acc), stream) != cudaSuccess) {
      (void)cudaGetLastError();  // no scratch: fall back to one block per output
      partials = nullptr;
      parts = 1;
    }
  }
  const int64_t chunk = (p.n_red + parts - 1) / parts;
  reduce_group_kernel<Op, T, kThreads><<<grid_for(p.n_out * parts, 1), kThreads, 0, stream>>>(
      p, src, dst, partials, parts, chunk, init);
  if (!partials) {
    check_launch("reduce");
    return;
  }
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) {
    reduce_parts_kernel<Op, T><<<grid_for(p.n_out, kThreads / 32), kThreads, 0, stream>>>(
        p, partials, parts, dst, init);
    err = cudaGetLastError();
  }
  const cudaError_t free_err = cudaFreeAsync(partials, stream);  // freed even after a failure
  if (err != cudaSuccess) fail("CUDA kernel {} failed: {}", "reduce", cudaGetErrorString(err));
  if (free_err != cudaSuccess)
    fail("CUDA kernel {} failed: {}", "reduce (freeing scratch)", cudaGetErrorString(free_err));
}

// One axis of a reduction after merging (as in the reference).
struct ReduceDim {
  int64_t n, ss, ds;
  bool red;
};

}  // namespace

void reduce(cudaStream_t stream, ReduceOp op, const StridedView& src, const StridedView& dst) {
  check_same_dtype("reduce", src, dst);
  LOOM_CHECK(src.ndim == dst.ndim, "reduce: ndim mismatch {} vs {}", src.ndim, dst.ndim);
  // Merge axes: size-1 axes drop out, and neighbouring axes of the same kind
  // merge when their strides nest.
  ReduceDim dims[kMaxDims];
  int nd = 0;
  for (int d = 0; d < src.ndim; ++d) {
    const bool red = dst.shape[d] == 1 && src.shape[d] != 1;
    if (!red)
      LOOM_CHECK(dst.shape[d] == src.shape[d], "reduce: dst extent {} vs src extent {} at axis {}",
                 dst.shape[d], src.shape[d], d);
    if (src.shape[d] == 1) continue;
    const ReduceDim x{src.shape[d], src.strides[d], red ? 0 : dst.strides[d], red};
    ReduceDim* last = nd > 0 ? &dims[nd - 1] : nullptr;
    if (last && last->red == red && last->ss == x.ss * x.n && (red || last->ds == x.ds * x.n)) {
      last->n *= x.n;
      last->ss = x.ss;
      last->ds = x.ds;
    } else {
      dims[nd++] = x;
    }
  }
  ReducePlan p;
  for (int d = 0; d < nd; ++d) {
    if (dims[d].red) {
      p.rn[p.nr] = dims[d].n;
      p.rss[p.nr] = dims[d].ss;
      ++p.nr;
    } else {
      p.kn[p.nk] = dims[d].n;
      p.kss[p.nk] = dims[d].ss;
      p.kds[p.nk] = dims[d].ds;
      ++p.nk;
    }
  }
  for (int i = 0; i < p.nk; ++i) p.n_out *= p.kn[i];
  for (int i = 0; i < p.nr; ++i) p.n_red *= p.rn[i];
  if (p.n_out == 0) return;  // (an empty reduced range still writes the start value)
  // Outputs along a unit-stride innermost kept axis: thread-per-output reads coalesce.
  const bool columns = nd > 0 && !dims[nd - 1].red && dims[nd - 1].ss == 1;
  dispatch_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    with_reduce_op(op, [&](auto opc) {
      launch_reduce<decltype(opc)::value, T>(stream, p, columns, src.ptr<T>(), dst.ptr<T>());
    });
  });
}

// ==== 6. softmax ==========================================================================
//
// Rows of C contiguous values; a warp per row for C <= 1024, else a block.
// As in the reference: max in T (NaN never wins), sum of e^(x - max) in
// double; softmax y = e^(x - max) / sum, log_softmax y = x - (max + log sum).
//   softmax grad:     dx = y * (dy - sum(dy * y))
//   log_softmax grad: dx = dy - exp(y) * sum(dy)

namespace {

template <typename T, int Lanes>
__global__ void __launch_bounds__(kThreads)
    softmax_kernel(const T* src, T* dst, int64_t rows, int64_t cols, bool log) {
  constexpr int kGroups = kThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  for (int64_t r = blockIdx.x * int64_t{kGroups} + threadIdx.x / Lanes; r < rows;
       r += int64_t{gridDim.x} * kGroups) {
    const T* x = src + r * cols;
    T* y = dst + r * cols;
    T m = T(-INFINITY);
    for (int64_t j = lane; j < cols; j += Lanes) m = std_max(m, x[j]);
    m = group_allreduce<Lanes>(m, StdMaxOp{});
    double sum = 0;
    for (int64_t j = lane; j < cols; j += Lanes) sum += ::exp(static_cast<double>(x[j] - m));
    sum = group_allreduce<Lanes>(sum, PlusOp{});
    if (log) {
      const T lse = m + static_cast<T>(::log(sum));
      for (int64_t j = lane; j < cols; j += Lanes) y[j] = x[j] - lse;
    } else {
      for (int64_t j = lane; j < cols; j += Lanes)
        y[j] = static_cast<T>(::exp(static_cast<double>(x[j] - m)) / sum);
    }
  }
}

template <typename T, int Lanes>
__global__ void __launch_bounds__(kThreads)
    softmax_grad_kernel(const T* yv, const T* dy, T* dx, int64_t rows, int64_t cols, bool log) {
  constexpr int kGroups = kThreads / Lanes;
  const int lane = threadIdx.x % Lanes;
  for (int64_t r = blockIdx.x * int64_t{kGroups} + threadIdx.x / Lanes; r < rows;
       r += int64_t{gridDim.x} * kGroups) {
    const T* y = yv + r * cols;
    const T* g = dy + r * cols;
    T* d = dx + r * cols;
    double acc = 0;
    if (log) {
      for (int64_t j = lane; j < cols; j += Lanes) acc += g[j];
    } else {
      for (int64_t j = lane; j < cols; j += Lanes) acc += g[j] * y[j];
    }
    acc = group_allreduce<Lanes>(acc, PlusOp{});
    const T a = static_cast<T>(acc);
    if (log) {
      for (int64_t j = lane; j < cols; j += Lanes) d[j] = g[j] - m_exp(y[j]) * a;
    } else {
      for (int64_t j = lane; j < cols; j += Lanes) d[j] = y[j] * (g[j] - a);
    }
  }
}

// Rows and columns of the (R, C) view.
void softmax_shape(const StridedView& v, int64_t& rows, int64_t& cols) {
  cols = v.ndim > 0 ? v.shape[v.ndim - 1] : 1;
  rows = v.numel() / std::max<int64_t>(cols, 1);
}

}  // namespace

void softmax(cudaStream_t stream, const StridedView& src, const StridedView& dst, bool log) {
  LOOM_CHECK(src.is_contiguous() && dst.is_contiguous(), "softmax: expects contiguous views");
  check_same_dtype("softmax", src, dst);
  int64_t rows, cols;
  softmax_shape(src, rows, cols);
  dispatch_floating(src.dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    if (rows == 0 || cols == 0) return;
    if (cols <= 1024)
      softmax_kernel<T, 32><<<grid_for(rows, kThreads / 32), kThreads, 0, stream>>>(
          src.ptr<T>(), dst.ptr<T>(), rows, cols, log);
    else
      softmax_kernel<T, kThreads><<<grid_for(rows, 1), kThreads, 0, stream>>>(
          src.ptr<T>(), dst.ptr<T>(), rows, cols, log);
    check_launch("softmax");
  });
}

void softmax_grad(cudaStream_t stream, const StridedView& y, const StridedView& dy,
                  const StridedView& dx, bool log) {
  LOOM_CHECK(y.is_contiguous() && dy.is_contiguous() && dx.is_contiguous(),
             "softmax_grad: expects contiguous views");
  int64_t rows, cols;
  softmax_shape(y, rows, cols);
  dispatch_floating(y.dtype, "softmax_grad", [&](auto tag) {
    using T = decltype(tag);
    if (rows == 0 || cols == 0) return;
    if (cols <= 1024)
      softmax_grad_kernel<T, 32><<<grid_for(rows, kThreads / 32), kThreads, 0, stream>>>(
          y.ptr<T>(), dy.ptr<T>(), dx.ptr<T>(), rows, cols, log);
    else
      softmax_grad_kernel<T, kThreads><<<grid_for(rows, 1), kThreads, 0, stream>>>(
          y.ptr<T>(), dy.ptr<T>(), dx.ptr<T>(), rows, cols, log);
    check_launch("softmax_grad");
  });
}

// ==== 7. embedding rows ===================================================================
//
// table/dtable (V, E) with row stride strides[0], ids (N) i32 (else read as
// i64, like the reference), src/dst (N, E): a warp per row n, lanes over E.

namespace {

template <typename T>
__device__ __forceinline__ void atomic_add(T* p, T v) {
  if constexpr (std::is_same_v<T, int64_t>)
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
  else
    atomicAdd(p, v);  // float, double (sm_60+), int
}

template <typename T, typename I, bool Scatter>
__global__ void __launch_bounds__(kThreads)
    rows_kernel(T* table, int64_t table_ld, const I* ids, int64_t ids_stride, T* rows,
                int64_t rows_ld, int64_t n, int64_t e) {
  const int lane = threadIdx.x & 31;
  for (int64_t i = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; i < n;
       i += int64_t{gridDim.x} * blockDim.x / 32) {
    T* trow = table + static_cast<int64_t>(ids[i * ids_stride]) * table_ld;
    T* row = rows + i * rows_ld;
    for (int64_t j = lane; j < e; j += 32) {
      if constexpr (Scatter) atomic_add(trow + j, row[j]);  // dtable[ids[n]] += src[n]
      else row[j] = trow[j];                                // dst[n] = table[ids[n]]
    }
  }
}

template <bool Scatter>
void launch_rows(const char* name, cudaStream_t stream, const StridedView& table,
                 const StridedView& ids, const StridedView& rows) {
  const int64_t n = ids.shape[0], e = table.shape[1];
  dispatch_dtype(table.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (n == 0 || e == 0) return;
    const unsigned blocks = grid_for(n, kThreads / 32);
    if (ids.dtype == DType::i32)
      rows_kernel<T, int32_t, Scatter><<<blocks, kThreads, 0, stream>>>(
          table.ptr<T>(), table.strides[0], ids.ptr<const int32_t>(), ids.strides[0],
          rows.ptr<T>(), rows.strides[0], n, e);
    else
      rows_kernel<T, int64_t, Scatter><<<blocks, kThreads, 0, stream>>>(
          table.ptr<T>(), table.strides[0], ids.ptr<const int64_t>(), ids.strides[0],
          rows.ptr<T>(), rows.strides[0], n, e);
    check_launch(name);
  });
}

}  // namespace

void gather_rows(cudaStream_t stream, const StridedView& table, const StridedView& ids,
                 const StridedView& dst) {
  check_same_dtype("gather_rows", table, dst);
  launch_rows<false>("gather_rows", stream, table, ids, dst);
}

void scatter_add_rows(cudaStream_t stream, const StridedView& src, const StridedView& ids,
                      const StridedView& dtable) {
  check_same_dtype("scatter_add_rows", src, dtable);
  launch_rows<true>("scatter_add_rows", stream, dtable, ids, src);
}

// ==== 8. bernoulli_mask ===================================================================
//
// dst[i] = uniform(seed, offset + i) < keep_prob ? scale : 0, bit for bit the
// CPU mask: element e of the stream is word e & 3 of Philox block e >> 2, so
// each thread computes one block and writes the (up to) four elements it covers.

namespace {

template <typename T>
__global__ void __launch_bounds__(kThreads)
    bernoulli_kernel(T* dst, int64_t n, double keep_prob, T scale, uint64_t seed,
                     uint64_t offset) {
  const uint64_t first = offset >> 2;
  const uint64_t blocks = ((offset + static_cast<uint64_t>(n) - 1) >> 2) - first + 1;
  for (uint64_t t = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; t < blocks;
       t += uint64_t{gridDim.x} * blockDim.x) {
    const uint64_t ctr = first + t;
    uint32_t r[4];
    Philox4x32::block(seed, ctr, r);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint64_t i = ctr * 4 + k - offset;  // wraps to a huge value before the range
      if (i < static_cast<uint64_t>(n)) {
        const double u = (r[k] >> 8) * (1.0 / 16777216.0);  // as Philox4x32::uniform
        dst[i] = u < keep_prob ? scale : T(0);
      }
    }
  }
}

}  // namespace

void bernoulli_mask(cudaStream_t stream, const StridedView& dst, double keep_prob, double scale,
                    uint64_t seed, uint64_t offset) {
  LOOM_CHECK(dst.is_contiguous(), "bernoulli_mask: expects a contiguous view");
  dispatch_floating(dst.dtype, "bernoulli_mask", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = dst.numel();
    if (n == 0) return;
    const int64_t blocks = static_cast<int64_t>(((offset + static_cast<uint64_t>(n) - 1) >> 2) -
                                                (offset >> 2) + 1);
    bernoulli_kernel<T><<<grid_for(blocks), kThreads, 0, stream>>>(
        dst.ptr<T>(), n, keep_prob, static_cast<T>(scale), seed, offset);
    check_launch("bernoulli_mask");
  });
}

// ---- mixed-precision GEMM operands ---------------------------------------------------------

template <typename H>
__global__ void __launch_bounds__(kThreads)
    to_half_matrix_kernel(const float* src, int64_t rows, int64_t cols, int64_t ld, int64_t stride,
                          int64_t n, H* dst) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t per = rows * cols, p = i / per, r = (i % per) / cols, c = i % cols;
    dst[i] = store_float<H>(src[p * stride + r * ld + c]);
  }
}

void to_half_matrix(cudaStream_t stream, const float* src, int64_t rows, int64_t cols, int64_t ld,
                    int64_t stride, int64_t items, DType format, void* dst) {
  const int64_t n = items * rows * cols;
  if (n == 0) return;
  if (format == DType::bf16)
    to_half_matrix_kernel<<<grid_for(n), kThreads, 0, stream>>>(
        src, rows, cols, ld, stride, n, static_cast<__nv_bfloat16*>(dst));
  else
    to_half_matrix_kernel<<<grid_for(n), kThreads, 0, stream>>>(src, rows, cols, ld, stride, n,
                                                                 static_cast<__half*>(dst));
  check_launch("to_half_matrix");
}

}  // namespace loom::cuda
