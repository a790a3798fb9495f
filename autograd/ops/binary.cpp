// Element-wise arithmetic with NumPy broadcasting: add, sub, mul, div,
// maximum, minimum, pow by a scalar, comparisons.
//
// Shapes: a (Sa), b (Sb) -> out (S) = broadcast(Sa, Sb). Backward computes
// each input's gradient at shape S and sums it back down to Sa / Sb.
#include <cmath>

#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LOOM_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast together",
               op, shape_str(a), shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  LOOM_CHECK(shape.size() >= t.shape().size(), "expand: cannot expand shape {} to {}",
             shape_str(t.shape()), shape_str(shape));
  const size_t lead = shape.size() - t.shape().size();
  Shape strides(shape.size(), 0);
  for (size_t i = 0; i < t.shape().size(); ++i) {
    int64_t d = t.shape()[i];
    LOOM_CHECK(d == shape[lead + i] || d == 1, "expand: cannot expand shape {} to {}",
               shape_str(t.shape()), shape_str(shape));
    strides[lead + i] = d == 1 ? 0 : t.strides()[i];
  }
  return make_view(t, shape, strides, t.offset());
}

// out = t broadcast to shape;  dt = sum_to(dout, t's shape)
Tensor expand(const Tensor& t, const Shape& shape) {
  Tensor out = broadcast_view(t, shape);
  if (!any_requires_grad({t})) return out;
  Shape st = t.shape();
  return record("expand", {t}, out,
                [st](const Tensor& d) { return std::vector<Tensor>{sum_to(d, st)}; });
}

Tensor sum_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  const size_t lead = t.shape().size() - shape.size();
  std::vector<int> axes;
  for (size_t i = 0; i < t.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && t.shape()[i] != 1)) axes.push_back(static_cast<int>(i));
  Tensor s = sum(t, axes, /*keepdims=*/true);
  return s.reshape(shape);
}

namespace {

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} {} vs {} {}", op,
             dtype_name(a.dtype()), shape_str(a.shape()), dtype_name(b.dtype()),
             shape_str(b.shape()));
  LOOM_CHECK(a.device() == b.device(), "{}: device mismatch: {} vs {}", op, a.device().str(),
             b.device().str());
}

// A 0-d CPU tensor meeting a GPU tensor is moved to the GPU (as PyTorch
// treats CPU scalars); any other device mismatch is an error.
std::pair<Tensor, Tensor> same_device(const Tensor& a, const Tensor& b) {
  if (a.device() == b.device()) return {a, b};
  if (a.ndim() == 0 && a.device().kind == DeviceKind::cpu) return {to_device(a, b.device()), b};
  if (b.ndim() == 0 && b.device().kind == DeviceKind::cpu) return {a, to_device(b, a.device())};
  return {a, b};  // check_same_dtype names both devices
}

// out (S) = a (Sa) op b (Sb), no recording.
Tensor binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b) {
  check_same_dtype(binary_op_name(op), a, b);
  Shape s = broadcast_shapes(a.shape(), b.shape(), binary_op_name(op));
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  backend_for(a.device()).binary(op, broadcast_view(a, s).view(), broadcast_view(b, s).view(),
                                 out.view());
  return out;
}

Tensor scalar_like(const Tensor& t, double v) { return Tensor::full({}, v, t.dtype(), t.device()); }

}  // namespace

// out = a + b;  da = dout, db = dout (each summed to its shape)
Tensor add(const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = same_device(a0, b0);
  Tensor out = binary_kernel(BinaryOp::add, a, b);
  if (!any_requires_grad({a, b})) return out;
  Shape sa = a.shape(), sb = b.shape();
  return record("add", {a, b}, out, [sa, sb](const Tensor& d) {
    return std::vector<Tensor>{sum_to(d, sa), sum_to(d, sb)};
  });
}

// out = a - b;  da = dout, db = -dout
Tensor sub(const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = same_device(a0, b0);
  Tensor out = binary_kernel(BinaryOp::sub, a, b);
  if (!any_requires_grad({a, b})) return out;
  Shape sa = a.shape(), sb = b.shape();
  return record("sub", {a, b}, out, [sa, sb](const Tensor& d) {
    return std::vector<Tensor>{sum_to(d, sa), sum_to(neg(d), sb)};
  });
}

