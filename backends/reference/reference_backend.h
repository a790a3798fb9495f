// The reference backend: plain C++ for f32 and f64 on the CPU, threaded with
// OpenMP. It is the oracle other backends are checked against and the
// fallback for anything they decline, so it favours clarity, but its GEMM is
// blocked and vectorized (gemm.cpp) because every fallback path runs on it.
#pragma once

#include "loom/backends/backend.h"

namespace loom {

class ReferenceBackend : public Backend {
 public:
  const char* name() const override { return "reference"; }
  DeviceKind device_kind() const override { return DeviceKind::cpu; }

  void fill(const StridedView& dst, double value) override;
  void copy(const StridedView& src, const StridedView& dst) override;
  void unary(UnaryOp op, const StridedView& src, const StridedView& dst) override;
  void unary_grad(UnaryOp op, const StridedView& saved, const StridedView& dy,
                  const StridedView& dx) override;
  void binary(BinaryOp op, const StridedView& a, const StridedView& b,
              const StridedView& dst) override;
  void axpby(double alpha, const StridedView& src, double beta, const StridedView& dst) override;
  void where(const StridedView& cond, const StridedView& a, const StridedView& b,
             const StridedView& dst) override;
  void reduce(ReduceOp op, const StridedView& src, const StridedView& dst) override;
  void gemm(const GemmDesc& desc, const void* a, const void* b, void* c) override;
  void softmax(const StridedView& src, const StridedView& dst, bool log) override;
  void softmax_grad(const StridedView& y, const StridedView& dy, const StridedView& dx,
                    bool log) override;
  void gather_rows(const StridedView& table, const StridedView& ids,
                   const StridedView& dst) override;
  void scatter_add_rows(const StridedView& src, const StridedView& ids,
                        const StridedView& dtable) override;
  void bernoulli_mask(const StridedView& dst, double keep_prob, double scale, uint64_t seed,
                      uint64_t offset) override;
  // Fused RNN step kernels (rnn_gates.cpp); no whole-sequence RNN
  // (supports_rnn stays false), so the explicit BPTT runs on these.
  void rnn_gates_forward(const RnnDesc& desc, const RnnStepForward& step) override;
  void rnn_gates_backward(const RnnDesc& desc, const RnnStepBackward& step) override;
};

// The blocked GEMM on its own, so other CPU backends can reuse it.
void reference_gemm(const GemmDesc& desc, const void* a, const void* b, void* c);

// The fused RNN step kernels on their own, for other CPU backends to reuse.
void reference_rnn_gates_forward(const RnnDesc& desc, const RnnStepForward& step);
void reference_rnn_gates_backward(const RnnDesc& desc, const RnnStepBackward& step);

}  // namespace loom
