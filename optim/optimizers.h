// SGD, Adam, RMSprop and Adagrad with the update rules of the Keras 2
// optimizers (tf.keras.optimizers.*, the 2.11+ classes). Each rule is written
// out below; g is the gradient after clipping (optim/optimizer.h), lr the
// step's learning rate, t = iterations + 1, and all arithmetic runs in the
// parameter's dtype, as Keras casts its hyper-parameters to the variable's
// dtype.
//
// Options are aggregates in Keras's argument order, so C++20 designated
// initializers read like the Keras call:
//   Adam opt({.learning_rate = 1e-3, .amsgrad = true, .clipnorm = 1.0});
#pragma once

#include "loom/optim/optimizer.h"

namespace loom {

// ---- SGD ------------------------------------------------------------------------
// momentum == 0:  w = w - lr * g
// momentum  > 0:  velocity = momentum * velocity - lr * g          (slot "momentum")
//                 w = w + velocity                                  (nesterov = false)
//                 w = w + momentum * velocity - lr * g              (nesterov = true)
struct SGDOptions {
  LearningRate learning_rate = 0.01;
  double momentum = 0.0;  // in [0, 1]
  bool nesterov = false;
  std::optional<double> weight_decay = std::nullopt, clipnorm = std::nullopt,
                        clipvalue = std::nullopt, global_clipnorm = std::nullopt;
};

class SGD : public Optimizer {
 public:
  explicit SGD(const SGDOptions& options = {});
  double momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }

 protected:
  std::vector<SlotSpec> slot_specs() const override;
  void apply_update(const UpdateArgs& args) override;
  void add_config(OptimizerConfig& config) const override;

 private:
  double momentum_;
  bool nesterov_;
};

// ---- Adam -------------------------------------------------------------------------
// Keras 2's form (epsilon outside the square root, bias corrections folded
// into the step size rather than into m and v):
//   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//   m = m + (g - m) * (1 - beta_1)                                  (slot "m")
//   v = v + (g^2 - v) * (1 - beta_2)                                (slot "v")
//   amsgrad: vhat = max(vhat, v), and vhat replaces v below         (slot "vhat")
//   w = w - (m * alpha) / (sqrt(v) + epsilon)
// This differs from the paper's m_hat / (sqrt(v_hat) + eps) only in where
// epsilon sits (epsilon * sqrt(1 - beta_2^t) in the paper's terms).
struct AdamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;     // in [0, 1)
  double beta_2 = 0.999;   // in [0, 1)
  double epsilon = 1e-7;   // >= 0
  bool amsgrad = false;
  std::optional<double> weight_decay = std::nullopt, clipnorm = std::nullopt,
                        clipvalue = std::nullopt, global_clipnorm = std::nullopt;
};

class Adam : public Optimizer {
 public:
  explicit Adam(const AdamOptions& options = {});
  double beta_1() const { return beta_1_; }
  double beta_2() const { return beta_2_; }
  double epsilon() const { return epsilon_; }
  bool amsgrad() const { return amsgrad_; }

 protected:
  std::vector<SlotSpec> slot_specs() const override;
  void apply_update(const UpdateArgs& args) override;
  bool apply_update_on_device(const UpdateArgs& args, Backend& backend) override;
  bool has_device_update() const override { return !amsgrad_; }
  void add_config(OptimizerConfig& config) const override;

 private:
  double beta_1_, beta_2_, epsilon_;
  bool amsgrad_;
};

// ---- RMSprop ---------------------------------------------------------------------------
//   velocity = rho * velocity + (1 - rho) * g^2                     (slot "velocity")
//   centered: average_gradient = rho * average_gradient + (1 - rho) * g
//             denominator = velocity - average_gradient^2 + epsilon (slot "average_gradient")
//   else:     denominator = velocity + epsilon
//   increment = lr * g / sqrt(denominator)        (epsilon inside the root, as Keras)
//   momentum > 0: mom = momentum * mom + increment; w = w - mom     (slot "momentum")
//   else:         w = w - increment
struct RMSpropOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.9;        // in [0, 1)
  double momentum = 0.0;   // in [0, 1]
  double epsilon = 1e-7;   // >= 0
  bool centered = false;
  std::optional<double> weight_decay = std::nullopt, clipnorm = std::nullopt,
                        clipvalue = std::nullopt, global_clipnorm = std::nullopt;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(const RMSpropOptions& options = {});
  double rho() const { return rho_; }
  double momentum() const { return momentum_; }
  double epsilon() const { return epsilon_; }
  bool centered() const { return centered_; }

 protected:
  std::vector<SlotSpec> slot_specs() const override;
  void apply_update(const UpdateArgs& args) override;
  void add_config(OptimizerConfig& config) const override;

 private:
  double rho_, momentum_, epsilon_;
  bool centered_;
};

// ---- Adagrad ----------------------------------------------------------------------------
//   accumulator starts at initial_accumulator_value                 (slot "accumulator")
//   accumulator = accumulator + g^2
//   w = w - lr * g / sqrt(accumulator + epsilon)  (epsilon inside the root, as Keras 2.11+)
struct AdagradOptions {
  LearningRate learning_rate = 0.001;
  double initial_accumulator_value = 0.1;  // >= 0
  double epsilon = 1e-7;                   // >= 0
  std::optional<double> weight_decay = std::nullopt, clipnorm = std::nullopt,
                        clipvalue = std::nullopt, global_clipnorm = std::nullopt;
};

class Adagrad : public Optimizer {
 public:
  explicit Adagrad(const AdagradOptions& options = {});
  double initial_accumulator_value() const { return initial_accumulator_value_; }
  double epsilon() const { return epsilon_; }

 protected:
  std::vector<SlotSpec> slot_specs() const override;
  void apply_update(const UpdateArgs& args) override;
  void add_config(OptimizerConfig& config) const override;

 private:
  double initial_accumulator_value_, epsilon_;
};

}  // namespace loom
