// Fuzzes the aclImdb reader (layers/text/datasets.h): parse_imdb_review,
// the per-file step (byte order mark, UTF-8 policy, error positions), and
// read_imdb over a scratch folder whose review file names (such as
// "123_8.txt") and contents come from the input:
//   policy byte, name of the neg file, '\n', name of the pos file, '\n', review bytes.
#include <filesystem>
#include <string>

#include "fuzz_util.h"

namespace fs = std::filesystem;
using namespace loom::text;

namespace {

// A file name from fuzz bytes: no separator or NUL, never "." or "..".
std::string file_name(std::string_view raw) {
  std::string name;
  for (char c : raw.substr(0, 64)) name += (c == '/' || c == '\0') ? '_' : c;
  if (name.empty() || name == "." || name == "..") name = "0_1";
  return name;
}

// <scratch>/imdb/train/{neg,pos}/ with one review each, emptied first.
std::string make_tree(const std::string& neg_name, const std::string& pos_name,
                      std::string_view review) {
  const fs::path root = fs::path(loom_fuzz::scratch_dir()) / "imdb";
  fs::remove_all(root);
  for (const char* cls : {"neg", "pos"}) fs::create_directories(root / "train" / cls);
  loom_fuzz::write_scratch_file("imdb/train/neg/" + neg_name, review);
  loom_fuzz::write_scratch_file("imdb/train/pos/" + pos_name, review.substr(review.size() / 2));
  return root.string();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  loom_fuzz::init_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom_fuzz::Input in(data, size);
  const uint8_t mode = in.byte();
  static const Utf8Policy kPolicy[] = {Utf8Policy::replace, Utf8Policy::keep, Utf8Policy::error,
                                       Utf8Policy::replace};
  const Utf8Policy policy = kPolicy[mode & 3];
  const std::string neg_name = file_name(in.until('\n'));
  const std::string pos_name = file_name(in.until('\n'));
  const std::string_view review = in.rest();

  loom_fuzz::expect_loom_errors_only([&] {
    const std::string text = parse_imdb_review(std::string(review), neg_name, policy);
    if (policy != Utf8Policy::keep && find_invalid_utf8(text) != std::string::npos) std::abort();
  });
  // The folder walk costs file system calls; every fourth input takes it.
  if ((mode & 0x0C) == 0) {
    const std::string root = make_tree(neg_name, pos_name, review);
    loom_fuzz::expect_loom_errors_only([&] {
      TextDataset d = read_imdb(root, "train", {.max_per_class = (mode & 0x10) ? 1 : 0,
                                                .invalid_utf8 = policy});
      if (d.texts.size() != d.labels.size()) std::abort();
    });
  }
  return 0;
}
