#include "loom/optim/schedules.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

#include "loom/backends/types.h"

namespace loom {

// ---- config value helpers ---------------------------------------------------------

namespace config_io {

std::string format_double(double v) {
  // fmt prints the shortest decimal that reads back as the same double.
  return fmt::format("{}", v);
}

std::string format_bool(bool v) { return v ? "true" : "false"; }

std::string format_list(const std::vector<double>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += format_double(v[i]);
  }
  return out;
}

double parse_double(const std::string& who, const std::string& key, const std::string& text) {
  // Accept surrounding blanks so that hand-written configs ("1e-3 ") work.
  size_t b = text.find_first_not_of(" \t");
  size_t e = text.find_last_not_of(" \t");
  double v = 0;
  if (b != std::string::npos) {
    const char* first = text.data() + b;
    const char* last = text.data() + e + 1;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc() && ptr == last) return v;
  }
  fail("{}: config key '{}' expects a number, got '{}'", who, key, text);
}

bool parse_bool(const std::string& who, const std::string& key, const std::string& text) {
  // Python's str(True) is "True", so accept both spellings.
  if (text == "true" || text == "True" || text == "1") return true;
  if (text == "false" || text == "False" || text == "0") return false;
  fail("{}: config key '{}' expects true or false, got '{}'", who, key, text);
}

std::vector<double> parse_list(const std::string& who, const std::string& key,
                               const std::string& text) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(parse_double(who, key, text.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

}  // namespace config_io

using namespace config_io;

namespace {

void check_initial(const char* who, double initial) {
  LOOM_CHECK(std::isfinite(initial) && initial >= 0,
             "{}: initial_learning_rate must be a finite number >= 0, got {}", who, initial);
}
void check_decay_steps(const char* who, double decay_steps) {
  LOOM_CHECK(std::isfinite(decay_steps) && decay_steps > 0,
             "{}: decay_steps must be > 0, got {}", who, decay_steps);
}

}  // namespace

// ---- ExponentialDecay -------------------------------------------------------------

ExponentialDecay::ExponentialDecay(double initial, double steps, double rate, bool stair)
    : initial_learning_rate(initial), decay_steps(steps), decay_rate(rate), staircase(stair) {
  check_initial("ExponentialDecay", initial);
  check_decay_steps("ExponentialDecay", steps);
  LOOM_CHECK(std::isfinite(rate) && rate > 0, "ExponentialDecay: decay_rate must be > 0, got {}",
             rate);
}

// lr(s) = initial * decay_rate ^ p,  p = s / decay_steps (floored when staircase)
double ExponentialDecay::operator()(int64_t step) const {
  double p = static_cast<double>(step) / decay_steps;
  if (staircase) p = std::floor(p);
  return initial_learning_rate * std::pow(decay_rate, p);
}

OptimizerConfig ExponentialDecay::config() const {
  return {{"initial_learning_rate", format_double(initial_learning_rate)},
          {"decay_steps", format_double(decay_steps)},
          {"decay_rate", format_double(decay_rate)},
          {"staircase", format_bool(staircase)}};
}

// ---- InverseTimeDecay -------------------------------------------------------------

InverseTimeDecay::InverseTimeDecay(double initial, double steps, double rate, bool stair)
    : initial_learning_rate(initial), decay_steps(steps), decay_rate(rate), staircase(stair) {
  check_initial("InverseTimeDecay", initial);
  check_decay_steps("InverseTimeDecay", steps);
  LOOM_CHECK(std::isfinite(rate) && rate >= 0,
             "InverseTimeDecay: decay_rate must be >= 0, got {}", rate);
}

// lr(s) = initial / (1 + decay_rate * p),  p = s / decay_steps (floored when staircase)
double InverseTimeDecay::operator()(int64_t step) const {
  double p = static_cast<double>(step) / decay_steps;
  if (staircase) p = std::floor(p);
  return initial_learning_rate / (1.0 + decay_rate * p);
}

OptimizerConfig InverseTimeDecay::config() const {
  return {{"initial_learning_rate", format_double(initial_learning_rate)},
          {"decay_steps", format_double(decay_steps)},
          {"decay_rate", format_double(decay_rate)},
          {"staircase", format_bool(staircase)}};
}

// ---- PiecewiseConstantDecay -------------------------------------------------------

PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<double> b, std::vector<double> v)
    : boundaries(std::move(b)), values(std::move(v)) {
  LOOM_CHECK(values.size() == boundaries.size() + 1,
             "PiecewiseConstantDecay: values must have one more entry than boundaries, got {} "
             "boundaries and {} values",
             boundaries.size(), values.size());
  for (size_t i = 1; i < boundaries.size(); ++i)
    LOOM_CHECK(boundaries[i] > boundaries[i - 1],
               "PiecewiseConstantDecay: boundaries must increase, got {} after {}", boundaries[i],
               boundaries[i - 1]);
  for (double x : values)
    LOOM_CHECK(std::isfinite(x) && x >= 0,
               "PiecewiseConstantDecay: values must be finite and >= 0, got {}", x);
}

// Keras compares step <= boundary, so a boundary step still uses the earlier value.
double PiecewiseConstantDecay::operator()(int64_t step) const {
  const double s = static_cast<double>(step);
  for (size_t i = 0; i < boundaries.size(); ++i)
    if (s <= boundaries[i]) return values[i];
  return values.back();
}

