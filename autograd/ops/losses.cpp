// Losses with Keras semantics: binary cross-entropy (from probabilities and
// from logits), sparse categorical cross-entropy, mean squared error.
//
// Each loss is one fused kernel that computes, per element, the loss and its
// derivatives in double (so extreme logits stay finite), and one tape entry.
//
// Per-sample losses (Keras): BCE and MSE average over the last axis, so
// pred (S..., C) gives per-sample losses (S...); sparse CCE gives one loss
// per row of logits (S..., C), i.e. (S...). Reduction then gives
//   mean: sum of per-sample losses / their count   (Keras sum_over_batch_size)
//   sum:  sum of per-sample losses
//   none: the per-sample losses, shape (S...)
// Backward: every per-sample loss r receives a cotangent g_r (dout / count,
// dout, or dout[r]); an element's gradient is g_r times its saved derivative
// (divided by C for the last-axis average).
#include <algorithm>
#include <cmath>

#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras backend.epsilon()

// per-sample losses (R) -> the reduced result in `dtype`: a scalar, or (sample_shape) for none.
Tensor reduce_losses(const std::vector<double>& losses, const Shape& sample_shape, DType dtype,
                     Reduction reduction) {
  if (reduction == Reduction::none)
    return cast(Tensor::from_vector(losses, sample_shape), dtype).detach();
  double total = 0;
  for (double l : losses) total += l;
  // An empty batch averages to 0 rather than NaN (Keras divides with divide_no_nan).
  if (reduction == Reduction::mean) total = losses.empty() ? 0.0 : total / losses.size();
  return Tensor::full({}, total, dtype);
}

// dout (scalar, or (sample_shape) for none) -> one cotangent per sample (R).
std::vector<double> sample_cotangents(const Tensor& dout, int64_t R, Reduction reduction) {
  if (reduction == Reduction::none) return dout.to_vector<double>();
  const double g = dout.item();
  return std::vector<double>(R, reduction == Reduction::mean ? g / static_cast<double>(R) : g);
}

// deriv (R, C) row-major -> deriv[r, j] * g[r] * scale, in deriv's dtype and shape.
Tensor scale_rows(const Tensor& deriv, const std::vector<double>& g, int64_t C, double scale) {
  Tensor out = Tensor::empty(deriv.shape(), deriv.dtype(), deriv.device());
  dispatch_floating(deriv.dtype(), "loss backward", [&](auto tag) {
    using T = decltype(tag);
    const T* src = deriv.template data<T>();
    T* dst = out.template data<T>();
    for (size_t r = 0; r < g.size(); ++r)
      for (int64_t j = 0; j < C; ++j) {
        const int64_t i = static_cast<int64_t>(r) * C + j;
        dst[i] = static_cast<T>(static_cast<double>(src[i]) * g[r] * scale);
      }
  });
  return out;
}

// Loss, d loss / d pred and d loss / d target of one element.
struct ElementLoss {
  double loss, dpred, dtarget;
};

// Element-wise losses averaged over the last axis: pred (S..., C), target
// (S..., C) -> per-sample (S...), then reduced. `f(pred, target)` works in
// the element type T (for Keras' clipping) and returns an ElementLoss.
template <typename F>
Tensor elementwise_loss(const char* op, const Tensor& pred, const Tensor& target,
                        Reduction reduction, F f) {
  LOOM_CHECK(pred.shape() == target.shape(),
             "{}: predictions of shape {} and targets of shape {} must have the same shape", op,
             shape_str(pred.shape()), shape_str(target.shape()));
  LOOM_CHECK(pred.dtype() == target.dtype(),
             "{}: dtype mismatch: predictions {} {} vs targets {} {}", op, dtype_name(pred.dtype()),
             shape_str(pred.shape()), dtype_name(target.dtype()), shape_str(target.shape()));
  LOOM_CHECK(pred.device() == target.device(), "{}: predictions on {} but targets on {}", op,
             pred.device().str(), target.device().str());
  LOOM_CHECK(pred.ndim() >= 1 && pred.dim(-1) > 0,
             "{}: expected predictions with a non-empty last axis to average over, got shape {}",
             op, shape_str(pred.shape()));
  const int64_t C = pred.dim(-1), R = pred.numel() / C;
  const Shape sample_shape(pred.shape().begin(), pred.shape().end() - 1);
  const bool grad = any_requires_grad({pred, target});
  const bool want_dp = grad && pred.requires_grad(), want_dt = grad && target.requires_grad();

  Tensor p = contiguous(pred.detach()), t = contiguous(target.detach());
  Tensor dp = want_dp ? Tensor::empty(pred.shape(), pred.dtype()) : Tensor();  // (S..., C)
  Tensor dt = want_dt ? Tensor::empty(pred.shape(), pred.dtype()) : Tensor();  // (S..., C)
  std::vector<double> losses(R, 0.0);  // (R) per-sample
  dispatch_floating(pred.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* pv = p.template data<T>();
    const T* tv = t.template data<T>();
    T* dpv = want_dp ? dp.template data<T>() : nullptr;
    T* dtv = want_dt ? dt.template data<T>() : nullptr;
    for (int64_t r = 0; r < R; ++r) {
      double acc = 0;
      for (int64_t j = 0; j < C; ++j) {
        const int64_t i = r * C + j;
        const ElementLoss e = f(pv[i], tv[i]);
        acc += e.loss;
        if (dpv) dpv[i] = static_cast<T>(e.dpred);
        if (dtv) dtv[i] = static_cast<T>(e.dtarget);
      }
      losses[r] = acc / static_cast<double>(C);
    }
  });
  Tensor out = reduce_losses(losses, sample_shape, pred.dtype(), reduction);
  if (!grad) return out;
  return record(op, {pred, target}, out, [dp, dt, R, C, reduction](const Tensor& d) {
    std::vector<double> g = sample_cotangents(d, R, reduction);
    const double scale = 1.0 / static_cast<double>(C);  // the last-axis average
    return std::vector<Tensor>{dp.defined() ? scale_rows(dp, g, C, scale) : Tensor(),
                               dt.defined() ? scale_rows(dt, g, C, scale) : Tensor()};
  });
}

