// GlobalAveragePooling1D: (masked) mean over the time axis.
#include "loom/layers/global_average_pooling1d.h"

#include "loom/layers/layer_factory.h"

namespace loom {

Tensor pooling_mask(const std::string& who, const Tensor& x, const Tensor& mask) {
  LOOM_CHECK(x.ndim() == 3, "{}: expected an input of shape (B, T, F), got {}", who,
             shape_str(x.shape()));
  if (!mask.defined()) return Tensor();
  LOOM_CHECK(mask.ndim() == 2 && mask.dim(0) == x.dim(0) && mask.dim(1) == x.dim(1),
             "{}: the mask has shape {} but the input {} needs a (B, T) mask {}", who,
             shape_str(mask.shape()), shape_str(x.shape()), shape_str({x.dim(0), x.dim(1)}));
  return unsqueeze(cast(mask.detach(), x.dtype()), -1);  // (B, T, 1)
}

GlobalAveragePooling1D::GlobalAveragePooling1D(Options options, std::string name)
    : Layer("GlobalAveragePooling1D", std::move(name)), options_(options) {}

LayerHandle<GlobalAveragePooling1D> GlobalAveragePooling1D::make(Options options, std::string name) {
  return std::make_shared<GlobalAveragePooling1D>(options, std::move(name));
}

std::vector<Tensor> GlobalAveragePooling1D::call(const std::vector<Tensor>& inputs,
                                                 const std::vector<Tensor>& masks,
                                                 const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: expects 1 input, got {}", describe(), inputs.size());
  const Tensor& x = inputs[0];  // (B, T, F)
  Tensor m = pooling_mask(describe(), x, masks.empty() ? Tensor() : masks[0]);  // (B, T, 1)
  if (!m.defined()) return {mean(x, {1}, options_.keepdims)};
  Tensor total = sum(mul(x, m), {1}, options_.keepdims);  // (B, F)
  // Counts are whole numbers, so max(count, 1) changes only empty rows
  // (0 / 1 = 0 where Keras would give 0 / 0).
  Tensor count = maximum(sum(m, {1}, options_.keepdims), Tensor::ones({}, x.dtype()));  // (B, 1)
  return {div(total, count)};
}

std::vector<Shape> GlobalAveragePooling1D::compute_output_shape(
    const std::vector<Shape>& shapes) const {
  const Shape& s = shapes.at(0);
  LOOM_CHECK(s.size() == 3, "{}: expected an input of shape (B, T, F), got {}", describe(),
             shape_str(s));
  if (options_.keepdims) return {{s[0], 1, s[2]}};
  return {{s[0], s[2]}};
}

LayerPtr GlobalAveragePooling1D::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "GlobalAveragePooling1D", name);
  Options o;
  o.keepdims = r.get_bool("keepdims", false);
  r.finish();
  return std::make_shared<GlobalAveragePooling1D>(o, name);
}

}  // namespace loom
