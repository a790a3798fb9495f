#include "loom/layers/keras/zip_archive.h"

#include <fcntl.h>
#include <unistd.h>
#include <zip.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "loom/backends/types.h"

namespace loom::keras {
namespace {

// Deflate expands at most 1032:1, so an entry declaring more than that of
// its compressed bytes (plus 1 MiB of slack) lies about its size: refused
// before the buffer is allocated.
constexpr uint64_t kMaxExpansion = 1032;
constexpr uint64_t kSlackBytes = uint64_t{1} << 20;
// Every entry gets this timestamp (2000-01-01 12:00 UTC, a date in every
// time zone), so saving the same model twice gives the same bytes.
constexpr time_t kEntryTime = 946728000;

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string text = zip_error_strerror(&e);
  zip_error_fini(&e);
  return text;
}

// Names come from the archive: refuse what could escape a folder if the
// archive were extracted ("../x", "/x", "C:\x"), and names of no file.
void check_name(const std::string& path, const std::string& name) {
  LOOM_CHECK(!name.empty(), "{}: an entry has an empty name", path);
  LOOM_CHECK(name.find('\0') == std::string::npos, "{}: entry '{}': the name contains a NUL byte", path,
             name);
  const bool drive = name.size() > 1 && name[1] == ':' && std::isalpha(static_cast<unsigned char>(name[0]));
  const bool absolute = name[0] == '/' || name[0] == '\\' || drive;
  LOOM_CHECK(!absolute, "{}: entry '{}': an absolute path", path, name);
  size_t start = 0;
  for (size_t end = 0; end != std::string::npos; start = end + 1) {
    end = name.find_first_of("/\\", start);
    LOOM_CHECK(name.compare(start, end - start, "..") != 0, "{}: entry '{}': a '..' in the path", path, name);
  }
}

void check_unique(const std::string& path, const std::string& name, std::set<std::string>& seen) {
  LOOM_CHECK(seen.insert(name).second, "{}: entry '{}' appears twice", path, name);
}

// ---- reading -------------------------------------------------------------------------

// Missing files, folders and permissions in errno's words, before libzip
// says only that it could not open the file.
void check_readable(const std::string& path) {
  std::error_code ec;
  LOOM_CHECK(!std::filesystem::is_directory(path, ec), "{}: is a directory, not a zip archive", path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::fclose(f);
  // libzip takes an empty file for an empty archive; a zip has at least its 22-byte end record.
  LOOM_CHECK(std::filesystem::file_size(path, ec) != 0 || ec, "{}: empty file, not a zip archive", path);
}

// With ZIP_CHECKCONS libzip refuses duplicate names without saying which;
// opened again without it, the names are there to search.
[[noreturn]] void fail_duplicate(const std::string& path) {
  int code = 0;
  Archive z(zip_open(path.c_str(), ZIP_RDONLY, &code));
  std::set<std::string> seen;
  const zip_int64_t n = z ? zip_get_num_entries(z.get(), 0) : 0;
  for (zip_int64_t i = 0; i < n; ++i)
    if (const char* name = zip_get_name(z.get(), static_cast<zip_uint64_t>(i), 0))
      check_unique(path, name, seen);
  fail("{}: two entries have the same name", path);
}

Archive open_archive(const std::string& path) {
  check_readable(path);
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (z) return Archive(z);
  if (code == ZIP_ER_EXISTS) fail_duplicate(path);
  if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
    fail("{}: not a zip archive or damaged ({})", path, zip_error_text(code));
  fail("{}: cannot read the zip archive ({})", path, zip_error_text(code));
}

// What an entry says of itself, checked before any of its bytes are read.
zip_stat_t entry_stat(zip_t* z, zip_uint64_t i, const std::string& path) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z, i, 0, &st) != 0) fail("{}: entry {}: {}", path, i, zip_strerror(z));
  constexpr zip_uint64_t kNeeded =
      ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
  LOOM_CHECK((st.valid & kNeeded) == kNeeded, "{}: entry {}: incomplete directory record", path, i);
  return st;
}

void check_size(const zip_stat_t& st, const std::string& what) {
  LOOM_CHECK(st.encryption_method == ZIP_EM_NONE, "{}: is encrypted", what);
  const uint64_t size = st.size, packed = st.comp_size;
  if (st.comp_method == ZIP_CM_STORE) {
    LOOM_CHECK(size == packed, "{}: stored, yet declares {} bytes in {} bytes of data", what, size, packed);
    return;
  }
  LOOM_CHECK(st.comp_method == ZIP_CM_DEFLATE,
             "{}: compression method {} (Loom reads stored and deflated entries, which Keras writes)", what,
             st.comp_method);
  const uint64_t limit = packed > (uint64_t{1} << 52) ? UINT64_MAX : packed * kMaxExpansion + kSlackBytes;
  LOOM_CHECK(size <= limit, "{}: declares {} bytes, more than its {} compressed bytes can hold", what, size,
             packed);
}

