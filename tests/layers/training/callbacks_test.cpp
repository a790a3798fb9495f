// Callbacks inside real fit() runs. A LambdaCallback placed before the one
// under test injects a scripted "score" into the epoch logs, so each
// scenario (improve, plateau, worsen) is exact.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "layers/training/training_util.h"

namespace loom {
namespace {

using test::linear_problem;
using test::small_mlp;

// Sets logs["score"] = scores[epoch] and remembers the weights at every epoch end.
struct Script : public LambdaCallback {
  std::vector<double> scores;
  std::vector<std::vector<Tensor>> weights;
  explicit Script(std::vector<double> s) : scores(std::move(s)) {
    epoch_end = [this](int epoch, Logs& logs) {
      logs["score"] = scores.at(static_cast<size_t>(epoch));
      weights.push_back(model()->get_weights());
    };
  }
};

std::shared_ptr<Model> compiled_mlp(const std::string& name, double lr = 0.05) {
  auto m = small_mlp(name);
  CompileOptions c;
  c.optimizer_object = std::make_shared<SGD>(SGDOptions{.learning_rate = lr});
  c.loss = "binary_crossentropy";
  c.metrics = {"accuracy"};
  m->compile(c);
  return m;
}

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovement) {
  auto [x, y] = linear_problem(32, 1);
  auto model = compiled_mlp("es_plateau");
  auto script = std::make_shared<Script>(std::vector<double>{1.0, 1.0, 1.0, 1.0, 1.0, 1.0});
  auto es = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "score", .patience = 2});
  History h = model->fit(x, y, {.epochs = 6, .callbacks = {script, es}, .verbose = 0});
  // Epoch 0 sets the best; epochs 1 and 2 do not improve -> stop at epoch 2.
  EXPECT_EQ(h.epochs_run, 3);
  EXPECT_EQ(es->stopped_epoch(), 2);
  EXPECT_EQ(es->best_epoch(), 0);
}

TEST(EarlyStopping, MinDeltaAndModeMax) {
  auto [x, y] = linear_problem(32, 2);
  auto model = compiled_mlp("es_delta");
  // Gains of 0.005 are below min_delta 0.01: no improvement after epoch 0.
  auto script = std::make_shared<Script>(std::vector<double>{0.5, 0.505, 0.508, 0.6, 0.6, 0.6});
  auto es = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "score", .min_delta = 0.01, .patience = 2, .mode = "max"});
  History h = model->fit(x, y, {.epochs = 6, .callbacks = {script, es}, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 3);
  EXPECT_DOUBLE_EQ(es->best(), 0.5);
}

TEST(EarlyStopping, RestoresTheBestEpochsWeights) {
  auto [x, y] = linear_problem(64, 3);
  auto model = compiled_mlp("es_restore", 0.2);
  auto script = std::make_shared<Script>(std::vector<double>{0.5, 0.3, 0.4, 0.45, 0.2, 0.1});
  auto es = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "score", .patience = 2, .restore_best_weights = true});
  History h = model->fit(x, y, {.epochs = 6, .callbacks = {script, es}, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 4);  // best at 1, no gain at 2 and 3
  EXPECT_EQ(es->best_epoch(), 1);
  auto now = model->get_weights();
  ASSERT_EQ(script->weights.size(), 4u);
  for (size_t i = 0; i < now.size(); ++i) {
    EXPECT_TRUE(test::bit_equal(now[i], script->weights[1][i])) << "weight " << i;
    EXPECT_FALSE(test::bit_equal(now[i], script->weights[3][i])) << "weight " << i;
  }
}

TEST(EarlyStopping, BaselineMustBeBeaten) {
  auto [x, y] = linear_problem(32, 4);
  // Flat at 0.9. Without a baseline epoch 0 counts as an improvement that
  // resets the wait: the stop comes at epoch 3.
  auto plain = compiled_mlp("es_nobaseline");
  auto s1 = std::make_shared<Script>(std::vector<double>(6, 0.9));
  auto es1 = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "score", .patience = 3});
  EXPECT_EQ(plain->fit(x, y, {.epochs = 6, .callbacks = {s1, es1}, .verbose = 0}).epochs_run, 4);
  // With baseline 0.1 never beaten, the wait is never reset: stop at epoch 2.
  auto model = compiled_mlp("es_baseline");
  auto s2 = std::make_shared<Script>(std::vector<double>(6, 0.9));
  auto es2 = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "score", .patience = 3, .baseline = 0.1});
  History h = model->fit(x, y, {.epochs = 6, .callbacks = {s2, es2}, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 3);
  EXPECT_EQ(es2->stopped_epoch(), 2);
  EXPECT_DOUBLE_EQ(es2->best(), 0.9);
}

