#include "loom/layers/text/datasets.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "loom/backends/types.h"
#include "loom/layers/text/random.h"

namespace loom::text {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBlockBytes = 1 << 20;

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A field quoted in an error message, cut to a readable length.
std::string shown(std::string_view s) {
  if (s.size() > 40) return fmt::format("\"{}...\"", s.substr(0, 40));
  return fmt::format("\"{}\"", s);
}

bool parse_label(std::string_view field, const std::map<std::string, int32_t>& names,
                 int32_t& label) {
  std::string_view t = trim_spaces(field);
  if (!names.empty()) {
    auto it = names.find(std::string(t));
    if (it != names.end()) {
      label = it->second;
      return true;
    }
  }
  if (t.empty()) return false;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), label);
  return ec == std::errc() && ptr == t.data() + t.size();
}

char resolve_delimiter(const std::string& path, char given) {
  if (given != 0) return given;
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return (ext == ".tsv" || ext == ".tab") ? '\t' : ',';
}

bool resolve_quoting(Quoting q, char delimiter) {
  if (q == Quoting::by_format) return delimiter != '\t';
  return q == Quoting::rfc4180;
}

std::string read_whole_file(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  LOOM_CHECK(f != nullptr, "{}: cannot open the file", path.string());
  std::string data;
  char block[1 << 16];
  size_t n;
  while ((n = std::fread(block, 1, sizeof(block), f)) > 0) data.append(block, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  LOOM_CHECK(!failed, "{}: read error", path.string());
  return data;
}

void strip_bom(std::string& s) {
  if (s.size() >= 3 && s.compare(0, 3, "\xEF\xBB\xBF") == 0) s.erase(0, 3);
}

}  // namespace

// ---- TextDataset ------------------------------------------------------------------------

TextDataset TextDataset::subset(const std::vector<size_t>& indices) const {
  TextDataset out;
  out.texts.reserve(indices.size());
  out.labels.reserve(indices.size());
  for (size_t i : indices) {
    LOOM_CHECK(i < size(), "TextDataset::subset: index {} out of range for {} examples", i, size());
    out.push_back(texts[i], labels[i]);
  }
  return out;
}

std::map<int32_t, int64_t> TextDataset::label_counts() const {
  std::map<int32_t, int64_t> counts;
  for (int32_t l : labels) ++counts[l];
  return counts;
}

// ---- aclImdb --------------------------------------------------------------------------------

TextDataset read_imdb(const std::string& root, const std::string& split, const ImdbOptions& options) {
  fs::path base(root);
  // Accept the folder that holds aclImdb/ as well as aclImdb/ itself.
  if (!fs::is_directory(base / split) && fs::is_directory(base / "aclImdb" / split))
    base = base / "aclImdb";
  TextDataset data;
  const std::pair<const char*, int32_t> classes[] = {{"neg", 0}, {"pos", 1}};
  for (const auto& [cls, label] : classes) {
    fs::path dir = base / split / cls;
    LOOM_CHECK(fs::is_directory(dir),
               "read_imdb: {} is not a directory (expected the aclImdb layout "
               "<root>/{}/{{neg,pos}}/*.txt)",
               dir.string(), split);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path());
    LOOM_CHECK(!files.empty(), "read_imdb: {} holds no .txt file", dir.string());
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
    if (options.max_per_class > 0 && files.size() > static_cast<size_t>(options.max_per_class))
      files.resize(static_cast<size_t>(options.max_per_class));
    for (const auto& file : files)
      data.push_back(parse_imdb_review(read_whole_file(file), file.string(), options.invalid_utf8),
                     label);
  }
  return data;
}

std::string parse_imdb_review(std::string bytes, const std::string& source, Utf8Policy invalid_utf8) {
  strip_bom(bytes);
  size_t bad = apply_utf8_policy(bytes, invalid_utf8);
  if (bad != std::string::npos) {
    TextPosition p = position_of(bytes, bad);
    fail("{}:{}:{}: invalid UTF-8 byte 0x{:02X}", source, p.line, p.column,
         static_cast<unsigned char>(bytes[bad]));
  }
  return bytes;
}

// ---- RecordReader ------------------------------------------------------------------------------

