// The oneDNN CPU backend (built with LOOM_WITH_ONEDNN=ON; the default CPU
// backend when present).
//
// It is the reference backend with the heavy kernels replaced:
//   - f32 GEMM through dnnl_sgemm (f64 stays on the reference GEMM: oneDNN
//     has no f64 GEMM);
//   - whole recurrent layers through oneDNN's fused RNN primitives
//     (onednn_rnn.cpp) for the configurations supports_rnn accepts; for the
//     rest, and the calls rnn_forward declines, layers/rnn runs Loom's
//     explicit BPTT on this backend's GEMM and the reference fused gate kernels.
// Element-wise, reduction, embedding and random kernels are the reference
// ones (vectorized and OpenMP-threaded already; oneDNN's eltwise primitives
// would add a primitive creation per shape for no gain), and so they share
// oneDNN's OpenMP thread count (LOOM_NUM_THREADS, backends/registry.h).
#pragma once

#include <cstddef>
#include <memory>

#include "loom/backends/reference/reference_backend.h"

namespace loom {

namespace onednn {
class RnnRunner;
}

class OneDnnBackend : public ReferenceBackend {
 public:
  OneDnnBackend();
  ~OneDnnBackend() override;

  const char* name() const override { return "onednn"; }

  void gemm(const GemmDesc& desc, const void* a, const void* b, void* c) override;

  bool supports_rnn(const RnnDesc& desc) const override;
  RnnForwardResult rnn_forward(const RnnDesc& desc, const RnnForwardArgs& args) override;
  void rnn_backward(const RnnDesc& desc, const RnnBackwardArgs& args,
                    RnnWorkspace& workspace) override;

  // How many RNN primitive plans (one per cell, direction and shape) are
  // cached; for tests that check primitives are not rebuilt every step.
  size_t cached_rnn_plans() const;
  // How many rnn_forward calls took each path (dense primitive, packed
  // primitive runs for a padding mask, declined for a mask with holes).
  size_t rnn_dense_calls() const;
  size_t rnn_packed_calls() const;
  size_t rnn_declined_calls() const;

 private:
  std::unique_ptr<onednn::RnnRunner> rnn_;
};

std::unique_ptr<Backend> make_onednn_backend();

// The oneDNN version this binary runs with, e.g. "2.6.3".
const char* onednn_version_string();

}  // namespace loom
