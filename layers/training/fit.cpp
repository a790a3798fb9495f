// Model::compile / fit / evaluate / predict with Keras 2 semantics.
//
// One training step on a batch (B samples):
//   zero every parameter's gradient
//   y_pred = model(x_batch, training = true)
//   loss   = sum_i w_i * l_i / B  (+ the layers' regularization losses)
//            l_i the per-sample loss, w_i from class_weight (else 1): Keras's
//            sum_over_batch_size reduction
//   loss.backward(); optimizer.step(parameters)
//   logs["loss"] = mean of the batch losses weighted by B; metrics stream on
//   (unweighted, as Keras's `metrics`, which ignore sample weights).
// Shuffling of epoch e and the dropout of its step s draw from generators
// seeded by (FitOptions::seed, e) and (seed, e, s), so equal seeds give
// bit-identical weights on one machine, and resuming (initial_epoch, or a
// backup taken mid-epoch: layers/training/backup.h) repeats an
// uninterrupted run.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <optional>

#include "loom/autograd/splitmix64.h"
#include "loom/autograd/tape.h"
#include "loom/distributed/distributed.h"
#include "loom/layers/training/callbacks.h"
#include "loom/layers/training/data_parallel.h"
#include "loom/layers/training/metrics.h"
#include "loom/layers/training/model.h"
#include "loom/layers/training/progress.h"
#include "loom/optim/optimizer.h"

namespace loom {

namespace {

// ---- losses by name -------------------------------------------------------------------------

enum class LossKind { bce, bce_logits, scce, scce_logits, mse };

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names = {
      "binary_crossentropy", "binary_crossentropy_from_logits", "sparse_categorical_crossentropy",
      "sparse_categorical_crossentropy_from_logits", "mse", "mean_squared_error"};
  return names;
}

LossKind parse_loss(const std::string& name) {
  if (name == "binary_crossentropy") return LossKind::bce;
  if (name == "binary_crossentropy_from_logits") return LossKind::bce_logits;
  if (name == "sparse_categorical_crossentropy") return LossKind::scce;
  if (name == "sparse_categorical_crossentropy_from_logits") return LossKind::scce_logits;
  if (name == "mse" || name == "mean_squared_error") return LossKind::mse;
  fail("compile: unknown loss '{}'; valid losses: {}", name, fmt::join(loss_names(), ", "));
}

bool is_sparse(LossKind k) { return k == LossKind::scce || k == LossKind::scce_logits; }

// Targets shaped and typed for the loss. Element-wise losses want y_pred's
// shape and dtype ((N) labels against (N, 1) predictions are reshaped);
// sparse ones want (N) integer labels.
Tensor prepare_targets(LossKind kind, const std::string& loss_name, const Tensor& y_pred,
                       const Tensor& y) {
  if (is_sparse(kind)) {
    const int64_t rows = y_pred.ndim() == 0 ? 1 : y_pred.numel() / y_pred.dim(-1);
    LOOM_CHECK(y_pred.ndim() >= 2 && y.numel() == rows,
               "loss {}: labels of shape {} need one class id per row of predictions of shape {}",
               loss_name, shape_str(y.shape()), shape_str(y_pred.shape()));
    Shape label_shape(y_pred.shape().begin(), y_pred.shape().end() - 1);
    Tensor labels = y.reshape(label_shape);
    // Keras casts float labels to integers.
    return is_floating(labels.dtype()) ? labels.to(DType::i64) : labels;
  }
  LOOM_CHECK(y.numel() == y_pred.numel(),
             "loss {}: targets of shape {} do not match predictions of shape {}", loss_name,
             shape_str(y.shape()), shape_str(y_pred.shape()));
  Tensor t = y.shape() == y_pred.shape() ? y : y.reshape(y_pred.shape());
  return t.dtype() == y_pred.dtype() ? t : t.to(y_pred.dtype());
}

// Binary cross-entropy targets are probabilities: a label of 2 would train
// on a meaningless loss, so every element of y is checked once, naming its
// index in the caller's y. (A NaN is left to the non-finite loss check, which
// TerminateOnNaN can turn into a quiet stop.)
void check_targets(LossKind kind, const std::string& loss_name, const Tensor& y, const char* who) {
  if (!y.defined() || (kind != LossKind::bce && kind != LossKind::bce_logits)) return;
  const std::vector<double> v = y.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    LOOM_CHECK(!(v[i] < 0.0 || v[i] > 1.0),
               "{}: {} targets must be in [0, 1], but y[{}] is {} (y of shape {})", who, loss_name, i,
               v[i], shape_str(y.shape()));
}

// Per-sample losses (N) for predictions (N, ...).
Tensor per_sample_loss(LossKind kind, const Tensor& y_pred, const Tensor& target) {
  // A 1-D prediction is one output per sample, not one sample of N outputs.
  Tensor p = y_pred.ndim() == 1 ? y_pred.reshape({y_pred.dim(0), 1}) : y_pred;
  Tensor t = (!is_sparse(kind) && target.ndim() == 1) ? target.reshape({target.dim(0), 1}) : target;
  switch (kind) {
    case LossKind::bce: return binary_cross_entropy(p, t, Reduction::none);
    case LossKind::bce_logits: return binary_cross_entropy_with_logits(p, t, Reduction::none);
    case LossKind::scce: return sparse_categorical_cross_entropy(p, t, false, Reduction::none);
    case LossKind::scce_logits: return sparse_categorical_cross_entropy(p, t, true, Reduction::none);
    case LossKind::mse: return mean_squared_error(p, t, Reduction::none);
  }
  fail("unreachable loss kind");
}

// What metrics see: probabilities, also when the model outputs logits.
Tensor metric_predictions(LossKind kind, const Tensor& y_pred) {
  if (kind == LossKind::bce_logits) return sigmoid(y_pred);
  if (kind == LossKind::scce_logits) return softmax(y_pred, -1);
  return y_pred;
}

// ---- data ------------------------------------------------------------------------------------------

int64_t samples_of(const Tensor& t) { return t.ndim() == 0 ? 1 : t.dim(0); }

// Samples shared by every x and y; throws naming the shapes that disagree.
int64_t check_samples(const std::vector<Tensor>& x, const Tensor* y, const char* who) {
  LOOM_CHECK(!x.empty(), "{}: x is empty (give one tensor per model input)", who);
  for (size_t i = 0; i < x.size(); ++i) {
    LOOM_CHECK(x[i].defined(), "{}: x[{}] is undefined", who, i);
    LOOM_CHECK(x[i].ndim() >= 1, "{}: x[{}] is a scalar; the first axis counts samples", who, i);
  }
  const int64_t n = x[0].dim(0);
  for (size_t i = 1; i < x.size(); ++i)
    LOOM_CHECK(x[i].dim(0) == n,
               "{}: x[0] of shape {} has {} samples but x[{}] of shape {} has {}", who,
               shape_str(x[0].shape()), n, i, shape_str(x[i].shape()), x[i].dim(0));
  if (y) {
    LOOM_CHECK(y->defined(), "{}: y is undefined", who);
    LOOM_CHECK(samples_of(*y) == n, "{}: x of shape {} has {} samples but y of shape {} has {}", who,
               shape_str(x[0].shape()), n, shape_str(y->shape()), samples_of(*y));
  }
  return n;
}

// Rows idx[0..n) of a contiguous tensor (first axis), as a new tensor.
Tensor take_rows(const Tensor& src, const int64_t* idx, int64_t n) {
  LOOM_CHECK(src.device().kind == DeviceKind::cpu, "take_rows: expects host data, got {}",
             src.device().str());
  Shape shape = src.shape();
  shape[0] = n;
  Tensor out = Tensor::empty(shape, src.dtype());
  const size_t row = static_cast<size_t>(src.dim(0) == 0 ? 0 : src.numel() / src.dim(0)) *
                     dtype_size(src.dtype());
  const char* s = static_cast<const char*>(src.raw_data());
  char* d = static_cast<char*>(out.raw_data());
  for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * row, s + idx[i] * row, row);
  return out;
}

