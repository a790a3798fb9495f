// Keras model files at IMDB's size: the BiLSTM sentiment model
// (Embedding(20000, 128, mask_zero) -> Bidirectional(LSTM(64)) -> Dense(1),
// 2.66 M parameters) written and read as a Keras 3 .keras archive and a
// Keras 2 .h5 file. bench/RESULTS.md records the medians.
//
//   loom_keras_bench [--repeats N] [--dir DIR]   # DIR: where the files go (default /tmp)
//   LOOM_KERAS_BENCH_KEEP=1 keeps the two files (to time Keras loading them)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <loom/loom.h>

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename Fn>
double seconds(Fn&& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::shared_ptr<loom::Model> imdb_bilstm() {
  using namespace loom;
  manual_seed(1);
  return std::make_shared<Sequential>(
      Shape{200}, DType::i32,
      std::vector<LayerPtr>{Embedding::make({.input_dim = 20000, .output_dim = 128, .mask_zero = true}),
                            Bidirectional::make(LSTM::make({.units = 64})),
                            Dense::make({.units = 1, .activation = "sigmoid"})});
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "loom_keras_bench")) return 0;
  int repeats = 9;
  std::string dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
  }
  if (!loom::keras_files_supported()) {
    std::fprintf(stderr, "loom_keras_bench: this build has no Keras file support (LOOM_WITH_HDF5=ON)\n");
    return 2;
  }
  auto model = imdb_bilstm();
  int64_t params = 0;
  for (const auto& w : model->get_weights()) params += w.numel();
  std::printf("IMDB BiLSTM: %lld parameters, %d repeats (median)\n", static_cast<long long>(params), repeats);
  for (const char* ext : {".keras", ".h5"}) {
    const std::string path = dir + "/loom_keras_bench" + ext;
    std::vector<double> save, load;
    for (int r = 0; r < repeats; ++r) {
      save.push_back(seconds([&] { loom::save_keras(*model, path); }));
      load.push_back(seconds([&] { loom::load_keras(path); }));
    }
    std::printf("%-7s file %6.1f MB  save_keras %7.1f ms  load_keras %7.1f ms\n", ext,
                std::filesystem::file_size(path) / 1e6, median(save) * 1e3, median(load) * 1e3);
    if (!std::getenv("LOOM_KERAS_BENCH_KEEP")) std::filesystem::remove(path);
  }
  return 0;
}
