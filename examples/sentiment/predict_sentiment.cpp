// Classifies texts with a model file written by train_sentiment --save:
//
//   ./build/predict_sentiment --model sentiment.loom "a wonderful film" "not good at all"
//   printf 'what a bore\nloved it\n' | ./build/predict_sentiment --model sentiment.loom
//   ./build/predict_sentiment --model sst2.loom --input sst2/test.tsv --output preds.tsv
//
// Each text prints as probability<TAB>label<TAB>text; an --input file with
// labels also prints accuracy=0.xxxx. Exit status 0, or 2 on an error.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <loom/loom.h>
#include "examples/sentiment/sentiment_cli.h"

using namespace loom;

namespace {

// Tabs and line breaks inside a text would break the one-line-per-text output.
std::string one_line(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "predict_sentiment")) return 0;
  try {
    const auto args = sentiment_cli::parse_predict_args(std::vector<std::string>(argv + 1, argv + argc));
    if (args.help) {
      std::cout << sentiment_cli::predict_usage(argv[0]);
      return 0;
    }
    sentiment_cli::apply_runtime(args.backend, args.threads);
    const auto clf = text::SentimentClassifier::load(args.model_path);

    sentiment_cli::InputTexts input;
    if (!args.input_path.empty()) {
      input = sentiment_cli::read_input_texts(args.input_path, args.columns);
    } else if (!args.texts.empty()) {
      input.texts = args.texts;
    } else {
      input.texts = sentiment_cli::read_text_lines(std::cin);
    }

    const std::vector<double> p = clf.predict_proba(input.texts, args.batch_size);
    // Short inputs print on the terminal; a file's predictions go to --output
    // (or the terminal when the file has no labels to score).
    const bool print_each = args.input_path.empty() || (args.output_path.empty() && input.labels.empty());
    if (print_each)
      for (size_t i = 0; i < p.size(); ++i)
        std::cout << fmt::format("{:.4f}\t{}\t{}\n", p[i], sentiment_cli::label_name(p[i], args.threshold),
                                 one_line(input.texts[i]));
    if (!args.output_path.empty()) {
      std::ofstream out(args.output_path, std::ios::binary | std::ios::trunc);
      LOOM_CHECK(out.good(), "--output {}: cannot open the file for writing", args.output_path);
      out << (input.labels.empty() ? "probability\tprediction\ttext\n"
                                   : "probability\tprediction\tlabel\ttext\n");
      for (size_t i = 0; i < p.size(); ++i) {
        out << fmt::format("{:.6f}\t{}\t", p[i], p[i] > args.threshold ? 1 : 0);
        if (!input.labels.empty()) out << input.labels[i] << '\t';
        out << one_line(input.texts[i]) << '\n';
      }
      out.close();
      LOOM_CHECK(!out.fail(), "--output {}: writing failed", args.output_path);
      std::cout << fmt::format("wrote {} predictions to {}\n", p.size(), args.output_path);
    }
    if (!input.labels.empty()) {
      size_t right = 0;
      for (size_t i = 0; i < p.size(); ++i) right += ((p[i] > args.threshold) == (input.labels[i] == 1));
      std::cout << fmt::format("examples={}\n", p.size());
      std::cout << fmt::format("accuracy={:.4f}\n", static_cast<double>(right) / static_cast<double>(p.size()));
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "predict_sentiment: %s\n", e.what());
    return 2;
  }
}
