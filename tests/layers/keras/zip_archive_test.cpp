// read_zip / write_zip (layers/keras/zip_archive.h): round trips, and the
// errors a damaged or hostile archive gives.
#include "loom/layers/keras/zip_archive.h"

#include <cstdint>
#include <cstring>
#include <random>

#include "reliability/reliability_util.h"

namespace loom::keras {
namespace {

using test::dir_listing;
using test::loom_error;
using test::read_bytes;
using test::write_bytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ZipTest : public test::TempDirTest {};

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(g());
  return s;
}

std::vector<ZipEntry> keras_like() {
  return {{"metadata.json", "{\"keras_version\": \"3.6.0\", \"date_saved\": \"2024-01-01@00:00:00\"}"},
          {"config.json", std::string(5000, '{')},
          {"model.weights.h5", random_bytes(1 << 20, 3)},
          {"assets/text_vectorization/vocabulary.txt", "[UNK]\nthe\nfilm\n"},
          {"empty", ""}};
}

void expect_same(const std::vector<ZipEntry>& got, const std::vector<ZipEntry>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name) << "entry " << i;
    EXPECT_TRUE(got[i].data == want[i].data) << "entry " << i << " (" << want[i].name << ")";
  }
}

// Offset of the `nth` occurrence of `needle` in `hay`.
size_t find_nth(const std::string& hay, const std::string& needle, int nth) {
  size_t at = hay.find(needle);
  for (int i = 0; i < nth && at != std::string::npos; ++i) at = hay.find(needle, at + 1);
  EXPECT_NE(at, std::string::npos) << "'" << needle << "' #" << nth;
  return at;
}

void put_u32(std::string& bytes, size_t at, uint32_t v) { std::memcpy(&bytes[at], &v, 4); }

TEST_F(ZipTest, RoundTrip) {
  const auto entries = keras_like();
  write_zip(path("m.keras"), entries);
  expect_same(read_zip(path("m.keras")), entries);
  EXPECT_THAT(dir_listing(dir_), ElementsAre("m.keras"));  // no temporary file left
  // Same entries, same bytes: timestamps are fixed.
  write_zip(path("again.keras"), entries);
  EXPECT_TRUE(read_bytes(path("m.keras")) == read_bytes(path("again.keras")));
  // .h5 stored as Keras does it: its bytes appear as they are.
  EXPECT_NE(read_bytes(path("m.keras")).find(entries[2].data.substr(0, 4096)), std::string::npos);
}

TEST_F(ZipTest, ReplacesAnExistingFile) {
  write_bytes(path("m.keras"), "an older file");
  write_zip(path("m.keras"), {{"a.txt", "new"}});
  expect_same(read_zip(path("m.keras")), {{"a.txt", "new"}});
  EXPECT_THAT(dir_listing(dir_), ElementsAre("m.keras"));
}

TEST_F(ZipTest, NotAZip) {
  write_bytes(path("model.keras"), "\x89HDF\r\n\x1a\n this is not a zip archive, but long enough to look");
  EXPECT_THAT(loom_error([&] { read_zip(path("model.keras")); }),
              HasSubstr(path("model.keras") + ": not a zip archive or damaged (Not a zip archive)"));
  write_bytes(path("empty.keras"), "");
  EXPECT_THAT(loom_error([&] { read_zip(path("empty.keras")); }),
              HasSubstr(path("empty.keras") + ": empty file, not a zip archive"));
  EXPECT_THAT(loom_error([&] { read_zip(path("missing.keras")); }),
              HasSubstr(path("missing.keras") + ": cannot open: No such file or directory"));
  EXPECT_THAT(loom_error([&] { read_zip(dir_.string()); }), HasSubstr(": is a directory, not a zip archive"));
}

TEST_F(ZipTest, Truncated) {
  write_zip(path("m.keras"), keras_like());
  const std::string bytes = read_bytes(path("m.keras"));
  for (size_t keep : {bytes.size() / 2, bytes.size() - 10, size_t{30}}) {
    write_bytes(path("cut.keras"), bytes.substr(0, keep));
    EXPECT_THAT(loom_error([&] { read_zip(path("cut.keras")); }),
                HasSubstr(path("cut.keras") + ": not a zip archive or damaged"))
        << keep << " bytes";
  }
}

TEST_F(ZipTest, FlippedBytesFailTheCrc) {
  auto entries = keras_like();
  write_zip(path("m.keras"), entries);
  std::string bytes = read_bytes(path("m.keras"));
  // A byte in the middle of the stored model.weights.h5.
  std::string stored = bytes;
  stored[find_nth(bytes, entries[2].data.substr(0, 64), 0) + 500000] ^= 0x5a;
  write_bytes(path("flipped.keras"), stored);
  EXPECT_THAT(loom_error([&] { read_zip(path("flipped.keras")); }),
              HasSubstr(path("flipped.keras") + ": entry 'model.weights.h5': CRC error"));
  // A byte of the deflated vocabulary (stored after its local header and name).
  std::string deflated = bytes;
  const size_t name_at = find_nth(bytes, "assets/text_vectorization/vocabulary.txt", 0);
  deflated[name_at + entries[3].name.size() + 2] ^= 0x01;
  write_bytes(path("flipped2.keras"), deflated);
  EXPECT_THAT(loom_error([&] { read_zip(path("flipped2.keras")); }),
              HasSubstr(path("flipped2.keras") + ": entry 'assets/text_vectorization/vocabulary.txt': "));
}

