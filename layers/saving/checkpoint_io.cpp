// The byte-level checkpoint format (docs/CHECKPOINT_FORMAT.md): CRC-32,
// atomic writes, and a reader that verifies every field before using it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "loom/layers/saving/saving.h"

namespace loom {

static_assert(std::endian::native == std::endian::little,
              "the checkpoint format is little-endian; add byte swapping for this host");

// ---- CRC-32 ------------------------------------------------------------------------------------
// Slicing-by-8: eight table lookups per 8 input bytes, ~1-2 GB/s, enough
// that checksumming never dominates saving a model.

namespace {

struct Crc32Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Crc32Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};
constexpr Crc32Tables kCrc;

}  // namespace

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  const auto& t = kCrc.t;
  crc = ~crc;
  while (size >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size--) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// ---- layout constants ------------------------------------------------------------------------------

namespace {

constexpr unsigned char kMagic[8] = {0x89, 'L', 'O', 'O', 'M', '\r', '\n', 0x1A};
constexpr size_t kFileHeaderSize = 32;
constexpr size_t kSectionHeaderSize = 16;
constexpr size_t kTrailerSize = 8;  // "LEND" + whole-file CRC
constexpr unsigned char kTrailerTag[4] = {'L', 'E', 'N', 'D'};

enum SectionKind : uint32_t { kHeaderSection = 1, kTensorSection = 2, kBlobSection = 3 };

uint8_t dtype_code(DType t) {
  switch (t) {
    case DType::f32: return 0;
    case DType::f64: return 1;
    case DType::i32: return 2;
    case DType::i64: return 3;
    case DType::bf16: return 4;
    case DType::f16: return 5;
  }
  fail("checkpoint: unknown dtype");
}

// Little-endian appends.
template <typename T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_name(std::string& out, const std::string& s, const char* what) {
  LOOM_CHECK(s.size() <= 0xFFFF, "checkpoint: {} of {} bytes is longer than 65535", what, s.size());
  put<uint16_t>(out, static_cast<uint16_t>(s.size()));
  out += s;
}

// One section: header, payload, CRC over both.
std::string section(uint32_t kind, const std::string& payload_head, size_t data_len) {
  std::string s;
  s.reserve(kSectionHeaderSize + payload_head.size() + 4);
  put<uint32_t>(s, kind);
  put<uint32_t>(s, 0);
  put<uint64_t>(s, payload_head.size() + data_len);
  s += payload_head;
  return s;  // the caller writes `data` after it and then the CRC
}

// ---- atomic writing ------------------------------------------------------------------------------

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    static std::atomic<uint64_t> counter{0};
    tmp_ = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("checkpoint: cannot create '{}': {}", tmp_, std::strerror(errno));
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    crc_ = crc32(p, n, crc_);
    written_ += n;
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("checkpoint: writing '{}' failed: {}", tmp_, std::strerror(errno));
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  void write(const std::string& s) { write(s.data(), s.size()); }
  uint32_t crc() const { return crc_; }
  uint64_t written() const { return written_; }
  // fsync the data, rename into place, fsync the directory so the rename lasts.
  void commit() {
    if (::fsync(fd_) != 0) fail("checkpoint: fsync of '{}' failed: {}", tmp_, std::strerror(errno));
    if (::close(fd_) != 0) {
      fd_ = -1;
      fail("checkpoint: closing '{}' failed: {}", tmp_, std::strerror(errno));
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      fail("checkpoint: renaming '{}' to '{}' failed: {}", tmp_, path_, std::strerror(errno));
    committed_ = true;
    std::string dir = std::filesystem::path(path_).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);  // best effort: some filesystems refuse fsync on directories
      ::close(dfd);
    }
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
  uint32_t crc_ = 0;
  uint64_t written_ = 0;
};

}  // namespace

// ---- CheckpointFile ---------------------------------------------------------------------------------

