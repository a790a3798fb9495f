// Dataset readers (TSV, CSV, aclImdb), the streaming record reader, and the
// shuffle / split helpers.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include "test_util.h"

namespace loom::text {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder per test, removed afterwards.
class TextFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           fmt::format("loom_text_{}_{}_{}", info->test_suite_name(), info->name(), ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << content;
    return p.string();
  }

  fs::path dir_;
};

using Texts = std::vector<std::string>;
using Labels = std::vector<int32_t>;

// ---- TSV ---------------------------------------------------------------------------------

TEST_F(TextFiles, TsvReadsSst2Format) {
  auto path = write("a.tsv", "a stirring , funny film\t1\nit 's \"bad\" , really\t0\nok\t1");
  TextDataset d = read_tsv(path);
  EXPECT_EQ(d.texts, (Texts{"a stirring , funny film", "it 's \"bad\" , really", "ok"}));
  EXPECT_EQ(d.labels, (Labels{1, 0, 1}));
}

TEST_F(TextFiles, TsvDetectsHeaderAndHandlesCrlfAndBlankLines) {
  auto path = write("b.tsv", "\xEF\xBB\xBFsentence\tlabel\r\ngood\t1\r\n\r\nbad\t0\r\n\n");
  TextDataset d = read_tsv(path);
  EXPECT_EQ(d.texts, (Texts{"good", "bad"}));
  EXPECT_EQ(d.labels, (Labels{1, 0}));
  // With an explicit "no header" the header row's label is an error.
  EXPECT_LOOM_ERROR(read_tsv(path, {.header = Header::absent}),
                    "b.tsv:1:10: the label \"label\" (field 1) is not an integer");
}

TEST_F(TextFiles, TsvErrorsNameFileAndLine) {
  auto extra = write("extra.tsv", "good\t1\nbad\t0\tx\n");
  EXPECT_LOOM_ERROR(read_tsv(extra), "extra.tsv:2: expected 2 fields (as in the first record, line 1), got 3");
  auto missing = write("missing.tsv", "good\t1\n\nno label here\n");
  EXPECT_LOOM_ERROR(read_tsv(missing), "missing.tsv:3: expected 2 fields");
  auto not_int = write("notint.tsv", "good\t1\nbad\t0.5\n");
  EXPECT_LOOM_ERROR(read_tsv(not_int), "notint.tsv:2:5: the label \"0.5\" (field 1) is not an integer");
  auto empty = write("empty.tsv", "");
  EXPECT_LOOM_ERROR(read_tsv(empty), "empty.tsv: no examples");
  auto header_only = write("header.tsv", "sentence\tlabel\n");
  EXPECT_LOOM_ERROR(read_tsv(header_only), "header.tsv: no examples");
  auto one_column = write("one.tsv", "just text\n");
  EXPECT_LOOM_ERROR(read_tsv(one_column), "one.tsv:1: the label column 1 is out of range: the first record has 1 field");
  EXPECT_LOOM_ERROR(read_tsv((dir_ / "nope.tsv").string()), "nope.tsv: cannot open the file");
  EXPECT_LOOM_ERROR(read_tsv(dir_.string()), "is a directory");
}

// ---- CSV ---------------------------------------------------------------------------------

TEST_F(TextFiles, CsvQuotingFollowsRfc4180) {
  auto path = write("q.csv",
                    "text,label\n"
                    "\"good, really good\",1\n"                 // delimiter inside quotes
                    "\"she said \"\"wow\"\"\",1\n"              // doubled quotes
                    "\"line one\nline two\r\nline three\",0\n"  // line breaks inside quotes
                    "plain 5\" screen,0\n"                      // a quote inside an unquoted field
                    "\"\",1\n"                                  // an empty quoted text
                    "last,0");                                   // no final newline
  TextDataset d = read_csv(path);
  EXPECT_EQ(d.texts, (Texts{"good, really good", "she said \"wow\"", "line one\nline two\r\nline three",
                            "plain 5\" screen", "", "last"}));
  EXPECT_EQ(d.labels, (Labels{1, 1, 0, 0, 1, 0}));
}

