// fit()'s crash-safe backups (layers/training/backup.h): a run interrupted
// anywhere and resumed from its backup ends with the weights, optimizer
// state and history of an uninterrupted run, bit for bit; a damaged backup
// is never loaded. (tests/examples/sentiment/ kills a real process.)
//
// Dimension letters: N samples, T timesteps.
#include <gmock/gmock.h>

#include <fstream>
#include <random>

#include "layers/training/training_util.h"

namespace loom::test {
namespace {

// Token ids (N,T) with left padding and labels (N,1): is token 1 more
// frequent than token 2.
std::pair<Tensor, Tensor> token_data(int64_t N, int64_t T, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(N * T, 0);
  std::vector<float> y(N);
  for (int64_t n = 0; n < N; ++n) {
    int balance = 0;
    for (int64_t t = n % 4; t < T; ++t) {
      const int32_t id = 1 + static_cast<int32_t>(rng() % 7);
      ids[n * T + t] = id;
      balance += id == 1 ? 1 : id == 2 ? -1 : 0;
    }
    y[n] = balance > 0 ? 1.0f : 0.0f;
  }
  return {Tensor::from_vector(ids, {N, T}), Tensor::from_vector(y, {N, 1})};
}

// Embedding(mask_zero) -> Bidirectional(LSTM, dropout and recurrent
// dropout) -> Dense(1, sigmoid), the same weights on every call.
std::shared_ptr<Model> bilstm(int64_t T) {
  auto ids = Input({T}, DType::i32, "tokens");
  SymbolicTensor e =
      Embedding::make({.input_dim = 8, .output_dim = 6, .mask_zero = true, .seed = 1}, "embed")(ids);
  SymbolicTensor h = Bidirectional::make(
      LSTM::make({.units = 5, .dropout = 0.25, .recurrent_dropout = 0.25, .seed = 2}, "lstm"))(e);
  SymbolicTensor out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 3}, "out")(h);
  auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{ids},
                                       std::vector<SymbolicTensor>{out}, "bilstm");
  model->compile({.optimizer = "adam", .loss = "binary_crossentropy", .metrics = {"accuracy", "auc"}});
  return model;
}

// Throws from on_batch_end once `remaining` batches have ended: a crash
// in the middle of fit() (before that step's backup, if it has one).
class CrashAfter : public Callback {
 public:
  explicit CrashAfter(int64_t batches) : remaining_(batches) {}
  void on_batch_end(int64_t, const Logs&) override {
    if (--remaining_ == 0) throw std::runtime_error("simulated crash");
  }

 private:
  int64_t remaining_;
};

struct FitResult {
  std::vector<Tensor> weights;
  History history;
};

const int64_t kT = 7;

FitOptions fit_options(const std::string& backup, std::shared_ptr<EarlyStopping> es) {
  auto [xv, yv] = token_data(24, kT, 9);
  FitOptions o;
  o.batch_size = 8;
  o.epochs = 3;
  o.seed = 42;
  o.verbose = 0;
  o.validation_x = {xv};
  o.validation_y = yv;
  o.callbacks = {std::move(es)};
  o.backup = {.path = backup, .save_every_steps = 2};
  return o;
}

std::shared_ptr<EarlyStopping> early_stopping() {
  return std::make_shared<EarlyStopping>(EarlyStoppingOptions{
      .monitor = "val_accuracy", .patience = 5, .restore_best_weights = true});
}

FitResult uninterrupted(const std::string& backup) {
  auto [x, y] = token_data(56, kT, 8);  // 7 batches per epoch
  auto model = bilstm(kT);
  FitResult r;
  r.history = model->fit(x, y, fit_options(backup, early_stopping()));
  r.weights = model->get_weights();
  return r;
}

void expect_same_run(const FitResult& a, const FitResult& b) {
  ASSERT_EQ(a.weights.size(), b.weights.size());
  for (size_t i = 0; i < a.weights.size(); ++i) EXPECT_TRUE(bit_equal(a.weights[i], b.weights[i])) << i;
  EXPECT_EQ(a.history.epochs_run, b.history.epochs_run);
  EXPECT_EQ(a.history.history, b.history.history);
}

