// Dropout: during training, zeroes each element with probability `rate` and
// scales the kept ones by 1 / (1 - rate); identity at inference (Keras Dropout).
//
// Shapes: x (S) -> y (S). noise_shape (Keras): the shape of the random mask,
// broadcast over x; an entry of -1 (Keras None) takes x's extent, so
// {-1, 1, -1} on (B, T, F) drops the same features at every step.
// Masks pass through.
#pragma once

#include <optional>

#include "loom/layers/layer.h"

namespace loom {

class Dropout : public Layer {
 public:
  struct Options {
    double rate = 0.0;
    Shape noise_shape;             // empty: x's shape
    std::optional<uint64_t> seed;  // else seeded from default_generator() at construction
  };

  explicit Dropout(Options options, std::string name = "");
  static LayerHandle<Dropout> make(Options options, std::string name = "");
  static LayerHandle<Dropout> make(double rate, std::string name = "") {
    Options o;
    o.rate = rate;
    return make(o, std::move(name));
  }
  static LayerPtr from_config(const Config& config, const std::string& name);

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  bool supports_masking() const override { return true; }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override {
    return {input_shapes.at(0)};
  }
  Config config() const override;
  void reseed(Generator& source) override;

  const Options& options() const { return options_; }
  Generator& generator() { return gen_; }

 protected:
  Dropout(std::string type_name, Options options, std::string name);
  // The mask's shape for input shape `x` (noise_shape with -1 resolved).
  virtual Shape noise_shape_for(const Shape& x) const;

 private:
  Options options_;
  Generator gen_;
};

}  // namespace loom
