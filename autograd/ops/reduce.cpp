// Reductions over axes: sum, mean, max, min.
//
// Shapes: x (S) -> out (S with the reduced axes removed, or kept as 1 with
// keepdims). Backward broadcasts dout back to S.
#include <algorithm>

#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

// Sorted, unique, non-negative axes; empty means all.
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  if (axes.empty()) {
    for (int i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  LOOM_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "{}: repeated axis", op);
  return out;
}

Shape kept_shape(const Shape& s, const std::vector<int>& axes) {
  Shape k = s;
  for (int a : axes) k[a] = 1;
  return k;
}

Shape dropped_shape(const Shape& s, const std::vector<int>& axes) {
  Shape out;
  for (int i = 0; i < static_cast<int>(s.size()); ++i)
    if (!std::binary_search(axes.begin(), axes.end(), i)) out.push_back(s[i]);
  return out;
}

// x (S) -> (S with axes set to 1), no recording.
Tensor reduce_kernel(ReduceOp op, const Tensor& x, const std::vector<int>& axes) {
  Tensor out = Tensor::empty(kept_shape(x.shape(), axes), x.dtype(), x.device());
  if (x.numel() == 0) {
    LOOM_CHECK(op == ReduceOp::sum, "max/min: cannot reduce an empty tensor of shape {}",
               shape_str(x.shape()));
    backend_for(x.device()).fill(out.view(), 0.0);
    return out;
  }
  backend_for(x.device()).reduce(op, x.view(), out.view());
  return out;
}

}  // namespace

// out = sum over axes;  dx = broadcast(dout)
Tensor sum(const Tensor& x, const std::vector<int>& axes_in, bool keepdims) {
  std::vector<int> axes = normalize_axes(axes_in, x.ndim(), "sum");
  Tensor out = reduce_kernel(ReduceOp::sum, x, axes);
  if (!keepdims) out = make_view(out, dropped_shape(x.shape(), axes),
                                 contiguous_strides(dropped_shape(x.shape(), axes)), 0);
  if (!any_requires_grad({x})) return out;
  Shape sx = x.shape(), sk = kept_shape(x.shape(), axes);
  return record("sum", {x}, out, [sx, sk](const Tensor& d) {
    return std::vector<Tensor>{contiguous(broadcast_view(d.reshape(sk), sx))};
  });
}

// out = sum / n;  dx = broadcast(dout) / n
Tensor mean(const Tensor& x, const std::vector<int>& axes_in, bool keepdims) {
  std::vector<int> axes = normalize_axes(axes_in, x.ndim(), "mean");
  int64_t n = 1;
  for (int a : axes) n *= x.shape()[a];
  LOOM_CHECK(n > 0, "mean: cannot average over an empty axis of shape {}", shape_str(x.shape()));
  return div(sum(x, axes, keepdims), static_cast<double>(n));
}

// out = max over axes;  dx = dout where x == out, shared equally among ties
namespace {
Tensor extreme(const Tensor& x, const std::vector<int>& axes_in, bool keepdims, bool is_max) {
  const char* name = is_max ? "max" : "min";
  std::vector<int> axes = normalize_axes(axes_in, x.ndim(), name);
  Tensor kept = reduce_kernel(is_max ? ReduceOp::max : ReduceOp::min, x, axes);
  Shape sd = dropped_shape(x.shape(), axes);
  Tensor out = keepdims ? kept : make_view(kept, sd, contiguous_strides(sd), 0);
  if (!any_requires_grad({x})) return out;
  Shape sx = x.shape(), sk = kept.shape();
  Tensor hit = compare(x.detach(), broadcast_view(kept, sx), Compare::eq);  // (S) 1 at the extremum
  Tensor count = reduce_kernel(ReduceOp::sum, hit, axes);           // (S kept)
  return record(name, {x}, out, [hit, count, sk, sx](const Tensor& d) {
    Tensor share = div(d.reshape(sk), count);
    return std::vector<Tensor>{mul(hit, broadcast_view(share, sx))};
  });
}
}  // namespace

Tensor max(const Tensor& x, const std::vector<int>& axes, bool keepdims) {
  return extreme(x, axes, keepdims, true);
}
Tensor min(const Tensor& x, const std::vector<int>& axes, bool keepdims) {
  return extreme(x, axes, keepdims, false);
}

}  // namespace loom
