#include "loom/backends/buffer.h"

#include <utility>

#include "loom/backends/backend.h"

namespace loom {

Buffer::Buffer(Backend& backend, size_t nbytes) : backend_(&backend), nbytes_(nbytes) {
  data_ = backend.allocate_scratch(nbytes, &block_bytes_);
}

Buffer::Buffer(Buffer&& other) noexcept { *this = std::move(other); }

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    backend_ = std::exchange(other.backend_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    nbytes_ = std::exchange(other.nbytes_, 0);
    block_bytes_ = std::exchange(other.block_bytes_, 0);
  }
  return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() noexcept {
  if (data_) backend_->release_scratch(data_, block_bytes_);
  data_ = nullptr;
  nbytes_ = 0;
  block_bytes_ = 0;
}

}  // namespace loom
