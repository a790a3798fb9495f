// A trainable variable with a name, shared by the layer that owns it and the
// optimizer that updates it.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "loom/autograd/tensor.h"

namespace loom {

struct Parameter {
  std::string name;     // "dense/kernel", "lstm/recurrent_kernel", ...
  Tensor value;         // a leaf; requires_grad while trainable
  bool trainable = true;
  // Sparse updates (Embedding(sparse=true)): the rows of `value` that received
  // a gradient since the last optimizer step. The optimizer then updates only
  // those rows and clears the set. Null for ordinary dense parameters.
  std::shared_ptr<std::set<int64_t>> touched_rows;
  // The gradient is zero outside the rows a batch used (an embedding
  // table), sparse or not: data-parallel training reduces only the rows some
  // rank used (distributed/gradient_reducer.h).
  bool row_sparse_gradient = false;

  Parameter() = default;
  Parameter(std::string n, Tensor v, bool train = true)
      : name(std::move(n)), value(std::move(v)), trainable(train) {
    if (trainable) value.set_requires_grad(true);
  }
  Tensor grad() const { return value.grad(); }
};

using ParameterPtr = std::shared_ptr<Parameter>;

}  // namespace loom
