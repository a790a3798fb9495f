// RMSprop (plain, centered, with momentum), as tf.keras.optimizers.RMSprop;
// the formula is written out in optim/optimizers.h.
#include <cmath>

#include "loom/optim/kernels.h"
#include "loom/optim/optimizers.h"

namespace loom {

using namespace config_io;
using optim_detail::clip_value;

RMSprop::RMSprop(const RMSpropOptions& o)
    : Optimizer("RMSprop", o.learning_rate,
                {o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}),
      rho_(o.rho),
      momentum_(o.momentum),
      epsilon_(o.epsilon),
      centered_(o.centered) {
  check_range("rho", rho_, 0.0, 1.0, /*high_open=*/true);
  check_range("momentum", momentum_, 0.0, 1.0, /*high_open=*/false);
  check_non_negative("epsilon", epsilon_);
}

// Slots in a fixed order: velocity, then momentum and average_gradient when used.
std::vector<Optimizer::SlotSpec> RMSprop::slot_specs() const {
  std::vector<SlotSpec> s{{"velocity", 0.0}};
  if (momentum_ > 0) s.push_back({"momentum", 0.0});
  if (centered_) s.push_back({"average_gradient", 0.0});
  return s;
}

void RMSprop::apply_update(const UpdateArgs& a) {
  dispatch_floating(a.value.dtype(), "RMSprop", [&](auto tag) {
    using T = decltype(tag);
    T* w = a.value.template data<T>();
    const T* graw = a.grad.template data<T>();
    T* vel = a.slots[0].template data<T>();
    size_t next = 1;
    T* mom = momentum_ > 0 ? a.slots[next++].template data<T>() : nullptr;
    T* avg = centered_ ? a.slots[next++].template data<T>() : nullptr;
    const T scale = static_cast<T>(a.grad_scale), clip = static_cast<T>(a.grad_clip);
    const T lr = static_cast<T>(a.lr), wd = static_cast<T>(a.weight_decay);
    const T rho = static_cast<T>(rho_), one_minus_rho = static_cast<T>(1.0 - rho_);
    const T mu = static_cast<T>(momentum_), eps = static_cast<T>(epsilon_);
    const Region& r = a.region;
    // One loop body for the four variants; the branches on null pointers are
    // loop-invariant, so the compiler unswitches them.
    optim_detail::for_each_span(r.numel, r.row_len, r.rows, r.nrows, [=](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) {
        const T g = scale * clip_value(graw[i], clip);
        const T wi = w[i] - w[i] * wd * lr;  // decoupled weight decay
        const T vi = rho * vel[i] + one_minus_rho * (g * g);
        vel[i] = vi;
        T denominator;
        if (avg) {
          // centered: subtract the squared running mean of g (a variance estimate)
          const T ai = rho * avg[i] + one_minus_rho * g;
          avg[i] = ai;
          denominator = vi - ai * ai + eps;
        } else {
          denominator = vi + eps;
        }
        const T increment = lr * g / std::sqrt(denominator);
        if (mom) {
          const T mi = mu * mom[i] + increment;
          mom[i] = mi;
          w[i] = wi - mi;
        } else {
          w[i] = wi - increment;
        }
      }
    });
  });
}

void RMSprop::add_config(OptimizerConfig& c) const {
  c["rho"] = format_double(rho_);
  c["momentum"] = format_double(momentum_);
  c["epsilon"] = format_double(epsilon_);
  c["centered"] = format_bool(centered_);
}

}  // namespace loom