// Rows [start, stop) as a contiguous tensor (a view when t already is one).
Tensor rows(const Tensor& t, int64_t start, int64_t stop) {
  return t.detach().slice(0, start, stop).contiguous();
}

// An independent stream per (seed, epoch, purpose).
uint64_t epoch_seed(uint64_t seed, int epoch, uint64_t purpose) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ purpose);
}

// The dropout stream of one training step: a function of its position only,
// so a run resumed at any step draws what the uninterrupted run drew.
uint64_t step_seed(uint64_t seed, int epoch, int64_t step) {
  return splitmix64(epoch_seed(seed, epoch, 2) ^ splitmix64(static_cast<uint64_t>(step) + 1));
}

// Fisher-Yates with our own index draws: std::shuffle's algorithm differs
// between standard libraries, this does not.
std::vector<int64_t> permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(gen.engine()() % static_cast<uint64_t>(i + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

// Keras class_weight: each sample weighs class_weight[its class]; the class
// is the label ((N) or (N, 1), truncated to an integer) or the argmax of a
// one-hot row.
std::vector<double> class_sample_weights(const Tensor& y, const std::map<int64_t, double>& cw) {
  const int64_t n = samples_of(y);
  std::vector<double> v = y.to_vector<double>();
  const int64_t width = n == 0 ? 1 : static_cast<int64_t>(v.size()) / n;
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t cls;
    if (width > 1) {
      const double* row = v.data() + i * width;
      cls = std::max_element(row, row + width) - row;
    } else {
      cls = static_cast<int64_t>(v[static_cast<size_t>(i)]);
    }
    auto it = cw.find(cls);
    if (it == cw.end()) {
      std::vector<int64_t> keys;
      for (const auto& [k, x] : cw) keys.push_back(k);
      fail("fit: class_weight has no entry for class {} (sample {}); its classes: {}", cls, i,
           fmt::join(keys, ", "));
    }
    w[static_cast<size_t>(i)] = it->second;
  }
  return w;
}

// ---- one forward pass with its loss --------------------------------------------------------------

struct StepResult {
  Tensor loss;    // scalar, on the tape when training
  Tensor y_pred;  // the model's single output
};

// The loss divides by `divisor` samples (0: this batch's): a data-parallel
// rank divides its share by the global batch, and adds the regularization
// losses only on rank 0, so the ranks' gradients sum to one process's.
StepResult forward_loss(Model& model, LossKind kind, const std::string& loss_name,
                        const std::vector<Tensor>& xb, const Tensor& yb, const Tensor& wb,
                        bool training, double divisor = 0, bool with_regularization = true) {
  CallContext ctx;
  ctx.training = training;
  // Float inputs follow the model to its device (integer ids stay: Embedding
  // checks them on the host and moves them itself).
  const Device dev = model.device();
  std::vector<Tensor> inputs = xb;
  for (Tensor& x : inputs)
    if (is_floating(x.dtype()) && x.device() != dev) x = x.to(dev);
  LayerOutput out = model(inputs, {}, ctx);
  LOOM_CHECK(out.size() == 1, "fit/evaluate: model '{}' has {} outputs; training supports one",
             model.name(), out.size());
  StepResult r;
  r.y_pred = out.tensors[0];
  LOOM_CHECK(is_floating(r.y_pred.dtype()), "loss {}: model '{}' outputs {} {}, expected floats",
             loss_name, model.name(), dtype_name(r.y_pred.dtype()), shape_str(r.y_pred.shape()));
  Tensor target = prepare_targets(kind, loss_name, r.y_pred, yb);
  Tensor per = per_sample_loss(kind, r.y_pred, target);  // (B)
  const double count =
      divisor > 0 ? divisor : static_cast<double>(std::max<int64_t>(per.numel(), 1));
  if (wb.defined())
    r.loss = div(sum(mul(per, wb.reshape(per.shape()).to(per.dtype()).to(per.device()))), count);
  else
    r.loss = divisor > 0 ? div(sum(per), count) : mean(per);
  if (!with_regularization) return r;
  for (const Tensor& reg : model.losses()) {
    Tensor s = reg.numel() == 1 ? reg.reshape({}) : sum(reg);
    r.loss = add(r.loss, s.dtype() == r.loss.dtype() ? s : s.to(r.loss.dtype()));
  }
  return r;
}

std::vector<MetricPtr> make_metrics(const CompileOptions& o) {
  std::vector<MetricPtr> ms;
  for (const auto& name : o.metrics) ms.push_back(make_metric(name, o.loss));
  return ms;
}

Logs results(const Mean& loss, const std::vector<MetricPtr>& metrics, const std::string& prefix = "") {
  Logs logs;
  logs[prefix + "loss"] = loss.result();
  for (const auto& m : metrics) logs[prefix + m->name()] = m->result();
  return logs;
}

// The last callback: records every epoch's logs.
class HistoryRecorder : public Callback {
 public:
  History history;
  void on_epoch_end(int, Logs& logs) override {
    for (const auto& [k, v] : logs) history.history[k].push_back(v);
    ++history.epochs_run;
  }
};

void run_callbacks(const std::vector<CallbackPtr>& cbs, const std::function<void(Callback&)>& f) {
  for (const auto& cb : cbs) f(*cb);
}

}  // namespace

