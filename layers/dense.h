// Dense: y = activation(x W + b) on the last axis (Keras Dense).
//
// Shapes: x (B, F) or (B, T, F) (any rank >= 2, the last axis is F)
//   -> y (..., units). kernel W (F, units), bias b (units).
#pragma once

#include <optional>
#include <string>

#include "loom/layers/weights/initializers.h"
#include "loom/layers/layer.h"
#include "loom/layers/weights/regularizers.h"

namespace loom {

class Dense : public Layer {
 public:
  struct Options {
    int64_t units = 0;
    std::string activation = "linear";  // Keras names (autograd activation()); "" = linear
    bool use_bias = true;
    Initializer kernel_initializer = "glorot_uniform";
    Initializer bias_initializer = "zeros";
    Regularizer kernel_regularizer;  // e.g. regularizers::l2(0.01); none by default
    Regularizer bias_regularizer;
    // Seeds the layer's own weight generator; without it weights come from
    // default_generator() (see loom::manual_seed).
    std::optional<uint64_t> seed;
  };

  explicit Dense(Options options, std::string name = "");
  static LayerHandle<Dense> make(Options options, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  // Keras Dense passes a mask on (it maps each step independently).
  bool supports_masking() const override { return true; }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config config() const override;

  const Options& options() const { return options_; }
  const ParameterPtr& kernel() const { return kernel_; }
  const ParameterPtr& bias() const { return bias_; }  // null without use_bias

 private:
  Options options_;
  std::optional<Generator> gen_;
  ParameterPtr kernel_, bias_;
};

}  // namespace loom
