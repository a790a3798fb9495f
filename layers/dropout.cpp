// Dropout through autograd's dropout op, with the layer's own Generator so a
// seeded layer draws the same masks whatever else uses randomness.
#include "loom/layers/dropout.h"

#include "loom/layers/layer_factory.h"

namespace loom {

namespace {
uint64_t initial_seed(const std::optional<uint64_t>& seed) {
  return seed ? *seed : default_generator().next_seed();
}
}  // namespace

Dropout::Dropout(Options options, std::string name)
    : Dropout("Dropout", std::move(options), std::move(name)) {}

Dropout::Dropout(std::string type_name, Options options, std::string name)
    : Layer(std::move(type_name), std::move(name)),
      options_(std::move(options)),
      gen_(initial_seed(options_.seed)) {
  // Written so that NaN fails too.
  LOOM_CHECK(options_.rate >= 0.0 && options_.rate < 1.0, "{}: rate must be in [0, 1), got {}",
             describe(), options_.rate);
}

LayerHandle<Dropout> Dropout::make(Options options, std::string name) {
  return std::make_shared<Dropout>(std::move(options), std::move(name));
}

Shape Dropout::noise_shape_for(const Shape& x) const {
  if (options_.noise_shape.empty()) return {};
  LOOM_CHECK(options_.noise_shape.size() == x.size(),
             "{}: noise_shape {} has {} dims but the input {} has {}", describe(),
             shape_str(options_.noise_shape), options_.noise_shape.size(), shape_str(x),
             x.size());
  Shape s = options_.noise_shape;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 0) s[i] = x[i];
  return s;
}

std::vector<Tensor> Dropout::call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                  const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: expects 1 input, got {}", describe(), inputs.size());
  const Tensor& x = inputs[0];
  const Shape noise = noise_shape_for(x.shape());  // validates the input's rank either way
  if (!ctx.training || options_.rate == 0.0) return {x};
  return {dropout(x, options_.rate, true, gen_, noise)};
}

Config Dropout::config() const {
  Config c{{"rate", options_.rate}};
  if (!options_.noise_shape.empty()) c["noise_shape"] = options_.noise_shape;
  if (options_.seed) c["seed"] = static_cast<int64_t>(*options_.seed);
  return c;
}

void Dropout::reseed(Generator& source) {
  gen_.reseed(source.next_seed());
  Layer::reseed(source);
}

LayerPtr Dropout::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "Dropout", name);
  Options o;
  o.rate = r.get_double("rate", 0.0);
  o.noise_shape = r.get_ints("noise_shape", {});
  if (r.has("seed")) o.seed = static_cast<uint64_t>(r.get_int("seed", 0));
  r.finish();
  return std::make_shared<Dropout>(o, name);
}

}  // namespace loom
