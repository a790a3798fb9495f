// Streaming metrics with Keras 2 semantics (tf.keras.metrics.*): each keeps
// running totals over the batches passed to update() until reset(), and
// result() reads the value so far.
//
//   y_true: (N) or (N, 1) labels; sparse categorical: (N) integer classes
//   y_pred: (N) / (N, 1) probabilities; categorical: (N, C) scores
//   sample_weight: (N) or undefined (every sample weighs 1)
//
// Values are read from any dtype and accumulated in double.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom {

class Metric {
 public:
  explicit Metric(std::string name) : name_(std::move(name)) {}
  virtual ~Metric() = default;
  // The key in logs and History ("accuracy", "auc", ...).
  const std::string& name() const { return name_; }
  virtual void update(const Tensor& y_true, const Tensor& y_pred,
                      const Tensor& sample_weight = Tensor()) = 0;
  virtual double result() const = 0;
  virtual void reset() = 0;
  // The running totals as numbers, and back: fit() keeps them in its backups
  // so that a run resumed mid-epoch reports the epoch as a whole. A custom
  // metric without totals to keep need not override these.
  virtual std::vector<double> state() const { return {}; }
  virtual void set_state(const std::vector<double>& state);

 private:
  std::string name_;
};

using MetricPtr = std::shared_ptr<Metric>;

// Sets a metric's two totals from its state(), checking the length.
void set_pair_state(const Metric& metric, const std::vector<double>& state, double& first,
                    double& second);

// Weighted mean of scalar values (the "loss" entry of the logs: Keras adds
// each batch's loss with the batch size as its weight).
class Mean : public Metric {
 public:
  explicit Mean(std::string name = "mean") : Metric(std::move(name)) {}
  void add(double value, double weight = 1.0);
  // Adds every element of `values` (weighted by sample_weight when given).
  void update(const Tensor& values, const Tensor& unused, const Tensor& sample_weight) override;
  double result() const override { return count_ == 0 ? 0.0 : total_ / count_; }
  void reset() override { total_ = count_ = 0.0; }
  std::vector<double> state() const override { return {total_, count_}; }
  void set_state(const std::vector<double>& state) override;

 private:
  double total_ = 0.0, count_ = 0.0;
};

// Fraction of samples with (y_pred > threshold) == y_true.
class BinaryAccuracy : public Metric {
 public:
  explicit BinaryAccuracy(std::string name = "binary_accuracy", double threshold = 0.5)
      : Metric(std::move(name)), threshold_(threshold) {}
  void update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) override;
  double result() const override { return count_ == 0 ? 0.0 : correct_ / count_; }
  void reset() override { correct_ = count_ = 0.0; }
  std::vector<double> state() const override { return {correct_, count_}; }
  void set_state(const std::vector<double>& state) override {
    set_pair_state(*this, state, correct_, count_);
  }

 private:
  double threshold_;
  double correct_ = 0.0, count_ = 0.0;
};

// Fraction of samples whose argmax over the last axis of y_pred equals the
// integer label y_true (N) or (N, 1). Ties go to the first maximum.
class SparseCategoricalAccuracy : public Metric {
 public:
  explicit SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy")
      : Metric(std::move(name)) {}
  void update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) override;
  double result() const override { return count_ == 0 ? 0.0 : correct_ / count_; }
  void reset() override { correct_ = count_ = 0.0; }
  std::vector<double> state() const override { return {correct_, count_}; }
  void set_state(const std::vector<double>& state) override {
    set_pair_state(*this, state, correct_, count_);
  }

 private:
  double correct_ = 0.0, count_ = 0.0;
};

// Fraction of samples whose argmax of y_pred equals the argmax of the
// one-hot y_true (both (N, C)).
class CategoricalAccuracy : public Metric {
 public:
  explicit CategoricalAccuracy(std::string name = "categorical_accuracy") : Metric(std::move(name)) {}
  void update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) override;
  double result() const override { return count_ == 0 ? 0.0 : correct_ / count_; }
  void reset() override { correct_ = count_ = 0.0; }
  std::vector<double> state() const override { return {correct_, count_}; }
  void set_state(const std::vector<double>& state) override {
    set_pair_state(*this, state, correct_, count_);
  }

 private:
  double correct_ = 0.0, count_ = 0.0;
};