// The losses run on the host. A model on a GPU hands over its predictions
// and targets (B, C) with a small C, so this costs one small transfer each
// way; the loss comes back on the model's device and its gradient flows
// back through to_device.
template <typename Fn>
Tensor on_host(const Tensor& a, const Tensor& b, Fn&& loss) {
  const bool a_cpu = a.device().kind == DeviceKind::cpu, b_cpu = b.device().kind == DeviceKind::cpu;
  if (a_cpu && b_cpu) return loss(a, b);
  const Device dev = a_cpu ? b.device() : a.device();
  return to_device(loss(to_device(a, Device::cpu()), to_device(b, Device::cpu())), dev);
}

}  // namespace

// l = -(y log p + (1 - y) log(1 - p)) with p = clip(probs, eps, 1 - eps)
//   dl/dprobs = (1 - y) / (1 - p) - y / p inside the clip range, 0 outside
//   dl/dy     = log(1 - p) - log p
Tensor binary_cross_entropy(const Tensor& probs_in, const Tensor& targets_in,
                            Reduction reduction) {
  return on_host(probs_in, targets_in, [&](const Tensor& probs, const Tensor& targets) {
  return elementwise_loss(
      "binary_cross_entropy", probs, targets, reduction, [](auto prob, auto y_t) {
        using T = decltype(prob);
        // Clip in the element type, as Keras does, so 1 - p matches it in f32.
        const T eps = static_cast<T>(kEpsilon), hi = T(1) - eps;
        const bool inside = prob >= eps && prob <= hi;
        const T pc = std::clamp(prob, eps, hi);
        const double p = pc, q = static_cast<double>(T(1) - pc), y = y_t;
        const double lp = std::log(p), lq = std::log(q);
        return ElementLoss{-(y * lp + (1 - y) * lq), inside ? (1 - y) / q - y / p : 0.0, lq - lp};
      });
  });
}

// l = max(z, 0) - z y + log(1 + e^-|z|)   (never exponentiates a positive number)
//   dl/dz = sigmoid(z) - y,   dl/dy = -z
Tensor binary_cross_entropy_with_logits(const Tensor& logits_in, const Tensor& targets_in,
                                        Reduction reduction) {
  return on_host(logits_in, targets_in, [&](const Tensor& logits, const Tensor& targets) {
  return elementwise_loss("binary_cross_entropy_with_logits", logits, targets, reduction,
                          [](auto z_t, auto y_t) {
                            const double z = z_t, y = y_t;
                            const double e = std::exp(-std::abs(z));  // in (0, 1]
                            const double sig = z >= 0 ? 1 / (1 + e) : e / (1 + e);
                            return ElementLoss{std::max(z, 0.0) - z * y + std::log1p(e), sig - y,
                                               -z};
                          });
  });
}

// l = (p - t)^2;  dl/dp = 2 (p - t),  dl/dt = -2 (p - t)
Tensor mean_squared_error(const Tensor& pred_in, const Tensor& target_in, Reduction reduction) {
  return on_host(pred_in, target_in, [&](const Tensor& pred, const Tensor& target) {
    return elementwise_loss("mean_squared_error", pred, target, reduction, [](auto p, auto t) {
      const double diff = static_cast<double>(p) - static_cast<double>(t);
      return ElementLoss{diff * diff, 2 * diff, -2 * diff};
    });
  });
}

