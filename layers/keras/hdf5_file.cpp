#include "loom/layers/keras/hdf5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <type_traits>
#include <utility>

#include "loom/autograd/tape.h"

namespace loom::keras {

// The header keeps <hdf5.h> out of every file that includes it.
static_assert(std::is_same_v<hid_t, int64_t>, "hid_t is int64_t since HDF5 1.10");

namespace {

// Deflate, the compression h5py offers and Keras never uses for weights,
// expands at most 1032:1. A dataset claiming more than that of its stored
// bytes, plus 1 MiB for small fill-value-only datasets, is damaged or hostile.
constexpr uint64_t kMaxExpansion = 1032;
constexpr uint64_t kSlackBytes = uint64_t{1} << 20;
// Keras keeps attributes under HDF5's 64 KB object-header limit (it splits
// longer lists); anything near this is not a Keras file.
constexpr uint64_t kMaxAttrBytes = uint64_t{64} << 20;
// Growth step of in-memory files.
constexpr size_t kCoreIncrement = size_t{1} << 20;

// HDF5 prints its error stack to stderr unless told not to; Loom throws
// instead. A thread-safe libhdf5 (Debian's) keeps this setting per thread,
// so every thread switches it off before its first call.
void quiet() {
  thread_local bool done = false;
  if (done) return;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  done = true;
}

// The innermost entry of this thread's HDF5 error stack, the most specific
// one ("truncated file: eof = ..."), for the end of a Loom message.
std::string reason() {
  std::string innermost;
  auto take_first = [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
    if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, &innermost);
  H5Eclear2(H5E_DEFAULT);
  return innermost.empty() ? "no detail" : innermost;
}

// Closes an HDF5 id when it goes out of scope.
class Hid {
 public:
  using Closer = herr_t (*)(hid_t);
  Hid(hid_t id, Closer close) : id_(id), close_(close) {}
  Hid(Hid&& o) noexcept : id_(std::exchange(o.id_, -1)), close_(o.close_) {}
  Hid& operator=(Hid&&) = delete;
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  Closer close_;
};

// "a/b" and "/a/b/" -> "a/b"; "" and "/" -> "" (the root).
std::string relative(const std::string& path) {
  const size_t b = path.find_first_not_of('/');
  if (b == std::string::npos) return "";
  return path.substr(b, path.find_last_not_of('/') - b + 1);
}
// "/" + rel, built by appending (GCC 12 warns falsely about operator+ here).
std::string rooted(const std::string& rel, size_t len = std::string::npos) {
  return std::string("/").append(rel, 0, len);
}
std::string absolute(const std::string& path) { return rooted(relative(path)); }
std::string shown(const std::string& path) {
  const std::string r = relative(path);
  return r.empty() ? "/" : r;
}

// "model.h5: dataset 'a/b'", the start of every message about an object.
std::string where(const std::string& file, const char* kind, const std::string& path) {
  return fmt::format("{}: {} '{}'", file, kind, shown(path));
}
std::string where_attr(const std::string& file, const std::string& object, const std::string& attr) {
  return fmt::format("{}: attribute '{}' of '{}'", file, attr, shown(object));
}

// Unique names for in-memory files: HDF5 treats two open core-driver files
// with the same name as one file, so the user-facing name cannot be used.
std::string image_name() {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("loom-hdf5-image-{}", counter++);
}

Hid disk_access() {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
#if H5_VERSION_GE(1, 10, 7)
  // Lock as HDF5 does by default, but open files on filesystems without locks (NFS).
  H5Pset_file_locking(fapl.get(), true, true);
#endif
  return fapl;
}

Hid memory_access(const std::string& name) {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  LOOM_CHECK(fapl.ok() && H5Pset_fapl_core(fapl.get(), kCoreIncrement, false) >= 0,
             "{}: cannot set up an in-memory HDF5 file (HDF5: {})", name, reason());
  return fapl;
}

// Missing files, folders and permissions in errno's words, before HDF5 says
// only that it could not open the file.
void check_readable(const std::string& path) {
  std::error_code ec;
  LOOM_CHECK(!std::filesystem::is_directory(path, ec), "{}: is a directory, not an HDF5 file", path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::fclose(f);
}

// Walks `path` link by link: false when any is missing (H5Lexists fails on
// "a/b/c" when "a/b" is missing, rather than saying no). Soft and external
// links are refused: Keras writes none, and an external one would make
// HDF5 open another file on this machine.
bool links_exist(hid_t file, const std::string& rel, const std::string& file_name) {
  for (size_t end = 0; end != std::string::npos;) {
    end = rel.find('/', end + 1);
    const std::string prefix = rooted(rel, end);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    H5L_info_t info;
    LOOM_CHECK(H5Lget_info(file, prefix.c_str(), &info, H5P_DEFAULT) >= 0 && info.type == H5L_TYPE_HARD,
               "{}: '{}' is a soft or external link, which Loom does not follow", file_name,
               prefix.substr(1));
  }
  return true;
}

// The kind of object at `path`: H5I_GROUP, H5I_DATASET, or H5I_BADID when
// there is none (or it is something else, such as a named datatype).
H5I_type_t object_type(hid_t file, const std::string& path, const std::string& file_name) {
  const std::string rel = relative(path);
  if (!rel.empty() && (!links_exist(file, rel, file_name) ||
                       H5Oexists_by_name(file, absolute(path).c_str(), H5P_DEFAULT) <= 0))
    return H5I_BADID;
  Hid obj(H5Oopen(file, absolute(path).c_str(), H5P_DEFAULT), H5Oclose);
  return obj.ok() ? H5Iget_type(obj.get()) : H5I_BADID;
}

// Opens a group or dataset, failing with `what` ("model.h5: group 'a'") when it is missing.
Hid open_object(hid_t file, const std::string& path, H5I_type_t want, const std::string& what,
                const std::string& file_name) {
  const H5I_type_t type = object_type(file, path, file_name);
  if (type == H5I_BADID) fail("{}: no such object", what);
  if (want != H5I_BADID && type != want)
    fail("{}: is a {}, not a {}", what, type == H5I_GROUP ? "group" : "dataset",
         want == H5I_GROUP ? "group" : "dataset");
  return Hid(H5Oopen(file, absolute(path).c_str(), H5P_DEFAULT), H5Oclose);
}

// A type as numpy would name it, for messages: "float16", "uint64", "string".
std::string type_name(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_FLOAT: return fmt::format("float{}", bits);
    case H5T_INTEGER: return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
    case H5T_STRING: return "string";
    case H5T_ENUM: return "enum (h5py's bool is one)";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_REFERENCE: return "reference";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    default: return "unknown type";
  }
}

// How a dataset's type is read: the tensor dtype and the memory type HDF5
// converts to. uint64 is read as is and range-checked, since HDF5 would
// clip values above INT64_MAX silently.
struct Conversion {
  DType dtype;
  hid_t memtype;
  bool from_uint64 = false;
};

Conversion conversion_of(hid_t type, const std::string& what) {
  const size_t size = H5Tget_size(type);
  const H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_FLOAT && size == 4) return {DType::f32, H5T_NATIVE_FLOAT};
  if (cls == H5T_FLOAT && size == 8) return {DType::f64, H5T_NATIVE_DOUBLE};
  if (cls == H5T_INTEGER) {
    const bool is_unsigned = H5Tget_sign(type) == H5T_SGN_NONE;
    if (size < 4 || (size == 4 && !is_unsigned)) return {DType::i32, H5T_NATIVE_INT32};
    if (size == 8 && is_unsigned) return {DType::i64, H5T_NATIVE_UINT64, true};
    if (size <= 8) return {DType::i64, H5T_NATIVE_INT64};
  }
  fail("{}: has type {}, which Loom does not read (float32/64 and integers up to 64 bits)", what,
       type_name(type));
}

// A dataspace's extents, refusing null dataspaces and too many axes.
Shape extents(hid_t space, const std::string& what) {
  const H5S_class_t cls = H5Sget_simple_extent_type(space);
  if (cls == H5S_SCALAR) return {};
  if (cls != H5S_SIMPLE) fail("{}: has no data (a null dataspace)", what);
  const int ndim = H5Sget_simple_extent_ndims(space);
  LOOM_CHECK(ndim >= 0 && ndim <= kMaxDims, "{}: has {} axes (Loom's tensors have at most {})", what, ndim,
             kMaxDims);
  hsize_t dims[kMaxDims] = {};
  H5Sget_simple_extent_dims(space, dims, nullptr);
  Shape shape(dims, dims + ndim);
  for (hsize_t d : dims) LOOM_CHECK(d <= uint64_t{1} << 62, "{}: extent {} is too large", what, d);
  return shape;
}

// Bytes of `count` elements of `elem` bytes, or fails naming `what` when the
// product overflows (the extents come from the file).
uint64_t checked_bytes(const Shape& shape, uint64_t elem, const std::string& what) {
  uint64_t bytes = elem;
  for (int64_t d : shape) {
    const auto u = static_cast<uint64_t>(d);
    LOOM_CHECK(u == 0 || bytes <= (uint64_t{1} << 62) / u, "{}: shape {} is too large", what,
               shape_str(shape));
    bytes *= u;
  }
  return bytes;
}

// Refuses data that would come from outside the file (external raw storage,
// virtual datasets) and more bytes than the file stores for the dataset.
void check_storage(hid_t ds, uint64_t bytes, const std::string& what) {
  Hid dcpl(H5Dget_create_plist(ds), H5Pclose);
  LOOM_CHECK(H5Pget_layout(dcpl.get()) != H5D_VIRTUAL && H5Pget_external_count(dcpl.get()) == 0,
             "{}: its data is in other files (external or virtual storage), which Loom does not read", what);
  const uint64_t stored = H5Dget_storage_size(ds);
  const uint64_t limit = stored > (uint64_t{1} << 52) ? UINT64_MAX : stored * kMaxExpansion + kSlackBytes;
  LOOM_CHECK(bytes <= limit,
             "{}: claims {} bytes but the file stores {} for it, more than deflate could expand to "
             "({} bytes); the file is damaged",
             what, bytes, stored, limit);
}

// Values of a uint64 dataset read into an i64 tensor must fit.
void check_int64_range(const Tensor& t, const std::string& what) {
  const auto* v = reinterpret_cast<const uint64_t*>(t.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i)
    LOOM_CHECK(v[i] <= static_cast<uint64_t>(INT64_MAX),
               "{}: uint64 value {} at element {} does not fit in int64", what, v[i], i);
}

// ---- string attributes -----------------------------------------------------------

// An attribute's element count, checked against kMaxAttrBytes.
size_t attr_count(hid_t attr, size_t elem_bytes, const std::string& what) {
  Hid space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  LOOM_CHECK(n >= 0, "{}: unreadable dataspace (HDF5: {})", what, reason());
  LOOM_CHECK(H5Sget_simple_extent_ndims(space.get()) <= 1, "{}: has {} axes, expected a list", what,
             H5Sget_simple_extent_ndims(space.get()));
  LOOM_CHECK(static_cast<uint64_t>(n) <= kMaxAttrBytes / std::max<size_t>(elem_bytes, 1),
             "{}: {} elements of {} bytes is too large for an attribute", what, n, elem_bytes);
  return static_cast<size_t>(n);
}

// Variable-length strings: HDF5 allocates each one; copy, then give them back.
std::vector<std::string> read_vlen_strings(hid_t attr, hid_t ftype, const std::string& what) {
  const size_t n = attr_count(attr, sizeof(char*), what);
  Hid mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), H5T_VARIABLE);
  H5Tset_cset(mem.get(), H5Tget_cset(ftype));
  std::vector<char*> ptrs(n, nullptr);
  if (n > 0 && H5Aread(attr, mem.get(), ptrs.data()) < 0)
    fail("{}: reading failed (HDF5: {})", what, reason());
  std::vector<std::string> out;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  Hid space(H5Aget_space(attr), H5Sclose);
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#else
  H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#endif
  return out;
}