TEST_F(TextFiles, CsvColumnsByNameOrIndexAndLabelNames) {
  auto path = write("named.csv",
                    "id,sentiment,review\n"
                    "1,positive,\"A fine, fine film\"\n"
                    "2, negative ,Awful\n"
                    "3,7,numbers still work\n");
  TextDataset d = read_csv(path, {.text_column = "review",
                                  .label_column = "sentiment",
                                  .label_names = {{"positive", 1}, {"negative", 0}}});
  EXPECT_EQ(d.texts, (Texts{"A fine, fine film", "Awful", "numbers still work"}));
  EXPECT_EQ(d.labels, (Labels{1, 0, 7}));
  // The same by index; the header is still detected (its label is not a number).
  TextDataset e = read_csv(path, {.text_column = 2, .label_column = 0});
  EXPECT_EQ(e.texts, d.texts);
  EXPECT_EQ(e.labels, (Labels{1, 2, 3}));
  // A header that happens to look like data can be declared.
  auto numeric_header = write("numhead.csv", "0,1\ntext,1\n");
  EXPECT_EQ(read_csv(numeric_header, {.header = Header::present}).texts, (Texts{"text"}));
  EXPECT_EQ(read_csv(numeric_header).texts, (Texts{"0", "text"}));
  // Other delimiters get CSV quoting too.
  auto semi = write("semi.txt", "\"a;b\";1\nc;0\n");
  EXPECT_EQ(read_table(semi, {.delimiter = ';'}).texts, (Texts{"a;b", "c"}));
  // read_table picks the delimiter from the extension.
  auto tsv = write("x.tsv", "t\"x\t1\n");
  EXPECT_EQ(read_table(tsv).texts, (Texts{"t\"x"}));
}

TEST_F(TextFiles, CsvMalformedRowsNameFileLineAndColumn) {
  auto unterminated = write("unterminated.csv", "text,label\ngood,1\n\"never closed,1\nmore,0\n");
  EXPECT_LOOM_ERROR(read_csv(unterminated), "unterminated.csv:3:1: unterminated quoted field");
  auto after_quote = write("after.csv", "text,label\n\"good\"x,1\n");
  EXPECT_LOOM_ERROR(read_csv(after_quote), "after.csv:2:7: unexpected character 'x' after the closing quote");
  // Line numbers stay right after records that span several lines.
  auto multi = write("multi.csv", "text,label\n\"a\nb\nc\",1\nbad,x\n");
  EXPECT_LOOM_ERROR(read_csv(multi), "multi.csv:5:5: the label \"x\" (field 1) is not an integer");
  auto fields = write("fields.csv", "text,label\n\"a,b\",1\na,b,1\n");
  EXPECT_LOOM_ERROR(read_csv(fields), "fields.csv:3: expected 2 fields (as in the first record, line 1), got 3");
  auto no_column = write("nocol.csv", "review,score\nfine,1\n");
  EXPECT_LOOM_ERROR(read_csv(no_column, {.text_column = "review", .label_column = "label"}),
                    "nocol.csv:1: no label column named \"label\" in the header (columns: \"review\", \"score\")");
  EXPECT_LOOM_ERROR(read_csv(no_column, {.header = Header::absent, .label_column = "score"}),
                    "need a header row");
  EXPECT_LOOM_ERROR(read_csv(no_column, {.text_column = 1, .label_column = 1}), "the same");
  EXPECT_LOOM_ERROR(read_csv(no_column, {.label_column = -1}), "the label column needs a name or an index >= 0");
  auto unknown_name = write("names.csv", "text,label\na,positive\nb,meh\n");
  EXPECT_LOOM_ERROR(read_csv(unknown_name, {.label_names = {{"positive", 1}, {"negative", 0}}}),
                    "names.csv:3:3: the label \"meh\" (field 1) is not an integer nor one of label_names");
  auto empty_label = write("emptylabel.csv", "a,1\nb,\n");
  EXPECT_LOOM_ERROR(read_csv(empty_label), "emptylabel.csv:2:3: the label \"\"");
  auto empty = write("empty.csv", "\n\n");
  EXPECT_LOOM_ERROR(read_csv(empty), "empty.csv: no examples");
}

TEST_F(TextFiles, InvalidUtf8IsReplacedKeptOrReported) {
  auto path = write("latin1.csv", "text,label\nok,1\n\"caf\xE9\nna\xEFve\",0\n");
  TextDataset replaced = read_csv(path);
  EXPECT_EQ(replaced.texts[1], "caf\xEF\xBF\xBD\nna\xEF\xBF\xBDve");
  TextDataset kept = read_csv(path, {.invalid_utf8 = Utf8Policy::keep});
  EXPECT_EQ(kept.texts[1], "caf\xE9\nna\xEFve");
  EXPECT_LOOM_ERROR(read_csv(path, {.invalid_utf8 = Utf8Policy::error}),
                    "latin1.csv:3:5: invalid UTF-8 byte 0xE9 in the text field");
  // Valid multi-byte text is untouched.
  auto good = write("utf8.tsv", "café 😀 naïve\t1\n");
  EXPECT_EQ(read_tsv(good, {.invalid_utf8 = Utf8Policy::error}).texts[0], "café 😀 naïve");
}

