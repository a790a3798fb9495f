#include "loom/layers/training/metrics.h"

#include <algorithm>
#include <cmath>

namespace loom {

namespace {

// Per-sample weights for n samples: all ones when undefined.
std::vector<double> sample_weights(const Tensor& sample_weight, int64_t n, const std::string& who) {
  if (!sample_weight.defined()) return std::vector<double>(static_cast<size_t>(n), 1.0);
  LOOM_CHECK(sample_weight.numel() == n,
             "{}: sample_weight of shape {} does not match {} samples", who,
             shape_str(sample_weight.shape()), n);
  return sample_weight.to_vector<double>();
}

// Samples in a prediction: its first axis (a scalar is one sample).
int64_t samples_of(const Tensor& t) { return t.ndim() == 0 ? 1 : t.dim(0); }

void check_defined(const Tensor& y_true, const Tensor& y_pred, const std::string& who) {
  LOOM_CHECK(y_true.defined() && y_pred.defined(), "{}: update() needs y_true and y_pred", who);
}

}  // namespace

// ---- Mean ---------------------------------------------------------------------------------

void Mean::add(double value, double weight) {
  total_ += value * weight;
  count_ += weight;
}

void Mean::update(const Tensor& values, const Tensor&, const Tensor& sample_weight) {
  LOOM_CHECK(values.defined(), "{}: update() needs values", name());
  std::vector<double> v = values.to_vector<double>();
  std::vector<double> w = sample_weights(sample_weight, static_cast<int64_t>(v.size()), name());
  for (size_t i = 0; i < v.size(); ++i) add(v[i], w[i]);
}

// ---- accuracies ------------------------------------------------------------------------------

void BinaryAccuracy::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  check_defined(y_true, y_pred, name());
  // y_pred (N, K...) against y_true with as many elements: a sample scores
  // the mean over its K outputs (Keras averages over the last axis).
  LOOM_CHECK(y_true.numel() == y_pred.numel(),
             "{}: y_true of shape {} does not match y_pred of shape {}", name(),
             shape_str(y_true.shape()), shape_str(y_pred.shape()));
  const int64_t n = samples_of(y_pred);
  if (n == 0) return;
  const int64_t k = y_pred.numel() / n;
  std::vector<double> t = y_true.to_vector<double>(), p = y_pred.to_vector<double>();
  std::vector<double> w = sample_weights(sample_weight, n, name());
  for (int64_t i = 0; i < n; ++i) {
    int64_t hits = 0;
    for (int64_t j = 0; j < k; ++j) {
      size_t e = static_cast<size_t>(i * k + j);
      hits += (p[e] > threshold_ ? 1.0 : 0.0) == t[e];
    }
    correct_ += w[static_cast<size_t>(i)] * static_cast<double>(hits) / static_cast<double>(k);
    count_ += w[static_cast<size_t>(i)];
  }
}

namespace {
// Index of the first maximum of row `i` of a (N, C) row-major buffer.
int64_t argmax_row(const std::vector<double>& v, int64_t i, int64_t c) {
  const double* row = v.data() + i * c;
  return std::max_element(row, row + c) - row;
}
}  // namespace

void SparseCategoricalAccuracy::update(const Tensor& y_true, const Tensor& y_pred,
                                       const Tensor& sample_weight) {
  check_defined(y_true, y_pred, name());
  LOOM_CHECK(y_pred.ndim() >= 1, "{}: y_pred must have a class axis, got shape {}", name(),
             shape_str(y_pred.shape()));
  const int64_t c = y_pred.dim(-1);
  const int64_t n = c == 0 ? 0 : y_pred.numel() / c;
  LOOM_CHECK(y_true.numel() == n,
             "{}: y_true of shape {} needs one label per row of y_pred of shape {}", name(),
             shape_str(y_true.shape()), shape_str(y_pred.shape()));
  std::vector<double> t = y_true.to_vector<double>(), p = y_pred.to_vector<double>();
  std::vector<double> w = sample_weights(sample_weight, n, name());
  for (int64_t i = 0; i < n; ++i) {
    bool hit = static_cast<double>(argmax_row(p, i, c)) == t[static_cast<size_t>(i)];
    correct_ += hit ? w[static_cast<size_t>(i)] : 0.0;
    count_ += w[static_cast<size_t>(i)];
  }
}