// Fixed-length strings: NUL-terminated or NUL-padded end at the first NUL,
// space-padded (Fortran) ones lose their trailing spaces.
std::vector<std::string> read_fixed_strings(hid_t attr, hid_t ftype, const std::string& what) {
  const size_t size = H5Tget_size(ftype);
  const size_t n = attr_count(attr, size, what);
  Hid mem(H5Tcopy(ftype), H5Tclose);
  std::string buf(n * size, '\0');
  if (n > 0 && H5Aread(attr, mem.get(), buf.data()) < 0)
    fail("{}: reading failed (HDF5: {})", what, reason());
  const bool space_padded = H5Tget_strpad(ftype) == H5T_STR_SPACEPAD;
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string s = buf.substr(i * size, size);
    s.resize(space_padded ? s.find_last_not_of(' ') + 1 : std::strlen(s.c_str()));
    out.push_back(std::move(s));
  }
  return out;
}

// Every string of a string attribute, fixed- or variable-length.
std::vector<std::string> read_strings(hid_t attr, hid_t ftype, const std::string& what) {
  return H5Tis_variable_str(ftype) > 0 ? read_vlen_strings(attr, ftype, what)
                                       : read_fixed_strings(attr, ftype, what);
}

// A string type as h5py writes one: variable-length UTF-8 (str), or
// fixed-length NUL-padded ASCII of `size` bytes (numpy bytes).
Hid string_type(bool variable_length, size_t size) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (variable_length) {
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
  } else {
    H5Tset_size(type.get(), std::max<size_t>(size, 1));  // HDF5 has no 0-byte strings; numpy says S1
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  }
  return type;
}

