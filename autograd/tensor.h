// Tensor: a cheap handle to shared storage with a shape, strides (in
// elements), an offset, a dtype and a device, plus the autograd fields
// (requires_grad, .grad, and the tape entry that produced it).
//
// Copying a Tensor copies the handle, not the data. Views (reshape of a
// contiguous tensor, transpose, slice, select) share storage; contiguous()
// and clone() copy. All shape-changing methods are differentiable ops
// (autograd/ops.h) so they record on the tape like any other op.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "loom/backends/types.h"

namespace loom {

struct TapeEntry;

// Raw memory on one device. Freed when the last tensor using it goes away.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  class Backend* owner_ = nullptr;  // the device backend that allocated data_ (null: host)
};

// A seeded random source. Tensor factories draw from std::mt19937_64 for
// reproducible initial weights; dropout takes fresh Philox seeds from it.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  std::mt19937_64& engine() { return engine_; }
  uint64_t next_seed() { return engine_(); }
  void reseed(uint64_t seed) { engine_.seed(seed); }

 private:
  std::mt19937_64 engine_;
};

// The process-wide generator used when none is passed (seed with manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::f32;

  // autograd
  bool requires_grad = false;
  bool retains_grad = false;                 // keep .grad on a non-leaf
  std::shared_ptr<TensorImpl> grad;          // accumulated gradient, same shape
  std::shared_ptr<TapeEntry> grad_fn;        // null for leaves
  int output_index = 0;                      // which output of grad_fn this is
  std::string name;                          // optional, for messages
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories -----------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  // [start, stop) with step, like numpy.arange.
  static Tensor arange(double start, double stop, double step = 1.0, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);
  // Copies `values` (row-major) into a tensor of `shape`; the element type
  // gives the dtype. Throws when numel(shape) != values.size().
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
  }
  // From literals: Tensor::of({1, 2}) is (2,), Tensor::of2d({{1, 2}, {3, 4}})
  // is (2, 2), of3d nests once more; f32 unless a dtype is given.
  static Tensor of(std::initializer_list<double> v, DType dtype = DType::f32);
  static Tensor of2d(std::initializer_list<std::initializer_list<double>> v,
                     DType dtype = DType::f32);
  static Tensor of3d(
      std::initializer_list<std::initializer_list<std::initializer_list<double>>> v,
      DType dtype = DType::f32);
  static Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
                        DType dtype = DType::f32);
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
                       DType dtype = DType::f32);

  // ---- metadata ------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int ndim() const { return static_cast<int>(shape().size()); }
  // Extent of axis `axis` (negative counts from the end); throws when out of range.
  int64_t dim(int axis) const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  int64_t offset() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- element access ------------------------------------------------------------------
  // Pointer to the first element for the host to read and write; checks that
  // T matches the dtype and that the tensor lives on the CPU.
  template <typename T> T* data() const;
  // Pointer to the first element on the tensor's own device (device memory
  // for cuda tensors: for handing to that device's backend, never to be
  // dereferenced on the host). Checks the dtype.
  template <typename T> T* device_data() const;
  void* raw_data() const;  // untyped, on the tensor's device
  // Value of element `index` (one entry per axis) as double; checks bounds.
  // On a GPU tensor it copies the value to the host (slow: one transfer).
  double at(const std::vector<int64_t>& index) const;
  void set(const std::vector<int64_t>& index, double value);  // CPU tensors only
  // Single-element tensor's value (copied to the host from a GPU).
  double item() const;
  // All elements in row-major order, converted to T (copied to the host
  // from a GPU).
  template <typename T> std::vector<T> to_vector() const;

  // ---- devices (differentiable: the gradient goes back to this device) ------------------
  Tensor to(Device device) const;  // itself when already there
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor cuda(int index = 0) const { return to(Device::cuda(index)); }

  // ---- views and copies (differentiable) ----------------------------------------------
  Tensor reshape(const Shape& shape) const;  // one extent may be -1
  Tensor transpose(int axis0, int axis1) const;
  Tensor slice(int axis, int64_t start, int64_t stop, int64_t step = 1) const;
  Tensor select(int axis, int64_t index) const;  // drops the axis
  Tensor contiguous() const;                      // itself when already contiguous
  Tensor clone() const;                           // always a fresh copy
  Tensor to(DType dtype) const;                   // differentiable between f32 and f64

  // ---- autograd ------------------------------------------------------------------------
  bool requires_grad() const;
  // Marks a leaf as needing gradients; returns *this for chaining.
  Tensor& set_requires_grad(bool on = true);
  // Accumulated gradient (undefined until a backward pass reaches this tensor).
  Tensor grad() const;
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the accumulated gradient
  // Keep .grad on a non-leaf tensor during backward.
  void retain_grad();
  bool is_leaf() const;
  const std::shared_ptr<TapeEntry>& grad_fn() const;
  // Same storage, cut off from the tape, requires_grad false.
  Tensor detach() const;
  // Backward from this scalar (seed 1) or with an explicit cotangent.
  void backward(bool retain_graph = false) const;
  void backward(const Tensor& cotangent, bool retain_graph = false) const;

  // ---- misc ------------------------------------------------------------------------------
  StridedView view() const;  // for backends
  std::string str() const;   // values and shape, numpy-like
  Tensor& set_name(const std::string& n);
  const std::string& name() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
  void check_defined(const char* what) const;
};

// Row-major strides for a contiguous tensor of `shape`.
Shape contiguous_strides(const Shape& shape);

// A tensor viewing `base`'s storage with another shape/strides/offset.
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

// Normalizes a possibly negative axis against ndim; throws naming `op`.
int normalize_axis(int axis, int ndim, const char* op);

}  // namespace loom

template <>
struct fmt::formatter<loom::Tensor> : fmt::formatter<std::string> {
  auto format(const loom::Tensor& t, format_context& ctx) const {
    return fmt::formatter<std::string>::format(t.str(), ctx);
  }
};
