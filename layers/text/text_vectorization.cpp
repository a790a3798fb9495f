#include "loom/layers/text/text_vectorization.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "loom/backends/registry.h"
#include "loom/layers/text/utf8.h"

namespace loom {

namespace {

constexpr const char* kMagic = "loom.TextVectorization 1";

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// string.punctuation: every printable ASCII byte that is not a letter, digit or space.
bool is_punct(unsigned char c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Length of an HTML line break starting at text[i] (`<br>`, `<br/>`,
// `<br />`, any case, spaces allowed before the slash), or 0.
size_t html_break_length(std::string_view text, size_t i) {
  if (i + 3 > text.size() || text[i] != '<') return 0;
  if (ascii_lower(text[i + 1]) != 'b' || ascii_lower(text[i + 2]) != 'r') return 0;
  size_t j = i + 3;
  while (j < text.size() && text[j] == ' ') ++j;
  if (j < text.size() && text[j] == '/') ++j;
  if (j < text.size() && text[j] == '>') return j + 1 - i;
  return 0;
}

std::string escape_token(const std::string& t) {
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out;
}

std::string unescape_token(const std::string& t, int64_t line) {
  std::string out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '\\') {
      out += t[i];
      continue;
    }
    LOOM_CHECK(i + 1 < t.size(), "TextVectorization::from_string: line {}: token ends in a lone '\\'",
               line);
    char e = t[++i];
    switch (e) {
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      default:
        fail("TextVectorization::from_string: line {}: unknown escape '\\{}' in a token", line, e);
    }
  }
  return out;
}

}  // namespace

TextVectorization::TextVectorization(TextVectorizationOptions options)
    : options_(std::move(options)) {
  const auto& o = options_;
  if (o.standardize == "lower_and_strip_punctuation")
    standardize_mode_ = Standardize::lower_and_strip_punctuation;
  else if (o.standardize == "lower")
    standardize_mode_ = Standardize::lower;
  else if (o.standardize == "strip_punctuation")
    standardize_mode_ = Standardize::strip_punctuation;
  else if (o.standardize == "none")
    standardize_mode_ = Standardize::none;
  else
    fail("TextVectorization: standardize must be \"lower_and_strip_punctuation\", \"lower\", "
         "\"strip_punctuation\" or \"none\", got \"{}\"",
         o.standardize);
  if (o.split == "whitespace")
    split_mode_ = Split::whitespace;
  else if (o.split == "character")
    split_mode_ = Split::character;
  else
    fail("TextVectorization: split must be \"whitespace\" or \"character\", got \"{}\"", o.split);
  LOOM_CHECK(o.padding == "pre" || o.padding == "post",
             "TextVectorization: padding must be \"pre\" or \"post\", got \"{}\"", o.padding);
  LOOM_CHECK(o.truncating == "pre" || o.truncating == "post",
             "TextVectorization: truncating must be \"pre\" or \"post\", got \"{}\"", o.truncating);
  pad_pre_ = o.padding == "pre";
  truncate_pre_ = o.truncating == "pre";
  LOOM_CHECK(o.max_tokens == 0 || o.max_tokens >= 3,
             "TextVectorization: max_tokens must be 0 (no limit) or at least 3 (padding, OOV and "
             "one token), got {}",
             o.max_tokens);
  LOOM_CHECK(o.output_sequence_length >= 0,
             "TextVectorization: output_sequence_length must be >= 0, got {}",
             o.output_sequence_length);
  vocab_ = {kPaddingToken, kOovToken};
  rebuild_index();
}

// ---- standardize and split ----------------------------------------------------------

void TextVectorization::standardize_into(std::string_view text, std::string& out) const {
  // One table lookup per byte: what the byte becomes (-1 = deleted).
  struct Table {
    int16_t map[256];
  };
  auto make_table = [](bool lower, bool strip) {
    Table t{};
    for (int c = 0; c < 256; ++c) {
      auto b = static_cast<unsigned char>(c);
      auto v = static_cast<int16_t>(lower ? ascii_lower(static_cast<char>(b)) : static_cast<char>(b));
      t.map[c] = (strip && is_punct(b)) ? int16_t{-1} : static_cast<int16_t>(v & 0xFF);
    }
    return t;
  };
  static const Table tables[4] = {make_table(false, false), make_table(true, false),
                                  make_table(false, true), make_table(true, true)};
  const bool lower = standardize_mode_ == Standardize::lower ||
                     standardize_mode_ == Standardize::lower_and_strip_punctuation;
  const bool strip = standardize_mode_ == Standardize::strip_punctuation ||
                     standardize_mode_ == Standardize::lower_and_strip_punctuation;
  const int16_t* map = tables[(lower ? 1 : 0) + (strip ? 2 : 0)].map;
  const bool breaks = options_.strip_html_breaks;
  out.resize(text.size());
  char* dst = out.data();
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<' && breaks) {
      if (size_t n = html_break_length(text, i)) {
        *dst++ = ' ';
        i += n - 1;
        continue;
      }
    }
    const int16_t v = map[static_cast<unsigned char>(c)];
    if (v >= 0) *dst++ = static_cast<char>(v);
  }
  out.resize(static_cast<size_t>(dst - out.data()));
}

