// The program the fault tests run as an MPI job (tests/distributed/faults_test.sh):
//
//   fault_job raise BACKUP     rank 1 throws in epoch 2, batch 3
//   fault_job kill BACKUP      rank 1 is killed (SIGKILL) there
//   fault_job resume BACKUP    resumes from the backup (any number of ranks),
//                              then trains the same run uninterrupted in this
//                              process alone and compares the weights
//   fault_job mismatch         rank 1 builds a different model
//
// Every mode trains the same small BiLSTM (masks, dropout, recurrent
// dropout) with a backup every 2 batches, which rank 0 writes.
// Exit status: 0 when the mode's run ends as it should, 1 when resume
// differs from the uninterrupted run, 3 for an error thrown by fit().
#include <csignal>
#include <cstdio>
#include <iostream>

#include <loom/loom.h>
#include "distributed/small_bilstm.h"

using namespace loom;

namespace {

// Fails rank 1 at (epoch 2, batch 3), by an exception or by SIGKILL; "never"
// is the same callback doing nothing (a resumed fit has the callbacks of
// the run it resumes).
class Fault : public Callback {
 public:
  explicit Fault(std::string how) : how_(std::move(how)) {}
  void on_epoch_begin(int epoch, const Logs&) override { epoch_ = epoch; }
  void on_batch_end(int64_t batch, const Logs&) override {
    if (how_ == "never" || distributed::rank() != 1 || epoch_ != 1 || batch != 2) return;
    if (how_ == "kill") std::raise(SIGKILL);
    throw std::runtime_error("injected failure on purpose (epoch 2, batch 3)");
  }

 private:
  std::string how_;
  int epoch_ = 0;
};

const int64_t kT = 7;

std::vector<Tensor> train(const std::string& backup, DataParallelMode mode,
                          std::shared_ptr<Callback> fault, int64_t units = 4) {
  auto [x, y] = test::token_data(64, kT, 8, 3);  // 8 batches of 8 per epoch
  auto model = test::small_bilstm(kT, {.units = units, .input_dropout = 0});
  FitOptions o;
  o.batch_size = 8;
  o.epochs = 3;
  o.seed = 7;
  o.verbose = 0;
  o.data_parallel = mode;
  if (fault) o.callbacks = {fault};
  if (!backup.empty()) o.backup = {.path = backup, .save_every_steps = 2};
  model->fit(x, y, o);
  return model->get_weights();
}

double max_abs_difference(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    std::vector<double> va = a[i].to_vector<double>(), vb = b[i].to_vector<double>();
    for (size_t k = 0; k < va.size(); ++k) m = std::max(m, std::abs(va[k] - vb[k]));
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fault_job raise|kill|resume BACKUP | mismatch\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string backup = argc > 2 ? argv[2] : "";
  try {
    distributed::init();
    if (mode == "raise" || mode == "kill") {
      train(backup, DataParallelMode::automatic, std::make_shared<Fault>(mode));
      std::printf("rank %d: the fault did not stop the job\n", distributed::rank());
      return 0;
    }
    if (mode == "resume") {
      auto never = std::make_shared<Fault>("never");
      std::vector<Tensor> resumed = train(backup, DataParallelMode::automatic, never);
      std::vector<Tensor> alone = train("", DataParallelMode::off, never);
      const double diff = max_abs_difference(resumed, alone);
      std::printf("rank %d of %d (backend %s): resumed run vs uninterrupted run, max |difference| %.3g\n",
                  distributed::rank(), distributed::world_size(), cpu_backend_name().c_str(), diff);
      return diff <= 1e-5 ? 0 : 1;
    }
    if (mode == "mismatch") {
      train("", DataParallelMode::automatic, nullptr, distributed::rank() == 1 ? 5 : 4);
      std::printf("rank %d: the mismatch was not detected\n", distributed::rank());
      return 0;
    }
    std::fprintf(stderr, "fault_job: unknown mode '%s'\n", mode.c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "rank %d: %s\n", distributed::rank(), e.what());
    return 3;
  }
}
