// The checkpoint file format on plain named tensors: round trips, and every
// kind of damage refused with a message naming the file and the problem.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loom/layers/saving/saving.h"
#include "test_util.h"

namespace loom {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class CheckpointFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("loom_ckpt_{}_{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                       ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void spit(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  static CheckpointFile sample() {
    CheckpointFile f;
    f.header["format"] = "test";
    f.header["nested"]["units"] = 4;
    Generator g(3);
    f.tensors.push_back({"weights", "dense/kernel", Tensor::uniform({3, 4}, -1, 1, g)});
    f.tensors.push_back({"weights", "dense/bias", Tensor::of({0.5, -0.25, 1e-30, 7}, DType::f64)});
    f.tensors.push_back({"optimizer", "iterations", Tensor::scalar(12, DType::i64)});
    f.tensors.push_back({"optimizer", "ids", Tensor::from_vector(std::vector<int32_t>{1, -2, 3}, {3, 1})});
    f.tensors.push_back({"weights", "empty", Tensor::zeros({0, 5})});
    f.blobs["vocab"] = std::string("a\0b\nc", 5);
    f.blobs["empty"] = "";
    return f;
  }

  fs::path dir_;
};

TEST(Crc32, KnownValues) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);  // the standard check value
  EXPECT_EQ(crc32("", 0), 0u);
  // Continuing over pieces equals one pass, across the 8-byte fast path.
  std::string s = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(crc32(s.data(), s.size()), 0x414FA339u);
  EXPECT_EQ(crc32(s.data() + 13, s.size() - 13, crc32(s.data(), 13)), 0x414FA339u);
}

TEST_F(CheckpointFormat, RoundTripsTensorsHeaderAndBlobsBitForBit) {
  CheckpointFile f = sample();
  write_checkpoint(path("a.loom"), f);
  CheckpointFile r = read_checkpoint(path("a.loom"));
  EXPECT_EQ(r.header, f.header);
  ASSERT_EQ(r.tensors.size(), f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const auto& a = f.tensors[i];
    const auto& b = r.tensors[i];
    EXPECT_EQ(b.group, a.group);
    EXPECT_EQ(b.name, a.name);
    EXPECT_EQ(b.value.dtype(), a.value.dtype()) << a.name;
    EXPECT_EQ(b.value.shape(), a.value.shape()) << a.name;
    size_t n = static_cast<size_t>(a.value.numel()) * dtype_size(a.value.dtype());
    EXPECT_EQ(std::memcmp(a.value.contiguous().raw_data(), b.value.raw_data(), n), 0) << a.name;
  }
  EXPECT_EQ(r.blobs, f.blobs);
  ASSERT_NE(r.find("optimizer", "iterations"), nullptr);
  EXPECT_EQ(r.find("optimizer", "iterations")->value.item(), 12);
  EXPECT_EQ(r.find("weights", "iterations"), nullptr);
  EXPECT_EQ(r.group("weights").size(), 3u);
}

TEST_F(CheckpointFormat, NonContiguousTensorsAreWrittenRowMajor) {
  CheckpointFile f;
  Tensor t = Tensor::of2d({{1, 2, 3}, {4, 5, 6}}).transpose(0, 1);  // (3, 2) view
  f.tensors.push_back({"weights", "t", t});
  write_checkpoint(path("t.loom"), f);
  Tensor back = read_checkpoint(path("t.loom")).tensors.at(0).value;
  test::expect_shape(back, {3, 2});
  test::expect_values(back, {1, 4, 2, 5, 3, 6}, 0);
}

TEST_F(CheckpointFormat, LayoutMatchesTheSpec) {
  write_checkpoint(path("a.loom"), sample());
  std::string b = slurp(path("a.loom"));
  ASSERT_GE(b.size(), 40u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x89LOOM\r\n\x1a", 8));
  uint32_t version, count;
  uint64_t size;
  std::memcpy(&version, b.data() + 8, 4);
  std::memcpy(&size, b.data() + 16, 8);
  std::memcpy(&count, b.data() + 24, 4);
  EXPECT_EQ(version, kCheckpointFormatVersion);
  EXPECT_EQ(size, b.size());
  EXPECT_EQ(count, 1u + 5u + 2u);  // header, tensors, blobs
  uint32_t header_crc, file_crc;
  std::memcpy(&header_crc, b.data() + 28, 4);
  EXPECT_EQ(header_crc, crc32(b.data(), 28));
  EXPECT_EQ(b.substr(b.size() - 8, 4), "LEND");
  std::memcpy(&file_crc, b.data() + b.size() - 4, 4);
  EXPECT_EQ(file_crc, crc32(b.data(), b.size() - 4));
  // The first section is the JSON header, readable as text.
  uint32_t kind;
  uint64_t len;
  std::memcpy(&kind, b.data() + 32, 4);
  std::memcpy(&len, b.data() + 40, 8);
  EXPECT_EQ(kind, 1u);
  EXPECT_EQ(Json::parse(b.substr(48, len)), sample().header);
}

TEST_F(CheckpointFormat, ReplacesAtomicallyAndLeavesNoTempFiles) {
  write_checkpoint(path("a.loom"), sample());
  CheckpointFile f2;
  f2.header["v"] = 2;
  write_checkpoint(path("a.loom"), f2);
  EXPECT_EQ(read_checkpoint(path("a.loom")).header.get_int("v"), 2);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "a.loom");
  }
  EXPECT_EQ(files, 1);
  // A failed write (bad tensor) leaves the old file as it was and no temp file.
  CheckpointFile bad;
  bad.tensors.push_back({"weights", "x", Tensor::zeros({2})});
  bad.tensors.push_back({"weights", "x", Tensor::zeros({2})});
  EXPECT_LOOM_ERROR(write_checkpoint(path("a.loom"), bad), "tensor 'x' appears twice in group 'weights'");
  EXPECT_EQ(read_checkpoint(path("a.loom")).header.get_int("v"), 2);
  EXPECT_LOOM_ERROR(write_checkpoint(path("no/such/dir/a.loom"), f2), "no/such/dir/a.loom.tmp");
}

