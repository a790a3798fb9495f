// Optimizer: the base of SGD, Adam, RMSprop and Adagrad (optim/optimizers.h).
//
// An optimizer updates a list of Parameters in place from the gradients the
// tape left in their `.grad()`; it never records on the tape. Its behaviour
// follows the Keras 2 optimizers (tf.keras.optimizers.*, the 2.11+ classes):
//
// One step(params):
//   1. Parameters with trainable == false are ignored. Trainable ones get
//      their slots (per-parameter state, keyed by the parameter's name) on
//      first sight, as Keras's build() does. Trainable parameters without a
//      gradient are skipped. If none has a gradient the step is a no-op and
//      iterations() stays (Keras returns early the same way).
//   2. The learning rate for the step is lr = schedule(iterations()) or the
//      constant rate.
//   3. Gradient processing, in this order:
//        clipvalue        g = clip(g, -clipvalue, clipvalue) element-wise
//        clipnorm         g = g * clipnorm / max(||g||, clipnorm) per parameter
//        global_clipnorm  g = g * c / max(sqrt(sum_p ||g_p||^2), c) over all
//      clipnorm and global_clipnorm cannot both be set (as in Keras). Keras
//      2.11+ silently ignores clipvalue when a norm clip is also set; Loom
//      applies both in the order of the legacy Keras 2 optimizer
//      (tf.keras.optimizers.legacy), which is the only Keras that honours both.
//      Gradients are processed on the fly: `.grad()` itself is left as it was.
//   4. Decoupled weight decay (Keras's `weight_decay` argument, AdamW style),
//      before the update and with the step's lr:  w = w - w * weight_decay * lr.
//      exclude_from_weight_decay() exempts parameters by name.
//   5. The optimizer's own update rule (see each class), with
//      t = iterations() + 1 as the 1-based step for bias corrections.
//   6. iterations() += 1.
//
// Sparse (lazy) row updates: a Parameter whose `touched_rows` is set (an
// Embedding with sparse=true) is updated only on those rows of axis 0, and
// so are its slots: untouched rows of the value AND of every slot stay
// bit-identical. This is the lazy behaviour of TF Addons' LazyAdam and
// PyTorch's SparseAdam (not Keras's dense treatment, which would also decay
// the momentum of untouched rows): a row's moments advance only on steps
// where the row has a gradient, while Adam's bias correction uses the global
// step t. Weight decay, too, applies only to touched rows; clipnorm and
// global_clipnorm measure only the touched rows. Gradient entries outside the
// touched rows are ignored: an Embedding's scatter-add leaves them zero, but a
// dense term (e.g. a regularizer on the whole table) would be dropped there.
// After the step the set is cleared. On a touched row the update is exactly
// the dense rule's, applied to that row's own slots.
//
// Efficiency: updates are fused per-element loops over the contiguous f32/f64
// storage of the value, its gradient and its slots (one pass, no temporary
// tensors), vectorized and split over OpenMP threads for large parameters.
// Only CPU tensors are supported for now.
//
// State for checkpoints: state() returns copies of every slot as
// "<optimizer>/<slot>/<parameter name>" (e.g. "adam/m/dense/kernel"), plus
// "iterations" (an i64 scalar) and, for a constant rate, "learning_rate" (an
// f64 scalar, so a rate changed by ReduceLROnPlateau survives). load_state()
// restores them so that training continues exactly.
#pragma once

#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "loom/autograd/parameter.h"
#include "loom/autograd/tensor.h"
#include "loom/backends/backend.h"
#include "loom/optim/schedules.h"

namespace loom {

// A learning rate: a constant or a schedule of the iteration count. Converts
// implicitly from a double or a schedule pointer, so options read
// `.learning_rate = 1e-3` or `.learning_rate = std::make_shared<CosineDecay>(...)`.
class LearningRate {
 public:
  LearningRate(double value) : value_(value) {}
  LearningRate(SchedulePtr schedule) : schedule_(std::move(schedule)) {}
  template <typename S>
    requires std::derived_from<S, LearningRateSchedule>
  LearningRate(std::shared_ptr<S> schedule) : schedule_(std::move(schedule)) {}

