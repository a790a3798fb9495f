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

thread_local int64_t g_batch_row_offset = 0;

// mask (shape): 1 / (1 - rate) with probability 1 - rate, else 0. With
// `per_example` (the first axis is the batch), element i of this batch's
// mask is element i + offset * row of the global batch's (BatchRowOffset).
Tensor make_mask(const Shape& shape, double rate, DType dtype, Device device, Generator& gen,
                 bool per_example) {
  Tensor mask = Tensor::empty(shape, dtype, device);
  const double keep = 1.0 - rate;
  uint64_t offset = 0;
  if (per_example && !shape.empty() && shape[0] > 0)
    offset = static_cast<uint64_t>(g_batch_row_offset) * static_cast<uint64_t>(mask.numel() / shape[0]);
  backend_for(device).bernoulli_mask(mask.view(), keep, 1.0 / keep, gen.next_seed(), offset);
  return mask;
}

}  // namespace

BatchRowOffset::BatchRowOffset(int64_t first_row) : previous_(g_batch_row_offset) {
  LOOM_CHECK(first_row >= 0, "BatchRowOffset: the first row must be >= 0, got {}", first_row);
  g_batch_row_offset = first_row;
}
BatchRowOffset::~BatchRowOffset() { g_batch_row_offset = previous_; }
int64_t BatchRowOffset::current() { return g_batch_row_offset; }

Tensor dropout_mask(const Shape& shape, double rate, DType dtype, Generator& gen, Device device) {
  check_rate(rate, "dropout_mask");
  LOOM_CHECK(is_floating(dtype), "dropout_mask: expected a floating dtype (f32 or f64), got {}",
             dtype_name(dtype));
  return make_mask(shape, rate, dtype, device, gen, true);
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

  // The mask's first axis is the batch unless noise_shape shares it.
  const bool per_example = x.ndim() >= 1 && ns.size() == x.shape().size() && ns[0] == x.dim(0);
  Tensor mask = make_mask(ns, rate, x.dtype(), x.device(), gen, per_example);  // (N)
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
