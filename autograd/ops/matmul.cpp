// Matrix products through the backend GEMM.
//
//   a (M,K)   x b (K,N)   -> out (M,N)
//   a (B,M,K) x b (B,K,N) -> out (B,M,N)
//   a (B,M,K) x b (K,N)   -> out (B,M,N)   (b shared by every batch item)
//
// Transposed views are passed to the GEMM as transposed operands, not copied.
#include "loom/autograd/ops.h"
#include "loom/autograd/precision.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

// How a 2-D (or batched) operand is handed to the GEMM without copying.
struct Operand {
  Tensor t;        // the tensor actually read
  bool trans = false;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};

// Describes the last two axes of x as a GEMM operand, copying only when
// they do not form a row- or column-major matrix.
Operand as_operand(const Tensor& x) {
  const int n = x.ndim();
  const int64_t rows = x.shape()[n - 2], cols = x.shape()[n - 1];
  const int64_t rs = x.strides()[n - 2], cs = x.strides()[n - 1];
  Operand op{x};
  // A GEMM operand needs unit stride along one axis and a leading dimension
  // of at least the other axis's extent; broadcast (stride-0) views have
  // neither and are copied.
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) {
    op.ld = std::max<int64_t>({rs, cols, 1});
  } else if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) {
    op.trans = true;
    op.ld = std::max<int64_t>({cs, rows, 1});
  } else {
    op.t = contiguous(x.detach());
    op.ld = cols;
  }
  if (n == 3) op.batch_stride = op.t.strides()[0];
  return op;
}

// out = a @ b with the shapes above, no recording; operands rounded to
// `compute` (autograd/precision.h).
Tensor matmul_kernel(const Tensor& a, const Tensor& b, DType compute) {
  const int64_t M = a.dim(-2), K = a.dim(-1), N = b.dim(-1);
  const bool batched = a.ndim() == 3;
  const int64_t B = batched ? a.dim(0) : 1;
  Shape out_shape = batched ? Shape{B, M, N} : Shape{M, N};
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  Operand A = as_operand(a), Bo = as_operand(b);
  GemmDesc d;
  d.dtype = a.dtype();
  d.compute = compute;
  d.M = M; d.N = N; d.K = K;
  d.trans_a = A.trans; d.trans_b = Bo.trans;
  d.lda = A.ld; d.ldb = Bo.ld; d.ldc = N;
  d.batch = B;
  d.stride_a = batched ? A.batch_stride : 0;
  d.stride_b = b.ndim() == 3 ? Bo.batch_stride : 0;
  d.stride_c = M * N;
  backend_for(a.device()).gemm(d, A.t.raw_data(), Bo.t.raw_data(), out.raw_data());
  return out;
}

}  // namespace

// out = a b;  da = dout b^T,  db = a^T dout (summed over the batch when b is shared)
Tensor matmul(const Tensor& a, const Tensor& b) {
  const bool ok_rank = (a.ndim() == 2 && b.ndim() == 2) || (a.ndim() == 3 && b.ndim() == 3) ||
                       (a.ndim() == 3 && b.ndim() == 2);
  LOOM_CHECK(ok_rank, "matmul: expected (M,K)x(K,N), (B,M,K)x(B,K,N) or (B,M,K)x(K,N); got {} x {}",
             shape_str(a.shape()), shape_str(b.shape()));
  LOOM_CHECK(a.dim(-1) == b.dim(-2), "matmul: inner dimensions differ: {} x {}",
             shape_str(a.shape()), shape_str(b.shape()));
  LOOM_CHECK(a.ndim() != 3 || b.ndim() != 3 || a.dim(0) == b.dim(0),
             "matmul: batch sizes differ: {} x {}", shape_str(a.shape()), shape_str(b.shape()));
  LOOM_CHECK(a.dtype() == b.dtype(), "matmul: dtype mismatch: {} {} x {} {}", dtype_name(a.dtype()),
             shape_str(a.shape()), dtype_name(b.dtype()), shape_str(b.shape()));
  LOOM_CHECK(is_floating(a.dtype()), "matmul: expected f32 or f64, got {}", dtype_name(a.dtype()));
  const DType compute = compute_precision_for(a.dtype());
  Tensor out = matmul_kernel(a, b, compute);
  if (!any_requires_grad({a, b})) return out;
  Tensor ad = b.requires_grad() ? a.detach() : Tensor();
  Tensor bd = a.requires_grad() ? b.detach() : Tensor();
  const bool b_shared = a.ndim() == 3 && b.ndim() == 2;
  return record("matmul", {a, b}, out, [ad, bd, b_shared, compute](const Tensor& d) {
    Tensor da, db;
    if (bd.defined()) da = matmul_kernel(d, transpose(bd, -1, -2), compute);
    if (ad.defined()) {
      if (b_shared) {
        // b was shared across the batch: fold the batch into the rows.
        const int64_t rows = ad.dim(0) * ad.dim(1);
        db = matmul_kernel(transpose(ad.reshape({rows, ad.dim(2)}), 0, 1),
                           d.reshape({rows, d.dim(2)}), compute);
      } else {
        db = matmul_kernel(transpose(ad, -1, -2), d, compute);
      }
    }
    return std::vector<Tensor>{da, db};
  });
}

}  // namespace loom
