// Masking: marks timesteps whose features all equal mask_value as padding
// (Keras Masking).
//
// Shapes: x (B, T, F) -> y (B, T, F), mask (B, T):
//   mask[b, t] = any_f(x[b, t, f] != mask_value)
//   y = x * mask[..., None]   (masked steps' inputs are zeroed)
// An incoming mask is replaced, as in Keras.
#pragma once

#include "loom/layers/layer.h"

namespace loom {

// (Outside the class so that `Options options = {}` can be a default argument.)
struct MaskingOptions {
  double mask_value = 0.0;
};

class Masking : public Layer {
 public:
  using Options = MaskingOptions;
  explicit Masking(Options options = {}, std::string name = "");
  static LayerHandle<Masking> make(Options options = {}, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override {
    return {input_shapes.at(0)};
  }
  Config config() const override { return {{"mask_value", options_.mask_value}}; }
  const Options& options() const { return options_; }

 private:
  // (B, T, 1): 1 where some feature differs from mask_value.
  Tensor keep(const Tensor& x) const;
  Options options_;
};

}  // namespace loom