  // The rate for the step taken after `iterations` steps.
  double at(int64_t iterations) const { return schedule_ ? (*schedule_)(iterations) : value_; }
  const SchedulePtr& schedule() const { return schedule_; }
  double constant() const { return value_; }

 private:
  double value_ = 0.0;
  SchedulePtr schedule_;
};

// Keras's keyword arguments shared by every optimizer (unset = None).
struct GradientOptions {
  std::optional<double> weight_decay, clipnorm, clipvalue, global_clipnorm;
};

// Named tensors: optimizer state for checkpoints.
using OptimizerState = std::map<std::string, Tensor>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Keras class name: "SGD", "Adam", "RMSprop", "Adagrad".
  const std::string& name() const { return name_; }
  // Lower-case name used as the prefix of state entries ("adam").
  std::string state_prefix() const;

  // Applies one update to every trainable parameter that has a gradient
  // (see the top of this file). Throws loom::Error naming the optimizer and
  // the parameter when a gradient does not match its value, a parameter has
  // no name or two share one, a touched row is out of range, or a tensor
  // is not on the CPU.
  void step(const std::vector<ParameterPtr>& params);

  // Drops every parameter's gradient and clears its touched rows. Call it
  // before the forward pass: an Embedding(sparse=true) records its touched
  // rows during the forward pass, so zeroing between forward and backward
  // would lose them.
  static void zero_grad(const std::vector<ParameterPtr>& params);

  // Steps applied so far (Keras's optimizer.iterations).
  int64_t iterations() const { return iterations_; }

  // The rate the next step uses: schedule(iterations()) or the constant.
  // (Keras's optimizer.learning_rate reports the rate of the last step
  // taken, schedule(iterations() - 1), when it runs on a schedule.)
  double learning_rate() const;
  // Sets a constant rate (ReduceLROnPlateau). Throws when the optimizer runs
  // on a schedule (as Keras does) or when lr is negative or not finite.
  void set_learning_rate(double lr);
  // Switches to a schedule (null throws).
  void set_learning_rate(SchedulePtr schedule);
  // The schedule, or null for a constant rate.
  const SchedulePtr& schedule() const { return lr_.schedule(); }

  // Parameters whose name matches any of these regular expressions
  // (std::regex_search, like Keras's re.search) get no weight decay.
  void exclude_from_weight_decay(const std::vector<std::string>& name_patterns);

  const std::optional<double>& weight_decay() const { return grad_opts_.weight_decay; }
  const std::optional<double>& clipnorm() const { return grad_opts_.clipnorm; }
  const std::optional<double>& clipvalue() const { return grad_opts_.clipvalue; }
  const std::optional<double>& global_clipnorm() const { return grad_opts_.global_clipnorm; }

  // Copies of every slot plus "iterations" (and "learning_rate" for a
  // constant rate); see the top of this file.
  OptimizerState state() const;
  // Replaces this optimizer's state with `state` (as returned by state()).
  // Slots are matched to parameters by name when step() next sees them;
  // a slot whose shape differs from its parameter's then throws. Throws
  // now for entries of another optimizer, unknown slots, a parameter with
  // only some of its slots, or a missing "iterations". Leaves the state
  // unchanged when it throws.
  void load_state(const OptimizerState& state);

  // Hyper-parameters by Keras name, exact text: "learning_rate" (a number,
  // or a schedule's class name with its config under "learning_rate.<key>"),
  // the optimizer's own keys, and weight_decay / clipnorm / clipvalue /
  // global_clipnorm when set. make_optimizer(name(), config()) rebuilds an
  // equivalent optimizer (without state).
  OptimizerConfig config() const;

 protected:
  // Validates the shared arguments; `name` is the Keras class name.
  Optimizer(std::string name, LearningRate lr, GradientOptions grad_opts);

  // One slot: its name in state keys and the value it starts at.
  struct SlotSpec {
    std::string name;
    double initial_value = 0.0;
  };
  virtual std::vector<SlotSpec> slot_specs() const = 0;