std::string TextVectorization::standardize(std::string_view text) const {
  std::string out;
  standardize_into(text, out);
  return out;
}

template <typename Fn>
void TextVectorization::for_each_token(std::string_view s, Fn&& fn) const {
  if (split_mode_ == Split::character) {
    size_t i = 0;
    while (i < s.size()) {
      size_t len = text::utf8_char_length(s, i);
      if (len == 0) len = 1;  // a stray byte is a token of its own
      fn(s.substr(i, len));
      i += len;
    }
    return;
  }
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    while (i < n && is_space(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < n && !is_space(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) fn(s.substr(start, i - start));
  }
}

std::vector<std::string> TextVectorization::tokenize(std::string_view text) const {
  std::string s = standardize(text);
  std::vector<std::string> tokens;
  for_each_token(s, [&](std::string_view t) { tokens.emplace_back(t); });
  return tokens;
}

// ---- vocabulary ---------------------------------------------------------------------------

void TextVectorization::reset_state() { counts_.clear(); }

void TextVectorization::update_state(std::string_view text) {
  thread_local std::string buffer;
  standardize_into(text, buffer);
  for_each_token(buffer, [&](std::string_view t) {
    auto it = counts_.find(t);
    if (it != counts_.end())
      ++it->second;
    else
      counts_.emplace(std::string(t), 1);
  });
}

void TextVectorization::finalize_state() {
  std::vector<std::pair<const std::string*, int64_t>> entries;
  entries.reserve(counts_.size());
  for (const auto& [token, count] : counts_)
    if (token != kOovToken) entries.emplace_back(&token, count);  // it maps to id 1 anyway
  auto by_count_then_bytes = [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return *a.first < *b.first;  // char_traits<char> compares as unsigned bytes
  };
  size_t keep = entries.size();
  if (options_.max_tokens > 0) keep = std::min(keep, static_cast<size_t>(options_.max_tokens - 2));
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(keep),
                    entries.end(), by_count_then_bytes);
  std::vector<std::string> vocab = {kPaddingToken, kOovToken};
  vocab.reserve(keep + 2);
  for (size_t i = 0; i < keep; ++i) vocab.push_back(*entries[i].first);
  vocab_ = std::move(vocab);
  counts_.clear();
  rebuild_index();
}

void TextVectorization::adapt(const std::vector<std::string>& corpus) {
  reset_state();
  for (const auto& text : corpus) update_state(text);
  finalize_state();
}

void TextVectorization::set_vocabulary(const std::vector<std::string>& tokens) {
  std::vector<std::string> vocab = {kPaddingToken, kOovToken};
  size_t start = 0;
  if (tokens.size() >= 2 && tokens[0].empty() && tokens[1] == kOovToken) start = 2;
  for (size_t i = start; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    LOOM_CHECK(!t.empty(),
               "TextVectorization::set_vocabulary: entry {} is empty (the padding token \"\" "
               "may only come first, followed by \"[UNK]\")",
               i);
    LOOM_CHECK(t != kOovToken,
               "TextVectorization::set_vocabulary: entry {} is the OOV token \"[UNK]\", which "
               "may only come second, after \"\"",
               i);
    if (split_mode_ == Split::whitespace) {
      bool has_space = std::any_of(t.begin(), t.end(),
                                   [](char c) { return is_space(static_cast<unsigned char>(c)); });
      LOOM_CHECK(!has_space,
                 "TextVectorization::set_vocabulary: entry {} (\"{}\") contains whitespace, which "
                 "the whitespace split never produces",
                 i, t);
    }
    vocab.push_back(t);
  }
  LOOM_CHECK(options_.max_tokens == 0 || static_cast<int64_t>(vocab.size()) <= options_.max_tokens,
             "TextVectorization::set_vocabulary: {} tokens (with \"\" and \"[UNK]\") exceed "
             "max_tokens {}",
             vocab.size(), options_.max_tokens);
  TokenMap seen;
  for (size_t i = 0; i < vocab.size(); ++i) {
    auto [it, inserted] = seen.emplace(vocab[i], static_cast<int64_t>(i));
    LOOM_CHECK(inserted,
               "TextVectorization::set_vocabulary: token \"{}\" appears twice (ids {} and {})",
               vocab[i], it->second, i);
  }
  vocab_ = std::move(vocab);
  index_ = std::move(seen);
}

