// Activation layer: activation(x) by Keras name.
#include "loom/layers/activation.h"

#include "loom/layers/layer_factory.h"

namespace loom {

void check_activation_name(const std::string& who, const std::string& name) {
  // Trying the op on one element keeps this list and autograd's in step.
  try {
    (void)activation(Tensor::zeros({1}), name);
  } catch (const Error& e) {
    fail("{}: {}", who, e.what());
  }
}

Activation::Activation(Options options, std::string name)
    : Layer("Activation", std::move(name)), options_(std::move(options)) {
  check_activation_name(describe(), options_.activation);
}

LayerHandle<Activation> Activation::make(Options options, std::string name) {
  return std::make_shared<Activation>(std::move(options), std::move(name));
}

std::vector<Tensor> Activation::call(const std::vector<Tensor>& inputs,
                                     const std::vector<Tensor>& masks, const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: expects 1 input, got {}", describe(), inputs.size());
  return {activation(inputs[0], options_.activation)};
}

Config Activation::config() const { return {{"activation", options_.activation}}; }

LayerPtr Activation::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "Activation", name);
  Options o;
  o.activation = r.get_string("activation", o.activation);
  r.finish();
  return std::make_shared<Activation>(o, name);
}

}  // namespace loom
