// The progress bar's text, on a "terminal" and in a log file.
#include <sstream>

#include "loom/layers/training/progress.h"
#include "test_util.h"

namespace loom {
namespace {

TEST(Progress, Formats) {
  EXPECT_EQ(format_metric_value(0.693147), "0.6931");
  EXPECT_EQ(format_metric_value(0.00012345), "1.2345e-04");
  EXPECT_EQ(format_metric_value(0.0), "0.0000");
  EXPECT_EQ(format_eta(7.9), "7s");
  EXPECT_EQ(format_eta(125), "2:05");
  EXPECT_EQ(format_eta(3723), "1:02:03");
  EXPECT_EQ(format_per_step(0.0123), "12ms/step");
  EXPECT_EQ(format_duration(0.15), "150ms");
  EXPECT_EQ(format_duration(3.2), "3s");
  EXPECT_EQ(format_per_step(2.4), "2s/step");
  EXPECT_EQ(format_per_step(0.00045), "450us/step");
}

TEST(Progress, OrdersLogsLossFirstValidationLast) {
  Logs logs{{"accuracy", 0.5}, {"val_accuracy", 0.4}, {"loss", 0.7}, {"val_loss", 0.8}, {"lr", 0.01}};
  auto v = ordered_logs(logs);
  std::vector<std::string> keys;
  for (auto& [k, x] : v) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy", "lr"}));
}

TEST(Progress, TerminalBarIsRewrittenInPlace) {
  std::ostringstream out;
  ProgressBar bar(100, out, /*interactive=*/true, "Epoch 1/2");
  bar.update(40, 2, {{"loss", 0.75}});
  bar.finish(100, 5, {{"loss", 0.5}, {"accuracy", 0.875}});
  std::string s = out.str();
  EXPECT_EQ(s.rfind("Epoch 1/2\n", 0), 0u) << s;
  // 40 of 100: 12 of 30 cells, the last one an arrow.
  EXPECT_NE(s.find("\r 40/100 [===========>..................] - ETA: "), std::string::npos) << s;
  EXPECT_NE(s.find(" - loss: 0.7500"), std::string::npos) << s;
  EXPECT_NE(s.find("\r100/100 [==============================] - "), std::string::npos) << s;
  EXPECT_NE(s.find("/step - loss: 0.5000 - accuracy: 0.8750"), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 2);  // title and final line only
}

TEST(Progress, PlainOutputIsOneLinePerEpoch) {
  std::ostringstream out;
  ProgressBar bar(64, out, /*interactive=*/false, "Epoch 3/5");
  bar.update(32, 1, {{"loss", 0.9}});  // nothing drawn
  EXPECT_EQ(out.str(), "");
  bar.finish(64, 2, {{"loss", 0.25}, {"val_loss", 0.3}});
  std::string s = out.str();
  EXPECT_EQ(s.rfind("Epoch 3/5 - 64/64 - ", 0), 0u) << s;
  EXPECT_NE(s.find("s/epoch - "), std::string::npos) << s;
  EXPECT_NE(s.find("/step - loss: 0.2500 - val_loss: 0.3000\n"), std::string::npos) << s;
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);
  EXPECT_EQ(s.find('\r'), std::string::npos);
}

TEST(Progress, ProgbarLoggerCountsSamplesWithAPartialLastBatch) {
  std::ostringstream out;
  ProgbarLogger cb(out, /*interactive=*/false);
  cb.set_params({.epochs = 2, .steps = 4, .samples = 100, .batch_size = 32, .verbose = 1});
  cb.on_epoch_begin(1, {});
  for (int64_t b = 0; b < 4; ++b) cb.on_batch_end(b, {{"loss", 1.0 / (b + 1)}});
  Logs end{{"loss", 0.125}, {"accuracy", 0.5}};
  cb.on_epoch_end(1, end);
  std::string s = out.str();
  EXPECT_EQ(s.rfind("Epoch 2/2 - 100/100 - ", 0), 0u) << s;
  EXPECT_NE(s.find("loss: 0.1250 - accuracy: 0.5000"), std::string::npos) << s;
}

}  // namespace
}  // namespace loom