// Creates attribute `attr` on `obj`, replacing one of that name (as h5py's
// attrs[name] = value does).
Hid new_attr(hid_t obj, const std::string& attr, hid_t type, hid_t space, const std::string& what) {
  if (H5Aexists(obj, attr.c_str()) > 0 && H5Adelete(obj, attr.c_str()) < 0)
    fail("{}: cannot replace it (HDF5: {})", what, reason());
  Hid a(H5Acreate2(obj, attr.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.ok()) fail("{}: cannot create it (HDF5: {})", what, reason());
  return a;
}

// A link-creation list that makes missing parent groups.
Hid with_parents() {
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  return lcpl;
}

struct FileType {
  hid_t file;
  hid_t memory;
};

FileType file_type_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT};
    case DType::f64: return {H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE};
    case DType::i32: return {H5T_STD_I32LE, H5T_NATIVE_INT32};
    case DType::i64: return {H5T_STD_I64LE, H5T_NATIVE_INT64};
    case DType::bf16:
    case DType::f16: break;  // Keras files keep variables in f32
  }
  fail("HDF5: no dataset type for dtype {}", dtype_name(dtype));
}

Hid dataspace_of(const Shape& shape) {
  if (shape.empty()) return Hid(H5Screate(H5S_SCALAR), H5Sclose);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Hid(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
}

}  // namespace

