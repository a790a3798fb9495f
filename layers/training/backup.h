// Backups of a running fit(), so that a run killed at any point (SIGKILL, a
// power cut, a preempted machine) continues where it stopped and ends with
// the weights an uninterrupted run would have had, bit for bit (same
// machine, backend and thread count). Keras's BackupAndRestore, with saves
// inside an epoch as well as at its end:
//
//   FitOptions o;
//   o.backup = {.path = "run.backup", .save_every_steps = 100};
//   model.fit(x, y, o);   // killed? run the same call again: it resumes
//
// A backup is a model checkpoint (layers/saving/saving.h) holding the
// weights and optimizer state plus the training state: the epoch and the
// batches of it already done, the fit settings that fix the random streams
// (seed; shuffling of epoch e and the dropout masks of step s are drawn
// from (seed, e) and (seed, e, s), layers/training/fit.cpp), the running
// loss and metric totals of the epoch, the history so far, every
// callback's state (Callback::state) and the application's extras.
//
// Crash safety: each backup is written to a temporary file, fsync'ed and
// renamed; the one it replaces is kept as PATH.prev until the next one is in
// place. On resume PATH is read and verified (every section's CRC); when it
// is missing or damaged PATH.prev is used instead and the log says why, so a
// torn or corrupted backup is never loaded.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "loom/layers/saving/saving.h"
#include "loom/layers/training/callbacks.h"

namespace loom {

class Model;
struct History;

struct BackupOptions {
  std::string path;              // empty: no backups
  int64_t save_every_steps = 0;  // also after every this many batches (0: at epoch ends only)
  bool delete_on_finish = true;  // remove the backups when fit() returns (Keras's default)
  CheckpointExtras extras;       // the application's own settings, stored in every backup
};

// Where a fit stands, and what it needs to go on exactly.
struct TrainingState {
  int epoch = 0;         // the epoch to run or continue
  int64_t step = 0;      // batches of it already done
  bool finished = false;  // every epoch ran, or a callback stopped training
  // The settings that fix the batches and random streams; a resumed fit
  // takes them from here and checks the data against n_train.
  uint64_t seed = 0;
  int64_t batch_size = 0;
  bool shuffle = true;
  int64_t n_train = 0;
  int epochs = 0;
  std::vector<double> loss_totals;                 // Mean::state() of the epoch's loss
  std::vector<std::vector<double>> metric_totals;  // Metric::state(), compile() order
  std::vector<CallbackState> callbacks;            // FitOptions::callbacks order
  std::vector<std::string> history_keys;           // History of the epochs done
  std::vector<std::vector<double>> history_values;
  int epochs_run = 0;
};

// Writes a backup of `model` in `state` to options.path (PATH.prev keeps
// the previous one until this one is in place).
void write_backup(const Model& model, const BackupOptions& options, const TrainingState& state);

// A verified backup file: its training state, the whole checkpoint (give
// it to restore_model_state for the weights and optimizer) and where it
// was read from (PATH or PATH.prev).
struct LoadedBackup {
  TrainingState state;
  CheckpointFile file;
  std::string path;
  CheckpointExtras extras() const;  // the application's extras
};

// The newest good backup at `path` (or PATH.prev); nullopt when there is
// none. A damaged PATH is reported on `log` and skipped; if PATH.prev is
// damaged too, throws naming both files and the reasons.
std::optional<LoadedBackup> read_backup(const std::string& path, std::ostream& log);

// Removes PATH, PATH.prev and what interrupted writes left (missing files
// are fine).
void delete_backups(const std::string& path);

}  // namespace loom
