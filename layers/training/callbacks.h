// Callbacks for Model::fit with Keras 2 semantics (tf.keras.callbacks.*).
//
// fit() calls, in this order: on_train_begin; per epoch on_epoch_begin,
// per batch on_batch_begin / on_batch_end, then on_epoch_end; finally
// on_train_end. Callbacks run in the order given; the progress bar runs
// first and the History last (so History sees what earlier callbacks added
// to the logs, e.g. "lr").
//
// Logs map names to values: in on_batch_end the running means of the epoch
// so far ("loss", metrics); in on_epoch_end the epoch's values plus "val_*"
// when there is validation data. Epochs and batches count from 0.
//
// A callback stops training by setting model()->stop_training; fit checks
// it after every batch and every epoch (as Keras does).
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom {

class Model;

using Logs = std::map<std::string, double>;

// What fit() is about to do (Keras's callback params).
struct TrainParams {
  int epochs = 1;
  int64_t steps = 0;       // batches per epoch
  int64_t samples = 0;     // training samples per epoch
  int64_t batch_size = 32;
  int verbose = 1;
};

// What a callback carries over when fit() resumes from a backup
// (FitOptions::backup, layers/training/backup.h): its counters and best
// values as numbers (kept exactly, infinities included) and any weights it
// holds. Each callback documents its own layout.
struct CallbackState {
  std::vector<double> numbers;
  std::vector<Tensor> tensors;
};

class Callback {
 public:
  virtual ~Callback() = default;
  // Set by fit() before on_train_begin.
  void set_model(Model* model) { model_ = model; }
  Model* model() const { return model_; }
  void set_params(const TrainParams& params) { params_ = params; }
  const TrainParams& params() const { return params_; }

  virtual void on_train_begin(const Logs& logs) {}
  virtual void on_train_end(const Logs& logs) {}
  virtual void on_epoch_begin(int epoch, const Logs& logs) {}
  // May add entries to logs (ReduceLROnPlateau adds "lr").
  virtual void on_epoch_end(int epoch, Logs& logs) {}
  virtual void on_batch_begin(int64_t batch, const Logs& logs) {}
  virtual void on_batch_end(int64_t batch, const Logs& logs) {}
  // Saved in every backup and given back, after on_train_begin, to the
  // callback at the same position when fit() resumes. Stateless callbacks
  // keep the defaults.
  virtual CallbackState state() const { return {}; }
  virtual void set_state(const CallbackState& state) {}

 protected:
  // The model, or a loom::Error naming `who` when fit() has not set one.
  Model& require_model(const char* who) const;

 private:
  Model* model_ = nullptr;
  TrainParams params_;
};

using CallbackPtr = std::shared_ptr<Callback>;

// "auto" picks max for names ending in acc/accuracy/auc (and precision,
// recall), min otherwise.
enum class MonitorMode { auto_, min, max };
MonitorMode parse_monitor_mode(const std::string& mode, const char* who);

// ---- EarlyStopping ------------------------------------------------------------------
// Stops when `monitor` has not improved by more than min_delta for
// `patience` epochs. With restore_best_weights the weights of the best epoch
// are restored when it stops (not when training ends without stopping, as
// in Keras). With a baseline, training stops unless the monitor beats it
// within `patience` epochs.
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  int verbose = 0;
  std::string mode = "auto";  // "auto", "min", "max"
  std::optional<double> baseline;
  bool restore_best_weights = false;
  int start_from_epoch = 0;
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  // {wait, stopped_epoch, best_epoch, best}; tensors: the best weights.
  CallbackState state() const override;
  void set_state(const CallbackState& state) override;
  int stopped_epoch() const { return stopped_epoch_; }  // 0 when it never stopped
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }

 private:
  bool improved(double current, double reference) const;
  EarlyStoppingOptions o_;
  bool greater_ = false;  // improvement means larger values
  double min_delta_ = 0.0;  // signed as Keras does: + for max, - for min
  int wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  double best_ = 0.0;
  std::vector<Tensor> best_weights_;
  bool warned_ = false;
};

// ---- ModelCheckpoint ------------------------------------------------------------------------
// Saves the model (Model::save, or save_weights) after every epoch, or with
// save_best_only only when `monitor` improves. The path may contain
// {epoch} (1-based, as Keras) and {name} for any log entry, each with an
// optional format spec: "ckpt_{epoch:02d}_{val_loss:.3f}.loom".
struct ModelCheckpointOptions {
  std::string filepath;
  std::string monitor = "val_loss";
  int verbose = 0;
  bool save_best_only = false;
  bool save_weights_only = false;
  std::string mode = "auto";
  std::optional<double> initial_value_threshold;
};

class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(ModelCheckpointOptions options);
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  CallbackState state() const override { return {{best_}, {}}; }  // {best}
  void set_state(const CallbackState& state) override;
  double best() const { return best_; }
  // Paths written so far, in order.
  const std::vector<std::string>& saved_paths() const { return saved_; }

 private:
  ModelCheckpointOptions o_;
  bool greater_ = false;
  double best_ = 0.0;
  std::vector<std::string> saved_;
  bool warned_ = false;
};

// Expands {epoch} and {log_name[:spec]} in a checkpoint path; throws naming
// the path and the unknown key.
std::string format_checkpoint_path(const std::string& pattern, int epoch1, const Logs& logs);

// ---- ReduceLROnPlateau ------------------------------------------------------------------------
// Multiplies the optimizer's learning rate by `factor` (not below min_lr)
// when `monitor` has not improved by min_delta for `patience` epochs, then
// waits `cooldown` epochs before counting again. Adds "lr" to the epoch logs.
struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  int verbose = 0;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};

class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  // {best, wait, cooldown_counter}; the rate itself is in the optimizer's state.
  CallbackState state() const override;
  void set_state(const CallbackState& state) override;

 private:
  void reset();
  ReduceLROnPlateauOptions o_;
  bool greater_ = false;
  double best_ = 0.0;
  int wait_ = 0, cooldown_counter_ = 0;
  bool warned_ = false;
};

// ---- CSVLogger -------------------------------------------------------------------------------------
// One row per epoch: "epoch" (from 0) then every log entry in sorted order;
// the header is written unless appending to a non-empty file. Values are
// written with the shortest text that reads back exactly.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, char separator = ',', bool append = false);
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;

 private:
  std::string filename_;
  char sep_;
  bool append_;
  bool write_header_ = true;
  std::vector<std::string> keys_;
  std::ofstream out_;
};

// ---- TerminateOnNaN -----------------------------------------------------------------------------
// Stops training at the end of a batch whose running loss is NaN or infinite.
class TerminateOnNaN : public Callback {
 public:
  void on_batch_end(int64_t batch, const Logs& logs) override;
  bool terminated() const { return terminated_; }

 private:
  bool terminated_ = false;
};

// ---- LambdaCallback ---------------------------------------------------------------------------------
// Ad-hoc hooks (Keras LambdaCallback); unset ones do nothing.
struct LambdaCallback : public Callback {
  std::function<void(int, Logs&)> epoch_end;
  std::function<void(int64_t, const Logs&)> batch_end;
  std::function<void(const Logs&)> train_begin, train_end;
  void on_train_begin(const Logs& logs) override {
    if (train_begin) train_begin(logs);
  }
  void on_train_end(const Logs& logs) override {
    if (train_end) train_end(logs);
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    if (epoch_end) epoch_end(epoch, logs);
  }
  void on_batch_end(int64_t batch, const Logs& logs) override {
    if (batch_end) batch_end(batch, logs);
  }
};

}  // namespace loom