// Shapes: x (S..., C) logits or probabilities, labels (S...) i32/i64 (or
// (S..., 1), as Keras accepts) -> per-row losses (S...).
// From logits:  l = logsumexp(z) - z_y;  dl/dz_j = softmax(z)_j - [j == y]
// From probs (Keras: log of the clipped probabilities taken as logits, which
// renormalizes them): c = clip(p, eps, 1 - eps),
//   l = log(sum_j c_j) - log c_y;  dl/dp_j = 1 / sum(c) - [j == y] / c_y inside the clip range, else 0
Tensor sparse_categorical_cross_entropy(const Tensor& x, const Tensor& labels, bool from_logits,
                                        Reduction reduction) {
  if (x.device().kind != DeviceKind::cpu || labels.device().kind != DeviceKind::cpu)
    return on_host(x, labels, [&](const Tensor& xh, const Tensor& lh) {
      return sparse_categorical_cross_entropy(xh, lh, from_logits, reduction);
    });
  const char* op = "sparse_categorical_cross_entropy";
  LOOM_CHECK(is_floating(x.dtype()), "{}: expected floating {} of shape {}, got {}", op,
             from_logits ? "logits" : "probabilities", shape_str(x.shape()),
             dtype_name(x.dtype()));
  LOOM_CHECK(labels.dtype() == DType::i32 || labels.dtype() == DType::i64,
             "{}: labels must be i32 or i64, got {} of shape {}", op, dtype_name(labels.dtype()),
             shape_str(labels.shape()));
  LOOM_CHECK(x.ndim() >= 1 && x.dim(-1) > 0, "{}: expected (N, C) with C > 0, got shape {}", op,
             shape_str(x.shape()));
  const Shape sample_shape(x.shape().begin(), x.shape().end() - 1);
  Shape label_shape = labels.shape();
  if (labels.ndim() == x.ndim() && labels.dim(-1) == 1) label_shape.pop_back();
  LOOM_CHECK(label_shape == sample_shape,
             "{}: labels of shape {} do not match {} of shape {} (expected labels of shape {})",
             op, shape_str(labels.shape()), from_logits ? "logits" : "probabilities",
             shape_str(x.shape()), shape_str(sample_shape));
  const int64_t C = x.dim(-1), R = x.numel() / C;
  std::vector<int64_t> y = labels.to_vector<int64_t>();  // (R)
  for (int64_t r = 0; r < R; ++r)
    LOOM_CHECK(y[r] >= 0 && y[r] < C,
               "{}: label {} in row {} (labels of shape {}) is out of range for {} classes "
               "(valid labels are 0 to {})",
               op, y[r], r, shape_str(labels.shape()), C, C - 1);

  const bool grad = any_requires_grad({x});
  Tensor xc = contiguous(x.detach());
  Tensor dx = grad ? Tensor::empty(x.shape(), x.dtype()) : Tensor();  // (S..., C)
  std::vector<double> losses(R);                                      // (R)
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T eps = static_cast<T>(kEpsilon), hi = T(1) - eps;
    for (int64_t r = 0; r < R; ++r) {
      const T* row = xc.template data<T>() + r * C;
      T* drow = grad ? dx.template data<T>() + r * C : nullptr;
      if (from_logits) {
        double m = -INFINITY;
        for (int64_t j = 0; j < C; ++j) m = std::max(m, static_cast<double>(row[j]));
        double s = 0;
        for (int64_t j = 0; j < C; ++j) s += std::exp(row[j] - m);
        losses[r] = m + std::log(s) - row[y[r]];
        if (drow)
          for (int64_t j = 0; j < C; ++j)
            drow[j] = static_cast<T>(std::exp(row[j] - m) / s - (j == y[r] ? 1.0 : 0.0));
      } else {
        double s = 0;
        for (int64_t j = 0; j < C; ++j) s += std::clamp(row[j], eps, hi);
        const double cy = std::clamp(row[y[r]], eps, hi);
        losses[r] = std::log(s) - std::log(cy);
        if (drow)
          for (int64_t j = 0; j < C; ++j) {
            const bool inside = row[j] >= eps && row[j] <= hi;
            drow[j] = static_cast<T>(inside ? 1 / s - (j == y[r] ? 1 / cy : 0.0) : 0.0);
          }
      }
    }
  });
  Tensor out = reduce_losses(losses, sample_shape, x.dtype(), reduction);
  if (!grad) return out;
  return record(op, {x, labels}, out, [dx, R, C, reduction](const Tensor& d) {
    return std::vector<Tensor>{scale_rows(dx, sample_cotangents(d, R, reduction), C, 1.0),
                               Tensor()};
  });
}

}  // namespace loom
