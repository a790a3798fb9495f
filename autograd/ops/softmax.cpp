// softmax and log_softmax along one axis.
//
// Shapes: x (S) -> out (S). The backend works on contiguous rows, so a
// non-last axis is moved last and back.
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - softmax(x) * sum(dy)
#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

Tensor softmax_impl(const Tensor& x, int axis_in, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  LOOM_CHECK(x.ndim() >= 1, "{}: expected at least one axis, got a scalar", name);
  dispatch_floating(x.dtype(), name, [](auto) {});
  const int axis = normalize_axis(axis_in, x.ndim(), name);
  const int last = x.ndim() - 1;
  if (axis != last) return transpose(softmax_impl(transpose(x, axis, last), last, log), axis, last);
  Tensor src = contiguous(x.detach());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).softmax(src.view(), out.view(), log);
  if (!any_requires_grad({x})) return out;
  Tensor y = out.detach();
  return record(name, {x}, out, [y, log](const Tensor& d) {
    Tensor dc = contiguous(d);
    Tensor dx = Tensor::empty(d.shape(), d.dtype(), d.device());
    backend_for(d.device()).softmax_grad(y.view(), dc.view(), dx.view(), log);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, false); }
Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, true); }

}  // namespace loom
