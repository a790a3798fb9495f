// Whole recurrent layers on oneDNN's fused RNN primitives (onednn_rnn.cpp).
// Internal to the oneDNN backend: OneDnnBackend forwards supports_rnn,
// rnn_forward and rnn_backward here.
#pragma once

#include <cstddef>
#include <memory>

#include "loom/backends/backend.h"

namespace loom::onednn {

class RnnRunner {
 public:
  explicit RnnRunner(Backend& backend);  // scratch memory and element-wise work
  ~RnnRunner();
  RnnRunner(const RnnRunner&) = delete;
  RnnRunner& operator=(const RnnRunner&) = delete;

  // Whether the primitive computes exactly what docs/SEMANTICS.md defines for
  // `desc` (see the comment on the definition for what it declines).
  bool supports(const RnnDesc& desc) const;
  // Whether bf16 (RnnDesc::compute) runs on a native bf16 primitive here.
  bool bf16_native() const;
  // Backend::rnn_forward / rnn_backward for a supported desc; forward
  // declines masks with holes (and masks with every row empty).
  RnnForwardResult forward(const RnnDesc& desc, const RnnForwardArgs& args);
  void backward(const RnnDesc& desc, const RnnBackwardArgs& args, RnnWorkspace& workspace);

  size_t cached_plans() const;

  // Which path each rnn_forward took, for tests and benchmarks: one
  // primitive run over the whole batch, packed primitive runs for a padding
  // mask, or declined (a mask with holes: the explicit BPTT runs instead).
  struct Stats {
    size_t dense_calls = 0, packed_calls = 0, declined_calls = 0;
  };
  Stats stats() const;

  struct State;  // oneDNN engine, stream, plans, buffers (onednn_rnn.cpp)

 private:
  std::unique_ptr<State> s_;
};

}  // namespace loom::onednn
