// GlobalMaxPooling1D: the maximum over time (Keras GlobalMaxPooling1D).
//
// Shapes: x (B, T, F) -> y (B, F) ((B, 1, F) with keepdims).
// With a mask (B, T), masked steps are ignored:
//   y[b, f] = max over unmasked t of x[b, t, f]
// A row with no unmasked step gives zeros. Ties share the gradient equally.
// No mask follows the layer.
#pragma once

#include "loom/layers/layer.h"

namespace loom {

// (Outside the class so that `Options options = {}` can be a default argument.)
struct GlobalMaxPooling1DOptions {
  bool keepdims = false;
};

class GlobalMaxPooling1D : public Layer {
 public:
  using Options = GlobalMaxPooling1DOptions;
  explicit GlobalMaxPooling1D(Options options = {}, std::string name = "");
  static LayerHandle<GlobalMaxPooling1D> make(Options options = {}, std::string name = "");
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

}  // namespace loom
