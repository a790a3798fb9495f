#include "loom/autograd/tensor.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "loom/autograd/ops.h"
#include "loom/autograd/tape.h"
#include "loom/backends/cpu_allocator.h"
#include "loom/backends/registry.h"

namespace loom {

// ---- storage --------------------------------------------------------------------

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.kind != DeviceKind::cpu) {
    // Device memory comes from that device's backend (its caching allocator).
    owner_ = &backend_for(device);
    data_ = owner_->allocate(nbytes);
    return;
  }
  // 64-byte aligned (vector loads); at least one byte, so that empty tensors
  // still own a valid pointer; large blocks are reused (cpu_allocator.h).
  data_ = cpu_allocate(nbytes);
  if (!data_) fail("Storage: out of memory allocating {} bytes on the CPU", nbytes);
}

Storage::~Storage() {
  if (owner_) owner_->deallocate(data_, nbytes_);
  else cpu_deallocate(data_, nbytes_);
}

Generator& default_generator() {
  static Generator g(0x10057);
  return g;
}
void manual_seed(uint64_t seed) { default_generator().reseed(seed); }

// ---- helpers ----------------------------------------------------------------------

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

int normalize_axis(int axis, int ndim, const char* op) {
  int a = axis < 0 ? axis + ndim : axis;
  LOOM_CHECK(a >= 0 && a < ndim, "{}: axis {} is out of range for a tensor with {} dims", op, axis,
             ndim);
  return a;
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

void Tensor::check_defined(const char* what) const {
  if (!impl_) fail("Tensor::{}: the tensor is undefined (default-constructed)", what);
}

// ---- factories ------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    LOOM_CHECK(d >= 0, "Tensor::empty: negative extent in shape {}", shape_str(shape));
  LOOM_CHECK(shape.size() <= kMaxDims, "Tensor::empty: shape {} has more than {} dims",
             shape_str(shape), kMaxDims);
  // Extents may come from a file or a user's option (a vocabulary size): a
  // size past 64 bits must be an error naming it, not a wrapped product.
  uint64_t nbytes = dtype_size(dtype);
  bool too_big = false;
  for (int64_t d : shape) too_big |= __builtin_mul_overflow(nbytes, static_cast<uint64_t>(d), &nbytes);
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {  // empty: any product is 0
    nbytes = 0;
    too_big = false;
  }
  LOOM_CHECK(!too_big && nbytes <= static_cast<uint64_t>(INT64_MAX),
             "Tensor::empty: a {} tensor of shape {} would need more than 2^63 bytes",
             dtype_name(dtype), shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  try {
    impl->storage = std::make_shared<Storage>(static_cast<size_t>(nbytes), device);
  } catch (const Error& e) {
    fail("Tensor::empty: cannot allocate a {} tensor of shape {} ({} bytes): {}", dtype_name(dtype),
         shape_str(shape), nbytes, e.what());
  }
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).fill(t.view(), value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(double start, double stop, double step, DType dtype) {
  LOOM_CHECK(step != 0.0, "Tensor::arange: step must be non-zero");
  int64_t n = static_cast<int64_t>(std::ceil((stop - start) / step));
  n = std::max<int64_t>(n, 0);
  Tensor t = empty({n}, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + i * step);
  });
  return t;
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  LOOM_CHECK(numel_of(shape) == static_cast<int64_t>(values.size()),
             "Tensor::from_vector: {} values do not fill shape {} ({} elements)", values.size(),
             shape_str(shape), numel_of(shape));
  Tensor t = empty(shape, dtype_of<T>::value);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&);

namespace {
Tensor from_doubles(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return Tensor::from_vector(v, shape).to(dtype).detach();
}
}  // namespace

