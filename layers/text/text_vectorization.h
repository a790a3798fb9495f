// TextVectorization: turns raw text into integer token ids, as Keras's
// TextVectorization layer does with output_mode="int".
//
//   loom::TextVectorization vec({.max_tokens = 20000, .output_sequence_length = 200});
//   vec.adapt(train.texts);                      // vocabulary by frequency
//   loom::Tensor x = vec.encode_batch(texts);    // (N, 200) i32, 0 = padding
//   extras.blobs["text_vectorization"] = vec.to_string();   // saved with the model
//   auto vec2 = loom::TextVectorization::from_string(extras.blobs["text_vectorization"]);
//
// It is a preprocessing step rather than a Layer: its input is strings, which
// never enter the tensor graph (Keras users run it in the tf.data pipeline
// the same way). Its output feeds an Embedding layer.
//
// Pipeline for one text:
//   1. HTML line breaks (`<br />`, `<br/>`, `<br>`, any case) become a space
//      when strip_html_breaks is on (IMDB reviews are full of them).
//   2. standardize:
//        "lower_and_strip_punctuation" (default): ASCII letters lowercased,
//            ASCII punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) deleted, as
//            Keras does: "don't" -> "dont", "good." -> "good";
//        "lower": ASCII lowercasing only;
//        "strip_punctuation": deletion only;
//        "none": the text as it is.
//      Only ASCII bytes are ever changed. Bytes >= 0x80 (all bytes of a
//      multi-byte UTF-8 character, or stray non-UTF-8 bytes) pass through
//      untouched, so "Café" -> "café" and an emoji stays one token part.
//      (Keras's default lowercasing is ASCII-only too.)
//   3. split:
//        "whitespace" (default): runs of ASCII whitespace separate tokens;
//        "character": one token per UTF-8 character (whitespace included, as
//            Keras does); a byte that is not valid UTF-8 is its own token.
//   4. lookup: index 0 is the padding token "", index 1 the out-of-vocabulary
//      token "[UNK]", then the vocabulary.
//   5. output_sequence_length L > 0: pad with 0 or truncate to exactly L.
//
// Padding and truncation default to "pre", the defaults of Keras's
// pad_sequences, because an RNN classifier that reads its last output then
// sees the real tokens last (no run of padding between the text and the
// prediction) and, when a review is too long, keeps its ending, where
// reviews tend to state their verdict. Keras's TextVectorization layer
// itself pads and truncates at the end ("post"); choose that when the model
// masks padding and the backend prefers right-padded sequences.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom {

struct TextVectorizationOptions {
  // Largest vocabulary size, counting the padding and OOV tokens; 0 = no limit.
  int64_t max_tokens = 0;
  std::string standardize = "lower_and_strip_punctuation";
  std::string split = "whitespace";
  // Exact length of encoded sequences; 0 = no padding or truncation
  // (encode_batch then pads to the longest text of the batch).
  int64_t output_sequence_length = 0;
  std::string padding = "pre";     // "pre" | "post": where zeros go
  std::string truncating = "pre";  // "pre" | "post": which end is cut
  bool strip_html_breaks = true;
};

class TextVectorization {
 public:
  static constexpr const char* kPaddingToken = "";
  static constexpr const char* kOovToken = "[UNK]";
  static constexpr int32_t kPaddingId = 0;
  static constexpr int32_t kOovId = 1;

  // Throws loom::Error for an unknown standardize/split/padding/truncating
  // value or a max_tokens of 1 or 2 (no room for a single real token) or below 0.
  explicit TextVectorization(TextVectorizationOptions options = {});

  const TextVectorizationOptions& options() const { return options_; }

  // ---- vocabulary ---------------------------------------------------------------
  // Builds the vocabulary from `corpus`: tokens ordered by count (descending),
  // ties broken by byte-wise lexicographic order of the token, so the result
  // depends only on the token counts and not on the order of the corpus (a
  // shuffled corpus gives the same vocabulary). Keeps the max_tokens - 2 most
  // frequent tokens. Replaces any previous vocabulary.
  void adapt(const std::vector<std::string>& corpus);

  // The same in steps, for corpora streamed from disk (Keras's
  // reset_state / update_state / finalize_state): counts accumulate over
  // update_state calls and finalize_state sets the vocabulary.
  void reset_state();
  void update_state(std::string_view text);
  void finalize_state();

  // The vocabulary with "" and "[UNK]" first (index = token id).
  const std::vector<std::string>& vocabulary() const { return vocab_; }
  int64_t vocabulary_size() const { return static_cast<int64_t>(vocab_.size()); }
  // Sets the vocabulary. "" and "[UNK]" may lead it (as vocabulary() returns
  // it) or be left out (they are then put first). Throws on a duplicate, an
  // empty token or "[UNK]" anywhere else, a token that the split would never
  // produce (containing whitespace under split "whitespace"), or more than
  // max_tokens entries.
  void set_vocabulary(const std::vector<std::string>& tokens);

  // Id of `token` (already standardized) or kOovId.
  int32_t token_to_id(std::string_view token) const;
  // Token of `id`; throws when out of range.
  const std::string& id_to_token(int32_t id) const;

  // ---- text -> ids ---------------------------------------------------------------------
  // Steps 1-2 of the pipeline.
  std::string standardize(std::string_view text) const;
  // Steps 1-3: the tokens of `text`.
  std::vector<std::string> tokenize(std::string_view text) const;
  // Ids of `text`, padded/truncated when output_sequence_length > 0.
  std::vector<int32_t> encode(std::string_view text) const;
  // (N, L) i32 tensor: L = output_sequence_length, or the longest text of the
  // batch (at least 1) when that is 0. Runs the texts in parallel.
  Tensor encode_batch(const std::vector<std::string>& texts) const;
  // Tokens of `ids` joined by spaces, padding skipped (for inspection).
  std::string decode(const std::vector<int32_t>& ids) const;

  // ---- saving ----------------------------------------------------------------------------
  // A self-contained text form of the options and vocabulary (one token per
  // line, with \\, \n, \r and \t escaped), for storing beside a model's weights.
  std::string to_string() const;
  // Throws loom::Error naming the line of a malformed blob.
  static TextVectorization from_string(const std::string& blob);
  void save(const std::string& path) const;
  static TextVectorization load(const std::string& path);

 private:
  // Lets the lookup table be queried with string_view without a copy.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, int64_t, Hash, std::equal_to<>>;

  enum class Standardize { none, lower, strip_punctuation, lower_and_strip_punctuation };
  enum class Split { whitespace, character };

  TextVectorizationOptions options_;
  Standardize standardize_mode_;
  Split split_mode_;
  bool pad_pre_;
  bool truncate_pre_;

  std::vector<std::string> vocab_;
  TokenMap index_;  // token -> id
  TokenMap counts_;  // token -> count while adapting

  void standardize_into(std::string_view text, std::string& out) const;
  // Calls fn(token) for each token of already standardized text.
  template <typename Fn>
  void for_each_token(std::string_view standardized, Fn&& fn) const;
  std::vector<int32_t> raw_ids(std::string_view text) const;
  void fit_length(std::vector<int32_t>& ids, int64_t length) const;
  void rebuild_index();
};

}  // namespace loom
