#include "loom/layers/training/callbacks.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "loom/distributed/distributed.h"
#include "loom/layers/training/model.h"
#include "loom/optim/optimizer.h"

namespace loom {

Model& Callback::require_model(const char* who) const {
  LOOM_CHECK(model_ != nullptr, "{}: no model set (callbacks get one from Model::fit)", who);
  return *model_;
}

MonitorMode parse_monitor_mode(const std::string& mode, const char* who) {
  if (mode == "auto") return MonitorMode::auto_;
  if (mode == "min") return MonitorMode::min;
  if (mode == "max") return MonitorMode::max;
  fail("{}: mode must be 'auto', 'min' or 'max', got '{}'", who, mode);
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Whether larger is better. Keras's three callbacks each use a slightly
// different "auto" rule (ModelCheckpoint would minimize val_auc); one rule
// that covers all of them: accuracies, AUC, precision and recall maximize.
bool maximizes(MonitorMode mode, const std::string& monitor) {
  if (mode != MonitorMode::auto_) return mode == MonitorMode::max;
  for (const char* s : {"acc", "accuracy", "auc", "precision", "recall"})
    if (ends_with(monitor, s)) return true;
  return false;
}

std::string available_keys(const Logs& logs) {
  std::string keys;
  for (const auto& [k, v] : logs) keys += (keys.empty() ? "" : ", ") + k;
  return keys.empty() ? "none" : keys;
}

// Keras warns (and carries on) when the monitored value is missing.
const double* monitor_value(const Logs& logs, const std::string& monitor, const char* who,
                            bool& warned) {
  auto it = logs.find(monitor);
  if (it != logs.end()) return &it->second;
  if (!warned) {
    std::fprintf(stderr, "%s: monitored value '%s' is not in the logs (available: %s); skipping\n",
                 who, monitor.c_str(), available_keys(logs).c_str());
    warned = true;
  }
  return nullptr;
}

// Shortest text that reads back exactly, with ".0" on integral values as
// Python's repr (Keras's CSV) writes them.
std::string csv_number(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

// ---- EarlyStopping ------------------------------------------------------------------------------

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : o_(std::move(options)) {
  greater_ = maximizes(parse_monitor_mode(o_.mode, "EarlyStopping"), o_.monitor);
  LOOM_CHECK(o_.patience >= 0, "EarlyStopping: patience must be >= 0, got {}", o_.patience);
  min_delta_ = std::abs(o_.min_delta) * (greater_ ? 1.0 : -1.0);
}

bool EarlyStopping::improved(double current, double reference) const {
  return greater_ ? current - min_delta_ > reference : current - min_delta_ < reference;
}

void EarlyStopping::on_train_begin(const Logs&) {
  wait_ = 0;
  stopped_epoch_ = 0;
  best_epoch_ = 0;
  best_ = greater_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(int epoch, Logs& logs) {
  const double* current = monitor_value(logs, o_.monitor, "EarlyStopping", warned_);
  if (!current || epoch < o_.start_from_epoch) return;
  Model& model = require_model("EarlyStopping");
  // Keras keeps the first epoch's weights even if it never improves.
  if (o_.restore_best_weights && best_weights_.empty()) best_weights_ = model.get_weights();
  ++wait_;
  if (improved(*current, best_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (o_.restore_best_weights) best_weights_ = model.get_weights();
    // Waiting restarts only when the baseline is beaten too.
    if (!o_.baseline || improved(*current, *o_.baseline)) wait_ = 0;
    return;
  }
  if (wait_ >= o_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model.stop_training = true;
    if (o_.restore_best_weights && !best_weights_.empty()) {
      if (o_.verbose > 0 && distributed::is_primary())
        std::printf("Restoring model weights from the end of the best epoch: %d.\n", best_epoch_ + 1);
      model.set_weights(best_weights_);
    }
  }
}

void EarlyStopping::on_train_end(const Logs&) {
  if (stopped_epoch_ > 0 && o_.verbose > 0 && distributed::is_primary())
    std::printf("Epoch %d: early stopping\n", stopped_epoch_ + 1);
  best_weights_.clear();  // copies of every weight; do not keep them alive
}

// ---- ModelCheckpoint ----------------------------------------------------------------------------

std::string format_checkpoint_path(const std::string& pattern, int epoch1, const Logs& logs) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '{' && i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < pattern.size() && pattern[i + 1] == '}') {
      out += '}';
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    size_t close = pattern.find('}', i);
    LOOM_CHECK(close != std::string::npos, "ModelCheckpoint: unclosed '{{' in path '{}'", pattern);
    std::string field = pattern.substr(i + 1, close - i - 1);
    std::string key = field, spec;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      key = field.substr(0, colon);
      spec = field.substr(colon);  // ":02d"
    }
    try {
      if (key == "epoch") {
        out += fmt::format(fmt::runtime("{" + spec + "}"), epoch1);
      } else {
        auto it = logs.find(key);
        LOOM_CHECK(it != logs.end(), "ModelCheckpoint: path '{}' names '{}', which is not in the logs (available: epoch, {})",
                   pattern, key, available_keys(logs));
        out += fmt::format(fmt::runtime("{" + spec + "}"), it->second);
      }
    } catch (const fmt::format_error& e) {
      fail("ModelCheckpoint: bad format '{}' in path '{}': {}", field, pattern, e.what());
    }
    i = close;
  }
  return out;
}

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options) : o_(std::move(options)) {
  LOOM_CHECK(!o_.filepath.empty(), "ModelCheckpoint: filepath is empty");
  greater_ = maximizes(parse_monitor_mode(o_.mode, "ModelCheckpoint"), o_.monitor);
}

void ModelCheckpoint::on_train_begin(const Logs&) {
  if (o_.initial_value_threshold)
    best_ = *o_.initial_value_threshold;
  else
    best_ = greater_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

void ModelCheckpoint::on_epoch_end(int epoch, Logs& logs) {
  Model& model = require_model("ModelCheckpoint");
  std::string path = format_checkpoint_path(o_.filepath, epoch + 1, logs);
  // Under mpirun every rank keeps the same best value; rank 0 alone writes.
  const bool writer = distributed::is_primary();
  if (o_.save_best_only) {
    const double* current = monitor_value(logs, o_.monitor, "ModelCheckpoint", warned_);
    if (!current) return;
    bool better = greater_ ? *current > best_ : *current < best_;
    if (!better) {
      if (o_.verbose > 0 && writer)
        std::printf("\nEpoch %d: %s did not improve from %.5f\n", epoch + 1, o_.monitor.c_str(), best_);
      return;
    }
    if (o_.verbose > 0 && writer)
      std::printf("\nEpoch %d: %s improved from %.5f to %.5f, saving model to %s\n", epoch + 1,
                  o_.monitor.c_str(), best_, *current, path.c_str());
    best_ = *current;
  } else if (o_.verbose > 0 && writer) {
    std::printf("\nEpoch %d: saving model to %s\n", epoch + 1, path.c_str());
  }
  if (!writer) return;
  if (auto dir = std::filesystem::path(path).parent_path(); !dir.empty())
    std::filesystem::create_directories(dir);
  if (o_.save_weights_only)
    model.save_weights(path);
  else
    model.save(path);
  saved_.push_back(path);
}

// ---- ReduceLROnPlateau ------------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options) : o_(std::move(options)) {
  LOOM_CHECK(o_.factor < 1.0 && o_.factor >= 0.0,
             "ReduceLROnPlateau: factor must be in [0, 1) (it multiplies the rate), got {}", o_.factor);
  greater_ = maximizes(parse_monitor_mode(o_.mode, "ReduceLROnPlateau"), o_.monitor);
}

void ReduceLROnPlateau::reset() {
  best_ = greater_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  wait_ = 0;
  cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_train_begin(const Logs&) { reset(); }

void ReduceLROnPlateau::on_epoch_end(int epoch, Logs& logs) {
  Model& model = require_model("ReduceLROnPlateau");
  Optimizer* opt = model.optimizer().get();
  LOOM_CHECK(opt != nullptr, "ReduceLROnPlateau: the model has no optimizer (call compile first)");
  logs["lr"] = opt->learning_rate();
  const double* current = monitor_value(logs, o_.monitor, "ReduceLROnPlateau", warned_);
  if (!current) return;
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  bool better = greater_ ? *current > best_ + o_.min_delta : *current < best_ - o_.min_delta;
  if (better) {
    best_ = *current;
    wait_ = 0;
    return;
  }
  if (cooldown_counter_ > 0) return;
  if (++wait_ < o_.patience) return;
  double old_lr = opt->learning_rate();
  // Keras compares in float32, the rate's dtype.
  if (static_cast<float>(old_lr) > static_cast<float>(o_.min_lr)) {
    double new_lr = std::max(old_lr * o_.factor, o_.min_lr);
    opt->set_learning_rate(new_lr);
    if (o_.verbose > 0 && distributed::is_primary())
      std::printf("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %g.\n", epoch + 1, new_lr);
    cooldown_counter_ = o_.cooldown;
    wait_ = 0;
  }
}

// ---- CSVLogger -------------------------------------------------------------------------------------

CSVLogger::CSVLogger(std::string filename, char separator, bool append)
    : filename_(std::move(filename)), sep_(separator), append_(append) {}

void CSVLogger::on_train_begin(const Logs&) {
  if (!distributed::is_primary()) return;  // under mpirun, rank 0 writes the log
  write_header_ = true;
  keys_.clear();
  if (append_) {
    std::error_code ec;
    auto size = std::filesystem::file_size(filename_, ec);
    if (!ec && size > 0) write_header_ = false;
  }
  out_.close();
  out_.open(filename_, append_ ? std::ios::app : std::ios::trunc);
  LOOM_CHECK(out_.good(), "CSVLogger: cannot open '{}' for writing", filename_);
}

void CSVLogger::on_epoch_end(int epoch, Logs& logs) {
  if (!distributed::is_primary()) return;
  if (keys_.empty())
    for (const auto& [k, v] : logs) keys_.push_back(k);  // sorted, as Keras sorts them
  if (write_header_) {
    out_ << "epoch";
    for (const auto& k : keys_) out_ << sep_ << k;
    out_ << '\n';
    write_header_ = false;
  }
  out_ << epoch;
  for (const auto& k : keys_) {
    auto it = logs.find(k);
    out_ << sep_;
    if (it == logs.end())
      out_ << "NA";  // e.g. no val_* in a stopped epoch
    else if (std::isnan(it->second))
      out_ << "nan";
    else if (std::isinf(it->second))
      out_ << (it->second > 0 ? "inf" : "-inf");
    else
      out_ << csv_number(it->second);
  }
  out_ << '\n';
  out_.flush();
  LOOM_CHECK(out_.good(), "CSVLogger: writing '{}' failed", filename_);
}

void CSVLogger::on_train_end(const Logs&) { out_.close(); }

// ---- TerminateOnNaN -----------------------------------------------------------------------------------

void TerminateOnNaN::on_batch_end(int64_t batch, const Logs& logs) {
  auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  if (distributed::is_primary()) {  // under mpirun every rank sees the same loss
    std::printf("Batch %lld: Invalid loss, terminating training\n", static_cast<long long>(batch));
    std::fflush(stdout);
  }
  terminated_ = true;
  require_model("TerminateOnNaN").stop_training = true;
}

// ---- state for resumed runs ------------------------------------------------------------------

namespace {
void check_state_size(const CallbackState& s, size_t numbers, const char* who) {
  LOOM_CHECK(s.numbers.size() == numbers, "{}: a saved state of {} numbers, expected {}", who,
             s.numbers.size(), numbers);
}
}  // namespace

CallbackState EarlyStopping::state() const {
  return {{static_cast<double>(wait_), static_cast<double>(stopped_epoch_),
           static_cast<double>(best_epoch_), best_},
          best_weights_};
}

void EarlyStopping::set_state(const CallbackState& s) {
  check_state_size(s, 4, "EarlyStopping");
  wait_ = static_cast<int>(s.numbers[0]);
  stopped_epoch_ = static_cast<int>(s.numbers[1]);
  best_epoch_ = static_cast<int>(s.numbers[2]);
  best_ = s.numbers[3];
  best_weights_.clear();
  for (const Tensor& t : s.tensors) best_weights_.push_back(t.clone());
}

void ModelCheckpoint::set_state(const CallbackState& s) {
  check_state_size(s, 1, "ModelCheckpoint");
  best_ = s.numbers[0];
}

CallbackState ReduceLROnPlateau::state() const {
  return {{best_, static_cast<double>(wait_), static_cast<double>(cooldown_counter_)}, {}};
}

void ReduceLROnPlateau::set_state(const CallbackState& s) {
  check_state_size(s, 3, "ReduceLROnPlateau");
  best_ = s.numbers[0];
  wait_ = static_cast<int>(s.numbers[1]);
  cooldown_counter_ = static_cast<int>(s.numbers[2]);
}

}  // namespace loom
