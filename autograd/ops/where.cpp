// where(cond, a, b): element-wise choice with broadcasting of all three.
//
// Shapes: cond (Sc), a (Sa), b (Sb) -> out (S) = broadcast(Sc, Sa, Sb).
//   da = dout where cond, else 0 (summed to Sa);  db = dout where !cond (summed to Sb)
#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {

Tensor where(const Tensor& cond0, const Tensor& a0, const Tensor& b0) {
  // 0-d CPU operands follow a GPU operand there (as in binary ops).
  Device dev = a0.device();
  for (const Tensor* t : {&cond0, &a0, &b0})
    if (t->device().kind != DeviceKind::cpu) dev = t->device();
  auto follow = [&](const Tensor& t) {
    return t.device() != dev && t.ndim() == 0 && t.device().kind == DeviceKind::cpu
               ? to_device(t, dev) : t;
  };
  const Tensor cond = follow(cond0), a = follow(a0), b = follow(b0);
  for (const Tensor* t : {&cond, &a, &b})
    LOOM_CHECK(t->device() == dev, "where: device mismatch: cond {}, a {}, b {}",
               cond.device().str(), a.device().str(), b.device().str());
  LOOM_CHECK(a.dtype() == b.dtype(), "where: dtype mismatch: a {} {} vs b {} {}",
             dtype_name(a.dtype()), shape_str(a.shape()), dtype_name(b.dtype()),
             shape_str(b.shape()));
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(),
                             "where");
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  backend_for(a.device()).where(broadcast_view(cond, s).view(), broadcast_view(a, s).view(),
                                broadcast_view(b, s).view(),
                                out.view());
  if (!any_requires_grad({a, b})) return out;
  Tensor c = cond.detach();
  Shape sa = a.shape(), sb = b.shape();
  return record("where", {cond, a, b}, out, [c, sa, sb](const Tensor& d) {
    Tensor zero = Tensor::zeros({}, d.dtype(), d.device());
    return std::vector<Tensor>{Tensor(), sum_to(where(c, d, zero), sa),
                               sum_to(where(c, zero, d), sb)};
  });
}

}  // namespace loom