RecordReader::RecordReader(const std::string& path, char delimiter, bool quoting)
    : path_(path), delimiter_(delimiter), quoting_(quoting), buffer_(kBlockBytes) {
  LOOM_CHECK(delimiter != '"' && delimiter != '\n' && delimiter != '\r',
             "RecordReader: the delimiter cannot be a quote or a line break");
  LOOM_CHECK(!fs::is_directory(path), "{}: is a directory, not a file", path);
  file_ = std::fopen(path.c_str(), "rb");
  LOOM_CHECK(file_ != nullptr, "{}: cannot open the file", path);
  // Skip a UTF-8 byte order mark (spreadsheet exports start with one).
  if (refill() && end_ >= 3 && std::equal(buffer_.begin(), buffer_.begin() + 3, "\xEF\xBB\xBF"))
    pos_ = 3;
}

RecordReader::~RecordReader() {
  if (file_) std::fclose(file_);
}

bool RecordReader::refill() {
  if (eof_) return false;
  pos_ = 0;
  end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
  if (end_ == 0) {
    LOOM_CHECK(!std::ferror(file_), "{}:{}: read error", path_, line_);
    eof_ = true;
    return false;
  }
  return true;
}

int RecordReader::peek() {
  if (pos_ == end_ && !refill()) return EOF;
  return static_cast<unsigned char>(buffer_[pos_]);
}

int RecordReader::get() {
  int c = peek();
  if (c == EOF) return EOF;
  ++pos_;
  if (c == '\n') {
    ++line_;
    column_ = 1;
  } else {
    ++column_;
  }
  return c;
}

bool RecordReader::next(std::vector<std::string>& fields) {
  for (;;) {
    fields.clear();
    field_pos_.clear();
    if (peek() == EOF) return false;
    record_line_ = line_;
    bool any_quoted = false;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (quoting_ && peek() == '"') {
        any_quoted = true;
        int64_t open_line = line_, open_column = column_;
        get();
        field_pos_.emplace_back(line_, column_);
        for (;;) {
          int c = get();
          if (c == EOF)
            fail("{}:{}:{}: unterminated quoted field (no closing '\"' before the end of the file)",
                 path_, open_line, open_column);
          if (c == '"') {
            if (peek() == '"') {
              get();
              field += '"';
            } else {
              break;
            }
          } else {
            field += static_cast<char>(c);
          }
        }
        int c = peek();
        if (c == delimiter_) {
          get();
        } else if (c == '\n' || c == EOF) {
          get();
          record_done = true;
        } else if (c == '\r') {
          get();
          if (peek() == '\n') get();
          record_done = true;
        } else {
          fail("{}:{}:{}: unexpected character '{}' after the closing quote of a field (write a "
               "quote inside a quoted field as \"\")",
               path_, line_, column_, static_cast<char>(c));
        }
      } else {
        field_pos_.emplace_back(line_, column_);
        for (;;) {
          int c = get();
          if (c == EOF || c == '\n') {
            if (!field.empty() && field.back() == '\r') field.pop_back();
            record_done = true;
            break;
          }
          if (c == delimiter_) break;
          field += static_cast<char>(c);
        }
      }
      fields.push_back(std::move(field));
    }
    // A line with nothing on it is no record.
    if (fields.size() == 1 && fields[0].empty() && !any_quoted) continue;
    return true;
  }
}

// ---- tables ---------------------------------------------------------------------------------------