// Sizes in the directory that the data cannot back are refused before any
// buffer is allocated: 2 GB claimed for 30 compressed bytes.
TEST_F(ZipTest, DeclaredSizeBeyondTheData) {
  write_zip(path("m.keras"), {{"config.json", std::string(5000, 'x')}});
  std::string bytes = read_bytes(path("m.keras"));
  const size_t local = find_nth(bytes, "PK\x03\x04", 0), central = find_nth(bytes, "PK\x01\x02", 0);
  put_u32(bytes, local + 22, 0x7fffffff);
  put_u32(bytes, central + 24, 0x7fffffff);
  write_bytes(path("lie.keras"), bytes);
  EXPECT_THAT(loom_error([&] { read_zip(path("lie.keras")); }),
              HasSubstr(path("lie.keras") + ": entry 'config.json': declares 2147483647 bytes, more than "
                                            "its"));
}

// Names patched in place (local header and directory alike, same length).
std::string with_name_replaced(std::string bytes, const std::string& from, const std::string& to) {
  for (int i = 0; i < 2; ++i) bytes.replace(find_nth(bytes, from, 0), from.size(), to);
  return bytes;
}

TEST_F(ZipTest, HostileNames) {
  write_zip(path("m.keras"), {{"a.json", "1"}, {"b.json", "2"}, {"xx/evil", "3"}, {"zzzzzz", "4"}});
  const std::string bytes = read_bytes(path("m.keras"));
  write_bytes(path("dup.keras"), with_name_replaced(bytes, "b.json", "a.json"));
  EXPECT_THAT(loom_error([&] { read_zip(path("dup.keras")); }),
              HasSubstr(path("dup.keras") + ": entry 'a.json' appears twice"));
  write_bytes(path("up.keras"), with_name_replaced(bytes, "xx/evil", "../evil"));
  EXPECT_THAT(loom_error([&] { read_zip(path("up.keras")); }),
              HasSubstr(path("up.keras") + ": entry '../evil': a '..' in the path"));
  write_bytes(path("abs.keras"), with_name_replaced(bytes, "zzzzzz", "/etc/x"));
  EXPECT_THAT(loom_error([&] { read_zip(path("abs.keras")); }),
              HasSubstr(path("abs.keras") + ": entry '/etc/x': an absolute path"));
}

TEST_F(ZipTest, WriteRefusesBadEntries) {
  const std::string out = path("m.keras");
  EXPECT_THAT(loom_error([&] {
                write_zip(out, {{"a", "1"}, {"b", "2"}, {"a", "3"}});
              }),
              HasSubstr(out + ": entry 'a' appears twice"));
  EXPECT_THAT(loom_error([&] {
                write_zip(out, {{"assets/../../x", "1"}});
              }),
              HasSubstr(out + ": entry 'assets/../../x': a '..' in the path"));
  EXPECT_THAT(loom_error([&] { write_zip(out, {{"C:\\x", "1"}}); }), HasSubstr("an absolute path"));
  EXPECT_THAT(loom_error([&] {
                write_zip(out, {{"", "1"}});
              }),
              HasSubstr(out + ": an entry has an empty name"));
  EXPECT_THAT(loom_error([&] { write_zip(out, {}); }), HasSubstr(out + ": no entries to write"));
  EXPECT_TRUE(dir_listing(dir_).empty());
}

TEST_F(ZipTest, WriteIntoAMissingFolderLeavesNothing) {
  const std::string out = path("no/such/folder/m.keras");
  EXPECT_THAT(loom_error([&] { write_zip(out, keras_like()); }), HasSubstr(out + ": "));
  EXPECT_TRUE(dir_listing(dir_).empty());
}

// A disk that fills up in the middle: the old file stays, no temporary file is left.
TEST_F(ZipTest, FullDiskKeepsTheOldFile) {
  write_zip(path("m.keras"), {{"old.txt", "old"}});
  const std::string before = read_bytes(path("m.keras"));
  {
    test::FileSizeLimit limit(100000);
    EXPECT_THAT(loom_error([&] { write_zip(path("m.keras"), keras_like()); }),
                HasSubstr(path("m.keras") + ": "));
  }
  EXPECT_TRUE(read_bytes(path("m.keras")) == before);
  EXPECT_THAT(dir_listing(dir_), ElementsAre("m.keras"));
}

}  // namespace
}  // namespace loom::keras