// ---- opening and closing ---------------------------------------------------------------

H5File H5File::open(const std::string& path) {
  quiet();
  check_readable(path);
  Hid fapl = disk_access();
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) fail("{}: not an HDF5 file or damaged (HDF5 could not open it: {})", path, reason());
  return H5File(id, path);
}

H5File H5File::open_image(std::string bytes, std::string name) {
  quiet();
  // With no image the core driver would read a file of that name from disk.
  LOOM_CHECK(!bytes.empty(), "{}: empty, not an HDF5 file", name);
  Hid fapl = memory_access(name);
  // HDF5 copies the image into the property list, then into the open file.
  if (H5Pset_file_image(fapl.get(), bytes.data(), bytes.size()) < 0)
    fail("{}: cannot use the file image (HDF5: {})", name, reason());
  const hid_t id = H5Fopen(image_name().c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) fail("{}: not an HDF5 file or damaged (HDF5 could not open it: {})", name, reason());
  return H5File(id, std::move(name));
}

H5File H5File::create(const std::string& path) {
  quiet();
  Hid fapl = disk_access();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (id < 0) fail("{}: cannot create the HDF5 file (HDF5: {})", path, reason());
  return H5File(id, path);
}

H5File H5File::create_image(std::string name) {
  quiet();
  Hid fapl = memory_access(name);
  const hid_t id = H5Fcreate(image_name().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (id < 0) fail("{}: cannot create an in-memory HDF5 file (HDF5: {})", name, reason());
  return H5File(id, std::move(name));
}

H5File::H5File(H5File&& other) noexcept : id_(std::exchange(other.id_, -1)), name_(std::move(other.name_)) {}

H5File& H5File::operator=(H5File&& other) noexcept {
  if (this != &other) {
    try {
      close();
    } catch (const Error&) {
    }
    id_ = std::exchange(other.id_, -1);
    name_ = std::move(other.name_);
  }
  return *this;
}

H5File::~H5File() {
  try {
    close();
  } catch (...) {
  }
}

void H5File::close() {
  if (id_ < 0) return;
  quiet();
  const hid_t id = std::exchange(id_, -1);
  if (H5Fclose(id) < 0) fail("{}: closing the HDF5 file failed (HDF5: {})", name_, reason());
}

int64_t H5File::file_id() const {
  LOOM_CHECK(id_ >= 0, "{}: the HDF5 file is closed", name_);
  quiet();
  return id_;
}

std::string H5File::image() {
  const hid_t f = file_id();
  if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) fail("{}: flushing failed (HDF5: {})", name_, reason());
  const ssize_t n = H5Fget_file_image(f, nullptr, 0);
  LOOM_CHECK(n >= 0, "{}: cannot get the file image (HDF5: {})", name_, reason());
  std::string bytes(static_cast<size_t>(n), '\0');
  if (H5Fget_file_image(f, bytes.data(), bytes.size()) != n)
    fail("{}: cannot get the file image (HDF5: {})", name_, reason());
  return bytes;
}

