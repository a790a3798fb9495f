// Shape ops: reshape, transpose, permute, slice, select, unsqueeze, squeeze,
// flip, contiguous, cast. Views share storage where the layout allows;
// backward of each routes dout back into the input's shape.
#include <numeric>

#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {

namespace {
// Copies x into a fresh contiguous tensor of dtype `dtype`, no recording.
Tensor copy_kernel(const Tensor& x, DType dtype) {
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  backend_for(x.device()).copy(x.view(), out.view());
  return out;
}
}  // namespace

// Resolves one -1 extent and checks the element count.
static Shape infer_shape(const Shape& in, const Shape& requested) {
  Shape s = requested;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      LOOM_CHECK(infer < 0, "reshape: more than one -1 in {}", shape_str(requested));
      infer = static_cast<int>(i);
    } else {
      LOOM_CHECK(s[i] >= 0, "reshape: negative extent in {}", shape_str(requested));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    LOOM_CHECK(known > 0 && numel_of(in) % known == 0,
               "reshape: cannot reshape {} into {}", shape_str(in), shape_str(requested));
    s[infer] = numel_of(in) / known;
  }
  LOOM_CHECK(numel_of(s) == numel_of(in), "reshape: cannot reshape {} ({} elements) into {}",
             shape_str(in), numel_of(in), shape_str(requested));
  return s;
}

// out = x viewed as `shape` (a copy when x is not contiguous);  dx = dout viewed as x's shape
Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape(x.shape(), shape);
  Tensor src = x.is_contiguous() ? x : copy_kernel(x, x.dtype());
  Tensor out = make_view(src, s, contiguous_strides(s), src.offset());
  if (!any_requires_grad({x})) return out;
  Shape sx = x.shape();
  return record("reshape", {x}, out,
                [sx](const Tensor& d) { return std::vector<Tensor>{reshape(d, sx)}; });
}

// out = x with axes reordered (a view);  dx = dout with the inverse order
Tensor permute(const Tensor& x, const std::vector<int>& axes) {
  LOOM_CHECK(static_cast<int>(axes.size()) == x.ndim(),
             "permute: {} axes given for a tensor of shape {}", axes.size(), shape_str(x.shape()));
  std::vector<int> ax(axes.size()), inverse(axes.size());
  std::vector<bool> used(axes.size(), false);
  Shape s(axes.size()), st(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    ax[i] = normalize_axis(axes[i], x.ndim(), "permute");
    LOOM_CHECK(!used[ax[i]], "permute: axis {} appears twice", ax[i]);
    used[ax[i]] = true;
    s[i] = x.shape()[ax[i]];
    st[i] = x.strides()[ax[i]];
    inverse[ax[i]] = static_cast<int>(i);
  }
  Tensor out = make_view(x, s, st, x.offset());
  if (!any_requires_grad({x})) return out;
  return record("permute", {x}, out,
                [inverse](const Tensor& d) { return std::vector<Tensor>{permute(d, inverse)}; });
}

Tensor transpose(const Tensor& x, int a0, int a1) {
  std::vector<int> axes(x.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[normalize_axis(a0, x.ndim(), "transpose")],
            axes[normalize_axis(a1, x.ndim(), "transpose")]);
  return permute(x, axes);
}

// out = x[start:stop:step] along axis (a view);  dx = zeros with dout written into the slice
Tensor slice(const Tensor& x, int axis_in, int64_t start, int64_t stop, int64_t step) {
  int axis = normalize_axis(axis_in, x.ndim(), "slice");
  LOOM_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const int64_t n = x.shape()[axis];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  start = std::clamp<int64_t>(start, 0, n);
  stop = std::clamp<int64_t>(stop, start, n);
  Shape s = x.shape(), st = x.strides();
  s[axis] = (stop - start + step - 1) / step;
  st[axis] *= step;
  Tensor out = make_view(x, s, st, x.offset() + start * x.strides()[axis]);
  if (!any_requires_grad({x})) return out;
  Shape sx = x.shape();
  return record("slice", {x}, out, [sx, axis, start, stop, step](const Tensor& d) {
    Tensor dx = Tensor::zeros(sx, d.dtype(), d.device());
    Tensor window = slice(dx, axis, start, stop, step);
    backend_for(d.device()).copy(d.view(), window.view());
    return std::vector<Tensor>{dx};
  });
}

// out = x[index] along axis, the axis dropped (a view)
Tensor select(const Tensor& x, int axis_in, int64_t index) {
  int axis = normalize_axis(axis_in, x.ndim(), "select");
  const int64_t n = x.shape()[axis];
  LOOM_CHECK(index >= -n && index < n, "select: index {} is out of range for axis {} of shape {}",
             index, axis, shape_str(x.shape()));
  if (index < 0) index += n;
  return squeeze(slice(x, axis, index, index + 1), axis);
}

Tensor unsqueeze(const Tensor& x, int axis_in) {
  int axis = normalize_axis(axis_in, x.ndim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + axis, 1);
  Shape st = x.strides();
  st.insert(st.begin() + axis, axis < x.ndim() ? x.strides()[axis] * x.shape()[axis] : 1);
  Tensor out = make_view(x, s, st, x.offset());
  if (!any_requires_grad({x})) return out;
  return record("unsqueeze", {x}, out,
                [axis](const Tensor& d) { return std::vector<Tensor>{squeeze(d, axis)}; });
}

Tensor squeeze(const Tensor& x, int axis_in) {
  int axis = normalize_axis(axis_in, x.ndim(), "squeeze");
  LOOM_CHECK(x.shape()[axis] == 1, "squeeze: axis {} of shape {} has extent {}, not 1", axis,
             shape_str(x.shape()), x.shape()[axis]);
  Shape s = x.shape(), st = x.strides();
  s.erase(s.begin() + axis);
  st.erase(st.begin() + axis);
  Tensor out = make_view(x, s, st, x.offset());
  if (!any_requires_grad({x})) return out;
  return record("squeeze", {x}, out,
                [axis](const Tensor& d) { return std::vector<Tensor>{unsqueeze(d, axis)}; });
}

// out = x reversed along axis (a copy);  dx = dout reversed
Tensor flip(const Tensor& x, int axis_in) {
  int axis = normalize_axis(axis_in, x.ndim(), "flip");
  Shape st = x.strides();
  const int64_t n = x.shape()[axis];
  st[axis] = -st[axis];
  Tensor reversed = make_view(x, x.shape(), st, x.offset() + (n > 0 ? (n - 1) * x.strides()[axis] : 0));
  Tensor out = copy_kernel(reversed, x.dtype());
  if (!any_requires_grad({x})) return out;
  return record("flip", {x}, out,
                [axis](const Tensor& d) { return std::vector<Tensor>{flip(d, axis)}; });
}

// out = x laid out row-major (x itself when it already is);  dx = dout
Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = copy_kernel(x, x.dtype());
  if (!any_requires_grad({x})) return out;
  return record("contiguous", {x}, out,
                [](const Tensor& d) { return std::vector<Tensor>{d}; });
}

// out = x converted to dtype;  dx = dout converted back (floating types only)
Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = copy_kernel(x, dtype);
  if (!any_requires_grad({x})) return out;
  LOOM_CHECK(is_floating(dtype), "cast: a tensor that requires grad cannot be cast to {}",
             dtype_name(dtype));
  DType from = x.dtype();
  return record("cast", {x}, out,
                [from](const Tensor& d) { return std::vector<Tensor>{cast(d, from)}; });
}

}  // namespace loom