Tensor Tensor::of(std::initializer_list<double> v, DType dtype) {
  return from_doubles(std::vector<double>(v), {static_cast<int64_t>(v.size())}, dtype);
}
Tensor Tensor::of2d(std::initializer_list<std::initializer_list<double>> v, DType dtype) {
  std::vector<double> flat;
  const int64_t cols = v.size() ? static_cast<int64_t>(v.begin()->size()) : 0;
  for (auto& row : v) {
    LOOM_CHECK(static_cast<int64_t>(row.size()) == cols,
               "Tensor::of: ragged rows ({} and {} elements)", cols, row.size());
    flat.insert(flat.end(), row);
  }
  return from_doubles(flat, {static_cast<int64_t>(v.size()), cols}, dtype);
}
Tensor Tensor::of3d(
    std::initializer_list<std::initializer_list<std::initializer_list<double>>> v, DType dtype) {
  std::vector<double> flat;
  int64_t rows = -1, cols = -1;
  for (auto& mat : v) {
    if (rows < 0) rows = static_cast<int64_t>(mat.size());
    LOOM_CHECK(static_cast<int64_t>(mat.size()) == rows, "Tensor::of: ragged nested lists");
    for (auto& row : mat) {
      if (cols < 0) cols = static_cast<int64_t>(row.size());
      LOOM_CHECK(static_cast<int64_t>(row.size()) == cols, "Tensor::of: ragged nested lists");
      flat.insert(flat.end(), row);
    }
  }
  return from_doubles(flat, {static_cast<int64_t>(v.size()), std::max<int64_t>(rows, 0),
                             std::max<int64_t>(cols, 0)},
                      dtype);
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  dispatch_floating(dtype, "Tensor::uniform", [&](auto tag) {
    using T = decltype(tag);
    std::uniform_real_distribution<double> dist(low, high);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(dist(gen.engine()));
  });
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  dispatch_floating(dtype, "Tensor::normal", [&](auto tag) {
    using T = decltype(tag);
    std::normal_distribution<double> dist(mean, stddev);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(dist(gen.engine()));
  });
  return t;
}

// ---- metadata --------------------------------------------------------------------------