// ---- reading ------------------------------------------------------------------------

bool H5File::exists(const std::string& path) const {
  return object_type(file_id(), path, name_) != H5I_BADID;
}

bool H5File::is_group(const std::string& path) const {
  return object_type(file_id(), path, name_) == H5I_GROUP;
}

bool H5File::is_dataset(const std::string& path) const {
  return object_type(file_id(), path, name_) == H5I_DATASET;
}

std::vector<std::string> H5File::children(const std::string& group) const {
  const std::string what = where(name_, "group", group);
  Hid g = open_object(file_id(), group, H5I_GROUP, what, name_);
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    try {
      static_cast<std::vector<std::string>*>(out)->emplace_back(name);
      return 0;
    } catch (...) {
      return -1;  // an exception must not unwind through HDF5's C frames
    }
  };
  if (H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names) < 0)
    fail("{}: listing its links failed (HDF5: {})", what, reason());
  return names;
}

Shape H5File::dataset_shape(const std::string& path) const {
  const std::string what = where(name_, "dataset", path);
  Hid ds = open_object(file_id(), path, H5I_DATASET, what, name_);
  Hid space(H5Dget_space(ds.get()), H5Sclose);
  return extents(space.get(), what);
}

Tensor H5File::read_dataset(const std::string& path) const {
  const std::string what = where(name_, "dataset", path);
  Hid ds = open_object(file_id(), path, H5I_DATASET, what, name_);
  Hid space(H5Dget_space(ds.get()), H5Sclose);
  const Shape shape = extents(space.get(), what);
  Hid ftype(H5Dget_type(ds.get()), H5Tclose);
  const Conversion c = conversion_of(ftype.get(), what);
  check_storage(ds.get(), checked_bytes(shape, dtype_size(c.dtype), what), what);
  Tensor t = Tensor::empty(shape, c.dtype);
  if (t.numel() == 0) return t;
  if (H5Dread(ds.get(), c.memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()) < 0)
    fail("{}: reading failed (HDF5: {})", what, reason());
  if (c.from_uint64) check_int64_range(t, what);
  return t;
}

bool H5File::has_attr(const std::string& object, const std::string& attr) const {
  Hid obj = open_object(file_id(), object, H5I_BADID, where(name_, "object", object), name_);
  return H5Aexists(obj.get(), attr.c_str()) > 0;
}

namespace {
// Opens attribute `attr` of `object`; `what` names both in errors.
Hid open_attr(hid_t file, const std::string& file_name, const std::string& object, const std::string& attr,
              const std::string& what) {
  Hid obj = open_object(file, object, H5I_BADID, what, file_name);
  LOOM_CHECK(H5Aexists(obj.get(), attr.c_str()) > 0, "{}: no such attribute", what);
  Hid a(H5Aopen(obj.get(), attr.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.ok()) fail("{}: cannot open it (HDF5: {})", what, reason());
  return a;
}
}  // namespace

std::string H5File::read_string_attr(const std::string& object, const std::string& attr) const {
  const std::string what = where_attr(name_, object, attr);
  Hid a = open_attr(file_id(), name_, object, attr, what);
  Hid ftype(H5Aget_type(a.get()), H5Tclose);
  LOOM_CHECK(H5Tget_class(ftype.get()) == H5T_STRING, "{}: is a {}, not a string", what,
             type_name(ftype.get()));
  std::vector<std::string> values = read_strings(a.get(), ftype.get(), what);
  LOOM_CHECK(values.size() == 1, "{}: holds {} strings, expected one", what, values.size());
  return values[0];
}

std::vector<std::string> H5File::read_string_list_attr(const std::string& object,
                                                       const std::string& attr) const {
  const std::string what = where_attr(name_, object, attr);
  Hid a = open_attr(file_id(), name_, object, attr, what);
  Hid ftype(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) == H5T_STRING) return read_strings(a.get(), ftype.get(), what);
  // h5py writes an empty list as a float64 array of shape (0,).
  LOOM_CHECK(attr_count(a.get(), H5Tget_size(ftype.get()), what) == 0, "{}: is a {} array, not strings", what,
             type_name(ftype.get()));
  return {};
}

