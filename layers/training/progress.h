// A Keras-like progress bar for fit / evaluate / predict.
//
// On a terminal the bar is redrawn in place (carriage return), at most
// every 50 ms and once at the end:
//   Epoch 1/3
//    640/1000 [===================>..........] - ETA: 1s - loss: 0.6812 - accuracy: 0.5781
//   1000/1000 [==============================] - 2s 31ms/step - loss: 0.6731 - accuracy: 0.5920 - val_loss: 0.6650
// Elsewhere (a log file, a pipe) nothing is drawn while running and one
// plain line is written per epoch:
//   Epoch 1/3 - 1000/1000 - 2s/epoch - 31ms/step - loss: 0.6731 - accuracy: 0.5920 - val_loss: 0.6650
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "loom/layers/training/callbacks.h"

namespace loom {

// Whether standard output is a terminal.
bool stdout_is_terminal();

// "0.6812", or "1.2346e-04" for magnitudes below 1e-3 (Keras's format).
std::string format_metric_value(double v);
// "1:02:03", "2:05", "7s" (ETA style).
std::string format_eta(double seconds);
// "2s", "150ms", "80us".
std::string format_duration(double seconds);
// "12ms/step", "3s/step", "450us/step".
std::string format_per_step(double seconds);

class ProgressBar {
 public:
  using Values = std::vector<std::pair<std::string, double>>;
  // total: samples expected (the bar's 100%); `title` is written before the
  // plain line ("Epoch 1/3"); steps count how many update() calls per epoch.
  ProgressBar(int64_t total, std::ostream& out, bool interactive, std::string title = "");
  // Progress after `done` samples and `steps` batches; values are the
  // running metrics. Draws when interactive and the last draw is 50 ms old.
  void update(int64_t done, int64_t steps, const Values& values);
  // The final line: full bar (or the plain line) with these values.
  void finish(int64_t done, int64_t steps, const Values& values);

 private:
  std::string bar_line(int64_t done, int64_t steps, const Values& values, bool final) const;
  double elapsed() const;
  int64_t total_;
  std::ostream& out_;
  bool interactive_;
  std::string title_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  size_t last_width_ = 0;
  bool drawn_ = false;
};

// The callback fit() installs first when verbose > 0: a bar per epoch.
class ProgbarLogger : public Callback {
 public:
  // interactive: on a terminal (defaults to stdout_is_terminal()).
  explicit ProgbarLogger(std::ostream& out, bool interactive);
  ProgbarLogger();
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;

 private:
  int64_t samples_after(int64_t batch) const;
  std::ostream& out_;
  bool interactive_;
  std::unique_ptr<ProgressBar> bar_;
  int64_t last_batch_ = -1;
  Logs last_logs_;
};

// Log entries in display order: "loss" first, then the others, "val_*" last
// (std::map order would mix them), "lr" at the very end.
ProgressBar::Values ordered_logs(const Logs& logs);

}  // namespace loom