void TextVectorization::rebuild_index() {
  index_.clear();
  index_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) index_.emplace(vocab_[i], static_cast<int64_t>(i));
}

int32_t TextVectorization::token_to_id(std::string_view token) const {
  if (token.empty()) return kOovId;  // "" is padding, never a text token
  auto it = index_.find(token);
  return it == index_.end() ? kOovId : static_cast<int32_t>(it->second);
}

const std::string& TextVectorization::id_to_token(int32_t id) const {
  LOOM_CHECK(id >= 0 && static_cast<size_t>(id) < vocab_.size(),
             "TextVectorization::id_to_token: id {} is outside the vocabulary of size {}", id,
             vocab_.size());
  return vocab_[static_cast<size_t>(id)];
}

// ---- encoding --------------------------------------------------------------------------------

std::vector<int32_t> TextVectorization::raw_ids(std::string_view text) const {
  thread_local std::string buffer;
  standardize_into(text, buffer);
  std::vector<int32_t> ids;
  for_each_token(buffer, [&](std::string_view t) { ids.push_back(token_to_id(t)); });
  return ids;
}

void TextVectorization::fit_length(std::vector<int32_t>& ids, int64_t length) const {
  const auto L = static_cast<size_t>(length);
  if (ids.size() > L) {
    if (truncate_pre_)
      ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(L));
    else
      ids.resize(L);
  } else if (ids.size() < L) {
    if (pad_pre_)
      ids.insert(ids.begin(), L - ids.size(), kPaddingId);
    else
      ids.resize(L, kPaddingId);
  }
}

std::vector<int32_t> TextVectorization::encode(std::string_view text) const {
  std::vector<int32_t> ids = raw_ids(text);
  if (options_.output_sequence_length > 0) fit_length(ids, options_.output_sequence_length);
  return ids;
}

Tensor TextVectorization::encode_batch(const std::vector<std::string>& texts) const {
  const auto N = static_cast<int64_t>(texts.size());
  std::vector<std::vector<int32_t>> rows(texts.size());
  apply_thread_settings();  // LOOM_NUM_THREADS / set_num_threads for the loop below
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < N; ++i) rows[static_cast<size_t>(i)] = raw_ids(texts[static_cast<size_t>(i)]);
  int64_t L = options_.output_sequence_length;
  if (L == 0) {
    L = 1;
    for (const auto& r : rows) L = std::max(L, static_cast<int64_t>(r.size()));
  }
  Tensor out = Tensor::zeros({N, L}, DType::i32);
  int32_t* dst = out.data<int32_t>();
  for (int64_t i = 0; i < N; ++i) {
    auto& r = rows[static_cast<size_t>(i)];
    fit_length(r, L);
    std::copy(r.begin(), r.end(), dst + i * L);
  }
  return out;
}

std::string TextVectorization::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id == kPaddingId) continue;
    if (!out.empty() && split_mode_ == Split::whitespace) out += ' ';
    out += id_to_token(id);
  }
  return out;
}

// ---- saving ------------------------------------------------------------------------------------
//
// Format (line oriented, so a person can read it and a diff shows changes):
//   loom.TextVectorization 1
//   max_tokens <n>
//   standardize <mode>
//   split <mode>
//   output_sequence_length <n>
//   padding <pre|post>
//   truncating <pre|post>
//   strip_html_breaks <0|1>
//   vocabulary <count>
//   <count lines, one escaped token each, starting with "" and "[UNK]">

