// Dense: y = activation(x W + b).
//
// Shapes: x (B, F) or (B, T, F) -> y (B, units) or (B, T, units);
// W (F, units), b (units). Ranks above 3 are flattened to (N, F) for the
// product and reshaped back.
#include "loom/layers/dense.h"

#include "loom/layers/activation.h"
#include "loom/layers/layer_factory.h"

namespace loom {

Dense::Dense(Options options, std::string name)
    : Layer("Dense", std::move(name)), options_(std::move(options)) {
  LOOM_CHECK(options_.units > 0, "{}: units must be positive, got {}", describe(), options_.units);
  check_activation_name(describe(), options_.activation);
  if (options_.seed) gen_.emplace(*options_.seed);
}

LayerHandle<Dense> Dense::make(Options options, std::string name) {
  return std::make_shared<Dense>(std::move(options), std::move(name));
}

void Dense::build(const std::vector<Shape>& shapes) {
  LOOM_CHECK(shapes.size() == 1, "{}: expects 1 input, got {}", describe(), shapes.size());
  const Shape& s = shapes[0];
  LOOM_CHECK(s.size() >= 2 && s.back() > 0,
             "{}: expected an input of shape (B, F) or (B, T, F) with a known F, got {}",
             describe(), shape_str(s));
  const int64_t F = s.back();
  Generator& gen = weights_generator(gen_);
  kernel_ = add_weight("kernel", options_.kernel_initializer({F, options_.units}, dtype(), gen));
  if (options_.use_bias)
    bias_ = add_weight("bias", options_.bias_initializer({options_.units}, dtype(), gen));
}

std::vector<Tensor> Dense::call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: expects 1 input, got {}", describe(), inputs.size());
  const Tensor& x = inputs[0];
  const Tensor& W = kernel_->value;  // (F, units)
  const int64_t F = W.dim(0);
  LOOM_CHECK(x.ndim() >= 2 && x.dim(-1) == F, "{}: expected input with last axis {}, got {}",
             describe(), F, shape_str(x.shape()));
  LOOM_CHECK(is_floating(x.dtype()), "{}: expected a floating input, got {} of shape {}",
             describe(), dtype_name(x.dtype()), shape_str(x.shape()));
  Tensor y;
  if (x.ndim() <= 3) {
    y = matmul(x, W);  // (B, units) or (B, T, units)
  } else {
    Shape out = x.shape();
    out.back() = options_.units;
    y = reshape(matmul(reshape(x, {-1, F}), W), out);
  }
  if (bias_) y = add(y, bias_->value);
  y = activation(y, options_.activation);
  if (options_.kernel_regularizer.active()) add_loss(options_.kernel_regularizer.penalty(W));
  if (bias_ && options_.bias_regularizer.active())
    add_loss(options_.bias_regularizer.penalty(bias_->value));
  return {y};
}

std::vector<Shape> Dense::compute_output_shape(const std::vector<Shape>& shapes) const {
  Shape s = shapes.at(0);
  LOOM_CHECK(!s.empty(), "{}: cannot apply to a scalar input", describe());
  s.back() = options_.units;
  return {s};
}

Config Dense::config() const {
  Config c{{"units", options_.units},
           {"activation", options_.activation},
           {"use_bias", options_.use_bias},
           {"kernel_initializer", options_.kernel_initializer.str()},
           {"bias_initializer", options_.bias_initializer.str()},
           {"kernel_regularizer", options_.kernel_regularizer.str()},
           {"bias_regularizer", options_.bias_regularizer.str()}};
  if (options_.seed) c["seed"] = static_cast<int64_t>(*options_.seed);
  return c;
}

LayerPtr Dense::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "Dense", name);
  Options o;
  o.units = r.require_int("units");
  o.activation = r.get_string("activation", o.activation);
  o.use_bias = r.get_bool("use_bias", o.use_bias);
  o.kernel_initializer = r.get_string("kernel_initializer", o.kernel_initializer.str());
  o.bias_initializer = r.get_string("bias_initializer", o.bias_initializer.str());
  o.kernel_regularizer = Regularizer::parse(r.get_string("kernel_regularizer", "none"));
  o.bias_regularizer = Regularizer::parse(r.get_string("bias_regularizer", "none"));
  if (r.has("seed")) o.seed = static_cast<uint64_t>(r.get_int("seed", 0));
  r.finish();
  return std::make_shared<Dense>(o, name);
}

}  // namespace loom