void CategoricalAccuracy::update(const Tensor& y_true, const Tensor& y_pred,
                                 const Tensor& sample_weight) {
  check_defined(y_true, y_pred, name());
  LOOM_CHECK(y_pred.ndim() >= 1 && y_true.shape() == y_pred.shape(),
             "{}: one-hot y_true of shape {} must match y_pred of shape {}", name(),
             shape_str(y_true.shape()), shape_str(y_pred.shape()));
  const int64_t c = y_pred.dim(-1);
  const int64_t n = c == 0 ? 0 : y_pred.numel() / c;
  std::vector<double> t = y_true.to_vector<double>(), p = y_pred.to_vector<double>();
  std::vector<double> w = sample_weights(sample_weight, n, name());
  for (int64_t i = 0; i < n; ++i) {
    bool hit = argmax_row(p, i, c) == argmax_row(t, i, c);
    correct_ += hit ? w[static_cast<size_t>(i)] : 0.0;
    count_ += w[static_cast<size_t>(i)];
  }
}

Accuracy::Accuracy(std::string name, const std::string& loss) : Metric(std::move(name)) {
  if (loss.rfind("binary_crossentropy", 0) == 0)
    impl_ = std::make_unique<BinaryAccuracy>(this->name());
  else if (loss.rfind("sparse_categorical_crossentropy", 0) == 0)
    impl_ = std::make_unique<SparseCategoricalAccuracy>(this->name());
}

void Accuracy::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  check_defined(y_true, y_pred, name());
  if (!impl_) {
    // Keras 2 compile_utils: decided by the shapes of the first batch.
    const int64_t p_last = y_pred.ndim() == 0 ? 1 : y_pred.dim(-1);
    const int64_t t_last = y_true.ndim() == 0 ? 1 : y_true.dim(-1);
    if (y_pred.ndim() <= 1 || p_last == 1)
      impl_ = std::make_unique<BinaryAccuracy>(name());
    else if (y_true.ndim() < y_pred.ndim() || (t_last == 1 && p_last > 1))
      impl_ = std::make_unique<SparseCategoricalAccuracy>(name());
    else
      impl_ = std::make_unique<CategoricalAccuracy>(name());
  }
  impl_->update(y_true, y_pred, sample_weight);
}

std::string Accuracy::resolved() const {
  if (dynamic_cast<BinaryAccuracy*>(impl_.get())) return "binary_accuracy";
  if (dynamic_cast<SparseCategoricalAccuracy*>(impl_.get())) return "sparse_categorical_accuracy";
  if (dynamic_cast<CategoricalAccuracy*>(impl_.get())) return "categorical_accuracy";
  return "";
}

// ---- confusion counts ----------------------------------------------------------------------------

void ConfusionCounts::resize(size_t n) {
  tp.assign(n, 0.0);
  fp.assign(n, 0.0);
  tn.assign(n, 0.0);
  fn.assign(n, 0.0);
}

void ConfusionCounts::clear() { resize(tp.size()); }

std::vector<double> ConfusionCounts::flat() const {
  std::vector<double> v;
  for (const auto* part : {&tp, &fp, &tn, &fn}) v.insert(v.end(), part->begin(), part->end());
  return v;
}

void ConfusionCounts::set_flat(const std::vector<double>& values, const std::string& who) {
  const size_t n = tp.size();
  LOOM_CHECK(values.size() == 4 * n, "metric '{}': a saved state of {} numbers, expected {}", who,
             values.size(), 4 * n);
  for (size_t k = 0; k < 4; ++k) {
    std::vector<double>& part = k == 0 ? tp : k == 1 ? fp : k == 2 ? tn : fn;
    part.assign(values.begin() + static_cast<long>(k * n),
                values.begin() + static_cast<long>((k + 1) * n));
  }
}

