// Basic value types shared by every layer of Loom: element types, devices,
// the error type, and the strided view that backends compute on.
//
// Backends see only StridedView (a pointer plus shape and strides), never a
// Tensor, so nothing below autograd/ depends on the tape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace loom {

// ---- errors ---------------------------------------------------------------

// Every user-facing failure is a loom::Error whose message names the op (or
// layer, file, ...) and the offending shapes or values.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

#define LOOM_CHECK(cond, ...)                   \
  do {                                          \
    if (!(cond)) ::loom::fail(__VA_ARGS__);     \
  } while (0)

// ---- element types -----------------------------------------------------------

// bf16 and f16 are storage formats (backends/half.h): tensors of them are
// made by casting and cast back; kernels compute in f32 or f64, so only
// copy() (conversion) takes them. Mixed precision rounds the operands of
// products to them instead (GemmDesc::compute, RnnDesc::compute).
enum class DType : uint8_t { f32, f64, i32, i64, bf16, f16 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::bf16: return 2;
    case DType::f16: return 2;
  }
  return 0;
}

// The floating dtypes kernels compute in (and gradients flow through).
constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
// The 16-bit floating storage formats.
constexpr bool is_half_float(DType t) { return t == DType::bf16 || t == DType::f16; }

const char* dtype_name(DType t);

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };

// Calls fn with a value of the C++ type matching `t` (for dispatch in kernels).
template <typename Fn>
decltype(auto) dispatch_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    case DType::i32: return fn(int32_t{});
    case DType::i64: return fn(int64_t{});
    case DType::bf16:
    case DType::f16: break;
  }
  fail("{} is a storage dtype: this kernel computes in f32 or f64 (cast the tensor first)",
       dtype_name(t));
}

template <typename Fn>
decltype(auto) dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    default: fail("{}: expected a floating dtype (f32 or f64), got {}", op, dtype_name(t));
  }
}

// ---- devices -------------------------------------------------------------------

enum class DeviceKind : uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return {DeviceKind::cpu, 0}; }
  static Device cuda(int i = 0) { return {DeviceKind::cuda, i}; }
  // Parses "cpu", "cuda", "cuda:1".
  static Device parse(const std::string& s);
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

// ---- shapes ------------------------------------------------------------------------

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
std::string shape_str(const Shape& s);  // "(2, 3)"

// ---- strided views -------------------------------------------------------------

constexpr int kMaxDims = 8;

// A typed window into memory: element (i0, i1, ...) lives at
// data + sum_k(i_k * strides[k]) elements. A stride of 0 broadcasts.
struct StridedView {
  void* data = nullptr;
  DType dtype = DType::f32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
  template <typename T> T* ptr() const { return static_cast<T*>(data); }
};

}  // namespace loom