OptimizerConfig PiecewiseConstantDecay::config() const {
  return {{"boundaries", format_list(boundaries)}, {"values", format_list(values)}};
}

// ---- CosineDecay --------------------------------------------------------------------

CosineDecay::CosineDecay(double initial, double steps, double a, std::optional<double> target,
                         double wsteps)
    : initial_learning_rate(initial),
      decay_steps(steps),
      alpha(a),
      warmup_target(target),
      warmup_steps(wsteps) {
  check_initial("CosineDecay", initial);
  check_decay_steps("CosineDecay", steps);
  LOOM_CHECK(alpha >= 0 && alpha <= 1, "CosineDecay: alpha must be in [0, 1], got {}", alpha);
  LOOM_CHECK(std::isfinite(warmup_steps) && warmup_steps >= 0,
             "CosineDecay: warmup_steps must be >= 0, got {}", warmup_steps);
  if (warmup_target)
    LOOM_CHECK(std::isfinite(*warmup_target) && *warmup_target >= 0,
               "CosineDecay: warmup_target must be >= 0, got {}", *warmup_target);
}

double CosineDecay::operator()(int64_t step) const {
  // decayed(s, from) = from * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
  auto decayed = [&](double s, double from) {
    double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * s / decay_steps));
    return from * ((1.0 - alpha) * cosine + alpha);
  };
  double s = static_cast<double>(step);
  if (!warmup_target) return decayed(std::min(s, decay_steps), initial_learning_rate);
  s = std::min(s, decay_steps + warmup_steps);
  if (s < warmup_steps)  // linear warmup: initial + (target - initial) * s / warmup_steps
    return initial_learning_rate + (*warmup_target - initial_learning_rate) * (s / warmup_steps);
  return decayed(s - warmup_steps, *warmup_target);
}

OptimizerConfig CosineDecay::config() const {
  OptimizerConfig c{{"initial_learning_rate", format_double(initial_learning_rate)},
                    {"decay_steps", format_double(decay_steps)},
                    {"alpha", format_double(alpha)},
                    {"warmup_steps", format_double(warmup_steps)}};
  if (warmup_target) c["warmup_target"] = format_double(*warmup_target);
  return c;
}

// ---- factory -------------------------------------------------------------------------

SchedulePtr make_schedule(const std::string& name, const OptimizerConfig& config) {
  // Reads key `k` as a double; `def` is the Keras default (none: required).
  auto num = [&](const char* k, std::optional<double> def) -> double {
    auto it = config.find(k);
    if (it != config.end()) return parse_double(name, k, it->second);
    if (!def) fail("{}: config lacks the required key '{}'", name, k);
    return *def;
  };
  auto flag = [&](const char* k, bool def) {
    auto it = config.find(k);
    return it == config.end() ? def : parse_bool(name, k, it->second);
  };
  auto allow_only = [&](std::initializer_list<const char*> keys) {
    // Named references, not a structured binding: clang before 16 cannot
    // capture a binding in a lambda (the fuzz build, cmake/LoomFuzz.cmake).
    for (const auto& entry : config) {
      const auto& k = entry.first;
      const auto& v = entry.second;
      bool known = std::any_of(keys.begin(), keys.end(), [&](const char* a) { return k == a; });
      if (!known) fail("{}: unknown config key '{}' (value '{}')", name, k, v);
    }
  };

  if (name == "ExponentialDecay" || name == "InverseTimeDecay") {
    allow_only({"initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"});
    double initial = num("initial_learning_rate", std::nullopt);
    double steps = num("decay_steps", std::nullopt);
    double rate = num("decay_rate", std::nullopt);
    bool stair = flag("staircase", false);
    if (name == "ExponentialDecay")
      return std::make_shared<ExponentialDecay>(initial, steps, rate, stair);
    return std::make_shared<InverseTimeDecay>(initial, steps, rate, stair);
  }
  if (name == "PiecewiseConstantDecay") {
    allow_only({"boundaries", "values", "name"});
    auto b = config.find("boundaries");
    auto v = config.find("values");
    LOOM_CHECK(v != config.end(), "PiecewiseConstantDecay: config lacks the required key 'values'");
    std::vector<double> bounds;
    if (b != config.end() && !b->second.empty()) bounds = parse_list(name, "boundaries", b->second);
    return std::make_shared<PiecewiseConstantDecay>(bounds, parse_list(name, "values", v->second));
  }
  if (name == "CosineDecay") {
    allow_only({"initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps",
                "name"});
    std::optional<double> target;
    if (auto it = config.find("warmup_target"); it != config.end() && it->second != "None")
      target = parse_double(name, "warmup_target", it->second);
    return std::make_shared<CosineDecay>(num("initial_learning_rate", std::nullopt),
                                         num("decay_steps", std::nullopt), num("alpha", 0.0),
                                         target, num("warmup_steps", 0.0));
  }
  fail("make_schedule: unknown learning-rate schedule '{}' (known: ExponentialDecay, "
       "InverseTimeDecay, PiecewiseConstantDecay, CosineDecay)",
       name);
}

}  // namespace loom