void Metric::set_state(const std::vector<double>& state) {
  LOOM_CHECK(state.empty(), "metric '{}': it keeps no state, but was given {} numbers", name(),
             state.size());
}

void set_pair_state(const Metric& metric, const std::vector<double>& state, double& first,
                    double& second) {
  LOOM_CHECK(state.size() == 2, "metric '{}': a saved state of {} numbers, expected 2",
             metric.name(), state.size());
  first = state[0];
  second = state[1];
}

void Mean::set_state(const std::vector<double>& state) {
  set_pair_state(*this, state, total_, count_);
}

std::vector<double> Accuracy::state() const {
  const std::string kind = resolved();
  const double code = kind.empty() ? 0 : kind == "binary_accuracy" ? 1
                      : kind == "sparse_categorical_accuracy"      ? 2
                                                                   : 3;
  std::vector<double> v{code};
  if (impl_) {
    const std::vector<double> inner = impl_->state();
    v.insert(v.end(), inner.begin(), inner.end());
  }
  return v;
}

void Accuracy::set_state(const std::vector<double>& state) {
  LOOM_CHECK(!state.empty() && state[0] >= 0 && state[0] <= 3,
             "metric '{}': a saved state must start with its kind (0-3)", name());
  const int code = static_cast<int>(state[0]);
  if (code == 0) impl_.reset();
  else if (code == 1) impl_ = std::make_unique<BinaryAccuracy>(name());
  else if (code == 2) impl_ = std::make_unique<SparseCategoricalAccuracy>(name());
  else impl_ = std::make_unique<CategoricalAccuracy>(name());
  const std::vector<double> inner(state.begin() + 1, state.end());
  if (impl_) impl_->set_state(inner);
  else Metric::set_state(inner);
}

void ConfusionCounts::update(const std::vector<double>& thresholds, const Tensor& y_true,
                             const Tensor& y_pred, const Tensor& sample_weight, const char* who) {
  LOOM_CHECK(y_true.defined() && y_pred.defined(), "{}: update() needs y_true and y_pred", who);
  LOOM_CHECK(y_true.numel() == y_pred.numel(),
             "{}: y_true of shape {} does not match y_pred of shape {}", who,
             shape_str(y_true.shape()), shape_str(y_pred.shape()));
  const int64_t n = samples_of(y_pred);
  if (n == 0) return;
  const int64_t k = y_pred.numel() / n;  // outputs per sample, each counted
  std::vector<double> t = y_true.to_vector<double>(), p = y_pred.to_vector<double>();
  std::vector<double> w = sample_weights(sample_weight, n, who);
  // Keras asserts the same (thresholds only make sense for probabilities).
  for (size_t e = 0; e < p.size(); ++e)
    LOOM_CHECK(p[e] >= 0.0 && p[e] <= 1.0,
               "{}: predictions must be probabilities in [0, 1], got {} at element {} of y_pred {}",
               who, p[e], e, shape_str(y_pred.shape()));
  if (thresholds.size() == 1) {
    const double thr = thresholds[0];
    for (size_t e = 0; e < p.size(); ++e) {
      double we = w[e / static_cast<size_t>(k)];
      bool pos = t[e] != 0.0, pred = p[e] > thr;  // Keras casts labels to bool
      (pos ? (pred ? tp[0] : fn[0]) : (pred ? fp[0] : tn[0])) += we;
    }
    return;
  }
  // Many sorted thresholds: a prediction is above thresholds[0..j) for the
  // first j with p <= thresholds[j]; histogram those cut points, then sum.
  const size_t m = thresholds.size();
  std::vector<double> pos_at(m + 1, 0.0), neg_at(m + 1, 0.0);
  double pos_total = 0.0, neg_total = 0.0;
  for (size_t e = 0; e < p.size(); ++e) {
    double we = w[e / static_cast<size_t>(k)];
    // Number of thresholds strictly below p[e].
    size_t above = static_cast<size_t>(std::lower_bound(thresholds.begin(), thresholds.end(), p[e]) -
                                       thresholds.begin());
    if (t[e] != 0.0) {
      pos_at[above] += we;
      pos_total += we;
    } else {
      neg_at[above] += we;
      neg_total += we;
    }
  }
  // tp[i] = weight of positives with p > thresholds[i] = sum over above > i.
  double pos_above = 0.0, neg_above = 0.0;
  for (size_t i = m; i-- > 0;) {
    pos_above += pos_at[i + 1];
    neg_above += neg_at[i + 1];
    tp[i] += pos_above;
    fp[i] += neg_above;
    fn[i] += pos_total - pos_above;
    tn[i] += neg_total - neg_above;
  }
}