// out = a * b;  da = dout * b, db = dout * a
Tensor mul(const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = same_device(a0, b0);
  Tensor out = binary_kernel(BinaryOp::mul, a, b);
  if (!any_requires_grad({a, b})) return out;
  Tensor ad = b.requires_grad() ? a.detach() : Tensor();  // db needs a
  Tensor bd = a.requires_grad() ? b.detach() : Tensor();  // da needs b
  Shape sha = a.shape(), shb = b.shape();
  return record("mul", {a, b}, out, [ad, bd, sha, shb](const Tensor& d) {
    return std::vector<Tensor>{bd.defined() ? sum_to(mul(d, bd), sha) : Tensor(),
                               ad.defined() ? sum_to(mul(d, ad), shb) : Tensor()};
  });
}

// out = a / b;  da = dout / b, db = -dout * a / b^2 = -dout * out / b
Tensor div(const Tensor& a0, const Tensor& b0) {
  const auto [a, b] = same_device(a0, b0);
  Tensor out = binary_kernel(BinaryOp::div, a, b);
  if (!any_requires_grad({a, b})) return out;
  Tensor bd = b.detach(), outd = b.requires_grad() ? out.detach() : Tensor();
  Shape sha = a.shape(), shb = b.shape();
  return record("div", {a, b}, out, [bd, outd, sha, shb](const Tensor& d) {
    Tensor da = div(d, bd);
    return std::vector<Tensor>{sum_to(da, sha),
                               outd.defined() ? sum_to(neg(mul(da, outd)), shb) : Tensor()};
  });
}

// maximum: the gradient goes to a where a >= b, else to b (ties go to a).
// minimum: to a where a <= b.
namespace {
Tensor extremum(const Tensor& a0, const Tensor& b0, bool is_max) {
  const auto [a, b] = same_device(a0, b0);
  const BinaryOp op = is_max ? BinaryOp::maximum : BinaryOp::minimum;
  Tensor out = binary_kernel(op, a, b);
  if (!any_requires_grad({a, b})) return out;
  Tensor pick_a = binary_kernel(is_max ? BinaryOp::ge : BinaryOp::le, a, b);  // (S) 1/0
  Shape sha = a.shape(), shb = b.shape();
  return record(binary_op_name(op), {a, b}, out, [pick_a, sha, shb](const Tensor& d) {
    Tensor zero = scalar_like(d, 0.0);
    return std::vector<Tensor>{sum_to(where(pick_a, d, zero), sha),
                               sum_to(where(pick_a, zero, d), shb)};
  });
}
}  // namespace
Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(a, b, false); }

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor rsub(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor rdiv(double a, const Tensor& b) { return div(scalar_like(b, a), b); }

// out = a^p;  da = dout * p * a^(p-1)
Tensor pow(const Tensor& a, double p) {
  // A host loop; a GPU tensor makes the round trip (to_device carries the gradient).
  if (a.device().kind != DeviceKind::cpu) return to_device(pow(to_device(a, Device::cpu()), p), a.device());
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_floating(a.dtype(), "pow", [&](auto tag) {
    using T = decltype(tag);
    Tensor src = a.contiguous();
    const T* x = src.template data<T>();
    T* y = out.template data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) y[i] = static_cast<T>(std::pow(x[i], p));
  });
  if (!any_requires_grad({a})) return out;
  Tensor ad = a.detach();
  return record("pow", {a}, out, [ad, p](const Tensor& d) {
    return std::vector<Tensor>{mul(d, mul(pow(ad, p - 1.0), p))};
  });
}

Tensor compare(const Tensor& a, const Tensor& b, Compare c) {
  static constexpr BinaryOp ops[] = {BinaryOp::eq, BinaryOp::ne, BinaryOp::lt,
                                     BinaryOp::le, BinaryOp::gt, BinaryOp::ge};
  return binary_kernel(ops[static_cast<int>(c)], a.detach(), b.detach());
}
Tensor compare(const Tensor& a, double b, Compare c) { return compare(a, scalar_like(a, b), c); }

}  // namespace loom
