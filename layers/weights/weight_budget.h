// A cap on the bytes of weights that initializers create on this thread.
//
// Readers of untrusted files set one around building a model: load_model
// allows what the file's own weights justify, so an architecture cannot make
// loading allocate far more than the file holds (a 4 KB model file saying
// "units": 200000000 would otherwise ask for 6.4 GB before any weight is
// compared). Every weight a layer creates goes through an Initializer
// (layers/weights/initializers.h), which charges it here first; going over
// is a loom::Error naming the weight's dtype, shape and bytes and the cap.
//
//   WeightBudget budget(64 << 20, "model.json: the architecture");
//   auto model = Model::from_json(text);   // throws instead of allocating 6 GB
//
// Scopes nest (the innermost counts); without one nothing is capped.
#pragma once

#include <cstdint>
#include <string>

#include "loom/backends/types.h"

namespace loom {

class WeightBudget {
 public:
  // `what` starts the error message ("load_model 'm.loom': the architecture").
  WeightBudget(uint64_t max_bytes, std::string what);
  ~WeightBudget();
  WeightBudget(const WeightBudget&) = delete;
  WeightBudget& operator=(const WeightBudget&) = delete;

  // Charges a weight of `shape` and `dtype` to this thread's innermost
  // budget; throws when it does not fit. No-op without a budget.
  static void charge(const Shape& shape, DType dtype);

 private:
  uint64_t max_bytes_;
  uint64_t left_;
  std::string what_;
  WeightBudget* outer_;
};

}  // namespace loom