TEST(Utf8, ValidationRejectsOverlongsSurrogatesAndTruncation) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("é€😀"), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("a\xC0\xAF"), 1u);          // overlong '/'
  EXPECT_EQ(find_invalid_utf8("ab\xED\xA0\x80"), 2u);     // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok\xE2\x82"), 2u);         // truncated euro sign
  EXPECT_EQ(find_invalid_utf8("\x80"), 0u);               // lone continuation byte
  EXPECT_EQ(replace_invalid_utf8("a\xFF" "b\xE2\x82"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

// ---- streaming ---------------------------------------------------------------------------

TEST_F(TextFiles, ForEachRowStreamsWithLineNumbers) {
  auto path = write("s.csv", "text,label\na,1\n\"b\nc\",0\n\nd,1\n");
  std::vector<std::pair<std::string, int64_t>> seen;
  for_each_row(path, {}, [&](TableRow& row) { seen.emplace_back(std::move(row.text), row.line); });
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int64_t>>{{"a", 2}, {"b\nc", 3}, {"d", 6}}));
  int rows = 0;
  for_each_row(path, {.max_rows = 2}, [&](TableRow&) { ++rows; });
  EXPECT_EQ(rows, 2);
  // An empty file streams nothing (read_* turn that into an error).
  auto empty = write("e.csv", "");
  for_each_row(empty, {}, [&](TableRow&) { ADD_FAILURE() << "row from an empty file"; });
}

TEST_F(TextFiles, RecordReaderCrossesBlockBoundaries) {
  // Records longer than the 1 MiB read block, and a quoted field whose
  // doubled quote straddles the block edge.
  std::string big(1 << 20, 'x');
  std::string content = "\"" + big.substr(0, (1 << 20) - 2) + "\"\"q\",1\n" + big + ",0\nshort,1\n";
  auto path = write("big.csv", content);
  RecordReader reader(path, ',', true);
  std::vector<std::string> fields;
  ASSERT_TRUE(reader.next(fields));
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].size(), 1u << 20);
  EXPECT_EQ(fields[0].substr(fields[0].size() - 2), "\"q");
  EXPECT_EQ(reader.line(), 1);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0].size(), 1u << 20);
  EXPECT_EQ(reader.line(), 2);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"short", "1"}));
  EXPECT_EQ(reader.line(), 3);
  EXPECT_EQ(reader.field_column(1), 7);
  EXPECT_FALSE(reader.next(fields));
  EXPECT_FALSE(reader.next(fields));
}

// ---- aclImdb -------------------------------------------------------------------------------

TEST_F(TextFiles, ImdbLayoutIsReadInSortedOrder) {
  write("aclImdb/train/pos/10_9.txt", "Great.<br /><br />Loved it.");
  write("aclImdb/train/pos/2_8.txt", "Fine film");
  write("aclImdb/train/pos/notes.md", "not a review");
  write("aclImdb/train/neg/5_1.txt", "Bad");
  write("aclImdb/train/neg/0_3.txt", "Boring caf\xE9");
  write("aclImdb/test/pos/0_10.txt", "Top");
  write("aclImdb/test/neg/0_2.txt", "Meh");
  TextDataset d = read_imdb((dir_ / "aclImdb").string(), "train");
  // neg first, then pos; each sorted by file name ("10_9" < "2_8" in byte order).
  EXPECT_EQ(d.texts, (Texts{"Boring caf\xEF\xBF\xBD", "Bad", "Great.<br /><br />Loved it.", "Fine film"}));
  EXPECT_EQ(d.labels, (Labels{0, 0, 1, 1}));
  // The parent of aclImdb/ works too.
  TextDataset t = read_imdb(dir_.string(), "test");
  EXPECT_EQ(t.texts, (Texts{"Meh", "Top"}));
  EXPECT_EQ(t.labels, (Labels{0, 1}));
  EXPECT_EQ(read_imdb(dir_.string(), "train", {.max_per_class = 1}).texts, (Texts{"Boring caf\xEF\xBF\xBD", "Great.<br /><br />Loved it."}));
  EXPECT_LOOM_ERROR(read_imdb(dir_.string(), "train", {.invalid_utf8 = Utf8Policy::error}),
                    "0_3.txt:1:11: invalid UTF-8 byte 0xE9");
}

TEST_F(TextFiles, ImdbMissingOrEmptyFoldersAreErrors) {
  write("aclImdb/train/pos/1_9.txt", "Good");
  EXPECT_LOOM_ERROR(read_imdb(dir_.string(), "train"), "neg is not a directory");
  fs::create_directories(dir_ / "aclImdb/train/neg");
  EXPECT_LOOM_ERROR(read_imdb(dir_.string(), "train"), "neg holds no .txt file");
  EXPECT_LOOM_ERROR(read_imdb((dir_ / "nowhere").string(), "train"), "is not a directory");
}

// ---- shuffling and splitting -----------------------------------------------------------------