const Shape& Tensor::shape() const { check_defined("shape"); return impl_->shape; }
const Shape& Tensor::strides() const { check_defined("strides"); return impl_->strides; }
int64_t Tensor::dim(int axis) const {
  return shape()[normalize_axis(axis, ndim(), "Tensor::dim")];
}
int64_t Tensor::numel() const { return numel_of(shape()); }
DType Tensor::dtype() const { check_defined("dtype"); return impl_->dtype; }
Device Tensor::device() const { check_defined("device"); return impl_->storage->device(); }
int64_t Tensor::offset() const { check_defined("offset"); return impl_->offset; }
const std::shared_ptr<Storage>& Tensor::storage() const {
  check_defined("storage");
  return impl_->storage;
}
bool Tensor::is_contiguous() const {
  const Shape& sh = shape();
  const Shape& st = strides();
  int64_t expected = 1;
  for (int i = static_cast<int>(sh.size()) - 1; i >= 0; --i) {
    if (sh[i] != 1 && st[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

// ---- element access ---------------------------------------------------------------------

void* Tensor::raw_data() const {
  check_defined("raw_data");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(impl_->dtype);
}

template <typename T>
T* Tensor::data() const {
  check_defined("data");
  LOOM_CHECK(dtype() == dtype_of<T>::value, "Tensor::data: tensor has dtype {}, asked for {}",
             dtype_name(dtype()), dtype_name(dtype_of<T>::value));
  LOOM_CHECK(device().kind == DeviceKind::cpu, "Tensor::data: tensor lives on {}, not the CPU",
             device().str());
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;
template int64_t* Tensor::data<int64_t>() const;

template <typename T>
T* Tensor::device_data() const {
  check_defined("device_data");
  LOOM_CHECK(dtype() == dtype_of<T>::value, "Tensor::device_data: tensor has dtype {}, asked for {}",
             dtype_name(dtype()), dtype_name(dtype_of<T>::value));
  return static_cast<T*>(raw_data());
}
template float* Tensor::device_data<float>() const;
template double* Tensor::device_data<double>() const;
template int32_t* Tensor::device_data<int32_t>() const;
template int64_t* Tensor::device_data<int64_t>() const;

namespace {
int64_t element_offset(const Tensor& t, const std::vector<int64_t>& index, const char* op) {
  LOOM_CHECK(static_cast<int>(index.size()) == t.ndim(),
             "{}: index has {} entries for a tensor of shape {}", op, index.size(),
             shape_str(t.shape()));
  int64_t off = 0;
  for (size_t i = 0; i < index.size(); ++i) {
    LOOM_CHECK(index[i] >= 0 && index[i] < t.shape()[i],
               "{}: index {} is out of range for axis {} of shape {}", op, index[i], i,
               shape_str(t.shape()));
    off += index[i] * t.strides()[i];
  }
  return off;
}
}  // namespace

double Tensor::at(const std::vector<int64_t>& index) const {
  int64_t off = element_offset(*this, index, "Tensor::at");
  return dispatch_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T value;
    if (device().kind == DeviceKind::cpu) value = static_cast<const T*>(raw_data())[off];
    else backend_for(device()).copy_to_host(static_cast<const T*>(raw_data()) + off, &value, sizeof(T));
    return static_cast<double>(value);
  });
}

void Tensor::set(const std::vector<int64_t>& index, double value) {
  int64_t off = element_offset(*this, index, "Tensor::set");
  LOOM_CHECK(device().kind == DeviceKind::cpu,
             "Tensor::set: tensor lives on {}; set values on the CPU and copy with .to({})",
             device().str(), device().str());
  dispatch_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    static_cast<T*>(raw_data())[off] = static_cast<T>(value);
  });
}

double Tensor::item() const {
  LOOM_CHECK(numel() == 1, "Tensor::item: expected one element, tensor has shape {}",
             shape_str(shape()));
  return at(std::vector<int64_t>(ndim(), 0));
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device().kind == DeviceKind::cpu ? detach() : detach().cpu();
  Tensor src = (host.dtype() == dtype_of<T>::value) ? host.contiguous().detach()
                                                    : cast(host, dtype_of<T>::value);
  const T* p = src.data<T>();
  return std::vector<T>(p, p + src.numel());
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;

// ---- views (the ops record the tape) --------------------------------------------------------

Tensor Tensor::reshape(const Shape& s) const { return loom::reshape(*this, s); }
Tensor Tensor::transpose(int a0, int a1) const { return loom::transpose(*this, a0, a1); }
Tensor Tensor::slice(int axis, int64_t start, int64_t stop, int64_t step) const {
  return loom::slice(*this, axis, start, stop, step);
}
Tensor Tensor::select(int axis, int64_t index) const { return loom::select(*this, axis, index); }
Tensor Tensor::contiguous() const { return loom::contiguous(*this); }
Tensor Tensor::to(DType t) const { return loom::cast(*this, t); }
Tensor Tensor::to(Device d) const { return loom::to_device(*this, d); }
Tensor Tensor::clone() const {
  if (is_contiguous()) {
    // contiguous() would return *this itself, so copy explicitly.
    Tensor out = empty(shape(), dtype(), device());
    backend_for(device()).copy(view(), out.view());
    if (any_requires_grad({*this}))
      return record("clone", {*this}, out, [](const Tensor& d) { return std::vector<Tensor>{d}; });
    return out;
  }
  return contiguous();
}

// ---- autograd ------------------------------------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  check_defined("set_requires_grad");
  LOOM_CHECK(!on || is_floating(dtype()),
             "Tensor::set_requires_grad: only f32/f64 tensors can require gradients, not {}",
             dtype_name(dtype()));
  LOOM_CHECK(is_leaf() || on,
             "Tensor::set_requires_grad(false): the tensor is an op's output; use detach()");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl_ && impl_->grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  check_defined("set_grad");
  if (g.defined())
    LOOM_CHECK(g.shape() == shape(), "Tensor::set_grad: gradient shape {} != tensor shape {}",
               shape_str(g.shape()), shape_str(shape()));
  impl_->grad = g.impl_ptr();
}

void Tensor::zero_grad() {
  if (impl_) impl_->grad.reset();
}

void Tensor::retain_grad() {
  check_defined("retain_grad");
  impl_->retains_grad = true;
}

bool Tensor::is_leaf() const { return !impl_ || impl_->grad_fn == nullptr; }

const std::shared_ptr<TapeEntry>& Tensor::grad_fn() const {
  check_defined("grad_fn");
  return impl_->grad_fn;
}

Tensor Tensor::detach() const {
  check_defined("detach");
  Tensor t = make_view(*this, shape(), strides(), offset());
  t.impl_->name = impl_->name;
  return t;
}

void Tensor::backward(bool retain_graph) const {
  check_defined("backward");
  LOOM_CHECK(numel() == 1,
             "Tensor::backward: without a cotangent the tensor must be a scalar, got shape {}",
             shape_str(shape()));
  loom::backward({*this}, {Tensor::ones(shape(), dtype(), device())}, retain_graph);
}

void Tensor::backward(const Tensor& cotangent, bool retain_graph) const {
  loom::backward({*this}, {cotangent}, retain_graph);
}

// ---- misc ------------------------------------------------------------------------------------

StridedView Tensor::view() const {
  check_defined("view");
  StridedView v;
  v.data = raw_data();
  v.dtype = dtype();
  v.ndim = ndim();
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = shape()[i];
    v.strides[i] = strides()[i];
  }
  return v;
}