// ---- precision, recall, AUC -------------------------------------------------------------------

Precision::Precision(std::string name, double threshold)
    : Metric(std::move(name)), thresholds_{threshold} {
  counts_.resize(1);
}

void Precision::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  counts_.update(thresholds_, y_true, y_pred, sample_weight, name().c_str());
}

double Precision::result() const {
  double d = counts_.tp[0] + counts_.fp[0];
  return d == 0.0 ? 0.0 : counts_.tp[0] / d;
}

Recall::Recall(std::string name, double threshold) : Metric(std::move(name)), thresholds_{threshold} {
  counts_.resize(1);
}

void Recall::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  counts_.update(thresholds_, y_true, y_pred, sample_weight, name().c_str());
}

double Recall::result() const {
  double d = counts_.tp[0] + counts_.fn[0];
  return d == 0.0 ? 0.0 : counts_.tp[0] / d;
}

AUC::AUC(std::string name, int num_thresholds) : Metric(std::move(name)) {
  LOOM_CHECK(num_thresholds > 1, "AUC: num_thresholds must be > 1, got {}", num_thresholds);
  // Keras: the end points sit just outside [0, 1] so that predictions of
  // exactly 0 or 1 land inside the curve.
  constexpr double kEpsilon = 1e-7;
  thresholds_.push_back(0.0 - kEpsilon);
  for (int i = 1; i < num_thresholds - 1; ++i)
    thresholds_.push_back(static_cast<double>(i) / (num_thresholds - 1));
  thresholds_.push_back(1.0 + kEpsilon);
  counts_.resize(thresholds_.size());
}

void AUC::update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  counts_.update(thresholds_, y_true, y_pred, sample_weight, name().c_str());
}

double AUC::result() const {
  auto ratio = [](double a, double b) { return b == 0.0 ? 0.0 : a / b; };  // divide_no_nan
  const size_t m = thresholds_.size();
  double area = 0.0;
  for (size_t i = 0; i + 1 < m; ++i) {
    double tpr0 = ratio(counts_.tp[i], counts_.tp[i] + counts_.fn[i]);
    double tpr1 = ratio(counts_.tp[i + 1], counts_.tp[i + 1] + counts_.fn[i + 1]);
    double fpr0 = ratio(counts_.fp[i], counts_.fp[i] + counts_.tn[i]);
    double fpr1 = ratio(counts_.fp[i + 1], counts_.fp[i + 1] + counts_.tn[i + 1]);
    area += (fpr0 - fpr1) * (tpr0 + tpr1) / 2.0;
  }
  return area;
}

// ---- by name ----------------------------------------------------------------------------------------

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {
      "accuracy", "acc", "binary_accuracy", "sparse_categorical_accuracy", "categorical_accuracy",
      "auc", "precision", "recall"};
  return names;
}

MetricPtr make_metric(const std::string& name, const std::string& loss) {
  if (name == "accuracy" || name == "acc") return std::make_shared<Accuracy>(name, loss);
  if (name == "binary_accuracy") return std::make_shared<BinaryAccuracy>(name);
  if (name == "sparse_categorical_accuracy") return std::make_shared<SparseCategoricalAccuracy>(name);
  if (name == "categorical_accuracy") return std::make_shared<CategoricalAccuracy>(name);
  if (name == "auc") return std::make_shared<AUC>(name);
  if (name == "precision") return std::make_shared<Precision>(name);
  if (name == "recall") return std::make_shared<Recall>(name);
  fail("unknown metric '{}'; valid metrics: {}", name, fmt::join(metric_names(), ", "));
}

}  // namespace loom
