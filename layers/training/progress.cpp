#include "loom/layers/training/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace loom {

bool stdout_is_terminal() { return isatty(fileno(stdout)) != 0; }

std::string format_metric_value(double v) {
  if (std::abs(v) > 1e-3 || v == 0.0 || !std::isfinite(v)) return fmt::format("{:.4f}", v);
  return fmt::format("{:.4e}", v);
}

std::string format_eta(double seconds) {
  int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s > 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s % 3600) / 60, s % 60);
  if (s > 60) return fmt::format("{}:{:02d}", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_duration(double seconds) {
  if (seconds >= 1.0) return fmt::format("{:.0f}s", seconds);
  if (seconds >= 1e-3) return fmt::format("{:.0f}ms", seconds * 1e3);
  return fmt::format("{:.0f}us", seconds * 1e6);
}

std::string format_per_step(double seconds) {
  if (seconds >= 1.0) return fmt::format("{:.0f}s/step", seconds);
  if (seconds >= 1e-3) return fmt::format("{:.0f}ms/step", seconds * 1e3);
  return fmt::format("{:.0f}us/step", seconds * 1e6);
}

ProgressBar::Values ordered_logs(const Logs& logs) {
  ProgressBar::Values out;
  auto rank = [](const std::string& k) {
    if (k == "loss") return 0;
    if (k == "lr") return 4;
    if (k == "val_loss") return 2;
    if (k.rfind("val_", 0) == 0) return 3;
    return 1;
  };
  for (int r = 0; r <= 4; ++r)
    for (const auto& [k, v] : logs)
      if (rank(k) == r) out.emplace_back(k, v);
  return out;
}

// ---- ProgressBar ------------------------------------------------------------------------------

ProgressBar::ProgressBar(int64_t total, std::ostream& out, bool interactive, std::string title)
    : total_(total), out_(out), interactive_(interactive), title_(std::move(title)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (interactive_ && !title_.empty()) out_ << title_ << '\n' << std::flush;
}

double ProgressBar::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::bar_line(int64_t done, int64_t steps, const Values& values, bool final) const {
  constexpr int kWidth = 30;
  std::string line;
  const double secs = elapsed();
  if (total_ > 0) {
    const int digits = static_cast<int>(std::to_string(total_).size());
    line += fmt::format("{:>{}}/{} [", done, digits, total_);
    int filled = static_cast<int>(kWidth * std::min(done, total_) / total_);
    if (filled > 0) {
      line.append(static_cast<size_t>(filled - 1), '=');
      line += done < total_ ? '>' : '=';
    }
    line.append(static_cast<size_t>(kWidth - filled), '.');
    line += ']';
  } else {
    line += fmt::format("{}/unknown", done);
  }
  if (final || done >= total_) {
    line += fmt::format(" - {}", format_duration(secs));
    if (steps > 0) line += fmt::format(" {}", format_per_step(secs / static_cast<double>(steps)));
  } else if (done > 0) {
    line += fmt::format(" - ETA: {}", format_eta(secs / static_cast<double>(done) * static_cast<double>(total_ - done)));
  }
  for (const auto& [k, v] : values) line += fmt::format(" - {}: {}", k, format_metric_value(v));
  return line;
}

void ProgressBar::update(int64_t done, int64_t steps, const Values& values) {
  if (!interactive_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
  std::string line = bar_line(done, steps, values, false);
  // Blank out what a longer previous line left behind.
  size_t width = line.size();
  if (width < last_width_) line.append(last_width_ - width, ' ');
  out_ << '\r' << line << std::flush;
  last_width_ = width;
  last_draw_ = now;
  drawn_ = true;
}

void ProgressBar::finish(int64_t done, int64_t steps, const Values& values) {
  if (interactive_) {
    std::string line = bar_line(done, steps, values, true);
    size_t width = line.size();
    if (width < last_width_) line.append(last_width_ - width, ' ');
    out_ << '\r' << line << '\n' << std::flush;
    return;
  }
  const double secs = elapsed();
  std::string line = title_.empty() ? "" : title_ + " - ";
  line += fmt::format("{}/{} - {}/epoch", done, total_, format_duration(secs));
  if (steps > 0) line += fmt::format(" - {}", format_per_step(secs / static_cast<double>(steps)));
  for (const auto& [k, v] : values) line += fmt::format(" - {}: {}", k, format_metric_value(v));
  out_ << line << '\n' << std::flush;
}

// ---- ProgbarLogger -----------------------------------------------------------------------------------

ProgbarLogger::ProgbarLogger(std::ostream& out, bool interactive) : out_(out), interactive_(interactive) {}
ProgbarLogger::ProgbarLogger() : ProgbarLogger(std::cout, stdout_is_terminal()) {}

int64_t ProgbarLogger::samples_after(int64_t batch) const {
  return std::min((batch + 1) * params().batch_size, params().samples);
}

void ProgbarLogger::on_epoch_begin(int epoch, const Logs&) {
  bar_ = std::make_unique<ProgressBar>(params().samples, out_, interactive_,
                                       fmt::format("Epoch {}/{}", epoch + 1, params().epochs));
  last_batch_ = -1;
  last_logs_.clear();
}

void ProgbarLogger::on_batch_end(int64_t batch, const Logs& logs) {
  last_batch_ = batch;
  last_logs_ = logs;
  if (bar_) bar_->update(samples_after(batch), batch + 1, ordered_logs(logs));
}

void ProgbarLogger::on_epoch_end(int, Logs& logs) {
  if (!bar_) return;
  // A stopped epoch ends early: show how far it got.
  int64_t done = last_batch_ < 0 ? 0 : samples_after(last_batch_);
  bar_->finish(done, last_batch_ + 1, ordered_logs(logs.empty() ? last_logs_ : logs));
  bar_.reset();
}

}  // namespace loom