// ---- writing ----------------------------------------------------------------------------

void H5File::create_group(const std::string& path) {
  const hid_t f = file_id();
  const H5I_type_t type = object_type(f, path, name_);
  if (type == H5I_GROUP) return;
  const std::string what = where(name_, "group", path);
  LOOM_CHECK(type == H5I_BADID, "{}: a dataset of that name exists", what);
  Hid lcpl = with_parents();
  Hid g(H5Gcreate2(f, absolute(path).c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!g.ok()) fail("{}: cannot create it (HDF5: {})", what, reason());
}

void H5File::write_dataset(const std::string& path, const Tensor& t) {
  const hid_t f = file_id();
  const std::string what = where(name_, "dataset", path);
  LOOM_CHECK(t.defined(), "{}: the tensor is undefined", what);
  LOOM_CHECK(t.device() == Device::cpu(), "{}: the tensor is on {}; copy it to the CPU first", what,
             t.device().str());
  LOOM_CHECK(!relative(path).empty() && object_type(f, path, name_) == H5I_BADID, "{}: already exists", what);
  Tensor c;
  {
    NoGradGuard no_grad;  // a copy for writing, not an op to differentiate
    c = t.contiguous();
  }
  const FileType type = file_type_of(c.dtype());
  Hid space = dataspace_of(c.shape());
  Hid lcpl = with_parents();
  Hid ds(H5Dcreate2(f, absolute(path).c_str(), type.file, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
         H5Dclose);
  if (!ds.ok()) fail("{}: cannot create it (HDF5: {})", what, reason());
  if (c.numel() > 0 && H5Dwrite(ds.get(), type.memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.raw_data()) < 0)
    fail("{}: writing failed (HDF5: {})", what, reason());
}

void H5File::write_string_attr(const std::string& object, const std::string& attr, const std::string& value,
                               bool variable_length) {
  const std::string what = where_attr(name_, object, attr);
  LOOM_CHECK(value.find('\0') == std::string::npos, "{}: the value contains a NUL byte", what);
  Hid obj = open_object(file_id(), object, H5I_BADID, what, name_);
  Hid type = string_type(variable_length, value.size());
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  Hid a = new_attr(obj.get(), attr, type.get(), space.get(), what);
  const char* ptr = value.c_str();
  std::string padded = value;
  padded.resize(std::max<size_t>(value.size(), 1), '\0');
  const void* buf = variable_length ? static_cast<const void*>(&ptr) : padded.data();
  if (H5Awrite(a.get(), type.get(), buf) < 0) fail("{}: writing failed (HDF5: {})", what, reason());
}

void H5File::write_string_list_attr(const std::string& object, const std::string& attr,
                                    const std::vector<std::string>& values) {
  const std::string what = where_attr(name_, object, attr);
  Hid obj = open_object(file_id(), object, H5I_BADID, what, name_);
  if (values.empty()) {
    Hid space = dataspace_of({0});
    new_attr(obj.get(), attr, H5T_IEEE_F64LE, space.get(), what);
    return;
  }
  size_t longest = 1;
  for (const auto& v : values) {
    LOOM_CHECK(v.find('\0') == std::string::npos, "{}: a value contains a NUL byte", what);
    longest = std::max(longest, v.size());
  }
  std::string buf(values.size() * longest, '\0');
  for (size_t i = 0; i < values.size(); ++i) values[i].copy(buf.data() + i * longest, longest);
  Hid type = string_type(false, longest);
  Hid space = dataspace_of({static_cast<int64_t>(values.size())});
  Hid a = new_attr(obj.get(), attr, type.get(), space.get(), what);
  if (H5Awrite(a.get(), type.get(), buf.data()) < 0) fail("{}: writing failed (HDF5: {})", what, reason());
}

}  // namespace loom::keras
