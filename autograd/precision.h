// The precision matrix products run in on this thread: mixed precision's
// "compute dtype" (Keras's mixed_bfloat16 / mixed_float16 policies,
// PyTorch's autocast), as a scope.
//
// Inside a ComputePrecisionScope(bf16), every f32 product recorded on this
// thread (matmul, the recurrent layers' input and recurrent products, in
// the forward pass and, captured when recorded, in the backward pass)
// rounds its operands to bf16 and accumulates in f32. Tensors, parameters,
// gradients and element-wise work stay f32; f64 is never rounded, so
// gradcheck is unaffected. Every layer call opens the scope from the
// layer's dtype policy (layers/precision_policy.h), so inside layers the
// policy decides; a scope opened by hand governs the ops called directly
// (matmul, rnn_sequence).
#pragma once

#include "loom/backends/types.h"

namespace loom {

// f32 (no rounding), bf16 or f16.
DType compute_precision();

class ComputePrecisionScope {
 public:
  explicit ComputePrecisionScope(DType compute);
  ~ComputePrecisionScope();
  ComputePrecisionScope(const ComputePrecisionScope&) = delete;
  ComputePrecisionScope& operator=(const ComputePrecisionScope&) = delete;

 private:
  DType previous_;
};

// The compute precision for a product of `dtype` operands: the scope's for
// f32; any other dtype (f64) is its own and never rounded.
inline DType compute_precision_for(DType dtype) {
  return dtype == DType::f32 ? compute_precision() : dtype;
}

}  // namespace loom
