// Training curves as a standalone SVG file: one panel per metric ("loss",
// "accuracy", ...) with the training value and, when fit() had validation
// data, the "val_" value per epoch. Written by hand (no plotting library):
// a browser or any SVG viewer shows it.
//
//   History h = model.fit(x, y, {.epochs = 5, .validation_split = 0.1});
//   loom::write_history_svg(h, "curves.svg", {.title = "BiLSTM on IMDB"});
#pragma once

#include <string>
#include <vector>

#include "loom/layers/training/model.h"

namespace loom {

struct HistoryPlotOptions {
  std::string title;
  // Panels, left to right; a metric missing from the history is left out
  // (a panel with neither it nor its "val_" twin is not drawn).
  std::vector<std::string> metrics = {"loss", "accuracy"};
  int panel_width = 420;   // pixels, per panel
  int panel_height = 300;
};

// The SVG document. Non-finite values (a NaN loss) are skipped: the line
// breaks there. Throws loom::Error when no requested metric is in the
// history (nothing to draw) or the sizes are too small to draw in.
std::string history_svg(const History& history, const HistoryPlotOptions& options = {});

// Writes history_svg() to `path`; throws loom::Error naming the path when it
// cannot be written.
void write_history_svg(const History& history, const std::string& path,
                       const HistoryPlotOptions& options = {});

}  // namespace loom