std::string TextVectorization::to_string() const {
  std::string s;
  s.reserve(64 + vocab_.size() * 8);
  const auto& o = options_;
  s += fmt::format("{}\nmax_tokens {}\nstandardize {}\nsplit {}\noutput_sequence_length {}\n"
                   "padding {}\ntruncating {}\nstrip_html_breaks {}\nvocabulary {}\n",
                   kMagic, o.max_tokens, o.standardize, o.split, o.output_sequence_length,
                   o.padding, o.truncating, o.strip_html_breaks ? 1 : 0, vocab_.size());
  for (const auto& t : vocab_) {
    s += escape_token(t);
    s += '\n';
  }
  return s;
}

TextVectorization TextVectorization::from_string(const std::string& blob) {
  std::istringstream in(blob);
  std::string line;
  int64_t line_no = 0;
  auto next_line = [&](const char* what) -> std::string& {
    LOOM_CHECK(std::getline(in, line), "TextVectorization::from_string: ends at line {}, expected {}",
               line_no, what);
    ++line_no;
    return line;
  };
  LOOM_CHECK(next_line("the header") == kMagic,
             "TextVectorization::from_string: line 1: expected \"{}\", got \"{}\"", kMagic, line);
  auto field = [&](const char* key) -> std::string {
    std::string& l = next_line(key);
    std::string prefix = std::string(key) + " ";
    LOOM_CHECK(l.rfind(prefix, 0) == 0, "TextVectorization::from_string: line {}: expected \"{} ...\", got \"{}\"",
               line_no, key, l);
    return l.substr(prefix.size());
  };
  auto integer = [&](const char* key) -> int64_t {
    std::string v = field(key);
    try {
      size_t used = 0;
      long long x = std::stoll(v, &used);
      if (used == v.size()) return x;
    } catch (const std::exception&) {
    }
    fail("TextVectorization::from_string: line {}: {} is not an integer: \"{}\"", line_no, key, v);
  };
  TextVectorizationOptions o;
  o.max_tokens = integer("max_tokens");
  o.standardize = field("standardize");
  o.split = field("split");
  o.output_sequence_length = integer("output_sequence_length");
  o.padding = field("padding");
  o.truncating = field("truncating");
  int64_t html = integer("strip_html_breaks");
  LOOM_CHECK(html == 0 || html == 1,
             "TextVectorization::from_string: line {}: strip_html_breaks must be 0 or 1, got {}",
             line_no, html);
  o.strip_html_breaks = html == 1;
  int64_t count = integer("vocabulary");
  LOOM_CHECK(count >= 2, "TextVectorization::from_string: line {}: vocabulary count {} < 2", line_no,
             count);
  // Each token takes at least its line break: a larger count is corrupt, and
  // reserving it could ask for more memory than exists.
  LOOM_CHECK(static_cast<uint64_t>(count) <= blob.size(),
             "TextVectorization::from_string: line {}: vocabulary count {} is more than a blob of {} "
             "bytes can hold",
             line_no, count, blob.size());
  // The count comes from the blob: each token is a line of its own, so the
  // bytes left bound it (reserving an unchecked count can ask for terabytes).
  const auto consumed = static_cast<int64_t>(in.tellg());
  const int64_t left = consumed < 0 ? 0 : static_cast<int64_t>(blob.size()) - consumed;
  LOOM_CHECK(count <= left + 1,
             "TextVectorization::from_string: line {}: vocabulary count {}, but only {} bytes "
             "follow (one line per token)",
             line_no, count, left);
  TextVectorization vec(o);
  std::vector<std::string> vocab;
  vocab.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const std::string& raw = next_line("a token");
    vocab.push_back(unescape_token(raw, line_no));
  }
  LOOM_CHECK(vocab[0].empty() && vocab[1] == kOovToken,
             "TextVectorization::from_string: the vocabulary must start with \"\" and \"[UNK]\"");
  vec.set_vocabulary(vocab);
  return vec;
}

void TextVectorization::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  LOOM_CHECK(out, "TextVectorization::save: cannot open {} for writing", path);
  out << to_string();
  LOOM_CHECK(out.good(), "TextVectorization::save: writing {} failed", path);
}

TextVectorization TextVectorization::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LOOM_CHECK(in, "TextVectorization::load: cannot open {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    return from_string(ss.str());
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
}

}  // namespace loom
