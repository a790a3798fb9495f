// Concatenate: joins its inputs along `axis` (Keras Concatenate).
//
// Shapes: x_i (B, ..., n_i, ...) -> y (B, ..., sum n_i, ...), all other
// extents equal. Masks are combined as Keras does: each input's mask is
// taken as all-ones when missing, widened to the input's shape, the widened
// masks are concatenated along `axis`, and the result is "all" over the last
// axis. So with axis = -1 on (B, T, F_i) inputs with (B, T) masks, a step
// counts when it counts in every input; with axis = 1 (time) the masks are
// joined in time. No mask follows when no input has one.
#pragma once

#include "loom/layers/layer.h"

namespace loom {

// (Outside the class so that `Options options = {}` can be a default argument.)
struct ConcatenateOptions {
  int axis = -1;
};

class Concatenate : public Layer {
 public:
  using Options = ConcatenateOptions;
  explicit Concatenate(Options options = {}, std::string name = "");
  static LayerHandle<Concatenate> make(Options options = {}, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config config() const override { return {{"axis", static_cast<int64_t>(options_.axis)}}; }
  const Options& options() const { return options_; }

 private:
  Options options_;
};

}  // namespace loom