TEST(EarlyStopping, MonitorsRealValidationLoss) {
  auto [x, y] = linear_problem(64, 5);
  auto model = compiled_mlp("es_val", 0.0);  // lr 0: val_loss never improves after epoch 0
  auto es = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 1});
  History h = model->fit(x, y, {.epochs = 10, .validation_split = 0.25, .callbacks = {es}, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 2);
  EXPECT_LOOM_ERROR(EarlyStopping(EarlyStoppingOptions{.mode = "biggest"}),
                    "EarlyStopping: mode must be 'auto', 'min' or 'max', got 'biggest'");
}

class ModelCheckpointTest : public test::TempDirTest {};

TEST_F(ModelCheckpointTest, BestOnlyWritesOnImprovement) {
  auto [x, y] = linear_problem(32, 6);
  auto model = compiled_mlp("ckpt_best");
  auto script = std::make_shared<Script>(std::vector<double>{0.5, 0.6, 0.4, 0.4, 0.3});
  auto ckpt = std::make_shared<ModelCheckpoint>(ModelCheckpointOptions{
      .filepath = path("ckpt_{epoch:02d}_{score:.2f}.loom"), .monitor = "score", .save_best_only = true});
  model->fit(x, y, {.epochs = 5, .callbacks = {script, ckpt}, .verbose = 0});
  std::vector<std::string> expected = {path("ckpt_01_0.50.loom"), path("ckpt_03_0.40.loom"),
                                       path("ckpt_05_0.30.loom")};
  EXPECT_EQ(ckpt->saved_paths(), expected);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    ++files;
    EXPECT_NE(std::find(expected.begin(), expected.end(), e.path().string()), expected.end()) << e.path();
  }
  EXPECT_EQ(files, 3);
  // The epoch-3 file holds the weights of that epoch (index 2).
  auto loaded = load_model(path("ckpt_03_0.40.loom"));
  auto w = loaded->get_weights();
  for (size_t i = 0; i < w.size(); ++i) EXPECT_TRUE(test::bit_equal(w[i], script->weights[2][i]));
}

TEST_F(ModelCheckpointTest, EveryEpochAndWeightsOnly) {
  auto [x, y] = linear_problem(32, 7);
  auto model = compiled_mlp("ckpt_all");
  auto ckpt = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions{.filepath = path("sub/w{epoch}.loom"), .save_weights_only = true});
  model->fit(x, y, {.epochs = 3, .callbacks = {ckpt}, .verbose = 0});
  ASSERT_EQ(ckpt->saved_paths().size(), 3u);
  for (int e = 1; e <= 3; ++e) EXPECT_TRUE(std::filesystem::exists(path(fmt::format("sub/w{}.loom", e))));
  EXPECT_EQ(read_checkpoint(path("sub/w3.loom")).header.get_string("content"), "weights");
  // The last file's weights are the model's.
  auto fresh = small_mlp("ckpt_all");
  fresh->load_weights(path("sub/w3.loom"));
  test::expect_same_weights(*fresh, *model);
  EXPECT_LOOM_ERROR(format_checkpoint_path("m_{val_auc}.loom", 1, {{"loss", 1.0}}),
                    "path 'm_{val_auc}.loom' names 'val_auc', which is not in the logs (available: epoch, loss)");
}

TEST(ReduceLROnPlateau, LowersTheRateAfterPatience) {
  auto [x, y] = linear_problem(32, 8);
  auto model = compiled_mlp("rlrop", 0.1);
  auto script = std::make_shared<Script>(std::vector<double>(5, 1.0));
  auto rl = std::make_shared<ReduceLROnPlateau>(
      ReduceLROnPlateauOptions{.monitor = "score", .factor = 0.5, .patience = 1});
  History h = model->fit(x, y, {.epochs = 5, .callbacks = {script, rl}, .verbose = 0});
  // "lr" is logged before this epoch's reduction (Keras).
  std::vector<double> lr = h.history.at("lr");
  ASSERT_EQ(lr.size(), 5u);
  EXPECT_DOUBLE_EQ(lr[0], 0.1);
  EXPECT_DOUBLE_EQ(lr[1], 0.1);
  EXPECT_DOUBLE_EQ(lr[2], 0.05);
  EXPECT_DOUBLE_EQ(lr[3], 0.025);
  EXPECT_DOUBLE_EQ(lr[4], 0.0125);
  EXPECT_DOUBLE_EQ(model->optimizer()->learning_rate(), 0.00625);
}

