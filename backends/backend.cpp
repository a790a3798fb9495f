// Backend's default memory functions: host memory, for the CPU backends.
#include "loom/backends/backend.h"

#include <cstring>

#include "loom/backends/cpu_allocator.h"

namespace loom {

void* Backend::allocate(size_t nbytes) {
  void* p = cpu_allocate(nbytes);
  if (!p) fail("backend {}: out of memory allocating {} bytes on the CPU", name(), nbytes);
  return p;
}

void Backend::deallocate(void* p, size_t nbytes) noexcept { cpu_deallocate(p, nbytes); }

void* Backend::allocate_scratch(size_t nbytes, size_t* block_bytes) {
  void* p = cpu_allocate_scratch(nbytes, block_bytes);
  if (!p) fail("backend {}: out of memory allocating {} bytes of scratch on the CPU", name(), nbytes);
  return p;
}

void Backend::release_scratch(void* p, size_t block_bytes) noexcept {
  cpu_deallocate_scratch(p, block_bytes);
}

void Backend::copy_from_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

void Backend::copy_to_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

}  // namespace loom
