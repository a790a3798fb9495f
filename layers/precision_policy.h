// Keras's dtype policies (mixed precision): which dtype a layer's variables
// are kept in and which precision its computation runs in.
//
//   loom::set_global_policy("mixed_bfloat16");  // before the layers are made
//   auto model = ...;                           // every layer made now is mixed
//   layer->set_dtype_policy("float32");         // one layer back to f32
//
//   float32         variables f32, products f32 (the default)
//   mixed_bfloat16  variables f32, products on bf16 operands, f32 accumulation
//   mixed_float16   variables f32, products on f16 operands, f32 accumulation
//                   (train with loss scaling: optim/loss_scale.h; fit()
//                   turns it on by itself for such a model)
//
// As in Keras, a layer takes the global policy when it is constructed.
// Variables, gradients and optimizer state stay f32 (the master weights),
// and so do the tensors between layers and the element-wise work: what
// runs in the low precision are the matrix products (Dense, the recurrent
// layers' input and recurrent products, oneDNN's bf16 RNN primitive, cuDNN
// and cuBLAS on tensor cores), the work that gains from it. Keras also
// rounds activations to bf16 between layers; Loom keeps them in f32, which
// is at least as accurate (docs/SEMANTICS.md, "Mixed precision").
#pragma once

#include <string>

#include "loom/backends/types.h"

namespace loom {

struct DTypePolicy {
  std::string name = "float32";
  DType compute = DType::f32;  // f32, bf16 or f16 (autograd/precision.h)

  // "float32", "mixed_bfloat16" or "mixed_float16"; anything else is an
  // error naming the three.
  static DTypePolicy parse(const std::string& name);
  bool mixed() const { return compute != DType::f32; }
};

// Keras's mixed_precision.set_global_policy / global_policy: the policy
// layers constructed from now on take (per thread of construction: the
// process-wide default).
void set_global_policy(const std::string& name);
DTypePolicy global_policy();

}  // namespace loom