Tensor& Tensor::set_name(const std::string& n) {
  check_defined("set_name");
  impl_->name = n;
  return *this;
}
const std::string& Tensor::name() const {
  check_defined("name");
  return impl_->name;
}

namespace {
void format_values(std::string& out, const Tensor& t, std::vector<int64_t>& idx, int axis,
                   int indent) {
  const int64_t n = t.shape()[axis];
  const bool last = axis == t.ndim() - 1;
  const int64_t edge = 3;  // elide long axes as numpy does
  out += '[';
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * edge + 1 && i == edge) {
      out += last ? "..., " : fmt::format("...,\n{:{}}", "", indent + 1);
      i = n - edge - 1;
      continue;
    }
    idx[axis] = i;
    if (last) {
      double v = t.at(idx);
      out += is_floating(t.dtype()) ? fmt::format("{:.6g}", v)
                                    : fmt::format("{}", static_cast<int64_t>(v));
    } else {
      format_values(out, t, idx, axis + 1, indent + 1);
    }
    if (i + 1 < n) out += last ? ", " : fmt::format(",\n{:{}}", "", indent + 1);
  }
  out += ']';
}
}  // namespace

std::string Tensor::str() const {
  if (!impl_) return "Tensor(undefined)";
  if (device().kind != DeviceKind::cpu) {
    // Format a host copy (one transfer, not one per element).
    const std::string s = detach().cpu().str();  // "tensor(..., dtype=f32)"
    return s.substr(0, s.size() - 1) + ", device=" + device().str() + ")" +
           (requires_grad() ? " requires_grad" : "");
  }
  std::string body;
  if (ndim() == 0) {
    body = is_floating(dtype()) ? fmt::format("{:.6g}", at({}))
                                : fmt::format("{}", static_cast<int64_t>(at({})));
  } else if (numel() == 0) {
    body = "[]";
  } else {
    std::vector<int64_t> idx(ndim(), 0);
    format_values(body, *this, idx, 0, 7);
  }
  return fmt::format("tensor({}, shape={}, dtype={}{}{})", body, shape_str(shape()),
                     dtype_name(dtype()), device().kind == DeviceKind::cpu ? "" : ", device=",
                     device().kind == DeviceKind::cpu ? "" : device().str()) +
         (requires_grad() ? " requires_grad" : "");
}

}  // namespace loom