// ---- compile -----------------------------------------------------------------------------------------

void Model::compile(const CompileOptions& options) {
  LOOM_CHECK(!options.loss.empty(), "compile: model '{}' needs a loss; valid losses: {}", name(),
             fmt::join(loss_names(), ", "));
  parse_loss(options.loss);
  for (const auto& m : options.metrics) make_metric(m, options.loss);  // names are checked now
  if (options.optimizer_object) {
    optimizer_ = options.optimizer_object;
  } else {
    optimizer_ = std::shared_ptr<Optimizer>(make_optimizer(options.optimizer));
  }
  compile_options_ = options;
  compile_options_.optimizer_object = optimizer_;
  compiled_ = true;
}

DynamicLossScale* Model::loss_scale() {
  if (!loss_scale_ && computes_in(DType::f16)) loss_scale_ = std::make_shared<DynamicLossScale>();
  return loss_scale_.get();
}

// ---- evaluation over batches -----------------------------------------------------------------------------

namespace {

// With a data-parallel `dp`, each rank evaluates its share of the rows and
// the totals are summed over ranks.
Logs evaluate_batches(Model& model, const CompileOptions& co, const std::vector<Tensor>& x,
                      const Tensor& y, int64_t batch_size, const std::string& prefix,
                      ProgressBar* bar, const DataParallel& dp = DataParallel()) {
  const LossKind kind = parse_loss(co.loss);
  const int64_t n_all = check_samples(x, &y, prefix.empty() ? "evaluate" : "fit (validation data)");
  const BatchShare mine = dp.share(n_all);
  const int64_t first = mine.begin, n = mine.begin + mine.count;
  NoGradGuard no_grad;
  Mean loss_mean("loss");
  std::vector<MetricPtr> metrics = make_metrics(co);
  int64_t steps = 0;
  for (int64_t start = first; start < n; start += batch_size) {
    const int64_t stop = std::min(n, start + batch_size);
    std::vector<Tensor> xb;
    for (const auto& t : x) xb.push_back(rows(t, start, stop));
    Tensor yb = rows(y, start, stop);
    StepResult r = forward_loss(model, kind, co.loss, xb, yb, Tensor(), false);
    loss_mean.add(r.loss.item(), static_cast<double>(stop - start));
    Tensor probs = metric_predictions(kind, r.y_pred);
    for (auto& m : metrics) m->update(yb, probs);
    ++steps;
    if (bar) bar->update(stop, steps, ordered_logs(results(loss_mean, metrics)));
  }
  std::vector<Metric*> totals{&loss_mean};
  for (const auto& m : metrics) totals.push_back(m.get());
  dp.sum_states(totals);
  Logs logs = results(loss_mean, metrics, prefix);
  if (bar) bar->finish(n, steps, ordered_logs(logs));
  return logs;
}

}  // namespace