// Reads exactly the declared size; the read past it must find the end,
// where libzip checks the CRC-32 and the length.
std::string read_data(zip_t* z, zip_uint64_t i, uint64_t size, const std::string& what) {
  zip_file_t* f = zip_fopen_index(z, i, 0);
  if (!f) fail("{}: cannot open: {}", what, zip_strerror(z));
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(f, zip_fclose);
  std::string data(size, '\0');
  for (uint64_t got = 0; got < size;) {
    const zip_int64_t n = zip_fread(f, data.data() + got, size - got);
    if (n < 0) fail("{}: {}", what, zip_file_strerror(f));
    if (n == 0) fail("{}: truncated: {} of {} bytes", what, got, size);
    got += static_cast<uint64_t>(n);
  }
  char extra;
  const zip_int64_t n = zip_fread(f, &extra, 1);
  if (n < 0) fail("{}: {}", what, zip_file_strerror(f));
  LOOM_CHECK(n == 0, "{}: holds more than its declared {} bytes", what, size);
  const int rc = zip_fclose(file.release());
  LOOM_CHECK(rc == 0, "{}: {}", what, zip_error_text(rc));
  return data;
}

// ---- writing --------------------------------------------------------------------------

std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
}

// Adds one entry (the data is borrowed until zip_close): .h5 stored, the rest deflated.
void add_entry(zip_t* z, const ZipEntry& e, const std::string& path) {
  zip_source_t* src = zip_source_buffer(z, e.data.data(), e.data.size(), 0);
  if (!src) fail("{}: entry '{}': {}", path, e.name, zip_strerror(z));
  const zip_int64_t i = zip_file_add(z, e.name.c_str(), src, ZIP_FL_ENC_UTF_8);
  if (i < 0) {
    zip_source_free(src);
    fail("{}: entry '{}': {}", path, e.name, zip_strerror(z));
  }
  const bool h5 = e.name.size() >= 3 && e.name.compare(e.name.size() - 3, 3, ".h5") == 0;
  const auto idx = static_cast<zip_uint64_t>(i);
  // A regular file, rw-r--r--, for unzip.
  if (zip_set_file_compression(z, idx, h5 ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0) != 0 ||
      zip_file_set_mtime(z, idx, kEntryTime, 0) != 0 ||
      zip_file_set_external_attributes(z, idx, 0, ZIP_OPSYS_UNIX, 0100644u << 16) != 0)
    fail("{}: entry '{}': {}", path, e.name, zip_strerror(z));
}

// libzip writes `tmp` itself (through a file of its own, renamed at close).
void write_archive(const std::string& tmp, const std::string& path, const std::vector<ZipEntry>& entries) {
  int code = 0;
  Archive z(zip_open(tmp.c_str(), ZIP_CREATE | ZIP_EXCL, &code));
  if (!z) fail("{}: cannot create '{}': {}", path, tmp, zip_error_text(code));
  for (const ZipEntry& e : entries) add_entry(z.get(), e, path);
  if (zip_close(z.get()) != 0) fail("{}: writing failed: {}", path, zip_strerror(z.get()));
  z.release();  // zip_close freed it
}

// fsync the data, rename into place, fsync the folder so the rename lasts.
void commit(const std::string& tmp, const std::string& path) {
  const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot reopen '{}': {}", path, tmp, std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced) fail("{}: fsync of '{}' failed: {}", path, tmp, std::strerror(err));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    fail("{}: renaming '{}' to it failed: {}", path, tmp, std::strerror(errno));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some filesystems refuse fsync on folders
    ::close(dfd);
  }
}

}  // namespace

std::vector<ZipEntry> read_zip(const std::string& path) {
  Archive z = open_archive(path);
  const zip_int64_t count = zip_get_num_entries(z.get(), 0);
  LOOM_CHECK(count >= 0, "{}: cannot list the entries: {}", path, zip_strerror(z.get()));
  std::vector<ZipEntry> entries;
  std::set<std::string> seen;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    const zip_stat_t st = entry_stat(z.get(), i, path);
    ZipEntry e{st.name, {}};
    check_name(path, e.name);
    check_unique(path, e.name, seen);
    const std::string what = fmt::format("{}: entry '{}'", path, e.name);
    check_size(st, what);
    e.data = read_data(z.get(), i, st.size, what);
    entries.push_back(std::move(e));
  }
  return entries;
}

void write_zip(const std::string& path, const std::vector<ZipEntry>& entries) {
  LOOM_CHECK(!entries.empty(), "{}: no entries to write (a zip needs one)", path);
  std::set<std::string> seen;
  for (const ZipEntry& e : entries) {
    check_name(path, e.name);
    check_unique(path, e.name, seen);
  }
  const std::string tmp = temp_name(path);
  try {
    write_archive(tmp, path, entries);
    commit(tmp, path);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace loom::keras
