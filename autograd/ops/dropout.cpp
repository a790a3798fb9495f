// Inverted dropout: dropout(x) = x * mask, mask = Bernoulli(1 - rate) / (1 - rate).
//
// Shapes: x (S), mask (N) with N broadcastable to S (N = S without a
// noise_shape) -> out (S). The mask comes from the backend's counter-based
// Philox stream, seeded by one draw from the Generator, so a seeded
// Generator gives the same mask on every backend.
//   dx = dout * mask
#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

void check_rate(double rate, const char* op) {
  // Written so that NaN fails too.
  LOOM_CHECK(rate >= 0.0 && rate < 1.0, "{}: rate must be in [0, 1), got {}", op, rate);
}

// mask (shape): 1 / (1 - rate) with probability 1 - rate, else 0.
Tensor make_mask(const Shape& shape, double rate, DType dtype, Device device, Generator& gen) {
  Tensor mask = Tensor::empty(shape, dtype, device);
  const double keep = 1.0 - rate;
  backend_for(device).bernoulli_mask(mask.view(), keep, 1.0 / keep, gen.next_seed(), 0);
  return mask;
}

}  // namespace

Tensor dropout_mask(const Shape& shape, double rate, DType dtype, Generator& gen, Device device) {
  check_rate(rate, "dropout_mask");
  LOOM_CHECK(is_floating(dtype), "dropout_mask: expected a floating dtype (f32 or f64), got {}",
             dtype_name(dtype));
  return make_mask(shape, rate, dtype, device, gen);
}

// out = x * mask (the mask broadcast from noise_shape);  dx = dout * mask
Tensor dropout(const Tensor& x, double rate, bool training, Generator& gen,
               const Shape& noise_shape) {
  check_rate(rate, "dropout");
  LOOM_CHECK(is_floating(x.dtype()), "dropout: expected a floating tensor, got {} of shape {}",
             dtype_name(x.dtype()), shape_str(x.shape()));
  if (!training || rate == 0.0) return x;
  const Shape& ns = noise_shape.empty() ? x.shape() : noise_shape;
  // The mask must broadcast to x without growing it (Keras noise_shape).
  bool ok = ns.size() <= x.shape().size();
  for (size_t i = 0; ok && i < ns.size(); ++i) {
    const int64_t xd = x.shape()[x.shape().size() - ns.size() + i];
    ok = ns[i] == xd || ns[i] == 1;
  }
  LOOM_CHECK(ok, "dropout: noise_shape {} does not broadcast to the input shape {}", shape_str(ns),
             shape_str(x.shape()));

  Tensor mask = make_mask(ns, rate, x.dtype(), x.device(), gen);  // (N)
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).binary(BinaryOp::mul, x.view(), broadcast_view(mask, x.shape()).view(),
                                 out.view());
  if (!any_requires_grad({x})) return out;
  Shape sx = x.shape();
  return record("dropout", {x}, out, [mask, sx](const Tensor& d) {
    Tensor dx = Tensor::empty(sx, d.dtype(), d.device());
    backend_for(d.device()).binary(BinaryOp::mul, d.view(), broadcast_view(mask, sx).view(), dx.view());
    return std::vector<Tensor>{dx};
  });
}

}  // namespace loom