TEST_F(CheckpointFormat, RefusesBadMagic) {
  spit(path("x.loom"), "{\"this is\": \"json, not a checkpoint\"}");
  EXPECT_LOOM_ERROR(read_checkpoint(path("x.loom")), "x.loom': not a Loom checkpoint (bad magic number");
  spit(path("short.loom"), "\x89LO");
  EXPECT_LOOM_ERROR(read_checkpoint(path("short.loom")), "bad magic number");
  EXPECT_LOOM_ERROR(read_checkpoint(path("missing.loom")), "missing.loom': cannot open");
}

TEST_F(CheckpointFormat, RefusesAnotherVersion) {
  write_checkpoint(path("a.loom"), sample());
  std::string b = slurp(path("a.loom"));
  uint32_t v = 2;
  std::memcpy(b.data() + 8, &v, 4);
  uint32_t c = crc32(b.data(), 28);  // a genuine version-2 header has a valid checksum
  std::memcpy(b.data() + 28, &c, 4);
  spit(path("v2.loom"), b);
  EXPECT_LOOM_ERROR(read_checkpoint(path("v2.loom")),
                    "v2.loom': format version 2, but this build of Loom reads version 1");
}

TEST_F(CheckpointFormat, RefusesTruncationNamingBothSizes) {
  write_checkpoint(path("a.loom"), sample());
  std::string b = slurp(path("a.loom"));
  spit(path("cut.loom"), b.substr(0, b.size() - 100));
  EXPECT_LOOM_ERROR(read_checkpoint(path("cut.loom")),
                    fmt::format("cut.loom': truncated: expected {} bytes, file has {}", b.size(), b.size() - 100));
  spit(path("cut2.loom"), b.substr(0, 20));
  EXPECT_LOOM_ERROR(read_checkpoint(path("cut2.loom")), "truncated: the file header needs 32 bytes, file has 20");
  spit(path("long.loom"), b + "xyz");
  EXPECT_LOOM_ERROR(read_checkpoint(path("long.loom")), "3 unexpected bytes after the end");
  // Every possible truncation is refused.
  for (size_t n = 0; n < b.size(); ++n) {
    spit(path("t.loom"), b.substr(0, n));
    EXPECT_THROW(read_checkpoint(path("t.loom")), Error) << "truncated to " << n;
  }
}

TEST_F(CheckpointFormat, RefusesFlippedBytesNamingTheSection) {
  write_checkpoint(path("a.loom"), sample());
  const std::string b = slurp(path("a.loom"));
  CheckpointFile r = read_checkpoint(path("a.loom"));
  // Find the kernel's data: its first float's bytes.
  float first = r.tensors[0].value.data<float>()[0];
  size_t at = b.find(std::string(reinterpret_cast<const char*>(&first), 4));
  ASSERT_NE(at, std::string::npos);
  std::string c = b;
  c[at] ^= 0x01;
  spit(path("flip.loom"), c);
  EXPECT_LOOM_ERROR(read_checkpoint(path("flip.loom")),
                    "flip.loom': corrupted: checksum mismatch in section 1 (tensor 'dense/kernel' (weights))");
  c = b;
  c[50] ^= 0x20;  // inside the JSON header
  spit(path("flip.loom"), c);
  EXPECT_LOOM_ERROR(read_checkpoint(path("flip.loom")), "checksum mismatch in section 0 (JSON header)");
  c = b;
  c[17] ^= 0x01;  // the file size field
  spit(path("flip.loom"), c);
  EXPECT_LOOM_ERROR(read_checkpoint(path("flip.loom")), "corrupted: file header checksum mismatch");
  c = b;
  c[b.size() - 1] ^= 0x80;  // the whole-file checksum itself
  spit(path("flip.loom"), c);
  EXPECT_LOOM_ERROR(read_checkpoint(path("flip.loom")), "corrupted: whole-file checksum mismatch");
  // Every single flipped byte anywhere is refused (CRC-32 catches every
  // burst of up to 32 bits), never misread.
  for (size_t i = 0; i < b.size(); ++i) {
    c = b;
    c[i] = static_cast<char>(c[i] ^ 0xFF);
    spit(path("f.loom"), c);
    EXPECT_THROW(read_checkpoint(path("f.loom")), Error) << "byte " << i;
  }
}

TEST(CheckpointExtras, StringListsHoldAnyBytes) {
  CheckpointExtras e;
  std::vector<std::string> vocab = {"", "[UNK]", "the", std::string("a\0b", 3), "caf\xc3\xa9", "new\nline"};
  e.set_string_list("vocabulary", vocab);
  EXPECT_TRUE(e.has_blob("vocabulary"));
  EXPECT_EQ(e.string_list("vocabulary"), vocab);
  EXPECT_LOOM_ERROR(e.string_list("vocab"), "no blob named 'vocab' (blobs: vocabulary)");
  e.blobs["junk"] = "abc";
  EXPECT_THROW(e.string_list("junk"), Error);
}

}  // namespace
}  // namespace loom
