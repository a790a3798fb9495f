// Helpers for the bad-input and fault tests: catching the exact kind of
// failure, snapshots of what must survive it (files, weights, optimizer
// state), and a scoped file-size limit that makes writes fail as on a full disk.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "layers/training/training_util.h"
#include "loom/optim/optimizer.h"

namespace loom::test {

// Keeps a caught message in the test report (--gtest_output=json:FILE shows
// it as the property "error", "error2", ... of the test), so the table in
// docs/RELIABILITY_BAD_INPUT.md can be checked against what Loom says.
inline void record_error(const std::string& message) {
  static std::string current;
  static int count = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
  if (test != current) {
    current = test;
    count = 0;
  }
  ++count;
  ::testing::Test::RecordProperty(count == 1 ? "error" : "error" + std::to_string(count), message);
}

// The message of the loom::Error that `f` throws. Any other outcome (no
// exception, or another type such as std::bad_alloc) fails the test: a user
// must get a loom::Error that says what was wrong. `record`: keep the
// message in the test report (off in loops over thousands of inputs).
template <typename F>
std::string loom_error(F&& f, bool record = true) {
  try {
    f();
  } catch (const Error& e) {
    if (record) record_error(e.what());
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected loom::Error, got " << typeid(e).name() << ": " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected loom::Error, nothing was thrown";
  return {};
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write test file " << path;
}

// File names in `dir` (to see that a failed save left no temporary file behind).
inline std::vector<std::string> dir_listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Everything training may change: weights, optimizer slots and step count,
// copied so that later updates do not alias them.
struct ModelState {
  std::vector<Tensor> weights;
  OptimizerState optimizer;
  int64_t iterations = -1;
};

inline ModelState snapshot(const Model& model) {
  ModelState s;
  s.weights = model.get_weights();  // copies
  if (model.optimizer()) {
    s.optimizer = model.optimizer()->state();  // copies
    s.iterations = model.optimizer()->iterations();
  }
  return s;
}

// Bit-for-bit equality of the model's state with `before`; one failure
// listing everything that changed.
inline void expect_state_unchanged(const ModelState& before, const Model& model) {
  const ModelState now = snapshot(model);
  std::vector<std::string> changed;
  if (now.weights.size() != before.weights.size()) changed.push_back("the number of weights");
  for (size_t i = 0; i < std::min(now.weights.size(), before.weights.size()); ++i)
    if (!bit_equal(now.weights[i], before.weights[i])) changed.push_back("weight " + std::to_string(i));
  if (now.iterations != before.iterations)
    changed.push_back("optimizer steps " + std::to_string(before.iterations) + " -> " +
                      std::to_string(now.iterations));
  for (const auto& [name, t] : before.optimizer) {
    auto it = now.optimizer.find(name);
    if (it == now.optimizer.end() || !bit_equal(it->second, t)) changed.push_back("slot " + name);
  }
  if (now.optimizer.size() != before.optimizer.size()) changed.push_back("the set of optimizer slots");
  EXPECT_TRUE(changed.empty()) << "changed: " << fmt::format("{}", fmt::join(changed, ", "));
}

inline bool all_finite(const Model& model) {
  for (const Tensor& w : model.get_weights())
    for (double v : w.to_vector<double>())
      if (!std::isfinite(v)) return false;
  return true;
}

// While alive, files of this process cannot grow beyond `bytes` and a write
// past the limit fails with EFBIG instead of killing the process (SIGXFSZ
// ignored): a disk that fills up in the middle of a save.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ok_ = ::getrlimit(RLIMIT_FSIZE, &saved_) == 0;
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = saved_;
    lim.rlim_cur = bytes;
    ok_ = ok_ && ::setrlimit(RLIMIT_FSIZE, &lim) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = SIG_DFL;
  bool ok_ = false;
};

}  // namespace loom::test
