// ReferenceBackend: each kernel is the active instruction-set variant's
// (kernels.h), so one class serves every CPU and the backends built on it.
#include "loom/backends/reference/reference_backend.h"

#include "loom/backends/reference/kernels.h"

namespace loom {

using ref::kernels;

void ReferenceBackend::fill(const StridedView& dst, double value) { kernels().fill(dst, value); }

void ReferenceBackend::copy(const StridedView& src, const StridedView& dst) {
  kernels().copy(src, dst);
}

void ReferenceBackend::unary(UnaryOp op, const StridedView& src, const StridedView& dst) {
  kernels().unary(op, src, dst);
}

void ReferenceBackend::unary_grad(UnaryOp op, const StridedView& saved, const StridedView& dy,
                                  const StridedView& dx) {
  kernels().unary_grad(op, saved, dy, dx);
}

void ReferenceBackend::binary(BinaryOp op, const StridedView& a, const StridedView& b,
                              const StridedView& dst) {
  kernels().binary(op, a, b, dst);
}

void ReferenceBackend::axpby(double alpha, const StridedView& src, double beta,
                             const StridedView& dst) {
  kernels().axpby(alpha, src, beta, dst);
}

void ReferenceBackend::where(const StridedView& cond, const StridedView& a, const StridedView& b,
                             const StridedView& dst) {
  kernels().where(cond, a, b, dst);
}

void ReferenceBackend::reduce(ReduceOp op, const StridedView& src, const StridedView& dst) {
  kernels().reduce(op, src, dst);
}

void ReferenceBackend::gemm(const GemmDesc& desc, const void* a, const void* b, void* c) {
  reference_gemm(desc, a, b, c);
}

void ReferenceBackend::softmax(const StridedView& src, const StridedView& dst, bool log) {
  kernels().softmax(src, dst, log);
}

void ReferenceBackend::softmax_grad(const StridedView& y, const StridedView& dy,
                                    const StridedView& dx, bool log) {
  kernels().softmax_grad(y, dy, dx, log);
}

void ReferenceBackend::gather_rows(const StridedView& table, const StridedView& ids,
                                   const StridedView& dst) {
  kernels().gather_rows(table, ids, dst);
}

void ReferenceBackend::scatter_add_rows(const StridedView& src, const StridedView& ids,
                                        const StridedView& dtable) {
  kernels().scatter_add_rows(src, ids, dtable);
}

void ReferenceBackend::bernoulli_mask(const StridedView& dst, double keep_prob, double scale,
                                      uint64_t seed, uint64_t offset) {
  kernels().bernoulli_mask(dst, keep_prob, scale, seed, offset);
}

void ReferenceBackend::rnn_gates_forward(const RnnDesc& d, const RnnStepForward& s) {
  kernels().rnn_gates_forward(d, s);
}

void ReferenceBackend::rnn_gates_backward(const RnnDesc& d, const RnnStepBackward& s) {
  kernels().rnn_gates_backward(d, s);
}

void reference_gemm(const GemmDesc& desc, const void* a, const void* b, void* c) {
  if (desc.dtype == DType::f32 && desc.compute != DType::f32) {
    // Simple and exact rather than fast: the rounded operands, then f32.
    const RoundedGemmOperands r =
        round_gemm_operands(desc, static_cast<const float*>(a), static_cast<const float*>(b));
    kernels().gemm(r.desc, r.a.data(), r.b.data(), c);
    return;
  }
  kernels().gemm(desc, a, b, c);
}

void reference_rnn_gates_forward(const RnnDesc& d, const RnnStepForward& s) {
  kernels().rnn_gates_forward(d, s);
}

void reference_rnn_gates_backward(const RnnDesc& d, const RnnStepBackward& s) {
  kernels().rnn_gates_backward(d, s);
}

}  // namespace loom
