// Scratch memory on a backend's device, owned by one object.
//
//   Buffer gates(backend, B * T * GH * sizeof(float));
//   float* g = gates.as<float>();
//
// The bytes come from Backend::allocate_scratch (for the CPU backends the
// host caching allocator, which reuses a kept block of up to twice the size;
// for CUDA its stream-ordered caching allocator) and go back to it when the
// Buffer dies, so a backend's workspaces reuse the blocks of earlier steps
// instead of faulting in fresh pages. The contents start
// uninitialized. Backends live for the whole process (backends/registry.h),
// so a Buffer kept in a workspace may outlive the call that made it.
#pragma once

#include <cstddef>

namespace loom {

class Backend;

class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, size_t nbytes);  // throws loom::Error when out of memory
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t size() const { return nbytes_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  void release() noexcept;
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  size_t nbytes_ = 0;       // asked for
  size_t block_bytes_ = 0;  // handed out (release_scratch needs it)
};

}  // namespace loom