TextDataset numbered(int n, int positives) {
  TextDataset d;
  for (int i = 0; i < n; ++i) d.push_back(std::to_string(i), i < positives ? 1 : 0);
  return d;
}

TEST(TextSplit, ShuffleKeepsPairsAndIsSeeded) {
  TextDataset d = numbered(100, 30);
  TextDataset a = d, b = d, c = d;
  shuffle_dataset(a, 7);
  shuffle_dataset(b, 7);
  shuffle_dataset(c, 8);
  EXPECT_EQ(a.texts, b.texts);
  EXPECT_NE(a.texts, c.texts);
  EXPECT_NE(a.texts, d.texts);
  std::set<std::string> all(a.texts.begin(), a.texts.end());
  EXPECT_EQ(all.size(), 100u);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a.labels[i], std::stoi(a.texts[i]) < 30 ? 1 : 0) << "pair " << i << " broken";
}

TEST(TextSplit, SplitCoversEverythingOnce) {
  TextDataset d = numbered(1000, 500);
  DatasetSplit s = split_dataset(d, {.validation_fraction = 0.25, .seed = 3});
  EXPECT_EQ(s.train.size(), 750u);
  EXPECT_EQ(s.validation.size(), 250u);
  std::set<std::string> seen(s.train.texts.begin(), s.train.texts.end());
  for (const auto& t : s.validation.texts) EXPECT_TRUE(seen.insert(t).second) << t << " in both";
  EXPECT_EQ(seen.size(), 1000u);
  DatasetSplit again = split_dataset(d, {.validation_fraction = 0.25, .seed = 3});
  EXPECT_EQ(again.validation.texts, s.validation.texts);
  DatasetSplit other = split_dataset(d, {.validation_fraction = 0.25, .seed = 4});
  EXPECT_NE(other.validation.texts, s.validation.texts);
}

TEST(TextSplit, UnshuffledSplitTakesTheEndAndStratifiedKeepsShares) {
  TextDataset d = numbered(10, 3);
  DatasetSplit tail = split_dataset(d, {.validation_fraction = 0.3, .shuffle = false});
  EXPECT_EQ(tail.validation.texts, (Texts{"7", "8", "9"}));
  EXPECT_EQ(tail.train.texts.front(), "0");

  TextDataset big = numbered(1000, 100);  // 10% positives
  DatasetSplit s = split_dataset(big, {.validation_fraction = 0.2, .seed = 1, .stratify = true});
  EXPECT_EQ(s.validation.label_counts(), (std::map<int32_t, int64_t>{{0, 180}, {1, 20}}));
  EXPECT_EQ(s.train.label_counts(), (std::map<int32_t, int64_t>{{0, 720}, {1, 80}}));
  // The stratified parts are mixed, not grouped by label.
  int switches = 0;
  for (size_t i = 1; i < s.train.size(); ++i) switches += s.train.labels[i] != s.train.labels[i - 1];
  EXPECT_GT(switches, 50);

  EXPECT_EQ(split_dataset(d, {.validation_fraction = 0.0}).validation.size(), 0u);
  EXPECT_EQ(split_dataset(d, {.validation_fraction = 1.0}).train.size(), 0u);
  EXPECT_LOOM_ERROR(split_dataset(d, {.validation_fraction = 1.5}), "validation_fraction");
}

// ---- the real SST-2 files --------------------------------------------------------------------

fs::path data_dir() { return test::shared_data_dir(); }

TEST(Sst2, OfficialSplitsReadCompletely) {
  fs::path sst = data_dir() / "sst2";
  ASSERT_TRUE(fs::is_directory(sst)) << sst << " is missing: the SST-2 data must be present "
                                     << "(set LOOM_DATA_DIR to the folder holding sst2/)";
  const std::pair<const char*, size_t> splits[] = {{"train.tsv", 6920}, {"dev.tsv", 872}, {"test.tsv", 1821}};
  for (const auto& [name, rows] : splits) {
    TextDataset d = read_tsv((sst / name).string(), {.invalid_utf8 = Utf8Policy::error});
    EXPECT_EQ(d.size(), rows) << name;
    auto counts = d.label_counts();
    EXPECT_EQ(counts.size(), 2u) << name;
    EXPECT_GT(counts[0], static_cast<int64_t>(rows) * 4 / 10) << name;
    EXPECT_GT(counts[1], static_cast<int64_t>(rows) * 4 / 10) << name;
    for (const auto& t : d.texts) ASSERT_FALSE(t.empty()) << name;
  }
  TextDataset train = read_tsv((sst / "train.tsv").string());
  EXPECT_EQ(train.texts[0].rfind("a stirring , funny and finally transporting", 0), 0u);
  EXPECT_EQ(train.labels[0], 1);
  EXPECT_EQ(train.labels[1], 0);
}

}  // namespace
}  // namespace loom::text
