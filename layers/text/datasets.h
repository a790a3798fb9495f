// Text classification data: readers for the aclImdb directory layout and for
// TSV/CSV files, a streaming row reader for files larger than memory, and
// seeded shuffling and train/validation splitting.
//
//   auto train = loom::text::read_imdb("/tmp/aclImdb", "train");
//   auto sst = loom::text::read_tsv("sst2/train.tsv");
//   auto csv = loom::text::read_csv("reviews.csv", {.text_column = "review",
//                                                  .label_column = "sentiment",
//                                                  .label_names = {{"negative", 0},
//                                                                  {"positive", 1}}});
//   auto [tr, val] = loom::text::split_dataset(train, {.validation_fraction = 0.2, .seed = 7});
//
// Every malformed input is a loom::Error whose message starts with
// "<file>:<line>:" (and names the column or field where it helps).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "loom/layers/text/utf8.h"

namespace loom::text {

// Texts and their integer labels, index-aligned.
struct TextDataset {
  std::vector<std::string> texts;
  std::vector<int32_t> labels;

  size_t size() const { return texts.size(); }
  bool empty() const { return texts.empty(); }
  void push_back(std::string text, int32_t label) {
    texts.push_back(std::move(text));
    labels.push_back(label);
  }
  // Examples at `indices`, in that order.
  TextDataset subset(const std::vector<size_t>& indices) const;
  // Number of examples per label, by label.
  std::map<int32_t, int64_t> label_counts() const;
};

// ---- aclImdb -------------------------------------------------------------------------

struct ImdbOptions {
  // Read at most this many files per class (the first in sorted order); 0 = all.
  int64_t max_per_class = 0;
  Utf8Policy invalid_utf8 = Utf8Policy::replace;
};

// Reads <root>/<split>/{neg,pos}/*.txt of the Large Movie Review Dataset
// (aclImdb): label 0 for neg, 1 for pos. `root` may also be the folder that
// contains aclImdb/. Files come in a fixed order: all of neg, then all of
// pos, each sorted by file name (byte order), so shuffle before batching.
// Texts are returned raw (HTML breaks included; the vectorizer strips them).
// Throws when a class folder is missing or holds no .txt file.
TextDataset read_imdb(const std::string& root, const std::string& split,
                      const ImdbOptions& options = {});

// The per-file step of read_imdb, for readers of single review files: strips
// a UTF-8 byte order mark and applies `invalid_utf8` to the raw bytes of one
// review; under Utf8Policy::error an invalid byte throws
// "<source>:<line>:<column>: invalid UTF-8 byte 0xNN".
std::string parse_imdb_review(std::string bytes, const std::string& source,
                              Utf8Policy invalid_utf8 = Utf8Policy::replace);

// ---- TSV / CSV -----------------------------------------------------------------------

// A column chosen by header name or by 0-based index: `Column("review")`,
// `Column(0)`; plain strings and integers convert implicitly.
struct Column {
  std::string name;
  int64_t index = -1;
  Column(int i) : index(i) {}                     // NOLINT(google-explicit-constructor)
  Column(std::string n) : name(std::move(n)) {}   // NOLINT(google-explicit-constructor)
  Column(const char* n) : name(n) {}              // NOLINT(google-explicit-constructor)
  bool by_name() const { return index < 0; }
};

enum class Header {
  detect,   // the first row is a header when its label field is not a valid label
  present,  // the first row is a header
  absent,   // every row is data
};

enum class Quoting {
  by_format,  // RFC 4180 quoting for ',' (CSV); none for '\t' (TSV, as SST-2 is written)
  rfc4180,    // "..." fields may hold delimiters, newlines and doubled quotes ""
  none,       // a quote character is ordinary text; a record is one line
};

struct TableOptions {
  // Field separator; 0 = ',' for read_csv, '\t' for read_tsv, and for
  // read_table '\t' when the file name ends in .tsv or .tab, else ','.
  char delimiter = 0;
  Quoting quoting = Quoting::by_format;
  // Naming a column makes the first row a header whatever this says.
  Header header = Header::detect;
  Column text_column = 0;
  Column label_column = 1;
  // Label strings mapped to labels ("positive" -> 1), tried before parsing
  // the field as an integer. Surrounding spaces are ignored either way.
  std::map<std::string, int32_t> label_names;
  Utf8Policy invalid_utf8 = Utf8Policy::replace;
  // Stop after this many examples; 0 = all.
  int64_t max_rows = 0;
};

// One example as the streaming reader hands it over. `text` may be moved from.
struct TableRow {
  std::string text;
  int32_t label = 0;
  int64_t line = 0;  // 1-based line where the record starts
};

// Streams the examples of a TSV/CSV file to `fn`, holding one record in memory
// at a time. Rules:
//  - records end at "\n" or "\r\n" (outside quotes); fully blank lines are skipped;
//    a UTF-8 byte order mark at the start is skipped;
//  - with quoting, a field that starts with '"' runs to the matching '"', may
//    contain delimiters, line breaks and "" (one quote); after its closing quote
//    only a delimiter or the end of the record may follow. A '"' inside an
//    unquoted field is kept as text (common in reviews: 5" screen);
//  - every record must have as many fields as the first one (header or data);
//  - the label field must be an integer (or a key of label_names).
// Errors name "<file>:<line>": a wrong number of fields, a label that is not an
// integer, an unterminated quote (the line where it opened), text after a
// closing quote (with the column), a missing named column (line 1), invalid
// UTF-8 under Utf8Policy::error, a file that cannot be opened.
void for_each_row(const std::string& path, const TableOptions& options,
                  const std::function<void(TableRow&)>& fn);

// Reads a whole file; throws when it holds no example.
TextDataset read_table(const std::string& path, const TableOptions& options = {});
// read_table with ',' and RFC 4180 quoting unless the options say otherwise.
TextDataset read_csv(const std::string& path, TableOptions options = {});
// read_table with '\t' and no quoting unless the options say otherwise (SST-2:
// sentence<TAB>label, no header).
TextDataset read_tsv(const std::string& path, TableOptions options = {});

// The record layer under for_each_row: splits a delimited file into fields,
// reading it in blocks. Useful on its own for files of another shape.
class RecordReader {
 public:
  // Throws when the file cannot be opened.
  RecordReader(const std::string& path, char delimiter, bool quoting);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Reads the next non-blank record into `fields`; false at the end of the file.
  bool next(std::vector<std::string>& fields);
  // Line where the record last returned by next() starts (1-based).
  int64_t line() const { return record_line_; }
  // Line and column (1-based, in bytes) where field `i` of that record starts
  // (after its opening quote when quoted).
  int64_t field_line(size_t i) const { return field_pos_.at(i).first; }
  int64_t field_column(size_t i) const { return field_pos_.at(i).second; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  char delimiter_;
  bool quoting_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  int64_t line_ = 1;    // line of the next byte
  int64_t column_ = 1;  // column of the next byte
  int64_t record_line_ = 0;
  std::vector<std::pair<int64_t, int64_t>> field_pos_;

  int peek();
  int get();
  bool refill();
};

// ---- shuffling and splitting --------------------------------------------------------

// Shuffles texts and labels together; the permutation depends only on the
// seed and the size (the same on every platform).
void shuffle_dataset(TextDataset& data, uint64_t seed);

struct SplitOptions {
  double validation_fraction = 0.2;  // in [0, 1]
  uint64_t seed = 0;
  bool shuffle = true;     // false: the last fraction becomes validation (Keras validation_split)
  bool stratify = false;   // keep each label's share the same in both parts (implies shuffle)
};

struct DatasetSplit {
  TextDataset train;
  TextDataset validation;
};

// validation gets round(fraction * size) examples (per label when stratified).
DatasetSplit split_dataset(const TextDataset& data, const SplitOptions& options = {});

}  // namespace loom::text
