// Learning-rate schedules with Keras 2 semantics
// (tf.keras.optimizers.schedules.*): a schedule maps the optimizer's
// iteration count (the number of steps already applied, 0 for the first
// step) to the learning rate that step uses.
//
//   ExponentialDecay    lr(s) = initial * decay_rate ^ (s / decay_steps)
//                       (staircase: the exponent is floor(s / decay_steps))
//   InverseTimeDecay    lr(s) = initial / (1 + decay_rate * s / decay_steps)
//                       (staircase: floor(s / decay_steps))
//   PiecewiseConstantDecay (step decay)
//                       values[0] for s <= boundaries[0],
//                       values[i] for boundaries[i-1] < s <= boundaries[i],
//                       values.back() for s > boundaries.back()
//   CosineDecay         without warmup: s' = min(s, decay_steps),
//                       lr(s) = initial * ((1 - alpha) * 0.5 * (1 + cos(pi s'/decay_steps)) + alpha);
//                       with warmup_target set: linear from initial to
//                       warmup_target over warmup_steps, then the cosine above
//                       from warmup_target over the next decay_steps.
//
// Schedules compute in double (Keras computes in the learning rate's float32;
// the difference is rounding only). Each has a Keras class name and a small
// string config so that an optimizer's config can carry it; make_schedule
// rebuilds one from those.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace loom {

// String key -> value maps used for optimizer and schedule configs.
using OptimizerConfig = std::map<std::string, std::string>;

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  // The learning rate for the step taken when the optimizer has already run
  // `step` iterations.
  virtual double operator()(int64_t step) const = 0;
  // The Keras class name, e.g. "ExponentialDecay".
  virtual std::string name() const = 0;
  // Hyper-parameters by their Keras names, values printed exactly.
  virtual OptimizerConfig config() const = 0;
};

using SchedulePtr = std::shared_ptr<LearningRateSchedule>;

class ExponentialDecay : public LearningRateSchedule {
 public:
  // Throws loom::Error when initial_learning_rate < 0, decay_steps <= 0 or
  // decay_rate <= 0.
  ExponentialDecay(double initial_learning_rate, double decay_steps, double decay_rate,
                   bool staircase = false);
  double operator()(int64_t step) const override;
  std::string name() const override { return "ExponentialDecay"; }
  OptimizerConfig config() const override;

  double initial_learning_rate, decay_steps, decay_rate;
  bool staircase;
};

class InverseTimeDecay : public LearningRateSchedule {
 public:
  // Throws when initial_learning_rate < 0, decay_steps <= 0 or decay_rate < 0.
  InverseTimeDecay(double initial_learning_rate, double decay_steps, double decay_rate,
                   bool staircase = false);
  double operator()(int64_t step) const override;
  std::string name() const override { return "InverseTimeDecay"; }
  OptimizerConfig config() const override;

  double initial_learning_rate, decay_steps, decay_rate;
  bool staircase;
};

// Step decay. Throws unless values.size() == boundaries.size() + 1, the
// boundaries strictly increase and every value is >= 0.
class PiecewiseConstantDecay : public LearningRateSchedule {
 public:
  PiecewiseConstantDecay(std::vector<double> boundaries, std::vector<double> values);
  double operator()(int64_t step) const override;
  std::string name() const override { return "PiecewiseConstantDecay"; }
  OptimizerConfig config() const override;

  std::vector<double> boundaries, values;
};

class CosineDecay : public LearningRateSchedule {
 public:
  // Throws when initial_learning_rate < 0, decay_steps <= 0, alpha outside
  // [0, 1], warmup_steps < 0 or warmup_target < 0.
  CosineDecay(double initial_learning_rate, double decay_steps, double alpha = 0.0,
              std::optional<double> warmup_target = std::nullopt, double warmup_steps = 0.0);
  double operator()(int64_t step) const override;
  std::string name() const override { return "CosineDecay"; }
  OptimizerConfig config() const override;

  double initial_learning_rate, decay_steps, alpha;
  std::optional<double> warmup_target;
  double warmup_steps;
};

// Rebuilds a schedule from its Keras class name and config (as returned by
// config()). Missing keys take the Keras defaults where Keras has one;
// unknown names and keys throw loom::Error naming them.
SchedulePtr make_schedule(const std::string& name, const OptimizerConfig& config);

// ---- config value helpers (shared with the optimizers) ---------------------------
namespace config_io {
// Shortest text that parses back to exactly `v` ("0.001", "1e-07").
std::string format_double(double v);
std::string format_bool(bool v);
std::string format_list(const std::vector<double>& v);  // "10,20,30"
// Parsers that throw loom::Error naming `who` (e.g. "Adam"), the key and the text.
double parse_double(const std::string& who, const std::string& key, const std::string& text);
bool parse_bool(const std::string& who, const std::string& key, const std::string& text);
std::vector<double> parse_list(const std::string& who, const std::string& key,
                               const std::string& text);
}  // namespace config_io

}  // namespace loom
