// Fuzzes predict_sentiment's input handling (examples/sentiment/sentiment_cli.h):
// its flags (parse_predict_args, with parse_data_spec and table_options of
// the shared train flags), an --input file (read_input_texts) and texts on
// standard input (read_text_lines). No model is loaded or trained.
//
// Input: a mode byte, then NUL-separated arguments; for the file modes the
// bytes after the mode byte are the file or the standard input.
#include <sstream>
#include <string>
#include <vector>

#include "examples/sentiment/sentiment_cli.h"
#include "fuzz_util.h"

namespace cli = loom::sentiment_cli;

namespace {

std::vector<std::string> split_args(loom_fuzz::Input& in) {
  std::vector<std::string> args;
  while (!in.empty() && args.size() < 64) args.emplace_back(in.until('\0'));
  return args;
}

void parse_flags(const std::vector<std::string>& args) {
  const cli::PredictArgs a = cli::parse_predict_args(args);
  if (!a.help && a.model_path.empty()) std::abort();  // --model is required
  if (!(a.threshold >= 0.0 && a.threshold <= 1.0) || a.batch_size < 1) std::abort();
  cli::table_options({a.columns.text_column, a.columns.label_column});
  for (const std::string& v : args)
    loom_fuzz::expect_loom_errors_only([&] { cli::parse_data_spec("--data", v); });
}

void read_file(uint8_t mode, std::string_view bytes) {
  static const char* kNames[] = {"in.txt", "in.tsv", "in.csv", "in.tab"};
  const std::string path = loom_fuzz::write_scratch_file(kNames[(mode >> 2) & 3], bytes);
  cli::TableColumns columns;
  if (mode & 0x10) columns.text_column = (mode & 0x20) ? "text" : "1";
  if (mode & 0x40) columns.label_column = (mode & 0x80) ? "label" : "0";
  const cli::InputTexts got = cli::read_input_texts(path, columns);
  if (!got.labels.empty() && got.labels.size() != got.texts.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  loom_fuzz::init_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom_fuzz::Input in(data, size);
  const uint8_t mode = in.byte();
  switch (mode & 3) {
    case 0:
    case 1: {
      const std::vector<std::string> args = split_args(in);
      loom_fuzz::expect_loom_errors_only([&] { parse_flags(args); });
      break;
    }
    case 2:
      loom_fuzz::expect_loom_errors_only([&] { read_file(mode, in.rest()); });
      break;
    case 3: {
      std::istringstream stdin_text{std::string(in.rest())};
      loom_fuzz::expect_loom_errors_only([&] {
        for (const std::string& t : cli::read_text_lines(stdin_text))
          if (t.find('\n') != std::string::npos) std::abort();
      });
      break;
    }
  }
  return 0;
}
