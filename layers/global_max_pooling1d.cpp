// GlobalMaxPooling1D: (masked) maximum over the time axis.
#include "loom/layers/global_max_pooling1d.h"

#include <limits>

#include "loom/layers/global_average_pooling1d.h"  // pooling_mask
#include "loom/layers/layer_factory.h"

namespace loom {

GlobalMaxPooling1D::GlobalMaxPooling1D(Options options, std::string name)
    : Layer("GlobalMaxPooling1D", std::move(name)), options_(options) {}

LayerHandle<GlobalMaxPooling1D> GlobalMaxPooling1D::make(Options options, std::string name) {
  return std::make_shared<GlobalMaxPooling1D>(options, std::move(name));
}

std::vector<Tensor> GlobalMaxPooling1D::call(const std::vector<Tensor>& inputs,
                                             const std::vector<Tensor>& masks,
                                             const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: expects 1 input, got {}", describe(), inputs.size());
  const Tensor& x = inputs[0];  // (B, T, F)
  Tensor m = pooling_mask(describe(), x, masks.empty() ? Tensor() : masks[0]);  // (B, T, 1)
  if (!m.defined()) return {max(x, {1}, options_.keepdims)};
  // Masked steps become -inf so they never win; where() sends their
  // gradient to the constant, not to x.
  Tensor lowest = Tensor::full({}, -std::numeric_limits<double>::infinity(), x.dtype());
  Tensor best = max(where(m, x, lowest), {1}, options_.keepdims);  // (B, F)
  Tensor any = max(m, {1}, options_.keepdims);                     // (B, 1) 1 if a step counts
  return {where(any, best, Tensor::zeros({}, x.dtype()))};
}

std::vector<Shape> GlobalMaxPooling1D::compute_output_shape(const std::vector<Shape>& shapes) const {
  const Shape& s = shapes.at(0);
  LOOM_CHECK(s.size() == 3, "{}: expected an input of shape (B, T, F), got {}", describe(),
             shape_str(s));
  if (options_.keepdims) return {{s[0], 1, s[2]}};
  return {{s[0], s[2]}};
}

LayerPtr GlobalMaxPooling1D::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "GlobalMaxPooling1D", name);
  Options o;
  o.keepdims = r.get_bool("keepdims", false);
  r.finish();
  return std::make_shared<GlobalMaxPooling1D>(o, name);
}

}  // namespace loom
