// Fuzzes the text layer: the UTF-8 helpers (layers/text/utf8.h) and
// TextVectorization (layers/text/text_vectorization.h): standardize, split,
// adapt and encode fuzzed texts under fuzzed options, set_vocabulary, and
// the saved form (to_string / from_string, also on raw bytes as a blob).
// First byte: what to run and the options; the rest: texts, one per line.
#include <string>
#include <vector>

#include "fuzz_util.h"

using loom::TextVectorization;
using loom::TextVectorizationOptions;
using namespace loom::text;

namespace {

constexpr int64_t kMaxEncodedLength = 4096;

void check_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (utf8_char_length(s, i) > s.size() - i) std::abort();
  const std::string repaired = replace_invalid_utf8(s);
  if (find_invalid_utf8(repaired) != std::string::npos) std::abort();
  std::string copy(s);
  if (apply_utf8_policy(copy, Utf8Policy::error) != find_invalid_utf8(s)) std::abort();
  const TextPosition p = position_of(s, s.size() / 2);
  if (p.line < 1 || p.column < 1) std::abort();
}

TextVectorizationOptions options_from(uint8_t a, uint8_t b) {
  static const char* kStandardize[] = {"lower_and_strip_punctuation", "lower", "strip_punctuation",
                                       "none"};
  TextVectorizationOptions o;
  o.standardize = kStandardize[a & 3];
  o.split = (a & 4) ? "character" : "whitespace";
  o.output_sequence_length = (a >> 3) & 7;
  o.padding = (a & 0x40) ? "post" : "pre";
  o.truncating = (a & 0x80) ? "post" : "pre";
  o.max_tokens = (b & 0x0F) == 0 ? 0 : 2 + (b & 0x0F);
  o.strip_html_breaks = (b & 0x10) != 0;
  return o;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void vectorize(const TextVectorizationOptions& options, const std::vector<std::string>& corpus) {
  TextVectorization vec(options);
  vec.adapt(corpus);
  TextVectorization streamed(options);
  for (const std::string& t : corpus) streamed.update_state(t);
  streamed.finalize_state();
  // The vocabulary depends only on the counts, not on how they were fed.
  if (streamed.vocabulary() != vec.vocabulary()) std::abort();
  const int64_t n = vec.vocabulary_size();
  for (const std::string& t : corpus) {
    const std::vector<int32_t> ids = vec.encode(t);
    if (options.output_sequence_length > 0 &&
        static_cast<int64_t>(ids.size()) != options.output_sequence_length)
      std::abort();
    for (int32_t id : ids)
      if (id < 0 || id >= n) std::abort();
    vec.decode(ids);
  }
  loom::Tensor batch = vec.encode_batch(corpus);
  if (batch.dim(0) != static_cast<int64_t>(corpus.size())) std::abort();
  // The saved form brings back the same vectorizer.
  TextVectorization back = TextVectorization::from_string(vec.to_string());
  if (back.vocabulary() != vec.vocabulary()) std::abort();
  for (const std::string& t : corpus)
    if (back.encode(t) != vec.encode(t)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  loom_fuzz::init_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom_fuzz::Input in(data, size);
  const uint8_t mode = in.byte(), a = in.byte(), b = in.byte();
  const std::string_view text = in.rest();
  check_utf8(text);
  switch (mode & 3) {
    case 0:
    case 1:
      loom_fuzz::expect_loom_errors_only([&] { vectorize(options_from(a, b), lines_of(text)); });
      break;
    case 2:  // a saved vectorizer blob, as a model file carries it
      loom_fuzz::expect_loom_errors_only([&] {
        TextVectorization vec = TextVectorization::from_string(std::string(text));
        TextVectorization again = TextVectorization::from_string(vec.to_string());
        if (again.vocabulary() != vec.vocabulary()) std::abort();
        // A blob's sequence length is a setting honoured as given (10^9 pads
        // every text to 4 GB); encoding is checked at lengths a model uses.
        if (vec.options().output_sequence_length <= kMaxEncodedLength) vec.encode("a fuzzed text");
      });
      break;
    case 3:  // a user-given vocabulary
      loom_fuzz::expect_loom_errors_only([&] {
        TextVectorization vec(options_from(a, b));
        vec.set_vocabulary(lines_of(text));
        for (int32_t id = 0; id < vec.vocabulary_size(); ++id)
          if (vec.token_to_id(vec.id_to_token(id)) != id && id != 0) std::abort();
      });
      break;
  }
  return 0;
}
