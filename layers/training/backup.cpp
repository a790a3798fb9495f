// fit()'s backups: the training state around a model checkpoint, written
// so that a crash at any instant leaves a good backup behind.
//
// File: save_model's checkpoint plus
//   header "training": {"epoch", "step", "finished", "seed" (decimal string:
//     64 bits do not fit a JSON number), "batch_size", "shuffle", "n_train",
//     "epochs", "epochs_run", "metrics": n, "callbacks": [tensors per
//     callback], "history": [keys]}
//   tensors of group "training", all f64 so values come back exactly (NaN
//   and infinities included): "loss", "metric/<i>", "callback/<i>",
//   "callback/<i>/<k>" (the callback's tensors, their own dtype), "history/<i>".
#include "loom/layers/training/backup.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <ostream>

#include "loom/layers/training/model.h"

namespace loom {

namespace {

constexpr const char* kGroup = "training";

std::string prev_path(const std::string& path) { return path + ".prev"; }

Tensor numbers(const std::vector<double>& v) {
  return Tensor::from_vector(v, Shape{static_cast<int64_t>(v.size())});
}

std::vector<double> numbers_of(const CheckpointFile& f, const std::string& name,
                               const std::string& path) {
  const CheckpointTensor* t = f.find(kGroup, name);
  LOOM_CHECK(t != nullptr, "backup '{}': no training tensor '{}'", path, name);
  LOOM_CHECK(t->value.dtype() == DType::f64 && t->value.ndim() == 1,
             "backup '{}': training tensor '{}' is {} {}, expected a 1-D f64 vector", path, name,
             dtype_name(t->value.dtype()), shape_str(t->value.shape()));
  return t->value.to_vector<double>();
}

Json state_header(const TrainingState& s) {
  Json j = Json::object();
  j["epoch"] = s.epoch;
  j["step"] = s.step;
  j["finished"] = s.finished;
  j["seed"] = std::to_string(s.seed);
  j["batch_size"] = s.batch_size;
  j["shuffle"] = s.shuffle;
  j["n_train"] = s.n_train;
  j["epochs"] = s.epochs;
  j["epochs_run"] = s.epochs_run;
  j["metrics"] = static_cast<int64_t>(s.metric_totals.size());
  Json cbs = Json::array();
  for (const CallbackState& c : s.callbacks) cbs.push_back(static_cast<int64_t>(c.tensors.size()));
  j["callbacks"] = std::move(cbs);
  j["history"] = Json(s.history_keys);
  return j;
}

void add_state_tensors(CheckpointFile& f, const TrainingState& s) {
  f.tensors.push_back({kGroup, "loss", numbers(s.loss_totals)});
  for (size_t i = 0; i < s.metric_totals.size(); ++i)
    f.tensors.push_back({kGroup, fmt::format("metric/{}", i), numbers(s.metric_totals[i])});
  for (size_t i = 0; i < s.callbacks.size(); ++i) {
    f.tensors.push_back({kGroup, fmt::format("callback/{}", i), numbers(s.callbacks[i].numbers)});
    for (size_t k = 0; k < s.callbacks[i].tensors.size(); ++k)
      f.tensors.push_back(
          {kGroup, fmt::format("callback/{}/{}", i, k), s.callbacks[i].tensors[k].cpu()});
  }
  for (size_t i = 0; i < s.history_values.size(); ++i)
    f.tensors.push_back({kGroup, fmt::format("history/{}", i), numbers(s.history_values[i])});
}

// The training state of a verified backup file.
TrainingState state_of(const CheckpointFile& f, const std::string& path) {
  const Json* j = f.header.find(kGroup);
  LOOM_CHECK(j != nullptr && j->is_object(),
             "'{}' is a Loom checkpoint but not a training backup (no \"training\" header)", path);
  TrainingState s;
  s.epoch = static_cast<int>(j->get_int("epoch"));
  s.step = j->get_int("step");
  s.finished = j->get_bool("finished");
  const std::string seed = j->get_string("seed");
  char* end = nullptr;
  errno = 0;
  s.seed = std::strtoull(seed.c_str(), &end, 10);
  LOOM_CHECK(!seed.empty() && *end == 0 && errno == 0, "backup '{}': seed '{}' is not a number",
             path, seed);
  s.batch_size = j->get_int("batch_size");
  s.shuffle = j->get_bool("shuffle");
  s.n_train = j->get_int("n_train");
  s.epochs = static_cast<int>(j->get_int("epochs"));
  s.epochs_run = static_cast<int>(j->get_int("epochs_run"));
  LOOM_CHECK(s.epoch >= 0 && s.step >= 0 && s.batch_size > 0 && s.n_train > 0,
             "backup '{}': epoch {}, step {}, batch_size {}, n_train {} are out of range", path,
             s.epoch, s.step, s.batch_size, s.n_train);
  s.loss_totals = numbers_of(f, "loss", path);
  for (int64_t i = 0; i < j->get_int("metrics"); ++i)
    s.metric_totals.push_back(numbers_of(f, fmt::format("metric/{}", i), path));
  const std::vector<int64_t> cbs = j->at("callbacks").to_int_vector();
  for (size_t i = 0; i < cbs.size(); ++i) {
    CallbackState c;
    c.numbers = numbers_of(f, fmt::format("callback/{}", i), path);
    for (int64_t k = 0; k < cbs[i]; ++k) {
      const CheckpointTensor* t = f.find(kGroup, fmt::format("callback/{}/{}", i, k));
      LOOM_CHECK(t != nullptr, "backup '{}': no tensor {} of callback {}", path, k, i);
      c.tensors.push_back(t->value);
    }
    s.callbacks.push_back(std::move(c));
  }
  s.history_keys = j->at("history").to_string_vector();
  for (size_t i = 0; i < s.history_keys.size(); ++i)
    s.history_values.push_back(numbers_of(f, fmt::format("history/{}", i), path));
  return s;
}

CheckpointExtras extras_of(const CheckpointFile& f) {
  CheckpointExtras e;
  if (const Json* m = f.header.find("metadata")) e.metadata = *m;
  e.blobs = f.blobs;
  return e;
}

// The newest verified backup file (PATH, else PATH.prev) with the path it
// came from; nullopt when neither exists. Damage to PATH is told on `log`.
std::optional<std::pair<CheckpointFile, std::string>> newest_good(const std::string& path,
                                                                   std::ostream& log) {
  namespace fs = std::filesystem;
  const std::string prev = prev_path(path);
  std::string damage;
  if (fs::exists(path)) {
    try {
      CheckpointFile f = read_checkpoint(path);
      state_of(f, path);  // the training header must be whole too
      return std::make_pair(std::move(f), path);
    } catch (const Error& e) {
      damage = e.what();
    }
  }
  if (!fs::exists(prev)) {
    LOOM_CHECK(damage.empty(),
               "backup '{}' is damaged and there is no previous backup '{}' to fall back on: {}",
               path, prev, damage);
    return std::nullopt;
  }
  CheckpointFile f;
  try {
    f = read_checkpoint(prev);
    state_of(f, prev);
  } catch (const Error& e) {
    fail("no usable backup: '{}' {}, and the previous backup '{}' is damaged: {}", path,
         damage.empty() ? "is missing" : "is damaged: " + damage, prev, e.what());
  }
  if (!damage.empty())
    log << fmt::format("backup '{}' is damaged ({}); resuming from the previous backup '{}'\n",
                       path, damage, prev);
  return std::make_pair(std::move(f), prev);
}

}  // namespace

void write_backup(const Model& model, const BackupOptions& options, const TrainingState& state) {
  namespace fs = std::filesystem;
  const std::string& path = options.path;
  CheckpointFile f = model_checkpoint(model, path, options.extras);
  f.header[kGroup] = state_header(state);
  add_state_tensors(f, state);
  // New file complete and durable first; then the current one becomes
  // PATH.prev and the new one PATH. A crash between the renames leaves only
  // PATH.prev, which restore_backup falls back on.
  const std::string next = path + ".next";
  write_checkpoint(next, f);
  std::error_code ec;
  if (fs::exists(path)) {
    fs::rename(path, prev_path(path), ec);
    LOOM_CHECK(!ec, "backup: renaming '{}' to '{}' failed: {}", path, prev_path(path),
               ec.message());
  }
  fs::rename(next, path, ec);
  LOOM_CHECK(!ec, "backup: renaming '{}' to '{}' failed: {}", next, path, ec.message());
}

CheckpointExtras LoadedBackup::extras() const { return extras_of(file); }

std::optional<LoadedBackup> read_backup(const std::string& path, std::ostream& log) {
  auto found = newest_good(path, log);
  if (!found) return std::nullopt;
  LoadedBackup b;
  b.state = state_of(found->first, found->second);
  b.file = std::move(found->first);
  b.path = std::move(found->second);
  return b;
}

void delete_backups(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove(path, ec);
  fs::remove(prev_path(path), ec);
  // PATH.next and the temporary files of writes a crash interrupted.
  const fs::path p(path);
  const std::string next = p.filename().string() + ".next";
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().rfind(next, 0) == 0) fs::remove(entry.path(), ec);
}

}  // namespace loom
