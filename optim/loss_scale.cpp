#include "loom/optim/loss_scale.h"

#include <algorithm>
#include <cmath>

#include "loom/backends/types.h"

namespace loom {

DynamicLossScale::DynamicLossScale(const LossScaleOptions& options)
    : options_(options), scale_(options.initial_scale) {
  LOOM_CHECK(std::isfinite(options.initial_scale) && options.initial_scale >= 1.0,
             "DynamicLossScale: initial_scale must be finite and at least 1, got {}",
             options.initial_scale);
  LOOM_CHECK(options.growth_steps >= 1, "DynamicLossScale: growth_steps must be at least 1, got {}",
             options.growth_steps);
}

bool DynamicLossScale::update(bool gradients_finite) {
  if (!gradients_finite) {
    scale_ = std::max(scale_ / 2.0, 1.0);
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ >= options_.growth_steps) {
    // Doubling past f32's range would make every scaled loss infinite.
    if (std::isfinite(scale_ * 2.0)) scale_ *= 2.0;
    good_steps_ = 0;
  }
  return true;
}

void DynamicLossScale::set_state(double scale, int64_t good_steps) {
  LOOM_CHECK(std::isfinite(scale) && scale >= 1.0 && good_steps >= 0,
             "DynamicLossScale: invalid state (scale {}, good steps {})", scale, good_steps);
  scale_ = scale;
  good_steps_ = good_steps;
}

}  // namespace loom
