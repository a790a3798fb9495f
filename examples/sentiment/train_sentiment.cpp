// Trains a sentiment classifier on raw texts and reports its test accuracy:
//
//   ./build/train_sentiment                                  # BiLSTM on the synthetic corpus
//   ./build/train_sentiment --model bow                      # the bag-of-words baseline
//   tar -xzf ../shared/data/imdb/aclImdb.tar.gz -C /tmp
//   ./build/train_sentiment --data imdb:/tmp/aclImdb --maxlen 200 --vocab 20000 --epochs 3 \
//       --save imdb.loom --plot imdb.svg
//   ./build/train_sentiment --data tsv:sst2/train.tsv --val-data tsv:sst2/dev.tsv \
//       --test-data tsv:sst2/test.tsv
//   ./build/predict_sentiment --model imdb.loom "a wonderful , moving film"
//
// The pipeline (vectorize, build, fit, select the epoch on validation data,
// evaluate) is loom::text::train_sentiment_classifier; this program parses
// flags (examples/sentiment/sentiment_cli.h), loads the data and writes the outputs.
// Under `mpirun -np N` it trains data-parallel (docs/DISTRIBUTED.md): every
// rank loads the data and takes its share of each batch; rank 0 alone
// prints and writes the model, the plot and the backups.
// Exit status: 0 on success, 2 on a usage or data error.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "loom/layers/training/history_plot.h"
#include <loom/loom.h>
#include "examples/sentiment/sentiment_cli.h"

using namespace loom;

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "train_sentiment")) return 0;
  const auto t0 = std::chrono::steady_clock::now();
  // The other ranks of an mpirun job stay quiet: their output would repeat rank 0's.
  std::ostringstream quiet;
  struct RestoreCout {
    std::streambuf* saved = std::cout.rdbuf();
    ~RestoreCout() { std::cout.rdbuf(saved); }
  } restore_cout;
  try {
    if (distributed::launched_world_size() > 1) {
      distributed::init();
      if (!distributed::is_primary()) std::cout.rdbuf(quiet.rdbuf());
    }
    auto args = sentiment_cli::parse_train_args(std::vector<std::string>(argv + 1, argv + argc));
    if (args.help) {
      std::cout << sentiment_cli::train_usage(argv[0]);
      return 0;
    }
    if (!args.resume_path.empty()) args = sentiment_cli::resume_train_args(args, std::cout);
    sentiment_cli::record_command_line(args);
    sentiment_cli::apply_runtime(args.backend, args.threads);
    std::cout << fmt::format("backend {} with {} thread(s)",
                             args.backend == "cuda" ? fmt::format("cuda (cuda:{})", distributed::local_rank())
                                                    : cpu_backend_name(),
                             num_threads());
    if (distributed::initialized())
      std::cout << fmt::format(" per process, {} processes (data-parallel)", distributed::world_size());
    std::cout << "\n";

    const auto data = sentiment_cli::load_train_data(args);
    std::cout << "data: " << data.description << "\n" << std::flush;

    auto run = text::train_sentiment_classifier(data.train, data.validation, data.test, args.train);

    const auto& h = run.history.history;
    if (auto it = h.find("val_accuracy"); it != h.end() && run.best_epoch >= 1 &&
                                          run.best_epoch <= static_cast<int>(it->second.size()))
      std::cout << fmt::format("val_accuracy={:.4f} (epoch {})\n", it->second[run.best_epoch - 1],
                               run.best_epoch);
    const bool writer = distributed::is_primary();
    if (!args.save_path.empty() && writer) {
      Json meta = Json::object();
      meta.set("data", data.description);
      meta.set("epochs_run", run.history.epochs_run);
      meta.set("selected_epoch", run.best_epoch);
      meta.set("test_accuracy", run.test_accuracy);
      run.classifier.save(args.save_path, meta);
      std::cout << "saved " << args.save_path << "\n";
    }
    if (!args.export_keras_path.empty() && writer) {
      run.classifier.export_keras(args.export_keras_path);
      std::cout << "exported " << args.export_keras_path << " (Keras 3)\n";
    }
    // The backups are no longer needed once the outputs are written (a run
    // killed before this point resumes from them).
    if (!args.train.backup.path.empty() && writer) delete_backups(args.train.backup.path);
    if (!args.plot_path.empty() && writer) {
      write_history_svg(run.history, args.plot_path,
                        {.title = fmt::format("{} on {}", args.train.model.kind, args.data.str())});
      std::cout << "wrote " << args.plot_path << "\n";
    }
    double per_epoch = 0;
    for (double s : run.epoch_seconds) per_epoch += s;
    if (!run.epoch_seconds.empty()) per_epoch /= static_cast<double>(run.epoch_seconds.size());
    std::cout << fmt::format("test_loss={:.4f}\n", run.test_loss);
    std::cout << fmt::format("test_accuracy={:.4f}\n", run.test_accuracy);
    std::cout << fmt::format("wall_time={:.1f}s (mean epoch {:.1f}s, {} epoch(s))\n",
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                             per_epoch, run.epoch_seconds.size());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "train_sentiment: %s\n", e.what());
    return 2;
  }
}
