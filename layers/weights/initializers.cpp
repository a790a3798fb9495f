// Keras initializers (formulas in initializers.h).
#include "loom/layers/weights/initializers.h"
#include "loom/layers/weights/weight_budget.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <random>

#include "loom/layers/layer.h"  // to_snake_case

namespace loom {

Fans compute_fans(const Shape& shape) {
  Fans f;
  if (shape.empty()) return f;
  if (shape.size() == 1) {
    f.fan_in = f.fan_out = static_cast<double>(shape[0]);
    return f;
  }
  double receptive = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= static_cast<double>(shape[i]);
  f.fan_in = static_cast<double>(shape[shape.size() - 2]) * receptive;
  f.fan_out = static_cast<double>(shape.back()) * receptive;
  return f;
}

namespace {

// Name -> default arguments. The order of this table is the order names()
// lists them in.
struct Kind {
  const char* name;
  std::map<std::string, double> defaults;
};

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k = {
      {"zeros", {}},
      {"ones", {}},
      {"constant", {{"value", 0.0}}},
      {"random_uniform", {{"minval", -0.05}, {"maxval", 0.05}}},
      {"random_normal", {{"mean", 0.0}, {"stddev", 0.05}}},
      {"truncated_normal", {{"mean", 0.0}, {"stddev", 0.05}}},
      {"glorot_uniform", {}},
      {"glorot_normal", {}},
      {"he_uniform", {}},
      {"he_normal", {}},
      {"lecun_uniform", {}},
      {"lecun_normal", {}},
      {"orthogonal", {{"gain", 1.0}}},
  };
  return k;
}

const Kind* find_kind(const std::string& name) {
  for (const Kind& k : kinds())
    if (name == k.name) return &k;
  return nullptr;
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// Keras's aliases and class names to the canonical snake-case name.
std::string canonical_name(const std::string& raw) {
  std::string n = to_snake_case(raw);
  if (n == "uniform") return "random_uniform";
  if (n == "normal") return "random_normal";
  if (n == "zero") return "zeros";
  if (n == "one") return "ones";
  return n;
}

double parse_number(const std::string& text, const std::string& spec) {
  std::string t = trim(text);
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  LOOM_CHECK(!t.empty() && end == t.c_str() + t.size(),
             "Initializer: '{}' is not a number in '{}'", t, spec);
  return v;
}

// Truncated at two standard deviations, by rejection (as TF's truncated_normal).
Tensor truncated_normal_tensor(const Shape& shape, double mean, double stddev, DType dtype,
                               Generator& gen) {
  Tensor t = Tensor::empty(shape, dtype);
  std::normal_distribution<double> dist(0.0, 1.0);
  dispatch_floating(dtype, "Initializer", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double z;
      do z = dist(gen.engine());
      while (std::abs(z) > 2.0);
      p[i] = static_cast<T>(mean + stddev * z);
    }
  });
  return t;
}

// Thin QR of a (m, n), m >= n, row-major, by Householder reflections.
// Returns Q (m, n) with R's diagonal made positive (Q's columns multiplied
// by sign(diag(R)), so the result is the unique QR with R_ii > 0).
std::vector<double> orthonormal_columns(std::vector<double> a, int64_t m, int64_t n) {
  std::vector<std::vector<double>> vs;  // Householder vectors, v_k of length m - k
  std::vector<double> rdiag(n);
  for (int64_t k = 0; k < n; ++k) {
    double norm = 0;
    for (int64_t i = k; i < m; ++i) norm += a[i * n + k] * a[i * n + k];
    norm = std::sqrt(norm);
    const double akk = a[k * n + k];
    const double alpha = akk >= 0 ? -norm : norm;  // avoids cancellation
    std::vector<double> v(m - k);
    for (int64_t i = k; i < m; ++i) v[i - k] = a[i * n + k];
    v[0] -= alpha;
    double vnorm2 = 0;
    for (double x : v) vnorm2 += x * x;
    if (vnorm2 > 0) {
      // A <- (I - 2 v v^T / v^T v) A on the trailing block.
      for (int64_t j = k; j < n; ++j) {
        double dot = 0;
        for (int64_t i = k; i < m; ++i) dot += v[i - k] * a[i * n + j];
        const double s = 2 * dot / vnorm2;
        for (int64_t i = k; i < m; ++i) a[i * n + j] -= s * v[i - k];
      }
    }
    rdiag[k] = a[k * n + k];
    vs.push_back(std::move(v));
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of I.
  std::vector<double> q(m * n, 0.0);
  for (int64_t j = 0; j < n; ++j) q[j * n + j] = 1.0;
  for (int64_t k = n - 1; k >= 0; --k) {
    const std::vector<double>& v = vs[k];
    double vnorm2 = 0;
    for (double x : v) vnorm2 += x * x;
    if (vnorm2 == 0) continue;
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += v[i - k] * q[i * n + j];
      const double s = 2 * dot / vnorm2;
      for (int64_t i = k; i < m; ++i) q[i * n + j] -= s * v[i - k];
    }
  }
  for (int64_t j = 0; j < n; ++j)
    if (rdiag[j] < 0)
      for (int64_t i = 0; i < m; ++i) q[i * n + j] = -q[i * n + j];
  return q;
}