TEST(ReduceLROnPlateau, CooldownAndMinLr) {
  auto [x, y] = linear_problem(32, 9);
  auto model = compiled_mlp("rlrop_cd", 0.1);
  auto script = std::make_shared<Script>(std::vector<double>(6, 1.0));
  auto rl = std::make_shared<ReduceLROnPlateau>(
      ReduceLROnPlateauOptions{.monitor = "score", .factor = 0.5, .patience = 1, .cooldown = 2});
  History h = model->fit(x, y, {.epochs = 6, .callbacks = {script, rl}, .verbose = 0});
  EXPECT_EQ(h.history.at("lr"), (std::vector<double>{0.1, 0.1, 0.05, 0.05, 0.025, 0.025}));

  auto m2 = compiled_mlp("rlrop_min", 0.1);
  auto s2 = std::make_shared<Script>(std::vector<double>(6, 1.0));
  auto rl2 = std::make_shared<ReduceLROnPlateau>(
      ReduceLROnPlateauOptions{.monitor = "score", .factor = 0.5, .patience = 1, .min_lr = 0.03});
  m2->fit(x, y, {.epochs = 6, .callbacks = {s2, rl2}, .verbose = 0});
  EXPECT_DOUBLE_EQ(m2->optimizer()->learning_rate(), 0.03);
  EXPECT_LOOM_ERROR(ReduceLROnPlateau(ReduceLROnPlateauOptions{.factor = 1.5}), "factor must be in [0, 1)");
}

TEST(ReduceLROnPlateau, ImprovementResetsTheWait) {
  auto [x, y] = linear_problem(32, 10);
  auto model = compiled_mlp("rlrop_imp", 0.1);
  // Improves by more than min_delta (1e-4) every other epoch; patience 2 never runs out.
  auto script = std::make_shared<Script>(std::vector<double>{1.0, 1.0, 0.9, 0.9, 0.8, 0.8});
  auto rl = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{.monitor = "score", .patience = 2});
  model->fit(x, y, {.epochs = 6, .callbacks = {script, rl}, .verbose = 0});
  EXPECT_DOUBLE_EQ(model->optimizer()->learning_rate(), 0.1);
}

class CSVLoggerTest : public test::TempDirTest {};

std::vector<std::vector<std::string>> read_csv(const std::string& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

TEST_F(CSVLoggerTest, WritesOneRowPerEpochWithExactValues) {
  auto [x, y] = linear_problem(40, 11);
  auto model = compiled_mlp("csv");
  auto csv = std::make_shared<CSVLogger>(path("log.csv"));
  History h = model->fit(x, y, {.epochs = 3, .validation_split = 0.25, .callbacks = {csv}, .verbose = 0});
  auto rows = read_csv(path("log.csv"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"epoch", "accuracy", "loss", "val_accuracy", "val_loss"}));
  for (int e = 0; e < 3; ++e) {
    ASSERT_EQ(rows[e + 1].size(), 5u);
    EXPECT_EQ(rows[e + 1][0], std::to_string(e));
    // Shortest round-trip text: reads back to the exact History value.
    EXPECT_EQ(std::stod(rows[e + 1][1]), h.history["accuracy"][e]);
    EXPECT_EQ(std::stod(rows[e + 1][2]), h.history["loss"][e]);
    EXPECT_EQ(std::stod(rows[e + 1][3]), h.history["val_accuracy"][e]);
    EXPECT_EQ(std::stod(rows[e + 1][4]), h.history["val_loss"][e]);
  }
  // Appending adds rows without a second header; epochs count from 0 again (Keras).
  auto again = std::make_shared<CSVLogger>(path("log.csv"), ',', /*append=*/true);
  model->fit(x, y, {.epochs = 2, .validation_split = 0.25, .callbacks = {again}, .verbose = 0});
  rows = read_csv(path("log.csv"));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[4][0], "0");
  EXPECT_EQ(rows[5][0], "1");
  // Without append the file starts over.
  auto fresh = std::make_shared<CSVLogger>(path("log.csv"));
  model->fit(x, y, {.epochs = 1, .callbacks = {fresh}, .verbose = 0});
  rows = read_csv(path("log.csv"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"epoch", "accuracy", "loss"}));
}

TEST(TerminateOnNaN, StopsAtTheFirstNonFiniteBatch) {
  auto [x, y] = linear_problem(16, 12);
  y.set({5}, std::nan(""));  // in the second batch of 4: that batch's loss is NaN
  auto model = compiled_mlp("nan");
  auto stop = std::make_shared<TerminateOnNaN>();
  int batches = 0, epochs = 0;
  auto count = std::make_shared<LambdaCallback>();
  count->batch_end = [&](int64_t, const Logs&) { ++batches; };
  count->epoch_end = [&](int, Logs&) { ++epochs; };
  testing::internal::CaptureStdout();
  History h = model->fit(x, y, {.batch_size = 4, .epochs = 3, .shuffle = false,
                                .callbacks = {stop, count}, .verbose = 0});
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_TRUE(stop->terminated());
  EXPECT_EQ(batches, 2);  // batch 1 went NaN: no further batch
  EXPECT_EQ(epochs, 1);   // the stopped epoch still ends (Keras)
  EXPECT_EQ(h.epochs_run, 1);
  EXPECT_NE(out.find("Batch 1: Invalid loss, terminating training"), std::string::npos) << out;
}

}  // namespace
}  // namespace loom