std::map<std::string, double> Model::evaluate(const std::vector<Tensor>& x, const Tensor& y,
                                              int64_t batch_size, int verbose) {
  LOOM_CHECK(compiled_, "evaluate: model '{}' is not compiled; call compile() first", name());
  LOOM_CHECK(batch_size > 0, "evaluate: batch_size must be positive, got {}", batch_size);
  const int64_t n = check_samples(x, &y, "evaluate");
  check_targets(parse_loss(compile_options_.loss), compile_options_.loss, y, "evaluate");
  std::unique_ptr<ProgressBar> bar;
  if (verbose > 0)
    bar = std::make_unique<ProgressBar>(n, std::cout, verbose == 1 && stdout_is_terminal(), "Evaluate");
  return evaluate_batches(*this, compile_options_, x, y, batch_size, "", bar.get());
}

std::map<std::string, double> Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size,
                                              int verbose) {
  return evaluate(std::vector<Tensor>{x}, y, batch_size, verbose);
}

// ---- predict ------------------------------------------------------------------------------------------------

std::vector<Tensor> Model::predict(const std::vector<Tensor>& x, int64_t batch_size) {
  LOOM_CHECK(batch_size > 0, "predict: batch_size must be positive, got {}", batch_size);
  const int64_t n = check_samples(x, nullptr, "predict");
  LOOM_CHECK(n > 0, "predict: x of shape {} has no samples", shape_str(x[0].shape()));
  NoGradGuard no_grad;
  std::vector<std::vector<Tensor>> pieces;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t stop = std::min(n, start + batch_size);
    std::vector<Tensor> xb;
    for (const auto& t : x) {
      Tensor r = rows(t, start, stop);
      if (is_floating(r.dtype()) && r.device() != device()) r = r.to(device());  // as in fit
      xb.push_back(r);
    }
    CallContext ctx;
    ctx.record_losses = false;  // reads the model only: callable from many threads at once
    LayerOutput out = (*this)(xb, {}, ctx);
    if (pieces.empty()) pieces.resize(out.size());
    for (size_t k = 0; k < out.size(); ++k) pieces[k].push_back(out.tensors[k]);
  }
  std::vector<Tensor> result;
  // On the host, as Keras returns NumPy arrays (one transfer per output).
  for (auto& p : pieces) result.push_back((p.size() == 1 ? p[0] : concat(p, 0)).cpu());
  return result;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  std::vector<Tensor> out = predict(std::vector<Tensor>{x}, batch_size);
  LOOM_CHECK(out.size() == 1, "predict: model '{}' has {} outputs; use the vector overload", name(),
             out.size());
  return out[0];
}

// ---- fit ------------------------------------------------------------------------------------------------------

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  return fit(std::vector<Tensor>{x}, y, options);
}

namespace {

// What fit trains and validates on. Training rows are contiguous on the host
// (batches are gathered from them as row copies).
struct FitData {
  std::vector<Tensor> train_x, val_x;  // val_x empty: no validation
  Tensor train_y, val_y;
  int64_t n_train = 0;
  Tensor weights;  // (n_train) per-sample class weights, or undefined
};

// Training and validation data: explicit, or the last fraction (before
// shuffling, as Keras).
FitData split_validation(const std::vector<Tensor>& x, const Tensor& y, int64_t n,
                         const FitOptions& o) {
  FitData d;
  d.train_x = x;
  d.train_y = y;
  d.n_train = n;
  if (!o.validation_x.empty()) {
    LOOM_CHECK(o.validation_x.size() == x.size(), "fit: validation_x has {} tensors but x has {}",
               o.validation_x.size(), x.size());
    check_samples(o.validation_x, &o.validation_y, "fit (validation data)");
    d.val_x = o.validation_x;
    d.val_y = o.validation_y;
  } else if (o.validation_split > 0.0) {
    d.n_train = static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - o.validation_split)));
    LOOM_CHECK(d.n_train > 0 && d.n_train < n,
               "fit: validation_split {} of {} samples leaves {} for training and {} for validation",
               o.validation_split, n, d.n_train, n - d.n_train);
    d.train_x.clear();
    for (const auto& t : x) {
      d.train_x.push_back(t.detach().slice(0, 0, d.n_train));
      d.val_x.push_back(t.detach().slice(0, d.n_train, n));
    }
    d.train_y = y.detach().slice(0, 0, d.n_train);
    d.val_y = y.detach().slice(0, d.n_train, n);
  }
  return d;
}

