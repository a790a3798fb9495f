// gradcheck: compares the tape's gradients with central finite differences.
//
// The function's outputs are contracted with fixed random cotangents into the
// scalar L = sum_k <outputs[k], cotangents[k]>, so multi-output functions are
// checked through every output at once. Every element of every f64 input
// that requires grad is perturbed by +-eps; integer inputs (ids, labels) are
// passed through untouched. Public API: check your own layers with it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-6;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-4;
  uint64_t seed = 1234;  // for the random cotangents
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;  // over all checked elements
  std::string worst;         // where the largest error relative to tolerance occurred
  int64_t elements_checked = 0;
  explicit operator bool() const { return ok; }
};

using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
using SingleFn = std::function<Tensor(const std::vector<Tensor>&)>;

// `inputs` must be f64 (floating ones); those with requires_grad() are checked.
GradcheckResult gradcheck(const MultiFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckResult gradcheck(const SingleFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace loom
