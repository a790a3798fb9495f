// SGD with momentum and Nesterov momentum, as tf.keras.optimizers.SGD.
#include "loom/optim/kernels.h"
#include "loom/optim/optimizers.h"

namespace loom {

using namespace config_io;
using optim_detail::clip_value;

SGD::SGD(const SGDOptions& o)
    : Optimizer("SGD", o.learning_rate,
                {o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}),
      momentum_(o.momentum),
      nesterov_(o.nesterov) {
  check_range("momentum", momentum_, 0.0, 1.0, /*high_open=*/false);
}

// Keras keeps no velocity when momentum is 0, and so does Loom.
std::vector<Optimizer::SlotSpec> SGD::slot_specs() const {
  if (momentum_ == 0) return {};
  return {{"momentum", 0.0}};
}

void SGD::apply_update(const UpdateArgs& a) {
  dispatch_floating(a.value.dtype(), "SGD", [&](auto tag) {
    using T = decltype(tag);
    T* w = a.value.template data<T>();
    const T* graw = a.grad.template data<T>();
    const T scale = static_cast<T>(a.grad_scale), clip = static_cast<T>(a.grad_clip);
    const T lr = static_cast<T>(a.lr), wd = static_cast<T>(a.weight_decay);
    const T mu = static_cast<T>(momentum_);
    const Region& r = a.region;
    if (momentum_ == 0) {
      optim_detail::for_each_span(r.numel, r.row_len, r.rows, r.nrows, [=](int64_t b, int64_t e) {
#pragma omp simd
        for (int64_t i = b; i < e; ++i) {
          const T g = scale * clip_value(graw[i], clip);
          const T wi = w[i] - w[i] * wd * lr;  // decoupled weight decay
          w[i] = wi + (-g * lr);
        }
      });
      return;
    }
    T* vel = a.slots[0].template data<T>();
    const bool nesterov = nesterov_;
    optim_detail::for_each_span(r.numel, r.row_len, r.rows, r.nrows, [=](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) {
        const T g = scale * clip_value(graw[i], clip);
        const T wi = w[i] - w[i] * wd * lr;
        // velocity = momentum * velocity - lr * g
        const T v = -g * lr + vel[i] * mu;
        vel[i] = v;
        // nesterov looks one momentum step ahead: w += momentum * velocity - lr * g
        w[i] = wi + (nesterov ? (-g * lr + v * mu) : v);
      }
    });
  });
}

void SGD::add_config(OptimizerConfig& c) const {
  c["momentum"] = format_double(momentum_);
  c["nesterov"] = format_bool(nesterov_);
}

}  // namespace loom
