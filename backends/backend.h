// The kernel interface every backend implements (reference C++, oneDNN, CUDA).
//
// Only the heavy kernels live here; autograd/ composes them into
// differentiable ops. Every kernel takes StridedViews: shapes and strides are
// in elements, a stride of 0 broadcasts an input, outputs are never
// broadcast. Unless a kernel says otherwise its views all have the same
// ndim and shape.
#pragma once

#include <cstdint>
#include <string>

#include "backends/types.h"

namespace loom {

enum class UnaryOp : uint8_t {
  copy, neg, exp, log, tanh, sigmoid, hard_sigmoid, relu, softplus, sqrt, square, abs, sign,
};
const char* unary_op_name(UnaryOp op);

// Whether unary_grad wants the op's output y (true) or its input x (false):
// tanh, sigmoid, exp and sqrt have cheap derivatives in terms of y, so the
// tape saves y for them and x for the others.
constexpr bool grad_uses_output(UnaryOp op) {
  return op == UnaryOp::exp || op == UnaryOp::tanh || op == UnaryOp::sigmoid ||
         op == UnaryOp::sqrt;
}

enum class BinaryOp : uint8_t {
  add, sub, mul, div, maximum, minimum,
  // Comparisons write 1 or 0 in dst's dtype.
  eq, ne, lt, le, gt, ge,
};
const char* binary_op_name(BinaryOp op);

enum class ReduceOp : uint8_t { sum, max, min };

// C[p] = alpha * op(A[p]) * op(B[p]) + beta * C[p] for p in [0, batch),
// op(A) is (M, K), op(B) is (K, N), C is (M, N); all row-major with leading
// dimensions lda/ldb/ldc. beta == 0 ignores C's previous contents (even NaN).
struct GemmDesc {
  DType dtype = DType::f32;
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // between batch items
  double alpha = 1.0, beta = 0.0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual DeviceKind device_kind() const = 0;

  // ---- element-wise --------------------------------------------------------
  // dst = value
  virtual void fill(const StridedView& dst, double value) = 0;
  // dst = src, converting dtype if they differ (any of the four dtypes).
  virtual void copy(const StridedView& src, const StridedView& dst) = 0;
  // dst = op(src)
  virtual void unary(UnaryOp op, const StridedView& src, const StridedView& dst) = 0;
  // dx = dy * op'(.) where `saved` is y = op(x) if grad_uses_output(op), else x.
  virtual void unary_grad(UnaryOp op, const StridedView& saved, const StridedView& dy,
                          const StridedView& dx) = 0;
  // dst = a (op) b
  virtual void binary(BinaryOp op, const StridedView& a, const StridedView& b,
                      const StridedView& dst) = 0;
  // dst = alpha * src + beta * dst   (beta == 0 ignores dst's contents)
  virtual void axpby(double alpha, const StridedView& src, double beta,
                     const StridedView& dst) = 0;
  // dst = cond != 0 ? a : b
  virtual void where(const StridedView& cond, const StridedView& a, const StridedView& b,
                     const StridedView& dst) = 0;

  // ---- reductions --------------------------------------------------------------
  // dst has src's ndim with extent 1 on every reduced axis (and src's extent
  // elsewhere); reduces src over those axes.
  virtual void reduce(ReduceOp op, const StridedView& src, const StridedView& dst) = 0;

  // ---- matrix products -----------------------------------------------------------
  // a, b, c point at the first element of A, B, C (dtype in desc).
  virtual void gemm(const GemmDesc& desc, const void* a, const void* b, void* c) = 0;

  // ---- softmax over the last axis (contiguous (R, C) rows) -------------------------
  // dst = softmax(src) or log_softmax(src)
  virtual void softmax(const StridedView& src, const StridedView& dst, bool log) = 0;
  // dx from y = (log_)softmax(x) and dy
  virtual void softmax_grad(const StridedView& y, const StridedView& dy, const StridedView& dx,
                            bool log) = 0;

  // ---- embedding rows ---------------------------------------------------------------
  // table (V, E) contiguous, ids (N) i32/i64, dst (N, E) contiguous:
  // dst[n] = table[ids[n]]. Ids are validated by the caller.
  virtual void gather_rows(const StridedView& table, const StridedView& ids,
                           const StridedView& dst) = 0;
  // dtable[ids[n]] += src[n]  (repeated ids accumulate)
  virtual void scatter_add_rows(const StridedView& src, const StridedView& ids,
                                const StridedView& dtable) = 0;

  // ---- random ---------------------------------------------------------------------------
  // dst[i] = (uniform(seed, offset + i) < keep_prob) ? scale : 0 for the
  // contiguous element index i. The uniform stream is counter-based (Philox),
  // so every backend draws the same mask for the same seed.
  virtual void bernoulli_mask(const StridedView& dst, double keep_prob, double scale,
                              uint64_t seed, uint64_t offset) = 0;
};

}  // namespace loom