Tensor orthogonal_tensor(const Shape& shape, double gain, DType dtype, Generator& gen) {
  LOOM_CHECK(shape.size() >= 2,
             "Initializer orthogonal: needs a shape of at least 2 dims, got {}", shape_str(shape));
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  const int64_t cols = shape.back();
  const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> a(m * n);
  std::normal_distribution<double> dist(0.0, 1.0);
  for (double& x : a) x = dist(gen.engine());
  std::vector<double> q = orthonormal_columns(std::move(a), m, n);  // (m, n)
  std::vector<double> out(rows * cols);
  if (rows >= cols) {
    for (int64_t i = 0; i < rows * cols; ++i) out[i] = gain * q[i];
  } else {
    // (n=rows, m=cols) = q^T
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = gain * q[j * n + i];
  }
  return Tensor::from_vector(out, shape).to(dtype).detach();
}

}  // namespace

Initializer::Initializer(const std::string& spec_in) {
  const std::string spec = trim(spec_in);
  const size_t open = spec.find('(');
  const std::string raw_name = trim(spec.substr(0, open));
  name_ = canonical_name(raw_name);
  const Kind* kind = find_kind(name_);
  if (!kind)
    fail("Initializer: unknown initializer '{}'; valid names are {}", raw_name,
         fmt::join(initializers::names(), ", "));
  args_ = kind->defaults;
  if (open == std::string::npos) return;
  LOOM_CHECK(spec.back() == ')', "Initializer: missing ')' in '{}'", spec);
  const std::string inner = spec.substr(open + 1, spec.size() - open - 2);
  size_t at = 0;
  while (at <= inner.size()) {
    size_t comma = inner.find(',', at);
    if (comma == std::string::npos) comma = inner.size();
    const std::string item = trim(inner.substr(at, comma - at));
    at = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    LOOM_CHECK(eq != std::string::npos, "Initializer: expected key=value, got '{}' in '{}'", item,
               spec);
    const std::string key = trim(item.substr(0, eq));
    const double value = parse_number(item.substr(eq + 1), spec);
    if (key == "seed") {
      LOOM_CHECK(value >= 0 && value == std::floor(value),
                 "Initializer: seed must be a non-negative integer, got {} in '{}'", value, spec);
      seed = static_cast<uint64_t>(value);
    } else {
      set_arg(key, value);
    }
  }
}

double Initializer::arg(const std::string& key) const {
  auto it = args_.find(key);
  LOOM_CHECK(it != args_.end(), "Initializer {}: no argument '{}'", name_, key);
  return it->second;
}

Initializer& Initializer::set_arg(const std::string& key, double value) {
  auto it = args_.find(key);
  if (it == args_.end()) {
    std::vector<std::string> valid;
    for (auto& [k, v] : args_) valid.push_back(k);
    fail("Initializer {}: unknown argument '{}' (it takes {})", name_, key,
         valid.empty() ? std::string("none") : fmt::format("{}", fmt::join(valid, ", ")));
  }
  it->second = value;
  return *this;
}

std::string Initializer::str() const {
  std::vector<std::string> parts;
  for (auto& [k, v] : args_) parts.push_back(fmt::format("{}={}", k, v));
  if (seed) parts.push_back(fmt::format("seed={}", *seed));
  if (parts.empty()) return name_;
  return fmt::format("{}({})", name_, fmt::join(parts, ", "));
}

Tensor Initializer::operator()(const Shape& shape, DType dtype) const {
  return (*this)(shape, dtype, default_generator());
}

