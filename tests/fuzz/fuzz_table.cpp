// Fuzzes the TSV/CSV readers (layers/text/datasets.h): read_table, read_csv,
// read_tsv, for_each_row and the RecordReader under them. Two option bytes
// choose delimiter, quoting, header, columns, label names, UTF-8 policy and
// row limit; the rest is the file.
#include <string>
#include <vector>

#include "fuzz_util.h"

using namespace loom::text;

namespace {

TableOptions options_from(uint8_t a, uint8_t b) {
  static const char kDelimiters[] = {',', '\t', ';', 0};
  static const Quoting kQuoting[] = {Quoting::by_format, Quoting::rfc4180, Quoting::none,
                                     Quoting::by_format};
  static const Header kHeader[] = {Header::detect, Header::present, Header::absent, Header::detect};
  static const Utf8Policy kUtf8[] = {Utf8Policy::replace, Utf8Policy::keep, Utf8Policy::error,
                                     Utf8Policy::replace};
  TableOptions o;
  o.delimiter = kDelimiters[a & 3];
  o.quoting = kQuoting[(a >> 2) & 3];
  o.header = kHeader[(a >> 4) & 3];
  o.invalid_utf8 = kUtf8[(a >> 6) & 3];
  if (b & 1) {
    o.text_column = Column("text");
    o.label_column = Column("label");
  } else {
    o.text_column = Column((b >> 1) & 3);
    o.label_column = Column((b >> 3) & 3);
  }
  if (b & 0x20) o.label_names = {{"negative", 0}, {"positive", 1}};
  o.max_rows = (b & 0x40) ? 2 : 0;
  return o;
}

// The record layer alone: every field position must be readable.
void read_records(const std::string& path, char delimiter, bool quoting) {
  loom::text::RecordReader reader(path, delimiter, quoting);
  std::vector<std::string> fields;
  while (reader.next(fields)) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (reader.field_line(i) < reader.line() || reader.field_column(i) < 1) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  loom_fuzz::init_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom_fuzz::Input in(data, size);
  const uint8_t a = in.byte(), b = in.byte();
  const TableOptions options = options_from(a, b);
  // The extension decides the delimiter when the options leave it at 0.
  const std::string path = loom_fuzz::write_scratch_file((b & 0x80) ? "t.tsv" : "t.csv", in.rest());
  loom_fuzz::expect_loom_errors_only([&] {
    int64_t rows = 0;
    for_each_row(path, options, [&](TableRow& row) {
      if (row.line < 1) std::abort();
      ++rows;
    });
    if (options.max_rows > 0 && rows > options.max_rows) std::abort();
  });
  loom_fuzz::expect_loom_errors_only([&] {
    TextDataset d = (a & 1) ? read_csv(path, options) : read_tsv(path, options);
    if (d.texts.size() != d.labels.size() || d.empty()) std::abort();
    if (options.invalid_utf8 != Utf8Policy::keep)
      for (const std::string& t : d.texts)
        if (find_invalid_utf8(t) != std::string::npos) std::abort();
  });
  loom_fuzz::expect_loom_errors_only([&] { read_records(path, a & 2 ? '\t' : ',', b & 2); });
  return 0;
}
