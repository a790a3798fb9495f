// Weight initializers with Keras's names, arguments and formulas.
//
//   Initializer k = "glorot_uniform";                       // by Keras name
//   Initializer e = initializers::random_uniform(-0.05, 0.05);
//   Initializer s = "random_normal(mean=0, stddev=0.1, seed=3)";  // spec string
//   Tensor w = k({64, 32}, DType::f32, gen);                  // (F, H)
//
// Fans follow Keras: a 1-D shape (n) has fan_in = fan_out = n; a 2-D kernel
// (in, out) has fan_in = in, fan_out = out; higher ranks multiply both by
// the receptive field prod(shape[:-2]).
//   glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))
//   glorot_normal:  truncated normal (at 2 sd), sd = sqrt(2 / (fan_in + fan_out)) / .87962566
//   he_uniform:     U(-l, l), l = sqrt(6 / fan_in)
//   he_normal:      truncated normal, sd = sqrt(2 / fan_in) / .87962566
//   lecun_uniform / lecun_normal: as he_* with 3 / fan_in and 1 / fan_in
//   orthogonal(gain): the shape flattened to (prod(shape[:-1]), shape[-1]);
//     Q of the QR of a normal matrix of shape (max(r, c), min(r, c)), columns
//     multiplied by sign(diag(R)), transposed when r < c, times gain
//   random_uniform(minval=-0.05, maxval=0.05), random_normal(mean=0, stddev=0.05),
//   truncated_normal(mean=0, stddev=0.05), zeros, ones, constant(value=0)
// (the 0.87962566 undoes the variance lost by truncating at two standard
// deviations, as Keras's VarianceScaling does).
//
// Randomness: values come from the Generator passed in, so a seeded
// generator gives the same weights every run; an initializer given its own
// `seed` ignores that generator and draws from Generator(seed) (Keras
// initializers' seed=), giving the same values on every call.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom {

struct Fans {
  double fan_in = 1, fan_out = 1;
};
Fans compute_fans(const Shape& shape);

class Initializer {
 public:
  Initializer() : Initializer("glorot_uniform") {}
  // A Keras name ("glorot_uniform", "GlorotUniform", "uniform", ...) or a spec
  // string "name(key=value, ...)" as str() writes it. Unknown names and
  // arguments throw loom::Error listing the valid ones.
  Initializer(const std::string& spec);  // NOLINT: implicit, like Keras's strings
  Initializer(const char* spec) : Initializer(std::string(spec)) {}  // NOLINT

  // A tensor of `shape` drawn from `gen` (or from the own seed when set).
  Tensor operator()(const Shape& shape, DType dtype, Generator& gen) const;
  // Same, drawing from default_generator() (unless seeded).
  Tensor operator()(const Shape& shape, DType dtype = DType::f32) const;

  // The canonical snake-case name.
  const std::string& name() const { return name_; }
  // An argument by name (minval, maxval, mean, stddev, value, gain).
  double arg(const std::string& key) const;
  Initializer& set_arg(const std::string& key, double value);
  const std::map<std::string, double>& args() const { return args_; }
  std::optional<uint64_t> seed;
  // "random_uniform(maxval=0.05, minval=-0.05)"; Initializer(str()) restores it.
  std::string str() const;
  bool operator==(const Initializer& o) const {
    return name_ == o.name_ && args_ == o.args_ && seed == o.seed;
  }

 private:
  std::string name_;
  std::map<std::string, double> args_;
};

namespace initializers {
Initializer zeros();
Initializer ones();
Initializer constant(double value);
Initializer random_uniform(double minval = -0.05, double maxval = 0.05,
                           std::optional<uint64_t> seed = {});
Initializer random_normal(double mean = 0.0, double stddev = 0.05,
                          std::optional<uint64_t> seed = {});
Initializer truncated_normal(double mean = 0.0, double stddev = 0.05,
                             std::optional<uint64_t> seed = {});
Initializer glorot_uniform(std::optional<uint64_t> seed = {});
Initializer glorot_normal(std::optional<uint64_t> seed = {});
Initializer he_uniform(std::optional<uint64_t> seed = {});
Initializer he_normal(std::optional<uint64_t> seed = {});
Initializer lecun_uniform(std::optional<uint64_t> seed = {});
Initializer lecun_normal(std::optional<uint64_t> seed = {});
Initializer orthogonal(double gain = 1.0, std::optional<uint64_t> seed = {});
// Every canonical name, for messages.
std::vector<std::string> names();
}  // namespace initializers

// The generator a layer draws its weights from: its own (seeded by the
// layer's options) when it has one, else the process-wide default.
inline Generator& weights_generator(std::optional<Generator>& own) {
  return own ? *own : default_generator();
}

}  // namespace loom
