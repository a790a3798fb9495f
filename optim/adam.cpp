// Adam (and AMSGrad), as tf.keras.optimizers.Adam; the formula is written
// out in optim/optimizers.h.
#include <cmath>
#include <type_traits>

#include "loom/backends/reference/kernels.h"

#include "loom/optim/kernels.h"
#include "loom/optim/optimizers.h"

namespace loom {

using namespace config_io;

namespace {

template <typename T>
auto adam_span_kernel() {
  if constexpr (std::is_same_v<T, float>)
    return ref::kernels().adam_span_f32;
  else
    return ref::kernels().adam_span_f64;
}

}  // namespace

Adam::Adam(const AdamOptions& o)
    : Optimizer("Adam", o.learning_rate,
                {o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}),
      beta_1_(o.beta_1),
      beta_2_(o.beta_2),
      epsilon_(o.epsilon),
      amsgrad_(o.amsgrad) {
  check_range("beta_1", beta_1_, 0.0, 1.0, /*high_open=*/true);
  check_range("beta_2", beta_2_, 0.0, 1.0, /*high_open=*/true);
  check_non_negative("epsilon", epsilon_);
}

std::vector<Optimizer::SlotSpec> Adam::slot_specs() const {
  if (amsgrad_) return {{"m", 0.0}, {"v", 0.0}, {"vhat", 0.0}};
  return {{"m", 0.0}, {"v", 0.0}};
}

void Adam::apply_update(const UpdateArgs& a) {
  dispatch_floating(a.value.dtype(), "Adam", [&](auto tag) {
    using T = decltype(tag);
    T* w = a.value.template data<T>();
    const T* graw = a.grad.template data<T>();
    T* m = a.slots[0].template data<T>();
    T* v = a.slots[1].template data<T>();
    T* vhat = amsgrad_ ? a.slots[2].template data<T>() : nullptr;
    const T scale = static_cast<T>(a.grad_scale), clip = static_cast<T>(a.grad_clip);
    const T lr = static_cast<T>(a.lr), wd = static_cast<T>(a.weight_decay);
    // Scalars in the parameter's dtype, as Keras casts them:
    // alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    const T t = static_cast<T>(a.t);
    const T b1_power = std::pow(static_cast<T>(beta_1_), t);
    const T b2_power = std::pow(static_cast<T>(beta_2_), t);
    const T alpha = lr * std::sqrt(T(1) - b2_power) / (T(1) - b1_power);
    const T one_minus_b1 = static_cast<T>(1.0 - beta_1_);
    const T one_minus_b2 = static_cast<T>(1.0 - beta_2_);
    const T eps = static_cast<T>(epsilon_);
    // The loop is the CPU kernels' (compiled per instruction set).
    const ref::AdamSpan<T> span{w,     graw,         m,           v,  vhat,
                                scale, clip,         lr,          wd, alpha,
                                one_minus_b1, one_minus_b2, eps};
    auto* kernel = adam_span_kernel<T>();
    const Region& r = a.region;
    optim_detail::for_each_span(r.numel, r.row_len, r.rows, r.nrows,
                                [&span, kernel](int64_t b, int64_t e) { kernel(span, b, e); });
  });
}

bool Adam::apply_update_on_device(const UpdateArgs& a, Backend& backend) {
  if (amsgrad_ || a.region.sparse()) return false;
  // The scalars as apply_update computes them (cast to the dtype in the kernel).
  const double t = static_cast<double>(a.t);
  AdamUpdate u;
  u.dtype = a.value.dtype();
  u.n = a.value.numel();
  dispatch_floating(u.dtype, "Adam", [&](auto tag) {
    using T = decltype(tag);
    u.w = a.value.template device_data<T>();
    u.g = a.grad.template device_data<T>();
    u.m = a.slots[0].template device_data<T>();
    u.v = a.slots[1].template device_data<T>();
    const T b1_power = std::pow(static_cast<T>(beta_1_), static_cast<T>(t));
    const T b2_power = std::pow(static_cast<T>(beta_2_), static_cast<T>(t));
    u.alpha = static_cast<T>(a.lr) * std::sqrt(T(1) - b2_power) / (T(1) - b1_power);
    u.one_minus_b1 = static_cast<T>(1.0 - beta_1_);
    u.one_minus_b2 = static_cast<T>(1.0 - beta_2_);
  });
  u.scale = a.grad_scale;
  u.clip = a.grad_clip;
  u.lr = a.lr;
  u.weight_decay = a.weight_decay;
  u.epsilon = epsilon_;
  return backend.adam_update(u);
}

void Adam::add_config(OptimizerConfig& c) const {
  c["beta_1"] = format_double(beta_1_);
  c["beta_2"] = format_double(beta_2_);
  c["epsilon"] = format_double(epsilon_);
  c["amsgrad"] = format_bool(amsgrad_);
}

}  // namespace loom
