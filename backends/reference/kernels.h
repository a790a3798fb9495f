// The reference backend's kernels, one table per instruction-set variant.
//
// ReferenceBackend (and the backends built on it) and the optimizers call
// ref::kernels(), the table of the variant active_cpu_isa() chose
// (backends/cpu_isa.h). Each entry has the formula and shapes of the
// Backend method of the same name (backends/backend.h); adam_span is the
// optimizers' Adam loop over one contiguous span.
#pragma once

#include <cstdint>

#include "loom/backends/backend.h"
#include "loom/backends/reference/isa_namespace.h"

namespace loom::ref {

// One Adam (or AMSGrad, when vhat is set) update of elements [begin, end);
// the scalars are in the parameter's dtype (optim/adam.cpp).
template <typename T>
struct AdamSpan {
  T* w;
  const T* g;
  T* m;
  T* v;
  T* vhat;  // null unless AMSGrad
  T scale, clip, lr, weight_decay, alpha, one_minus_b1, one_minus_b2, epsilon;
};

struct KernelTable {
  void (*fill)(const StridedView& dst, double value);
  void (*copy)(const StridedView& src, const StridedView& dst);
  void (*unary)(UnaryOp op, const StridedView& src, const StridedView& dst);
  void (*unary_grad)(UnaryOp op, const StridedView& saved, const StridedView& dy,
                     const StridedView& dx);
  void (*binary)(BinaryOp op, const StridedView& a, const StridedView& b, const StridedView& dst);
  void (*axpby)(double alpha, const StridedView& src, double beta, const StridedView& dst);
  void (*where)(const StridedView& cond, const StridedView& a, const StridedView& b,
                const StridedView& dst);
  void (*reduce)(ReduceOp op, const StridedView& src, const StridedView& dst);
  void (*gemm)(const GemmDesc& desc, const void* a, const void* b, void* c);
  void (*softmax)(const StridedView& src, const StridedView& dst, bool log);
  void (*softmax_grad)(const StridedView& y, const StridedView& dy, const StridedView& dx,
                       bool log);
  void (*gather_rows)(const StridedView& table, const StridedView& ids, const StridedView& dst);
  void (*scatter_add_rows)(const StridedView& src, const StridedView& ids,
                           const StridedView& dtable);
  void (*bernoulli_mask)(const StridedView& dst, double keep_prob, double scale, uint64_t seed,
                         uint64_t offset);
  void (*rnn_gates_forward)(const RnnDesc& desc, const RnnStepForward& step);
  void (*rnn_gates_backward)(const RnnDesc& desc, const RnnStepBackward& step);
  void (*adam_span_f32)(const AdamSpan<float>& a, int64_t begin, int64_t end);
  void (*adam_span_f64)(const AdamSpan<double>& a, int64_t begin, int64_t end);
};

// The active variant's table (chosen on the first call).
const KernelTable& kernels();

// Each variant's kernels, defined in that variant's objects.
inline namespace LOOM_ISA_NS {
void fill(const StridedView& dst, double value);
void copy(const StridedView& src, const StridedView& dst);
void unary(UnaryOp op, const StridedView& src, const StridedView& dst);
void unary_grad(UnaryOp op, const StridedView& saved, const StridedView& dy, const StridedView& dx);
void binary(BinaryOp op, const StridedView& a, const StridedView& b, const StridedView& dst);
void axpby(double alpha, const StridedView& src, double beta, const StridedView& dst);
void where(const StridedView& cond, const StridedView& a, const StridedView& b,
           const StridedView& dst);
void reduce(ReduceOp op, const StridedView& src, const StridedView& dst);
void gemm(const GemmDesc& desc, const void* a, const void* b, void* c);
void softmax(const StridedView& src, const StridedView& dst, bool log);
void softmax_grad(const StridedView& y, const StridedView& dy, const StridedView& dx, bool log);
void gather_rows(const StridedView& table, const StridedView& ids, const StridedView& dst);
void scatter_add_rows(const StridedView& src, const StridedView& ids, const StridedView& dtable);
void bernoulli_mask(const StridedView& dst, double keep_prob, double scale, uint64_t seed,
                    uint64_t offset);
void rnn_gates_forward(const RnnDesc& desc, const RnnStepForward& step);
void rnn_gates_backward(const RnnDesc& desc, const RnnStepBackward& step);
template <typename T>
void adam_span(const AdamSpan<T>& a, int64_t begin, int64_t end);
// This variant's table of the functions above.
const KernelTable& kernel_table();
}  // namespace LOOM_ISA_NS

}  // namespace loom::ref
