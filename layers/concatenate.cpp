// Concatenate: concat along an axis, masks combined as in Keras.
#include "loom/layers/concatenate.h"

#include "loom/layers/layer_factory.h"

namespace loom {

Concatenate::Concatenate(Options options, std::string name)
    : Layer("Concatenate", std::move(name)), options_(options) {}

LayerHandle<Concatenate> Concatenate::make(Options options, std::string name) {
  return std::make_shared<Concatenate>(options, std::move(name));
}

void Concatenate::build(const std::vector<Shape>& shapes) {
  LOOM_CHECK(shapes.size() >= 2, "{}: expects at least 2 inputs, got {}", describe(),
             shapes.size());
  (void)compute_output_shape(shapes);  // checks that the shapes can be joined
}

std::vector<Shape> Concatenate::compute_output_shape(const std::vector<Shape>& shapes) const {
  LOOM_CHECK(!shapes.empty(), "{}: no inputs", describe());
  const Shape& first = shapes[0];
  const int rank = static_cast<int>(first.size());
  LOOM_CHECK(rank >= 1, "{}: cannot concatenate scalars", describe());
  const int axis = options_.axis < 0 ? options_.axis + rank : options_.axis;
  LOOM_CHECK(axis >= 0 && axis < rank, "{}: axis {} is out of range for inputs of shape {}",
             describe(), options_.axis, shape_str(first));
  Shape out = first;
  for (size_t i = 1; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    bool ok = static_cast<int>(s.size()) == rank;
    for (int d = 0; ok && d < rank; ++d) {
      if (d == axis) continue;
      // -1 (unknown) matches anything; the other input's extent is kept.
      if (s[d] >= 0 && out[d] >= 0) ok = s[d] == out[d];
      else if (out[d] < 0) out[d] = s[d];
    }
    std::vector<std::string> all;
    for (const Shape& t : shapes) all.push_back(shape_str(t));
    LOOM_CHECK(ok,
               "{}: inputs must match on every axis but the concatenation axis {}; got shapes {}",
               describe(), options_.axis, fmt::join(all, ", "));
    out[axis] = (out[axis] < 0 || s[axis] < 0) ? -1 : out[axis] + s[axis];
  }
  return {out};
}

std::vector<Tensor> Concatenate::call(const std::vector<Tensor>& inputs,
                                      const std::vector<Tensor>& masks, const CallContext& ctx) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  (void)compute_output_shape(shapes);  // names the layer in shape errors
  return {concat(inputs, options_.axis)};
}

std::vector<Tensor> Concatenate::compute_mask(const std::vector<Tensor>& inputs,
                                              const std::vector<Tensor>& masks) const {
  bool any = false;
  for (const Tensor& m : masks) any = any || m.defined();
  if (!any) return {Tensor()};
  // Keras: ones for a missing mask, expand_dims(-1) for a mask of lower rank,
  // concatenate along axis, then all() over the last axis. Widening each mask
  // to its input's full shape makes the concatenation valid on every axis.
  std::vector<Tensor> wide;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    const DType dt = is_floating(x.dtype()) ? x.dtype() : dtype();
    Tensor m = i < masks.size() ? masks[i] : Tensor();
    if (!m.defined()) {
      wide.push_back(Tensor::ones(x.shape(), dt, x.device()));
      continue;
    }
    m = cast(m.detach(), dt);
    if (m.ndim() < x.ndim()) m = unsqueeze(m, -1);
    LOOM_CHECK(m.ndim() == x.ndim(), "{}: mask {} does not fit input {} of shape {}", describe(),
               shape_str(m.shape()), i, shape_str(x.shape()));
    wide.push_back(contiguous(expand(m, x.shape())));
  }
  Tensor joined = concat(wide, options_.axis);  // (B, ..., sum n_i, ...)
  return {min(joined, {-1})};                   // all() of 0/1 values
}

LayerPtr Concatenate::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "Concatenate", name);
  Options o;
  o.axis = static_cast<int>(r.get_int("axis", -1));
  r.finish();
  return std::make_shared<Concatenate>(o, name);
}

}  // namespace loom