const CheckpointTensor* CheckpointFile::find(const std::string& g, const std::string& name) const {
  for (const auto& t : tensors)
    if (t.group == g && t.name == name) return &t;
  return nullptr;
}

std::vector<const CheckpointTensor*> CheckpointFile::group(const std::string& g) const {
  std::vector<const CheckpointTensor*> out;
  for (const auto& t : tensors)
    if (t.group == g) out.push_back(&t);
  return out;
}

// ---- writing ---------------------------------------------------------------------------------------------

void write_checkpoint(const std::string& path, const CheckpointFile& file) {
  LOOM_CHECK(file.header.is_object(), "checkpoint '{}': the header must be a JSON object, got {}", path,
             file.header.type_name());
  // Everything is checked and laid out before the first byte is written.
  struct Pending {
    std::string head;  // section header + payload fields before the data
    const void* data = nullptr;
    size_t data_len = 0;
    Tensor keep;       // the contiguous copy `data` points into
  };
  std::vector<Pending> sections;
  {
    Pending h;
    std::string json = file.header.dump();
    h.head = section(kHeaderSection, json, 0);
    sections.push_back(std::move(h));
  }
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const auto& t : file.tensors) {
    LOOM_CHECK(t.value.defined(), "checkpoint '{}': tensor '{}' ({}) is undefined", path, t.name, t.group);
    LOOM_CHECK(t.value.ndim() <= 255, "checkpoint '{}': tensor '{}' has too many axes", path, t.name);
    LOOM_CHECK(seen.emplace(std::make_pair(t.group, t.name), 1).second,
               "checkpoint '{}': tensor '{}' appears twice in group '{}'", path, t.name, t.group);
    Pending p;
    p.keep = t.value.detach().cpu().contiguous();  // GPU tensors are written from a host copy
    p.data = p.keep.raw_data();
    p.data_len = static_cast<size_t>(p.keep.numel()) * dtype_size(p.keep.dtype());
    std::string fields;
    put_name(fields, t.group, "tensor group");
    put_name(fields, t.name, "tensor name");
    put<uint8_t>(fields, dtype_code(p.keep.dtype()));
    put<uint8_t>(fields, static_cast<uint8_t>(p.keep.ndim()));
    put<uint16_t>(fields, 0);
    for (int64_t d : p.keep.shape()) put<int64_t>(fields, d);
    put<uint64_t>(fields, p.data_len);
    p.head = section(kTensorSection, fields, p.data_len);
    sections.push_back(std::move(p));
  }
  for (const auto& [name, bytes] : file.blobs) {
    Pending p;
    std::string fields;
    put_name(fields, name, "blob name");
    put<uint64_t>(fields, bytes.size());
    p.data = bytes.data();
    p.data_len = bytes.size();
    p.head = section(kBlobSection, fields, p.data_len);
    sections.push_back(std::move(p));
  }
  LOOM_CHECK(sections.size() <= 0xFFFFFFFFu, "checkpoint '{}': too many sections", path);

  uint64_t total = kFileHeaderSize + kTrailerSize;
  for (const auto& s : sections) total += s.head.size() + s.data_len + 4;

  std::string header(reinterpret_cast<const char*>(kMagic), 8);
  put<uint32_t>(header, kCheckpointFormatVersion);
  put<uint32_t>(header, 0);  // flags
  put<uint64_t>(header, total);
  put<uint32_t>(header, static_cast<uint32_t>(sections.size()));
  put<uint32_t>(header, crc32(header.data(), header.size()));

  AtomicFile out(path);
  out.write(header);
  for (const auto& s : sections) {
    uint32_t c = crc32(s.head.data(), s.head.size());
    c = crc32(s.data, s.data_len, c);
    out.write(s.head);
    if (s.data_len) out.write(s.data, s.data_len);
    std::string tail;
    put<uint32_t>(tail, c);
    out.write(tail);
  }
  out.write(kTrailerTag, 4);
  std::string tail;
  put<uint32_t>(tail, out.crc());
  out.write(tail);
  LOOM_CHECK(out.written() == total, "checkpoint '{}': wrote {} bytes, planned {}", path, out.written(), total);
  out.commit();
}

