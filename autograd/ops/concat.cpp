// Joining and splitting along an axis: concat, stack, split.
//
// concat and split are each other's backward: concat hands every input the
// window of dout it filled, split hands x the concatenation of its outputs'
// cotangents. stack is unsqueeze + concat.
#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

// Checks that xs agree on dtype, device, rank and every extent but `axis`
// (already normalized); names the first offending pair of shapes.
void check_joinable(const std::vector<Tensor>& xs, int axis, const char* op) {
  const Tensor& first = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    LOOM_CHECK(x.dtype() == first.dtype(), "{}: dtype mismatch: input 0 is {} {}, input {} is {} {}",
               op, dtype_name(first.dtype()), shape_str(first.shape()), i, dtype_name(x.dtype()),
               shape_str(x.shape()));
    LOOM_CHECK(x.device() == first.device(), "{}: device mismatch: input 0 on {}, input {} on {}",
               op, first.device().str(), i, x.device().str());
    bool same = x.ndim() == first.ndim();
    for (int d = 0; same && d < x.ndim(); ++d)
      same = d == axis || x.shape()[d] == first.shape()[d];
    LOOM_CHECK(same, "{}: input 0 has shape {} but input {} has shape {} (they may differ only on axis {})",
               op, shape_str(first.shape()), i, shape_str(x.shape()), axis);
  }
}

// xs (S with extent n_i on axis) -> out (S with extent sum n_i), no recording.
Tensor concat_kernel(const std::vector<Tensor>& xs, int axis) {
  Shape s = xs[0].shape();
  s[axis] = 0;
  for (const Tensor& x : xs) s[axis] += x.shape()[axis];
  Tensor out = Tensor::empty(s, xs[0].dtype(), xs[0].device());
  Backend& be = backend_for(out.device());
  int64_t at = 0;
  for (const Tensor& x : xs) {
    const int64_t n = x.shape()[axis];
    if (n > 0 && x.numel() > 0) {
      Tensor window = make_view(out, x.shape(), out.strides(), at * out.strides()[axis]);
      be.copy(x.view(), window.view());
    }
    at += n;
  }
  return out;
}

}  // namespace

// out = [x0, x1, ...] along axis;  dx_i = the window of dout that x_i filled
Tensor concat(const std::vector<Tensor>& xs, int axis_in) {
  LOOM_CHECK(!xs.empty(), "concat: no tensors to concatenate");
  for (size_t i = 0; i < xs.size(); ++i)
    LOOM_CHECK(xs[i].defined(), "concat: input {} is undefined", i);
  LOOM_CHECK(xs[0].ndim() >= 1, "concat: cannot concatenate scalars (input 0 has shape ())");
  const int axis = normalize_axis(axis_in, xs[0].ndim(), "concat");
  check_joinable(xs, axis, "concat");
  Tensor out = concat_kernel(xs, axis);
  if (!any_requires_grad(xs)) return out;
  std::vector<int64_t> starts;  // where each input begins along axis
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    at += x.shape()[axis];
  }
  return record("concat", xs, out, [starts, at, axis](const Tensor& d) {
    std::vector<Tensor> dxs;
    for (size_t i = 0; i < starts.size(); ++i) {
      const int64_t stop = i + 1 < starts.size() ? starts[i + 1] : at;
      dxs.push_back(slice(d, axis, starts[i], stop));
    }
    return dxs;
  });
}

// xs (S each) -> out (S with a new axis of extent len(xs) at `axis`)
Tensor stack(const std::vector<Tensor>& xs, int axis_in) {
  LOOM_CHECK(!xs.empty(), "stack: no tensors to stack");
  for (size_t i = 0; i < xs.size(); ++i) {
    LOOM_CHECK(xs[i].defined(), "stack: input {} is undefined", i);
    LOOM_CHECK(xs[i].shape() == xs[0].shape(),
               "stack: input 0 has shape {} but input {} has shape {} (all must match)",
               shape_str(xs[0].shape()), i, shape_str(xs[i].shape()));
  }
  const int axis = normalize_axis(axis_in, xs[0].ndim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (const Tensor& x : xs) expanded.push_back(unsqueeze(x, axis));
  return concat(expanded, axis);
}

// x (S with extent sum(sizes) on axis) -> outputs (S with extent sizes[k]),
// views of x recorded as one entry;  dx = concat(douts) along axis
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis_in) {
  LOOM_CHECK(!sizes.empty(), "split: no sizes given for a tensor of shape {}", shape_str(x.shape()));
  const int axis = normalize_axis(axis_in, x.ndim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    LOOM_CHECK(s >= 0, "split: negative size {} in {} for shape {}", s, fmt::join(sizes, ", "),
               shape_str(x.shape()));
    total += s;
  }
  LOOM_CHECK(total == x.shape()[axis],
             "split: sizes ({}) add up to {} but axis {} of shape {} has extent {}",
             fmt::join(sizes, ", "), total, axis, shape_str(x.shape()), x.shape()[axis]);
  std::vector<Tensor> outs;
  int64_t at = 0;
  for (int64_t s : sizes) {
    Shape shape = x.shape();
    shape[axis] = s;
    outs.push_back(make_view(x, shape, x.strides(), x.offset() + at * x.strides()[axis]));
    at += s;
  }
  if (!any_requires_grad({x})) return outs;
  record("split", {x}, outs, [axis](const std::vector<Tensor>& douts) {
    return std::vector<Tensor>{concat_kernel(douts, axis)};
  });
  return outs;
}

}  // namespace loom
