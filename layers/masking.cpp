// Masking: mask = any feature != mask_value; masked steps zeroed.
#include "loom/layers/masking.h"

#include "loom/layers/layer_factory.h"

namespace loom {

Masking::Masking(Options options, std::string name)
    : Layer("Masking", std::move(name)), options_(options) {}

LayerHandle<Masking> Masking::make(Options options, std::string name) {
  return std::make_shared<Masking>(options, std::move(name));
}

Tensor Masking::keep(const Tensor& x) const {
  LOOM_CHECK(x.ndim() >= 2, "{}: expected an input of shape (B, T, F), got {}", describe(),
             shape_str(x.shape()));
  Tensor differs = compare(x.detach(), options_.mask_value, Compare::ne);  // (B, T, F) 1/0
  return max(differs, {-1}, /*keepdims=*/true);                            // (B, T, 1)
}

std::vector<Tensor> Masking::call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                  const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: expects 1 input, got {}", describe(), inputs.size());
  const Tensor& x = inputs[0];
  return {mul(x, keep(x))};
}

std::vector<Tensor> Masking::compute_mask(const std::vector<Tensor>& inputs,
                                          const std::vector<Tensor>& masks) const {
  Tensor k = keep(inputs[0]);  // (B, T, 1)
  return {squeeze(is_floating(k.dtype()) ? k : cast(k, dtype()), -1)};
}

LayerPtr Masking::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "Masking", name);
  Options o;
  o.mask_value = r.get_double("mask_value", 0.0);
  r.finish();
  return std::make_shared<Masking>(o, name);
}

}  // namespace loom
