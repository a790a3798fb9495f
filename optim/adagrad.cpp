// Adagrad, as tf.keras.optimizers.Adagrad (2.11+: epsilon inside the root).
#include <cmath>

#include "loom/optim/kernels.h"
#include "loom/optim/optimizers.h"

namespace loom {

using namespace config_io;
using optim_detail::clip_value;

Adagrad::Adagrad(const AdagradOptions& o)
    : Optimizer("Adagrad", o.learning_rate,
                {o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}),
      initial_accumulator_value_(o.initial_accumulator_value),
      epsilon_(o.epsilon) {
  check_non_negative("initial_accumulator_value", initial_accumulator_value_);
  check_non_negative("epsilon", epsilon_);
}

std::vector<Optimizer::SlotSpec> Adagrad::slot_specs() const {
  return {{"accumulator", initial_accumulator_value_}};
}

void Adagrad::apply_update(const UpdateArgs& a) {
  dispatch_floating(a.value.dtype(), "Adagrad", [&](auto tag) {
    using T = decltype(tag);
    T* w = a.value.template data<T>();
    const T* graw = a.grad.template data<T>();
    T* acc = a.slots[0].template data<T>();
    const T scale = static_cast<T>(a.grad_scale), clip = static_cast<T>(a.grad_clip);
    const T lr = static_cast<T>(a.lr), wd = static_cast<T>(a.weight_decay);
    const T eps = static_cast<T>(epsilon_);
    const Region& r = a.region;
    optim_detail::for_each_span(r.numel, r.row_len, r.rows, r.nrows, [=](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) {
        const T g = scale * clip_value(graw[i], clip);
        const T wi = w[i] - w[i] * wd * lr;  // decoupled weight decay
        const T ai = acc[i] + g * g;         // sum of squared gradients so far
        acc[i] = ai;
        w[i] = wi - lr * g / std::sqrt(ai + eps);
      }
    });
  });
}

void Adagrad::add_config(OptimizerConfig& c) const {
  c["initial_accumulator_value"] = format_double(initial_accumulator_value_);
  c["epsilon"] = format_double(epsilon_);
}

}  // namespace loom
