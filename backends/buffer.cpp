#include "backends/buffer.h"

#include <utility>

#include "backends/backend.h"

namespace loom {

Buffer::Buffer(Backend& backend, size_t nbytes)
    : backend_(&backend), data_(backend.allocate(nbytes)), nbytes_(nbytes) {}

Buffer::Buffer(Buffer&& other) noexcept { *this = std::move(other); }

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    backend_ = std::exchange(other.backend_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    nbytes_ = std::exchange(other.nbytes_, 0);
  }
  return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() noexcept {
  if (data_) backend_->deallocate(data_, nbytes_);
  data_ = nullptr;
  nbytes_ = 0;
}

}  // namespace loom
