// SpatialDropout1D: drops whole feature channels of a sequence (Keras
// SpatialDropout1D): one keep/drop decision per (sample, feature), shared by
// every timestep.
//
// Shapes: x (B, T, F) -> y (B, T, F); noise shape (B, 1, F).
#pragma once

#include "loom/layers/dropout.h"

namespace loom {

class SpatialDropout1D : public Dropout {
 public:
  struct Options {
    double rate = 0.0;
    std::optional<uint64_t> seed;
  };
  explicit SpatialDropout1D(Options options, std::string name = "");
  static LayerHandle<SpatialDropout1D> make(Options options, std::string name = "");
  static LayerHandle<SpatialDropout1D> make(double rate, std::string name = "") {
    Options o;
    o.rate = rate;
    return make(o, std::move(name));
  }
  static LayerPtr from_config(const Config& config, const std::string& name);
  Config config() const override;

 protected:
  Shape noise_shape_for(const Shape& x) const override;
};

}  // namespace loom
