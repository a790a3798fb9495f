// GlobalAveragePooling1D: the mean over time (Keras GlobalAveragePooling1D).
//
// Shapes: x (B, T, F) -> y (B, F) ((B, 1, F) with keepdims).
// With a mask (B, T) the mean runs over unmasked steps only:
//   y[b] = sum_t m[b,t] x[b,t] / sum_t m[b,t]
// A row with no unmasked step gives zeros (Keras divides 0 by 0 into NaN).
// No mask follows the layer.
#pragma once

#include "loom/layers/layer.h"

namespace loom {

// (Outside the class so that `Options options = {}` can be a default argument.)
struct GlobalAveragePooling1DOptions {
  bool keepdims = false;
};

class GlobalAveragePooling1D : public Layer {
 public:
  using Options = GlobalAveragePooling1DOptions;
  explicit GlobalAveragePooling1D(Options options = {}, std::string name = "");
  static LayerHandle<GlobalAveragePooling1D> make(Options options = {}, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks) const override {
    return {Tensor()};
  }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config config() const override { return {{"keepdims", options_.keepdims}}; }
  const Options& options() const { return options_; }

 private:
  Options options_;
};

// Checks x (B, T, F) and mask (B, T) for the pooling layers; returns the
// mask as (B, T, 1) in x's dtype (undefined when there is none).
Tensor pooling_mask(const std::string& who, const Tensor& x, const Tensor& mask);

}  // namespace loom