FitData prepare_fit_data(const std::vector<Tensor>& x, const Tensor& y, int64_t n,
                         const FitOptions& o) {
  FitData d = split_validation(x, y, n, o);
  LOOM_CHECK(d.n_train > 0, "fit: no training samples (x of shape {})", shape_str(x[0].shape()));
  // Contiguous once, so that gathering a batch is a row copy.
  // Batches are gathered on the host (and moved to the model's device per
  // batch), so data given on a GPU comes over once here.
  for (auto& t : d.train_x) t = t.detach().cpu().contiguous();
  d.train_y = d.train_y.detach().cpu().contiguous();
  std::vector<double> weights;
  if (!o.class_weight.empty()) weights = class_sample_weights(d.train_y, o.class_weight);
  d.weights = weights.empty() ? Tensor() : Tensor::from_vector(weights);
  return d;
}

// Callbacks: progress bar first, the user's, History last (Keras order).
std::vector<CallbackPtr> fit_callbacks(const FitOptions& o, const CallbackPtr& recorder) {
  std::vector<CallbackPtr> cbs;
  if (o.verbose == 1) cbs.push_back(std::make_shared<ProgbarLogger>());
  if (o.verbose >= 2) cbs.push_back(std::make_shared<ProgbarLogger>(std::cout, false));
  for (const auto& cb : o.callbacks) {
    LOOM_CHECK(cb != nullptr, "fit: a callback is null");
    cbs.push_back(cb);
  }
  cbs.push_back(recorder);
  return cbs;
}

TrainParams train_params(const FitOptions& o, int64_t n_train) {
  TrainParams params;
  params.epochs = o.epochs;
  params.steps = (n_train + o.batch_size - 1) / o.batch_size;
  params.samples = n_train;
  params.batch_size = o.batch_size;
  params.verbose = o.verbose;
  return params;
}

// Sample order of one epoch: a permutation drawn from `gen`, or 0..n-1.
std::vector<int64_t> epoch_order(int64_t n_train, bool shuffle, Generator& gen) {
  if (shuffle) return permutation(n_train, gen);
  std::vector<int64_t> order(static_cast<size_t>(n_train));
  for (int64_t i = 0; i < n_train; ++i) order[static_cast<size_t>(i)] = i;
  return order;
}

// Everything the epochs of one fit() share.
struct FitRun {
  Model& model;
  LossKind kind;
  const FitData& data;
  const std::vector<CallbackPtr>& callbacks;       // all, in call order
  const std::vector<CallbackPtr>& user_callbacks;  // FitOptions::callbacks (their state is backed up)
  const HistoryRecorder& recorder;
  int64_t batch_size;
  bool shuffle;
  uint64_t seed;
  int epochs;
  const BackupOptions& backup;
  DataParallel& dp;  // off: this process alone
};

// Where an epoch starts: from its first batch with empty totals, or where a
// backup left it.
struct EpochStart {
  int64_t step = 0;
  std::vector<double> loss_totals;                 // empty: start from zero
  std::vector<std::vector<double>> metric_totals;
};

// The state a backup taken now holds (`step` batches of `epoch` done).
TrainingState training_state(const FitRun& run, int epoch, int64_t step, bool finished,
                             const Mean& loss, const std::vector<MetricPtr>& metrics) {
  TrainingState s;
  s.epoch = epoch;
  s.step = step;
  s.finished = finished;
  s.seed = run.seed;
  s.batch_size = run.batch_size;
  s.shuffle = run.shuffle;
  s.n_train = run.data.n_train;
  s.epochs = run.epochs;
  s.loss_totals = loss.state();
  for (const auto& m : metrics) s.metric_totals.push_back(m->state());
  for (const auto& cb : run.user_callbacks) s.callbacks.push_back(cb->state());
  for (const auto& [k, v] : run.recorder.history.history) {
    s.history_keys.push_back(k);
    s.history_values.push_back(v);
  }
  s.epochs_run = run.recorder.history.epochs_run;
  return s;
}