void for_each_row(const std::string& path, const TableOptions& options,
                  const std::function<void(TableRow&)>& fn) {
  const char delimiter = resolve_delimiter(path, options.delimiter);
  RecordReader reader(path, delimiter, resolve_quoting(options.quoting, delimiter));
  const Column& text_col = options.text_column;
  const Column& label_col = options.label_column;
  const bool by_name = text_col.by_name() || label_col.by_name();
  LOOM_CHECK(!(by_name && options.header == Header::absent),
             "{}: columns chosen by name need a header row, but Header::absent was given", path);

  std::vector<std::string> fields;
  if (!reader.next(fields)) return;  // empty file: no rows
  const size_t width = fields.size();
  const int64_t first_line = reader.line();

  bool header = options.header == Header::present || by_name;
  size_t text_index = 0, label_index = 0;
  auto resolve = [&](const Column& c, const char* role) -> size_t {
    LOOM_CHECK(!c.by_name() || !c.name.empty(),
               "{}: the {} column needs a name or an index >= 0", path, role);
    if (!c.by_name()) {
      LOOM_CHECK(static_cast<size_t>(c.index) < width,
                 "{}:{}: the {} column {} is out of range: the first record has {} field{}", path,
                 first_line, role, c.index, width, width == 1 ? "" : "s");
      return static_cast<size_t>(c.index);
    }
    for (size_t i = 0; i < fields.size(); ++i)
      if (trim_spaces(fields[i]) == c.name) return i;
    std::string names;
    for (size_t i = 0; i < fields.size(); ++i)
      names += fmt::format("{}\"{}\"", i ? ", " : "", trim_spaces(fields[i]));
    fail("{}:{}: no {} column named \"{}\" in the header (columns: {})", path, first_line, role,
         c.name, names);
  };
  text_index = resolve(text_col, "text");
  label_index = resolve(label_col, "label");
  LOOM_CHECK(text_index != label_index, "{}: the text and label columns are the same (field {})",
             path, text_index);
  if (options.header == Header::detect && !by_name) {
    int32_t unused;
    header = !parse_label(fields[label_index], options.label_names, unused);
  }

  int64_t emitted = 0;
  TableRow row;
  auto handle = [&]() {
    LOOM_CHECK(fields.size() == width,
               "{}:{}: expected {} fields (as in the first record, line {}), got {}", path,
               reader.line(), width, first_line, fields.size());
    const std::string& label_field = fields[label_index];
    if (!parse_label(label_field, options.label_names, row.label)) {
      fail("{}:{}:{}: the label {} (field {}) is not an integer{}", path,
           reader.field_line(label_index), reader.field_column(label_index), shown(label_field),
           label_index, options.label_names.empty() ? " (map label strings with label_names)"
                                                    : " nor one of label_names");
    }
    row.text = std::move(fields[text_index]);
    row.line = reader.line();
    size_t bad = apply_utf8_policy(row.text, options.invalid_utf8);
    if (bad != std::string::npos) {
      TextPosition p = position_of(row.text, bad, reader.field_line(text_index),
                                   reader.field_column(text_index));
      fail("{}:{}:{}: invalid UTF-8 byte 0x{:02X} in the text field", path, p.line, p.column,
           static_cast<unsigned char>(row.text[bad]));
    }
    fn(row);
    ++emitted;
  };
  if (!header) handle();
  while ((options.max_rows == 0 || emitted < options.max_rows) && reader.next(fields)) handle();
}

TextDataset read_table(const std::string& path, const TableOptions& options) {
  TextDataset data;
  for_each_row(path, options, [&](TableRow& row) { data.push_back(std::move(row.text), row.label); });
  LOOM_CHECK(!data.empty(), "{}: no examples (the file is empty or holds only a header)", path);
  return data;
}

TextDataset read_csv(const std::string& path, TableOptions options) {
  if (options.delimiter == 0) options.delimiter = ',';
  return read_table(path, options);
}

TextDataset read_tsv(const std::string& path, TableOptions options) {
  if (options.delimiter == 0) options.delimiter = '\t';
  return read_table(path, options);
}

// ---- shuffling and splitting ------------------------------------------------------------------------

void shuffle_dataset(TextDataset& data, uint64_t seed) {
  LOOM_CHECK(data.texts.size() == data.labels.size(),
             "shuffle_dataset: {} texts but {} labels", data.texts.size(), data.labels.size());
  std::vector<size_t> order(data.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  TextRng rng(seed);
  rng.shuffle(order);
  data = data.subset(order);
}

DatasetSplit split_dataset(const TextDataset& data, const SplitOptions& options) {
  const double f = options.validation_fraction;
  LOOM_CHECK(f >= 0.0 && f <= 1.0, "split_dataset: validation_fraction must be in [0, 1], got {}", f);
  LOOM_CHECK(data.texts.size() == data.labels.size(), "split_dataset: {} texts but {} labels",
             data.texts.size(), data.labels.size());
  TextRng rng(options.seed);
  std::vector<size_t> train, val;
  auto cut = [&](std::vector<size_t>& idx) {
    auto n_val = static_cast<size_t>(std::llround(f * static_cast<double>(idx.size())));
    train.insert(train.end(), idx.begin(), idx.end() - static_cast<std::ptrdiff_t>(n_val));
    val.insert(val.end(), idx.end() - static_cast<std::ptrdiff_t>(n_val), idx.end());
  };
  if (options.stratify) {
    std::map<int32_t, std::vector<size_t>> groups;
    for (size_t i = 0; i < data.size(); ++i) groups[data.labels[i]].push_back(i);
    for (auto& [label, idx] : groups) {
      rng.shuffle(idx);
      cut(idx);
    }
    // Mix the labels again; grouped order would make the first batches one-sided.
    rng.shuffle(train);
    rng.shuffle(val);
  } else {
    std::vector<size_t> idx(data.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    if (options.shuffle) rng.shuffle(idx);
    cut(idx);
  }
  return {data.subset(train), data.subset(val)};
}

}  // namespace loom::text
