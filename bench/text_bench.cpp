// Speed of the input side that once had per-character slow paths: parsing
// megabytes of JSON numbers (big parity files, architecture files) and
// TextVectorization adapt + encode on an IMDB-sized corpus. These were
// asserted as timed tests before; timings belong here (bench/README.md).
//
//   loom_text_bench [--repeats N]    # prints the median of N runs of each
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <loom/loom.h>

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// {"w": [[...1000 numbers...], ... 2000 rows]}: ~28 MB of float text.
std::string numbers_json(int rows, int cols) {
  std::string text = "{\"w\": [";
  uint64_t s = 12345;
  for (int r = 0; r < rows; ++r) {
    text += r ? ",[" : "[";
    for (int c = 0; c < cols; ++c) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      float v = static_cast<float>(static_cast<int64_t>(s >> 11) % 2000001 - 1000000) * 1.0e-6f;
      if (c) text += ',';
      text += fmt::format("{:.9g}", v);
    }
    text += ']';
  }
  return text + "]}";
}

// 25,000 reviews of 230 words over 30,000 distinct words (IMDB's size).
std::vector<std::string> imdb_sized_corpus() {
  std::vector<std::string> corpus;
  corpus.reserve(25000);
  uint64_t x = 12345;
  for (int i = 0; i < 25000; ++i) {
    std::string text;
    for (int w = 0; w < 230; ++w) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      text += "Word" + std::to_string((x >> 33) % 30000) + (w % 10 == 9 ? ",<br /> " : " ");
    }
    corpus.push_back(std::move(text));
  }
  return corpus;
}

template <typename Fn>
double seconds(Fn&& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "loom_text_bench")) return 0;
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0 && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: loom_text_bench [--repeats N]\n");
      return 2;
    }
  }
  if (repeats < 1) repeats = 1;

  const std::string json = numbers_json(2000, 1000);
  std::vector<double> parse;
  for (int r = 0; r < repeats; ++r)
    parse.push_back(seconds([&] {
      auto a = loom::Json::parse(json, "big.json").at("w").to_numeric_array();
      if (a.values.size() != 2000000u) std::abort();
    }));

  const std::vector<std::string> corpus = imdb_sized_corpus();
  std::vector<double> adapt_encode;
  for (int r = 0; r < repeats; ++r)
    adapt_encode.push_back(seconds([&] {
      loom::TextVectorization v({.max_tokens = 20000, .output_sequence_length = 200});
      v.adapt(corpus);
      loom::Tensor ids = v.encode_batch(corpus);
      if (ids.numel() != 25000 * 200) std::abort();
    }));

  std::printf("json_parse_numbers   %.1f MB  median %.3f s  (%.0f MB/s)\n", json.size() / 1e6,
              median(parse), json.size() / 1e6 / median(parse));
  std::printf("text_adapt_encode    25000 x 230 words  median %.3f s\n", median(adapt_encode));
  return 0;
}