// The name of the first parameter whose gradient holds a NaN or an
// infinity, or "" when all are finite (one host sync: the sum of every
// gradient's sum is finite exactly when no gradient holds a NaN or an Inf,
// short of an overflow that is itself a reason to stop).
std::string first_non_finite_gradient(const std::vector<ParameterPtr>& params) {
  NoGradGuard no_grad;
  Tensor total;
  for (const auto& p : params) {
    Tensor g = p->grad();
    if (!g.defined()) continue;
    Tensor s = sum(g.detach()).to(DType::f64).cpu();
    total = total.defined() ? add(total, s) : s;
  }
  if (!total.defined() || std::isfinite(total.item())) return "";
  for (const auto& p : params)
    if (p->grad().defined() && !std::isfinite(sum(p->grad().detach()).to(DType::f64).item()))
      return p->name;
  return "?";
}

// Divides every gradient by the loss scale, in place.
void unscale_gradients(const std::vector<ParameterPtr>& params, double scale) {
  NoGradGuard no_grad;
  for (const auto& p : params) {
    Tensor g = p->grad();
    if (g.defined()) p->value.set_grad(mul(g.detach(), 1.0 / scale));
  }
}

// One optimizer step on a batch of `global_count` samples, of which this
// rank has `xb`, `yb`, `wb` (all of them unless data-parallel; possibly
// none). Returns the loss of the whole batch and this rank's predictions.
// When the loss or a gradient is not finite the step is not taken (weights
// and optimizer slots stay as they were) and `refused` says why; every rank
// decides alike, since both are summed over ranks first. With a loss scale
// (mixed_float16) backward runs on loss * scale, and a non-finite gradient
// is an overflow: the step is skipped and the scale lowered, not refused.
struct TrainStep {
  double loss = 0;
  Tensor y_pred;  // undefined for an empty share
};
TrainStep train_step(Model& model, LossKind kind, const std::vector<Tensor>& xb, const Tensor& yb,
                     const Tensor& wb, int64_t global_count, DataParallel& dp,
                     std::string& refused) {
  Optimizer::zero_grad(model.parameters());
  TrainStep out;
  StepResult r;
  if (yb.numel() > 0 || !dp.on()) {
    r = forward_loss(model, kind, model.compile_options().loss, xb, yb, wb, true,
                     dp.on() ? static_cast<double>(global_count) : 0.0, dp.rank() == 0);
    out.loss = r.loss.item();
    out.y_pred = r.y_pred;
  }
  out.loss = dp.sum(out.loss);
  if (!std::isfinite(out.loss)) {
    refused = fmt::format("the loss is not finite ({})", out.loss);
    return out;
  }
  DynamicLossScale* loss_scale = model.loss_scale();
  const double scale = loss_scale ? loss_scale->scale() : 1.0;
  {
    std::unique_ptr<GradientReadyHook> overlap = dp.watch_backward();
    if (r.loss.defined() && r.loss.requires_grad())
      (loss_scale ? mul(r.loss, scale) : r.loss).backward();
  }
  dp.finish_gradients();
  if (loss_scale) {
    // Finite gradients stay finite when unscaled: one check serves both.
    const bool finite = first_non_finite_gradient(model.parameters()).empty();
    if (!loss_scale->update(finite)) return out;  // overflow: skipped, the scale halved
    unscale_gradients(model.parameters(), scale);
  } else if (std::string name = first_non_finite_gradient(model.parameters()); !name.empty()) {
    refused = fmt::format("the gradient of '{}' is not finite", name);
    return out;
  }
  model.optimizer()->step(model.parameters());
  return out;
}

// A backup after `done` batches of `epoch`. Data-parallel, it holds the
// metric totals summed over ranks (every rank takes part in the sum) and
// rank 0 writes it.
void write_mid_epoch_backup(const FitRun& run, int epoch, int64_t done, const Mean& loss,
                            const std::vector<MetricPtr>& metrics) {
  std::vector<MetricPtr> summed = make_metrics(run.model.compile_options());
  std::vector<Metric*> totals;
  for (size_t i = 0; i < metrics.size(); ++i) {
    summed[i]->set_state(metrics[i]->state());
    totals.push_back(summed[i].get());
  }
  run.dp.sum_states(totals);
  if (run.dp.rank() == 0)
    write_backup(run.model, run.backup, training_state(run, epoch, done, false, loss, summed));
}

bool has_terminate_on_nan(const std::vector<CallbackPtr>& callbacks) {
  for (const auto& cb : callbacks)
    if (std::dynamic_pointer_cast<TerminateOnNaN>(cb)) return true;
  return false;
}

