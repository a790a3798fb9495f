// Activation: applies an activation function by Keras name (Keras Activation).
//
// Shapes: x (S) -> y (S). Masks pass through.
#pragma once

#include <string>

#include "loom/layers/layer.h"

namespace loom {

// Throws loom::Error naming `who` (a layer) when `name` is not an activation
// that autograd's activation() knows.
void check_activation_name(const std::string& who, const std::string& name);

class Activation : public Layer {
 public:
  struct Options {
    std::string activation = "linear";
  };
  explicit Activation(Options options, std::string name = "");
  static LayerHandle<Activation> make(Options options, std::string name = "");
  // Activation::make("relu"); a const char* keeps make({.activation = ...}) unambiguous.
  static LayerHandle<Activation> make(const char* activation, std::string name = "") {
    return make(Options{activation}, std::move(name));
  }
  static LayerPtr from_config(const Config& config, const std::string& name);

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  bool supports_masking() const override { return true; }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override {
    return {input_shapes.at(0)};
  }
  Config config() const override;
  const Options& options() const { return options_; }

 private:
  Options options_;
};

}  // namespace loom