// "accuracy" as Keras 2's compile() resolves it from the shapes of the first
// batch: binary when y_pred's last axis is 1 (or y_pred is 1-D), sparse
// categorical when y_true has fewer axes than y_pred or a last axis of 1,
// categorical (one-hot y_true) otherwise. A loss name, when known, decides
// first: binary_crossentropy* -> binary, sparse_categorical_crossentropy* ->
// sparse categorical.
class Accuracy : public Metric {
 public:
  explicit Accuracy(std::string name = "accuracy", const std::string& loss = "");
  void update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) override;
  double result() const override { return impl_ ? impl_->result() : 0.0; }
  void reset() override {
    if (impl_) impl_->reset();
  }
  // {kind (0 unresolved, 1 binary, 2 sparse categorical, 3 categorical), totals...}
  std::vector<double> state() const override;
  void set_state(const std::vector<double>& state) override;
  // "binary_accuracy", "sparse_categorical_accuracy", "categorical_accuracy",
  // or "" until the first update decides.
  std::string resolved() const;

 private:
  std::unique_ptr<Metric> impl_;
};

// Binary confusion counts at one or more thresholds (a prediction above the
// threshold is positive), as Keras's metrics_utils.update_confusion_matrix_variables.
struct ConfusionCounts {
  std::vector<double> tp, fp, tn, fn;  // one entry per threshold
  void resize(size_t n);
  void clear();
  // tp, fp, tn, fn one after another, and back (checks the length).
  std::vector<double> flat() const;
  void set_flat(const std::vector<double>& values, const std::string& who);
  void update(const std::vector<double>& thresholds, const Tensor& y_true, const Tensor& y_pred,
              const Tensor& sample_weight, const char* who);
};

// tp / (tp + fp) at `threshold` (0 when nothing is predicted positive).
class Precision : public Metric {
 public:
  explicit Precision(std::string name = "precision", double threshold = 0.5);
  void update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset() override { counts_.clear(); }
  std::vector<double> state() const override { return counts_.flat(); }
  void set_state(const std::vector<double>& state) override { counts_.set_flat(state, name()); }

 private:
  std::vector<double> thresholds_;
  ConfusionCounts counts_;
};

// tp / (tp + fn) at `threshold` (0 when there is no positive label).
class Recall : public Metric {
 public:
  explicit Recall(std::string name = "recall", double threshold = 0.5);
  void update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset() override { counts_.clear(); }
  std::vector<double> state() const override { return counts_.flat(); }
  void set_state(const std::vector<double>& state) override { counts_.set_flat(state, name()); }

 private:
  std::vector<double> thresholds_;
  ConfusionCounts counts_;
};

// Area under the ROC curve, Keras's AUC(curve="ROC",
// summation_method="interpolation"): confusion counts at num_thresholds
// thresholds, 0 - 1e-7, i/(num_thresholds-1) for i = 1..num_thresholds-2,
// and 1 + 1e-7; then the trapezoidal sum over consecutive thresholds of
// (fpr[i] - fpr[i+1]) * (tpr[i] + tpr[i+1]) / 2. The approximation error
// shrinks as num_thresholds grows; predictions are expected in [0, 1].
class AUC : public Metric {
 public:
  explicit AUC(std::string name = "auc", int num_thresholds = 200);
  void update(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) override;
  double result() const override;
  void reset() override { counts_.clear(); }
  std::vector<double> state() const override { return counts_.flat(); }
  void set_state(const std::vector<double>& state) override { counts_.set_flat(state, name()); }
  const std::vector<double>& thresholds() const { return thresholds_; }

 private:
  std::vector<double> thresholds_;
  ConfusionCounts counts_;
};

// Metric by its compile() name: "accuracy"/"acc" (resolved with `loss`,
// see Accuracy), "binary_accuracy", "sparse_categorical_accuracy",
// "categorical_accuracy", "auc", "precision", "recall". The metric is
// named as given (Keras keys "acc" as "acc"). Unknown names throw listing
// the valid ones.
MetricPtr make_metric(const std::string& name, const std::string& loss = "");
const std::vector<std::string>& metric_names();

}  // namespace loom