// The batches of epoch `epoch` from `start`; returns the logs after the
// last batch run (training stops early when a callback sets
// model.stop_training). Writes a backup every backup.save_every_steps
// batches, except after the last (the epoch's end writes that one).
Logs train_epoch(const FitRun& run, int epoch, const EpochStart& start_at) {
  Model& model = run.model;
  const FitData& data = run.data;
  Mean loss_mean("loss");
  std::vector<MetricPtr> metrics = make_metrics(model.compile_options());
  if (!start_at.loss_totals.empty()) {
    loss_mean.set_state(start_at.loss_totals);  // the whole batches' losses: the same on every rank
    LOOM_CHECK(start_at.metric_totals.size() == metrics.size(),
               "fit: the backup has totals for {} metrics but the model is compiled with {}",
               start_at.metric_totals.size(), metrics.size());
    // Metric totals are kept per rank and summed at the epoch's end: the
    // saved sums go to rank 0 alone.
    if (run.dp.rank() == 0)
      for (size_t i = 0; i < metrics.size(); ++i) metrics[i]->set_state(start_at.metric_totals[i]);
  }
  Generator shuffle_gen(epoch_seed(run.seed, epoch, 1));
  const std::vector<int64_t> order = epoch_order(data.n_train, run.shuffle, shuffle_gen);
  const int64_t steps = (data.n_train + run.batch_size - 1) / run.batch_size;

  Logs batch_logs = start_at.step > 0 ? results(loss_mean, metrics) : Logs();
  for (int64_t step = start_at.step; step < steps; ++step) {
    Generator noise_gen(step_seed(run.seed, epoch, step));
    model.reseed(noise_gen);
    const int64_t start = step * run.batch_size;
    const int64_t count = std::min(run.batch_size, data.n_train - start);
    // This rank's rows of the batch (all of them without data parallelism);
    // its dropout masks are those rows of the whole batch's.
    const BatchShare share = run.dp.share(count);
    const BatchRowOffset mask_rows(share.begin);
    const int64_t* idx = order.data() + start + share.begin;
    std::vector<Tensor> xb;
    for (const auto& t : data.train_x) xb.push_back(take_rows(t, idx, share.count));
    Tensor yb = take_rows(data.train_y, idx, share.count);
    Tensor wb = data.weights.defined() ? take_rows(data.weights, idx, share.count) : Tensor();
    run_callbacks(run.callbacks, [&](Callback& cb) { cb.on_batch_begin(step, batch_logs); });

    std::string refused;
    TrainStep r = train_step(model, run.kind, xb, yb, wb, count, run.dp, refused);
    if (!refused.empty()) {
      Optimizer::zero_grad(model.parameters());
      // Keras applies the poisoned update and goes on; Loom keeps the last
      // good weights and stops: with an error, or quietly when the user asked
      // TerminateOnNaN to stop (the batch counts as a NaN loss for it).
      if (!has_terminate_on_nan(run.callbacks))
        fail("fit: {} at epoch {}, batch {}; this batch's update was not applied (weights and "
             "optimizer state are as before it). Look for NaN or Inf in x and y, or lower the "
             "learning rate; a TerminateOnNaN callback stops training without this error",
             refused, epoch + 1, step + 1);
      loss_mean.add(std::nan(""), static_cast<double>(count));
    } else {
      loss_mean.add(r.loss, static_cast<double>(count));
      if (r.y_pred.defined()) {
        NoGradGuard no_grad;
        Tensor probs = metric_predictions(run.kind, r.y_pred.detach());
        for (auto& m : metrics) m->update(yb, probs);
      }
    }
    batch_logs = results(loss_mean, metrics);
    run_callbacks(run.callbacks, [&](Callback& cb) { cb.on_batch_end(step, batch_logs); });
    if (model.stop_training) break;
    const int64_t done = step + 1;
    if (!run.backup.path.empty() && run.backup.save_every_steps > 0 && done < steps &&
        done % run.backup.save_every_steps == 0)
      write_mid_epoch_backup(run, epoch, done, loss_mean, metrics);
  }
  Optimizer::zero_grad(model.parameters());  // do not keep the last batch's gradients alive
  // The epoch's metrics over every rank's examples.
  std::vector<Metric*> totals;
  for (const auto& m : metrics) totals.push_back(m.get());
  run.dp.sum_states(totals);
  if (!batch_logs.empty()) batch_logs = results(loss_mean, metrics);
  return batch_logs;
}

// Checks a backup against this fit, then gives the model, the callbacks and
// the history their saved state.
void resume_from(Model& model, const LoadedBackup& b, const FitOptions& o, int64_t n_train,
                 HistoryRecorder& recorder) {
  const TrainingState& s = b.state;
  LOOM_CHECK(s.n_train == n_train,
             "fit: the backup '{}' was taken training on {} samples, but this fit has {}: resume "
             "with the same data (or delete the backup to start over)",
             o.backup.path, s.n_train, n_train);
  LOOM_CHECK(s.callbacks.size() == o.callbacks.size(),
             "fit: the backup '{}' holds the state of {} callbacks, but this fit has {}",
             o.backup.path, s.callbacks.size(), o.callbacks.size());
  restore_model_state(model, b.file, b.path);  // checks everything before changing anything
  for (size_t i = 0; i < s.callbacks.size(); ++i) o.callbacks[i]->set_state(s.callbacks[i]);
  recorder.history.history.clear();
  for (size_t i = 0; i < s.history_keys.size(); ++i)
    recorder.history.history[s.history_keys[i]] = s.history_values[i];
  recorder.history.epochs_run = s.epochs_run;
}