  // The part of a parameter one step updates: every element, or whole rows
  // of axis 0 (sparse). Offsets and lengths count elements.
  struct Region {
    int64_t numel = 0;               // of the whole parameter
    int64_t row_len = 0;             // elements per row of axis 0
    const int64_t* rows = nullptr;   // touched rows, sorted; null = dense
    int64_t nrows = 0;
    bool sparse() const { return rows != nullptr; }
  };

  // Everything an update rule needs for one parameter in one step.
  struct UpdateArgs {
    const std::string& param_name;
    const Tensor& value;              // contiguous, updated in place
    const Tensor& grad;               // contiguous, same shape and dtype as value
    const std::vector<Tensor>& slots; // contiguous, slot_specs() order, updated in place
    Region region;
    double lr;                        // this step's learning rate
    int64_t t;                        // 1-based step: iterations() + 1
    double grad_scale;                // from clipnorm / global_clipnorm (1 = none)
    double grad_clip;                 // clipvalue, or +infinity
    double weight_decay;              // 0 when none or excluded
  };
  // Applies the rule (with the gradient processing and weight decay in
  // UpdateArgs) to args.region. Must not throw once it starts writing.
  virtual void apply_update(const UpdateArgs& args) = 0;
  // The same on the parameter's own device through `backend` (a GPU), with
  // value, grad and slots all there and a dense region. Returns false when
  // the rule has no device version (then slots live on the host and the
  // host rule runs on copies).
  virtual bool apply_update_on_device(const UpdateArgs& args, Backend& backend) { return false; }
  virtual bool has_device_update() const { return false; }

  // Adds the optimizer's own keys to a config.
  virtual void add_config(OptimizerConfig& config) const = 0;

  // Throws loom::Error "<name()>: <arg> must be ..." helpers for subclasses.
  void check_range(const char* arg, double v, double low, double high, bool high_open) const;
  void check_non_negative(const char* arg, double v) const;

 private:
  // Slots of one parameter, creating or validating them.
  const std::vector<Tensor>& slots_for(const Parameter& p);
  // Whether p is updated on its GPU (its slots live there): a dense
  // parameter off the host whose rule and backend both have a device update.
  bool updates_on_device(const Parameter& p) const;
  bool decays(const std::string& param_name) const;

  // The steps of step(), in order (optimizer.cpp).
  struct StepItem;  // one parameter to update, with its processed gradient
  // Validates every trainable parameter, creates its slots, and lists those
  // with a gradient.
  std::vector<StepItem> collect_step_items(const std::vector<ParameterPtr>& params);
  // Checks that p has a defined, contiguous f32/f64 value.
  void check_step_value(const Parameter& p) const;
  // p's gradient, checked, in p's dtype, contiguous, and on the host unless
  // p is updated on its device; undefined when p has none.
  Tensor step_gradient(const Parameter& p) const;
  // Copies (and range-checks) the parameter's touched rows into a sparse item.
  void set_sparse_rows(StepItem& item) const;
  // Fills each item's sum_sq when a norm clip is set; returns the
  // global_clipnorm scale (1 when none).
  double clip_norms(std::vector<StepItem>& items, double clip) const;
  // Runs the update rule on one item (on its device or the host).
  void apply_step_item(StepItem& item, double lr, int64_t t, double global_scale, double clip);

  std::string name_;
  LearningRate lr_;
  GradientOptions grad_opts_;
  int64_t iterations_ = 0;
  std::map<std::string, std::vector<Tensor>> slots_;  // parameter name -> slots
  std::vector<std::regex> no_decay_;
};

using OptimizerPtr = std::shared_ptr<Optimizer>;

// Builds an optimizer by name ("sgd", "adam", "adamw", "rmsprop", "adagrad";
// any case) from a config as returned by Optimizer::config(). Missing keys
// take the Keras defaults. Also accepts the extra keys a Keras get_config()
// carries ("name", "jit_compile", "is_legacy_optimizer", "use_ema" = false,
// "ema_momentum", "ema_overwrite_frequency", legacy "decay" = 0) and "None"
// for unset optional values. Unknown names, unknown keys and bad values
// throw loom::Error naming them.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                          const OptimizerConfig& config = {});

}  // namespace loom
