// Helpers shared by the libFuzzer targets of tests/fuzz (one per input kind,
// built with LOOM_FUZZ=ON, run by scripts/fuzz.sh).
//
// A target feeds the bytes to a reader and lets loom::Error pass: that is a
// reader refusing bad input as documented. Anything else escaping
// (std::out_of_range, std::bad_alloc, ...) is a finding, so it is turned
// into an abort that libFuzzer reports with the input.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/loom.h"

namespace loom_fuzz {

// Runs fn(); swallows loom::Error, aborts on any other exception.
template <typename Fn>
void expect_loom_errors_only(Fn&& fn) {
  try {
    fn();
  } catch (const loom::Error& e) {
    // A documented refusal of malformed input; LOOM_FUZZ_VERBOSE=1 shows it
    // (when replaying an input by hand).
    static const bool verbose = std::getenv("LOOM_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "fuzz: loom::Error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: uncaught non-loom exception: %s\n", e.what());
    std::abort();
  }
}

// A scratch directory of this process (tmpfs when there is one), made once.
// Held by a never-freed pointer so that it outlives the exit handler that
// removes the directory.
inline const std::string& scratch_dir() {
  static const std::string* dir = [] {
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    auto* d = new std::string(std::string(base) + "/loom_fuzz_" + std::to_string(getpid()));
    if (mkdir(d->c_str(), 0700) != 0 && errno != EEXIST) std::abort();
    // Removed at a normal exit; a crashing run leaves it for inspection.
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return d;
  }();
  return *dir;
}

// Writes `bytes` to <scratch>/<name> and returns the path (readers of Loom
// take paths; the file is rewritten for every input).
inline std::string write_scratch_file(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) std::abort();
  return path;
}

// Reads the input front to back: small integers for options, then the rest.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  // One byte (0 when exhausted).
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // Bytes up to the next `sep` (consumed) or the end.
  std::string_view until(char sep) {
    const size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != static_cast<uint8_t>(sep)) ++pos_;
    std::string_view s(reinterpret_cast<const char*>(data_) + start, pos_ - start);
    if (pos_ < size_) ++pos_;
    return s;
  }
  std::string_view rest() {
    std::string_view s(reinterpret_cast<const char*>(data_) + pos_, size_ - pos_);
    pos_ = size_;
    return s;
  }
  bool empty() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Single-threaded kernels: a fuzz input is tiny, and OpenMP teams only add
// noise (and threads the sanitizers must track).
inline void init_runtime() { loom::set_num_threads(1); }

}  // namespace loom_fuzz
