// Helpers for the layer suites.
#pragma once

#include <optional>

#include "test_util.h"

namespace loom::test {

// gradcheck of a layer call with respect to its inputs that require grad and
// every trainable parameter, with the layer's extra losses (regularizers)
// checked as additional outputs. The layer is built (from the inputs' dtype)
// first. With `noise_seed` the layer is reseeded before every evaluation so
// dropout draws the same mask each time.
inline GradcheckResult gradcheck_layer(Layer& layer, const std::vector<Tensor>& inputs,
                                       const std::vector<Tensor>& masks = {},
                                       bool training = false,
                                       std::optional<uint64_t> noise_seed = {}) {
  CallContext ctx;
  ctx.training = training;
  (void)layer(inputs, masks, ctx);  // builds
  std::vector<ParameterPtr> params = layer.trainable_parameters();
  std::vector<Tensor> originals, all = inputs;
  for (const ParameterPtr& p : params) {
    originals.push_back(p->value);
    all.push_back(p->value);
  }
  const size_t n_in = inputs.size();
  MultiFn fn = [&](const std::vector<Tensor>& v) {
    for (size_t k = 0; k < params.size(); ++k) params[k]->value = v[n_in + k];
    if (noise_seed) {
      Generator g(*noise_seed);
      layer.reseed(g);
    }
    std::vector<Tensor> xs(v.begin(), v.begin() + static_cast<long>(n_in));
    std::vector<Tensor> outs = layer(xs, masks, ctx).tensors;
    for (const Tensor& l : layer.losses()) outs.push_back(l);
    return outs;
  };
  GradcheckResult r = gradcheck(fn, all);
  for (size_t k = 0; k < params.size(); ++k) params[k]->value = originals[k];
  return r;
}

// A layer that does not support masking (most Keras layers outside RNNs and
// the core ones): y = 2 x.
class NoMaskLayer : public Layer {
 public:
  explicit NoMaskLayer(std::string name = "") : Layer("NoMaskLayer", std::move(name)) {}
  std::vector<Tensor> call(const std::vector<Tensor>& in, const std::vector<Tensor>&,
                           const CallContext&) override {
    return {mul(in[0], 2.0)};
  }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& s) const override {
    return {s[0]};
  }
};

inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace loom::test