Tensor Initializer::operator()(const Shape& shape, DType dtype, Generator& gen_in) const {
  LOOM_CHECK(is_floating(dtype), "Initializer {}: weights must be f32 or f64, got {}", name_,
             dtype_name(dtype));
  WeightBudget::charge(shape, dtype);  // before any memory is taken
  Generator own(seed.value_or(0));
  Generator& gen = seed ? own : gen_in;
  const Fans fans = compute_fans(shape);
  // Keras's VarianceScaling with a truncated normal.
  constexpr double kTruncatedStd = 0.87962566103423978;
  auto scaled_uniform = [&](double scale, double n) {
    const double limit = std::sqrt(3.0 * scale / std::max(1.0, n));
    return Tensor::uniform(shape, -limit, limit, gen, dtype);
  };
  auto scaled_normal = [&](double scale, double n) {
    const double sd = std::sqrt(scale / std::max(1.0, n)) / kTruncatedStd;
    return truncated_normal_tensor(shape, 0.0, sd, dtype, gen);
  };
  const double fan_avg = (fans.fan_in + fans.fan_out) / 2.0;
  if (name_ == "zeros") return Tensor::zeros(shape, dtype);
  if (name_ == "ones") return Tensor::ones(shape, dtype);
  if (name_ == "constant") return Tensor::full(shape, arg("value"), dtype);
  if (name_ == "random_uniform")
    return Tensor::uniform(shape, arg("minval"), arg("maxval"), gen, dtype);
  if (name_ == "random_normal") return Tensor::normal(shape, arg("mean"), arg("stddev"), gen, dtype);
  if (name_ == "truncated_normal")
    return truncated_normal_tensor(shape, arg("mean"), arg("stddev"), dtype, gen);
  if (name_ == "glorot_uniform") return scaled_uniform(1.0, fan_avg);
  if (name_ == "glorot_normal") return scaled_normal(1.0, fan_avg);
  if (name_ == "he_uniform") return scaled_uniform(2.0, fans.fan_in);
  if (name_ == "he_normal") return scaled_normal(2.0, fans.fan_in);
  if (name_ == "lecun_uniform") return scaled_uniform(1.0, fans.fan_in);
  if (name_ == "lecun_normal") return scaled_normal(1.0, fans.fan_in);
  if (name_ == "orthogonal") return orthogonal_tensor(shape, arg("gain"), dtype, gen);
  fail("Initializer: no formula for '{}'", name_);
}

namespace initializers {
namespace {
Initializer with_seed(Initializer i, std::optional<uint64_t> seed) {
  i.seed = seed;
  return i;
}
}  // namespace
Initializer zeros() { return Initializer("zeros"); }
Initializer ones() { return Initializer("ones"); }
Initializer constant(double value) { return Initializer("constant").set_arg("value", value); }
Initializer random_uniform(double minval, double maxval, std::optional<uint64_t> seed) {
  LOOM_CHECK(minval <= maxval, "random_uniform: minval {} is above maxval {}", minval, maxval);
  return with_seed(Initializer("random_uniform").set_arg("minval", minval).set_arg("maxval", maxval),
                   seed);
}
Initializer random_normal(double mean, double stddev, std::optional<uint64_t> seed) {
  return with_seed(Initializer("random_normal").set_arg("mean", mean).set_arg("stddev", stddev),
                   seed);
}
Initializer truncated_normal(double mean, double stddev, std::optional<uint64_t> seed) {
  return with_seed(Initializer("truncated_normal").set_arg("mean", mean).set_arg("stddev", stddev),
                   seed);
}
Initializer glorot_uniform(std::optional<uint64_t> seed) {
  return with_seed(Initializer("glorot_uniform"), seed);
}
Initializer glorot_normal(std::optional<uint64_t> seed) {
  return with_seed(Initializer("glorot_normal"), seed);
}
Initializer he_uniform(std::optional<uint64_t> seed) { return with_seed(Initializer("he_uniform"), seed); }
Initializer he_normal(std::optional<uint64_t> seed) { return with_seed(Initializer("he_normal"), seed); }
Initializer lecun_uniform(std::optional<uint64_t> seed) {
  return with_seed(Initializer("lecun_uniform"), seed);
}
Initializer lecun_normal(std::optional<uint64_t> seed) {
  return with_seed(Initializer("lecun_normal"), seed);
}
Initializer orthogonal(double gain, std::optional<uint64_t> seed) {
  return with_seed(Initializer("orthogonal").set_arg("gain", gain), seed);
}
std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const Kind& k : kinds()) out.push_back(k.name);
  return out;
}
}  // namespace initializers

// ---- WeightBudget (weight_budget.h) ---------------------------------------------------------

namespace {
thread_local WeightBudget* t_weight_budget = nullptr;
}  // namespace

WeightBudget::WeightBudget(uint64_t max_bytes, std::string what)
    : max_bytes_(max_bytes), left_(max_bytes), what_(std::move(what)), outer_(t_weight_budget) {
  t_weight_budget = this;
}

WeightBudget::~WeightBudget() { t_weight_budget = outer_; }

void WeightBudget::charge(const Shape& shape, DType dtype) {
  WeightBudget* b = t_weight_budget;
  if (b == nullptr) return;
  // Extents come from a file here: multiply without overflowing.
  uint64_t bytes = dtype_size(dtype);
  bool over = false;
  for (int64_t d : shape) {
    if (d <= 0) return;  // empty or invalid: nothing to allocate, or refused by the caller
    const auto u = static_cast<uint64_t>(d);
    if (bytes > b->left_ / u) {
      over = true;
      break;
    }
    bytes *= u;
  }
  if (over || bytes > b->left_)
    fail("{} asks for more weights than allowed: a {} weight of shape {} does not fit in the {} "
         "bytes left of {}",
         b->what_, dtype_name(dtype), shape_str(shape), b->left_, b->max_bytes_);
  b->left_ -= bytes;
}

}  // namespace loom
