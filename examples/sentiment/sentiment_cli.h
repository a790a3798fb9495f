// Command-line parts shared by examples/train_sentiment and
// examples/predict_sentiment (and tested in tests/examples/sentiment/): flag parsing
// into settings structs, data specs (--data synthetic|imdb:DIR|tsv:FILE|
// csv:FILE) and loading them. The training itself is
// loom::text::train_sentiment_classifier (examples/sentiment/sentiment_classifier.h),
// so the example and the tests run the same pipeline.
//
// Flags are `--name value` or `--name=value`; on/off switches take an
// explicit on|off (`--mask off`). Every problem is a loom::Error naming the
// flag: an unknown flag, a missing or malformed value, a value out of range,
// a flag given twice.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "loom/layers/text/datasets.h"
#include "examples/sentiment/sentiment_classifier.h"

namespace loom::sentiment_cli {

// Where examples come from.
struct DataSpec {
  enum class Kind { synthetic, imdb, tsv, csv };
  Kind kind = Kind::synthetic;
  std::string path;  // the directory or file (empty for synthetic)
  std::string str() const;  // back to the flag's syntax
};

// Parses "synthetic", "imdb:DIR", "tsv:FILE" or "csv:FILE"; `flag` names the
// flag in errors.
DataSpec parse_data_spec(const std::string& flag, const std::string& value);

// Columns and label names for tsv:/csv: files.
struct TableColumns {
  std::string text_column;   // header name or 0-based index; empty = 0
  std::string label_column;  // header name or 0-based index; empty = 1
};
text::TableOptions table_options(const TableColumns& columns);

// ---- train_sentiment ----------------------------------------------------------------------------

struct TrainArgs {
  DataSpec data;
  std::optional<DataSpec> test_data, val_data;
  TableColumns columns;
  // Examples used: synthetic data generates this many (defaults 10000 and
  // 2000); other data are subsampled (seeded shuffle) when > 0.
  int64_t train_size = 0, test_size = 0;
  text::SentimentTrainOptions train;
  std::string backend;  // empty = the default CPU backend
  int threads = 0;      // 0 = the default (LOOM_NUM_THREADS or all cores)
  std::string save_path, plot_path;
  // --export-keras FILE: the trained classifier as a Keras 3 .keras model.
  std::string export_keras_path;
  // --resume FILE: continue the run whose backup (--backup) is FILE, with
  // the flags stored in it (only --threads and --backend may be given too).
  std::string resume_path;
  std::vector<std::string> command_line;  // the flags as given (stored in backups)
  bool help = false;
};

constexpr int64_t kSyntheticTrainDefault = 10000;
constexpr int64_t kSyntheticTestDefault = 2000;

// args without the program name.
TrainArgs parse_train_args(const std::vector<std::string>& args);
std::string train_usage(const std::string& program);
// The arguments of the run `given.resume_path` backs up: its stored flags,
// with given's --threads / --backend when set. Throws naming the file when
// there is no usable backup or it was not written by train_sentiment.
TrainArgs resume_train_args(const TrainArgs& given, std::ostream& log);
// Stores the command line in the backups `args` asks for (--backup), so
// --resume can repeat it.
void record_command_line(TrainArgs& args);

struct TrainData {
  text::TextDataset train, validation, test;
  std::string description;  // one line for the log
};
// Reads (or generates) the data the arguments name: training set, optional
// validation set (--val-data) and test set (--test-data, else imdb's test
// split, the synthetic test part, or 20% held out of a tsv/csv file).
TrainData load_train_data(const TrainArgs& args);

// ---- predict_sentiment -------------------------------------------------------------------------

struct PredictArgs {
  std::string model_path;
  std::vector<std::string> texts;  // positional arguments
  std::string input_path, output_path;
  TableColumns columns;
  double threshold = 0.5;
  int64_t batch_size = 64;
  std::string backend;
  int threads = 0;
  bool help = false;
};

PredictArgs parse_predict_args(const std::vector<std::string>& args);
std::string predict_usage(const std::string& program);

// Texts of an --input file and their labels when it has them: a file whose
// records have one field holds texts only (no header); otherwise it is read
// as a tsv/csv data file (delimiter by extension: .tsv/.tab tab, else comma).
struct InputTexts {
  std::vector<std::string> texts;
  std::vector<int32_t> labels;  // empty when the file has none
};
InputTexts read_input_texts(const std::string& path, const TableColumns& columns);

// Texts given one per line (predict_sentiment's standard input): a trailing
// "\r" is dropped and blank lines (spaces and tabs only) are skipped; the
// bytes are kept as they are. Throws when no text is left.
std::vector<std::string> read_text_lines(std::istream& in);

// "positive" / "negative" at `threshold`.
const char* label_name(double probability, double threshold);

// Applies --backend / --threads (empty / 0 leave the defaults).
void apply_runtime(const std::string& backend, int threads);

}  // namespace loom::sentiment_cli
