// Dynamic loss scaling for float16 training (Keras's LossScaleOptimizer,
// PyTorch's GradScaler).
//
// f16 has 5 exponent bits: gradients below 2^-24 round to zero and values
// above 65504 to infinity. Multiplying the loss by a scale S before
// backward lifts small gradients out of the underflow range; the gradients
// are divided by S again before the optimizer sees them. S is tuned on the
// fly, with Keras's rule:
//
//   each step, after backward of (loss * S):
//     some gradient is not finite -> skip the step (weights and slots stay),
//                                    S = max(S / 2, 1), good steps = 0
//     else                        -> unscale and apply; good steps += 1;
//                                    after growth_steps good steps in a row,
//                                    S = S * 2 and good steps = 0
//
// fit() uses one when the model has a layer under the mixed_float16 policy
// (Keras wraps the optimizer the same way in compile()); bf16 has f32's
// exponent range and needs none. Host-side bookkeeping only: the scaling
// itself is two multiplications the training step makes on any backend.
#pragma once

#include <cstdint>

namespace loom {

struct LossScaleOptions {
  double initial_scale = 32768.0;  // 2^15, Keras's default
  int64_t growth_steps = 2000;     // Keras's dynamic_growth_steps
};

class DynamicLossScale {
 public:
  explicit DynamicLossScale(const LossScaleOptions& options = {});

  double scale() const { return scale_; }
  int64_t good_steps() const { return good_steps_; }
  // Records one step's outcome and adjusts the scale (the rule above).
  // Returns whether the step's update is to be applied.
  bool update(bool gradients_finite);
  // Restores a saved state (a checkpoint's, or to continue a run).
  void set_state(double scale, int64_t good_steps);

 private:
  LossScaleOptions options_;
  double scale_;
  int64_t good_steps_ = 0;
};

}  // namespace loom