// The epochs from `first_epoch` (the first resuming at `start`), each with
// its validation, callbacks and backup; returns the last epoch's logs.
Logs run_epochs(const FitRun& run, int first_epoch, const EpochStart& start) {
  Model& model = run.model;
  Logs logs;
  for (int epoch = first_epoch; epoch < run.epochs; ++epoch) {
    run_callbacks(run.callbacks, [&](Callback& cb) { cb.on_epoch_begin(epoch, logs); });
    logs = train_epoch(run, epoch, epoch == first_epoch ? start : EpochStart{});
    if (!run.data.val_x.empty()) {
      Logs val = evaluate_batches(model, model.compile_options(), run.data.val_x, run.data.val_y,
                                  run.batch_size, "val_", nullptr, run.dp);
      logs.insert(val.begin(), val.end());
    }
    run_callbacks(run.callbacks, [&](Callback& cb) { cb.on_epoch_end(epoch, logs); });
    if (!run.backup.path.empty() && run.dp.rank() == 0)
      write_backup(model, run.backup,
                   training_state(run, epoch + 1, 0, model.stop_training || epoch + 1 == run.epochs,
                                  Mean("loss"), make_metrics(model.compile_options())));
    if (model.stop_training) break;
  }
  return logs;
}

}  // namespace

History Model::fit(const std::vector<Tensor>& x, const Tensor& y, const FitOptions& o) {
  LOOM_CHECK(compiled_, "fit: model '{}' is not compiled; call compile() first", name());
  LOOM_CHECK(o.batch_size > 0, "fit: batch_size must be positive, got {}", o.batch_size);
  LOOM_CHECK(o.epochs >= 0 && o.initial_epoch >= 0, "fit: epochs ({}) and initial_epoch ({}) must be >= 0",
             o.epochs, o.initial_epoch);
  LOOM_CHECK(o.validation_split >= 0.0 && o.validation_split < 1.0,
             "fit: validation_split must be in [0, 1), got {}", o.validation_split);
  const int64_t n = check_samples(x, &y, "fit");
  if (!inputs_.empty())
    LOOM_CHECK(x.size() == inputs_.size(), "fit: model '{}' has {} inputs but x has {} tensors", name(),
               inputs_.size(), x.size());
  const LossKind kind = parse_loss(compile_options_.loss);
  check_targets(kind, compile_options_.loss, y, "fit");
  check_targets(kind, compile_options_.loss, o.validation_y, "fit (validation data)");
  const FitData data = prepare_fit_data(x, y, n, o);

  // Under mpirun: join the other ranks, check they train the same model,
  // start from rank 0's weights. Rank 0 alone shows progress.
  DataParallel dp = DataParallel::start(*this, o.data_parallel, o.reducer, data.train_x,
                                        data.n_train, o.batch_size, o.seed);
  FitOptions shown = o;
  if (dp.rank() != 0) shown.verbose = 0;
  auto recorder = std::make_shared<HistoryRecorder>();
  const std::vector<CallbackPtr> cbs = fit_callbacks(shown, recorder);
  const TrainParams params = train_params(shown, data.n_train);
  run_callbacks(cbs, [&](Callback& cb) {
    cb.set_model(this);
    cb.set_params(params);
  });

  stop_training = false;
  Logs logs;
  run_callbacks(cbs, [&](Callback& cb) { cb.on_train_begin(logs); });
  // A backup from an earlier run of this fit: its settings win.
  std::optional<TrainingState> resumed;
  if (!o.backup.path.empty()) {
    if (std::optional<LoadedBackup> b = read_backup(o.backup.path, std::cerr)) {
      resume_from(*this, *b, o, data.n_train, *recorder);
      resumed = b->state;
    }
  }
  const FitRun run{*this,
                   kind,
                   data,
                   cbs,
                   o.callbacks,
                   *recorder,
                   resumed ? resumed->batch_size : o.batch_size,
                   resumed ? resumed->shuffle : o.shuffle,
                   resumed ? resumed->seed : o.seed,
                   resumed ? resumed->epochs : o.epochs,
                   o.backup,
                   dp};
  EpochStart start;
  int first_epoch = o.initial_epoch;
  if (resumed) {
    first_epoch = resumed->finished ? run.epochs : resumed->epoch;
    start = {resumed->step, resumed->loss_totals, resumed->metric_totals};
  }
  if (dp.on() && dp.world_size() > 1) {
    // A rank that cannot go on would leave the others waiting in their next
    // all-reduce: it stops the whole job instead, naming itself and why.
    try {
      logs = run_epochs(run, first_epoch, start);
    } catch (const std::exception& e) {
      distributed::abort_job(e.what());
    }
  } else {
    logs = run_epochs(run, first_epoch, start);
  }
  run_callbacks(cbs, [&](Callback& cb) { cb.on_train_end(logs); });
  for (const auto& cb : cbs) cb->set_model(nullptr);  // callbacks may outlive the model
  if (!o.backup.path.empty() && o.backup.delete_on_finish && dp.rank() == 0)
    delete_backups(o.backup.path);
  return recorder->history;
}

}  // namespace loom