// Runs fit, crashing after `crashes[k]` batches of attempt k, resuming each
// time from the backup, until one attempt completes.
FitResult interrupted(const std::string& backup, const std::vector<int64_t>& crashes,
                const std::function<void()>& between = {}) {
  auto [x, y] = token_data(56, kT, 8);
  for (int64_t after : crashes) {
    auto model = bilstm(kT);  // a fresh process: fresh weights and optimizer
    FitOptions o = fit_options(backup, early_stopping());
    o.callbacks.push_back(std::make_shared<CrashAfter>(after));
    // The crash callback is not part of the run being resumed: give it no state.
    EXPECT_THROW(model->fit(x, y, o), std::runtime_error);
    if (between) between();
  }
  auto model = bilstm(kT);
  FitOptions o = fit_options(backup, early_stopping());
  o.callbacks.push_back(std::make_shared<CrashAfter>(-1));  // never fires
  FitResult r;
  r.history = model->fit(x, y, o);
  r.weights = model->get_weights();
  return r;
}

class FitBackup : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             fmt::format("loom_backup_test_{}_{}.backup", ::getpid(),
                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    delete_backups(path_);
  }
  void TearDown() override { delete_backups(path_); }
  std::string path_;
};

TEST_F(FitBackup, BackupsDoNotChangeTheRunAndAreDeletedAtTheEnd) {
  const FitResult with = uninterrupted(path_);
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_FALSE(std::filesystem::exists(path_ + ".prev"));
  const FitResult without = uninterrupted("");
  expect_same_run(with, without);
}

TEST_F(FitBackup, ResumedMidEpochAndAtEpochEndsBitIdentical) {
  const FitResult reference = uninterrupted("");
  // Crashes mid-epoch (after a backup step and between two), right at an
  // epoch's end, and in the last epoch.
  const FitResult resumed = interrupted(path_, {3, 4, 7, 5});
  expect_same_run(resumed, reference);
}

TEST_F(FitBackup, ADamagedBackupIsNeverLoadedThePreviousOneIs) {
  const FitResult reference = uninterrupted("");
  const FitResult resumed = interrupted(path_, {5}, [&] {
    ASSERT_TRUE(std::filesystem::exists(path_ + ".prev"));
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(path_) / 2));
    f.put('\x5a');  // a flipped byte in the middle: a section CRC fails
  });
  expect_same_run(resumed, reference);
}

TEST_F(FitBackup, BothBackupsDamagedIsAnErrorNamingBoth) {
  auto [x, y] = token_data(56, kT, 8);
  std::ofstream(path_) << "not a backup";
  std::ofstream(path_ + ".prev") << "torn";
  auto model = bilstm(kT);
  const std::vector<Tensor> before = model->get_weights();
  try {
    model->fit(x, y, fit_options(path_, early_stopping()));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr(path_));
    EXPECT_THAT(e.what(), ::testing::HasSubstr(path_ + ".prev"));
  }
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(bit_equal(before[i], model->get_weights()[i]));
  EXPECT_TRUE(std::filesystem::exists(path_));  // nothing deleted
}

TEST_F(FitBackup, ResumingWithOtherDataIsAnError) {
  {
    auto [x, y] = token_data(56, kT, 8);
    auto model = bilstm(kT);
    FitOptions o = fit_options(path_, early_stopping());
    o.callbacks.push_back(std::make_shared<CrashAfter>(3));
    EXPECT_THROW(model->fit(x, y, o), std::runtime_error);
  }
  auto [x, y] = token_data(40, kT, 8);
  auto model = bilstm(kT);
  FitOptions o = fit_options(path_, early_stopping());
  o.callbacks.push_back(std::make_shared<CrashAfter>(-1));
  EXPECT_LOOM_ERROR(model->fit(x, y, o), "56 samples, but this fit has 40");
}

}  // namespace
}  // namespace loom::test