// ---- reading ------------------------------------------------------------------------------------------------

namespace {

std::string read_all(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("checkpoint '{}': cannot open: {}", path, std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail("checkpoint '{}': cannot stat: {}", path, std::strerror(errno));
  }
  std::string buf(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      fail("checkpoint '{}': read failed after {} bytes: {}", path, got,
           r < 0 ? std::strerror(errno) : "unexpected end of file");
    }
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return buf;
}

// Bounds-checked little-endian reads within one region of the buffer.
class Cursor {
 public:
  Cursor(const std::string& path, const char* what, const char* p, size_t n)
      : path_(path), what_(what), p_(p), end_(p + n) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  std::string name() {
    uint16_t n = get<uint16_t>();
    need(n);
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  const char* take(size_t n) {
    need(n);
    const char* at = p_;
    p_ += n;
    return at;
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  void need(size_t n) const {
    if (static_cast<size_t>(end_ - p_) < n)
      fail("checkpoint '{}': corrupted {}: a field needs {} bytes but only {} remain", path_, what_, n,
           end_ - p_);
  }
  const std::string& path_;
  const char* what_;
  const char* p_;
  const char* end_;
};

// The fields of the file header that reading goes on with.
struct FileHeader {
  uint32_t version = 0;
  uint32_t section_count = 0;
};

// Checks the magic number, the header checksum, the format version and
// flags, and that the file has exactly the size the header declares.
FileHeader read_file_header(const std::string& path, const std::string& buf) {
  const size_t size = buf.size();
  if (size < sizeof kMagic || std::memcmp(buf.data(), kMagic, sizeof kMagic) != 0)
    fail("checkpoint '{}': not a Loom checkpoint (bad magic number; {} bytes)", path, size);
  if (size < kFileHeaderSize)
    fail("checkpoint '{}': truncated: the file header needs {} bytes, file has {}", path, kFileHeaderSize,
         size);
  Cursor h(path, "file header", buf.data() + 8, kFileHeaderSize - 8);
  const uint32_t version = h.get<uint32_t>();
  const uint32_t flags = h.get<uint32_t>();
  const uint64_t expected = h.get<uint64_t>();
  const uint32_t count = h.get<uint32_t>();
  const uint32_t header_crc = h.get<uint32_t>();
  if (crc32(buf.data(), kFileHeaderSize - 4) != header_crc)
    fail("checkpoint '{}': corrupted: file header checksum mismatch", path);
  if (version != kCheckpointFormatVersion)
    fail("checkpoint '{}': format version {}, but this build of Loom reads version {}", path, version,
         kCheckpointFormatVersion);
  if (flags != 0) fail("checkpoint '{}': unknown flags 0x{:x} for format version {}", path, flags, version);
  if (size < expected)
    fail("checkpoint '{}': truncated: expected {} bytes, file has {}", path, expected, size);
  if (size > expected)
    fail("checkpoint '{}': {} unexpected bytes after the end: expected {} bytes, file has {}", path,
         size - expected, expected, size);
  return {version, count};
}

// Names a section for an error message when its name is still readable.
std::string section_label(const std::string& path, uint32_t kind, const char* payload, uint64_t len) {
  try {
    Cursor c(path, "section", payload, len);
    if (kind == kTensorSection) {
      std::string g = c.name();
      return fmt::format("tensor '{}' ({})", c.name(), g);
    }
    if (kind == kBlobSection) return fmt::format("blob '{}'", c.name());
  } catch (const Error&) {
  }
  return kind == kHeaderSection ? "JSON header" : fmt::format("kind {}", kind);
}

// A tensor section's payload: group, name, dtype, shape and the raw data.
CheckpointTensor read_tensor_section(const std::string& path, Cursor& c) {
  CheckpointTensor t;
  t.group = c.name();
  t.name = c.name();
  const uint8_t code = c.get<uint8_t>();
  const uint8_t ndim = c.get<uint8_t>();
  c.get<uint16_t>();
  static const DType kTypes[] = {DType::f32, DType::f64, DType::i32, DType::i64, DType::bf16,
                                 DType::f16};
  LOOM_CHECK(code < 6, "checkpoint '{}': tensor '{}' has unknown dtype code {}", path, t.name, code);
  LOOM_CHECK(ndim <= kMaxDims, "checkpoint '{}': tensor '{}' has {} axes (at most {})", path, t.name,
             ndim, kMaxDims);
  Shape shape(ndim);
  for (auto& d : shape) {
    d = c.get<int64_t>();
    LOOM_CHECK(d >= 0, "checkpoint '{}': tensor '{}' has a negative extent", path, t.name);
  }
  const uint64_t nbytes = c.get<uint64_t>();
  const DType dt = kTypes[code];
  // Extents came from the file: guard the product against overflow.
  uint64_t elems = 1;
  for (int64_t d : shape) {
    LOOM_CHECK(d == 0 || elems <= (uint64_t{1} << 62) / static_cast<uint64_t>(d),
               "checkpoint '{}': tensor '{}' shape {} is too large", path, t.name, shape_str(shape));
    elems *= static_cast<uint64_t>(d);
  }
  LOOM_CHECK(nbytes == elems * dtype_size(dt) && nbytes == c.left(),
             "checkpoint '{}': tensor '{}' {} {} needs {} bytes, section holds {} (declared {})", path,
             t.name, dtype_name(dt), shape_str(shape), elems * dtype_size(dt), c.left(), nbytes);
  t.value = Tensor::empty(shape, dt);
  if (nbytes) std::memcpy(t.value.raw_data(), c.take(nbytes), nbytes);
  return t;
}

// Reads section `i`, which starts at `pos`, into `out`; returns where the
// next section starts. `have_header` tracks the (single) JSON header.
size_t read_section(const std::string& path, const std::string& buf, const FileHeader& fh, uint32_t i,
                    size_t pos, CheckpointFile& out, bool& have_header) {
  const size_t body_end = buf.size() - kTrailerSize;
  if (body_end - pos < kSectionHeaderSize + 4)
    fail("checkpoint '{}': corrupted: section {} of {} starts {} bytes before the trailer", path, i,
         fh.section_count, body_end - pos);
  Cursor sh(path, "section header", buf.data() + pos, kSectionHeaderSize);
  const uint32_t kind = sh.get<uint32_t>();
  sh.get<uint32_t>();
  const uint64_t len = sh.get<uint64_t>();
  if (len > body_end - pos - kSectionHeaderSize - 4)
    fail("checkpoint '{}': corrupted: section {} claims {} bytes but only {} remain", path, i, len,
         body_end - pos - kSectionHeaderSize - 4);
  const char* payload = buf.data() + pos + kSectionHeaderSize;
  uint32_t stored;
  std::memcpy(&stored, payload + len, 4);
  const uint32_t computed = crc32(buf.data() + pos, kSectionHeaderSize + len);
  if (stored != computed)
    fail("checkpoint '{}': corrupted: checksum mismatch in section {} ({}): stored {:08x}, computed {:08x}",
         path, i, section_label(path, kind, payload, len), stored, computed);
  Cursor c(path, "section", payload, len);
  if (kind == kHeaderSection) {
    LOOM_CHECK(!have_header, "checkpoint '{}': two JSON header sections", path);
    out.header = Json::parse(std::string(payload, len), path + " (header)");
    LOOM_CHECK(out.header.is_object(), "checkpoint '{}': the JSON header is not an object", path);
    have_header = true;
  } else if (kind == kTensorSection) {
    CheckpointTensor t = read_tensor_section(path, c);
    LOOM_CHECK(!out.find(t.group, t.name), "checkpoint '{}': tensor '{}' appears twice in group '{}'",
               path, t.name, t.group);
    out.tensors.push_back(std::move(t));
  } else if (kind == kBlobSection) {
    std::string name = c.name();
    const uint64_t n = c.get<uint64_t>();
    LOOM_CHECK(n == c.left(), "checkpoint '{}': blob '{}' declares {} bytes, section holds {}", path, name,
               n, c.left());
    out.blobs[name] = std::string(c.take(n), n);
  } else {
    fail("checkpoint '{}': section {} has unknown kind {} (format version {})", path, i, kind,
         fh.version);
  }
  return pos + kSectionHeaderSize + len + 4;
}

// Checks that the sections end where the trailer starts, the trailer tag and
// the whole-file checksum.
void check_trailer(const std::string& path, const std::string& buf, uint32_t count, size_t pos) {
  const size_t size = buf.size();
  const size_t body_end = size - kTrailerSize;
  if (pos != body_end)
    fail("checkpoint '{}': corrupted: {} sections end at byte {}, the trailer starts at {}", path, count, pos,
         body_end);
  if (std::memcmp(buf.data() + body_end, kTrailerTag, 4) != 0)
    fail("checkpoint '{}': corrupted: trailer tag missing at byte {}", path, body_end);
  uint32_t stored_file_crc;
  std::memcpy(&stored_file_crc, buf.data() + size - 4, 4);
  const uint32_t file_crc = crc32(buf.data(), size - 4);
  if (stored_file_crc != file_crc)
    fail("checkpoint '{}': corrupted: whole-file checksum mismatch: stored {:08x}, computed {:08x}", path,
         stored_file_crc, file_crc);
}

}  // namespace

CheckpointFile read_checkpoint(const std::string& path) {
  const std::string buf = read_all(path);
  const FileHeader fh = read_file_header(path, buf);
  CheckpointFile out;
  bool have_header = false;
  size_t pos = kFileHeaderSize;
  for (uint32_t i = 0; i < fh.section_count; ++i)
    pos = read_section(path, buf, fh, i, pos, out, have_header);
  check_trailer(path, buf, fh.section_count, pos);
  LOOM_CHECK(have_header, "checkpoint '{}': no JSON header section", path);
  return out;
}

// ---- extras ---------------------------------------------------------------------------------------------------

void CheckpointExtras::set_string_list(const std::string& name, const std::vector<std::string>& items) {
  std::string b;
  put<uint64_t>(b, items.size());
  for (const auto& s : items) {
    put<uint64_t>(b, s.size());
    b += s;
  }
  blobs[name] = std::move(b);
}

std::vector<std::string> CheckpointExtras::string_list(const std::string& name) const {
  auto it = blobs.find(name);
  if (it == blobs.end()) {
    std::string names;
    for (const auto& [k, v] : blobs) names += (names.empty() ? "" : ", ") + k;
    fail("checkpoint extras: no blob named '{}' (blobs: {})", name, names.empty() ? "none" : names);
  }
  const std::string& b = it->second;
  std::string who = "string list '" + name + "'";
  Cursor c(who, "string list", b.data(), b.size());
  uint64_t n = c.get<uint64_t>();
  LOOM_CHECK(n <= b.size() / 8, "checkpoint extras: blob '{}' is not a string list", name);
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len = c.get<uint64_t>();
    LOOM_CHECK(len <= c.left(), "checkpoint extras: blob '{}' is not a string list (item {} overruns)", name, i);
    out.emplace_back(c.take(static_cast<size_t>(len)), static_cast<size_t>(len));
  }
  LOOM_CHECK(c.left() == 0, "checkpoint extras: blob '{}' has {} bytes after its strings", name, c.left());
  return out;
}

}  // namespace loom
