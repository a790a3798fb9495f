// A caching allocator for one CUDA device. Blocks are rounded up (512 B
// below 1 MiB, 2 MiB above) and freed blocks are kept in per-size lists for
// the next request of that size, so a training loop that repeats the same
// shapes calls cudaMalloc only during its first steps. Every kernel runs on
// the device's single stream, so a block freed on the host may be handed
// out again at once: work that still reads it was enqueued earlier and
// completes first.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

#include "loom/backends/cuda/cuda_backend.h"

namespace loom::cuda {

class CachingAllocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}
  ~CachingAllocator();
  // Out of memory (after returning the cache to the driver and retrying):
  // loom::Error saying how much was requested, free and cached.
  void* allocate(size_t nbytes);
  void deallocate(void* p, size_t nbytes) noexcept;
  void empty_cache() noexcept;
  CudaMemoryStats stats() const;
  static size_t round_size(size_t nbytes);

 private:
  int device_;
  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;  // rounded size -> free blocks
  CudaMemoryStats stats_;
};

}  // namespace loom::cuda
